use super::{SqlStore, execute, fetch_all, fetch_opt};
use async_trait::async_trait;
use latchkey_core::domain::UserId;
use latchkey_core::store::{
    AuthorizationCode, LoginTicket, SessionRecord, SessionStore, StoreResult,
};
use latchkey_core::time::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;

macro_rules! session_columns {
    () => {
        "id, digest, user_id, credential_epoch, auth_time, amr, created_at, last_seen_at, expires_at, ip, user_agent"
    };
}
macro_rules! code_columns {
    () => {
        "digest, client_id, user_id, session_id, redirect_uri, scope, audience, nonce, code_challenge, auth_time, \
         amr, credential_epoch, created_at, expires_at, custom_claims"
    };
}

macro_rules! login_ticket_columns {
    () => {
        "digest, client_id, user_id, connection, verifier_digest, auth_time, credential_epoch, \
         created_at, expires_at"
    };
}

fn login_ticket(row: &AnyRow) -> anyhow::Result<LoginTicket> {
    Ok(LoginTicket {
        digest: row.try_get("digest")?,
        client_id: row.try_get("client_id")?,
        user_id: UserId::from_trusted(row.try_get("user_id")?),
        connection: row.try_get("connection")?,
        verifier_digest: row.try_get("verifier_digest")?,
        auth_time: Timestamp::from_millis(row.try_get("auth_time")?),
        credential_epoch: row.try_get("credential_epoch")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        expires_at: Timestamp::from_millis(row.try_get("expires_at")?),
    })
}

fn amr(row: &AnyRow) -> anyhow::Result<Vec<String>> {
    Ok(serde_json::from_str(&row.try_get::<String, _>("amr")?)?)
}

fn session(row: &AnyRow) -> anyhow::Result<SessionRecord> {
    Ok(SessionRecord {
        id: row.try_get("id")?,
        digest: row.try_get("digest")?,
        user_id: UserId::from_trusted(row.try_get("user_id")?),
        credential_epoch: row.try_get("credential_epoch")?,
        auth_time: Timestamp::from_millis(row.try_get("auth_time")?),
        amr: amr(row)?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        last_seen_at: Timestamp::from_millis(row.try_get("last_seen_at")?),
        expires_at: Timestamp::from_millis(row.try_get("expires_at")?),
        ip: row.try_get("ip")?,
        user_agent: row.try_get("user_agent")?,
    })
}

fn code(row: &AnyRow) -> anyhow::Result<AuthorizationCode> {
    Ok(AuthorizationCode {
        digest: row.try_get("digest")?,
        client_id: row.try_get("client_id")?,
        user_id: UserId::from_trusted(row.try_get("user_id")?),
        session_id: row.try_get("session_id")?,
        redirect_uri: row.try_get("redirect_uri")?,
        scope: row.try_get("scope")?,
        audience: row.try_get("audience")?,
        nonce: row.try_get("nonce")?,
        code_challenge: row.try_get("code_challenge")?,
        auth_time: Timestamp::from_millis(row.try_get("auth_time")?),
        amr: amr(row)?,
        credential_epoch: row.try_get("credential_epoch")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        expires_at: Timestamp::from_millis(row.try_get("expires_at")?),
        custom_claims: match row.try_get::<Option<String>, _>("custom_claims")? {
            Some(json) => serde_json::from_str(&json)?,
            None => Default::default(),
        },
    })
}

fn amr_json(amr: &[String]) -> String {
    serde_json::to_string(amr).unwrap_or_else(|_| "[]".into())
}

#[async_trait]
impl SessionStore for SqlStore {
    async fn insert_session(&self, s: &SessionRecord) -> StoreResult<()> {
        let q = sqlx::query(concat!(
            "INSERT INTO sessions (",
            session_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(s.id.clone())
        .bind(s.digest.clone())
        .bind(s.user_id.as_str().to_owned())
        .bind(s.credential_epoch)
        .bind(s.auth_time.millis())
        .bind(amr_json(&s.amr))
        .bind(s.created_at.millis())
        .bind(s.last_seen_at.millis())
        .bind(s.expires_at.millis())
        .bind(s.ip.clone())
        .bind(s.user_agent.clone());
        execute(q, &self.writer).await.map(drop)
    }

    async fn find_session(&self, digest: &str) -> StoreResult<Option<SessionRecord>> {
        let q = sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE digest = $1"
        ))
        .bind(digest.to_owned());
        fetch_opt(q, &self.reader, session).await
    }

    async fn touch_session(&self, id: &str, at: Timestamp) -> StoreResult<()> {
        let q = sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2")
            .bind(at.millis())
            .bind(id.to_owned());
        execute(q, &self.writer).await.map(drop)
    }

    async fn delete_session(&self, id: &str) -> StoreResult<bool> {
        let q = sqlx::query("DELETE FROM sessions WHERE id = $1").bind(id.to_owned());
        Ok(execute(q, &self.writer).await? == 1)
    }

    async fn list_sessions(&self, user: &UserId) -> StoreResult<Vec<SessionRecord>> {
        let q = sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE user_id = $1 ORDER BY created_at, id"
        ))
        .bind(user.as_str().to_owned());
        fetch_all(q, &self.reader, session).await
    }

    async fn delete_sessions(&self, user: &UserId) -> StoreResult<Vec<SessionRecord>> {
        let q = sqlx::query(concat!(
            "DELETE FROM sessions WHERE user_id = $1 RETURNING ",
            session_columns!()
        ))
        .bind(user.as_str().to_owned());
        fetch_all(q, &self.writer, session).await
    }

    async fn insert_code(&self, c: &AuthorizationCode) -> StoreResult<()> {
        let q = sqlx::query(concat!(
            "INSERT INTO authorization_codes (",
            code_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        ))
        .bind(c.digest.clone())
        .bind(c.client_id.clone())
        .bind(c.user_id.as_str().to_owned())
        .bind(c.session_id.clone())
        .bind(c.redirect_uri.clone())
        .bind(c.scope.clone())
        .bind(c.audience.clone())
        .bind(c.nonce.clone())
        .bind(c.code_challenge.clone())
        .bind(c.auth_time.millis())
        .bind(amr_json(&c.amr))
        .bind(c.credential_epoch)
        .bind(c.created_at.millis())
        .bind(c.expires_at.millis())
        .bind((!c.custom_claims.is_empty()).then(|| super::to_json(&c.custom_claims)));
        execute(q, &self.writer).await.map(drop)
    }

    async fn use_code(
        &self,
        digest: &str,
        at: Timestamp,
    ) -> StoreResult<Option<AuthorizationCode>> {
        let q = sqlx::query(concat!(
            "UPDATE authorization_codes SET used_at = $1 WHERE digest = $2 AND used_at IS NULL AND expires_at > $1 RETURNING ",
            code_columns!()
        ))
        .bind(at.millis())
        .bind(digest.to_owned());
        let found = fetch_opt(q, &self.writer, code).await?;
        // Codes are worth nothing once used or expired: keep the table small.
        execute(
            sqlx::query("DELETE FROM authorization_codes WHERE expires_at < $1")
                .bind(at.millis() - 600_000),
            &self.writer,
        )
        .await?;
        Ok(found)
    }

    async fn insert_login_ticket(&self, t: &LoginTicket) -> StoreResult<()> {
        let q = sqlx::query(concat!(
            "INSERT INTO login_tickets (",
            login_ticket_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(t.digest.clone())
        .bind(t.client_id.clone())
        .bind(t.user_id.as_str().to_owned())
        .bind(t.connection.clone())
        .bind(t.verifier_digest.clone())
        .bind(t.auth_time.millis())
        .bind(t.credential_epoch)
        .bind(t.created_at.millis())
        .bind(t.expires_at.millis());
        execute(q, &self.writer).await.map(drop)
    }

    async fn take_login_ticket(
        &self,
        digest: &str,
        at: Timestamp,
    ) -> StoreResult<Option<LoginTicket>> {
        let q = sqlx::query(concat!(
            "DELETE FROM login_tickets WHERE digest = $1 RETURNING ",
            login_ticket_columns!()
        ))
        .bind(digest.to_owned());
        let found = fetch_opt(q, &self.writer, login_ticket)
            .await?
            .filter(|t| t.expires_at > at);
        // Tickets nobody redeemed are worth nothing once expired: keep the table small.
        execute(
            sqlx::query("DELETE FROM login_tickets WHERE expires_at < $1").bind(at.millis()),
            &self.writer,
        )
        .await?;
        Ok(found)
    }
}
