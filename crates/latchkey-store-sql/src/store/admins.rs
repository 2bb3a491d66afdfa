use super::{SqlStore, conflict, execute, fetch_all, fetch_opt, other};
use async_trait::async_trait;
use latchkey_core::domain::{Email, PasswordHash};
use latchkey_core::store::{Admin, AdminSessionRecord, AdminStore, AdminTicket, StoreResult};
use latchkey_core::time::Timestamp;
use secrecy::{ExposeSecret, SecretString};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

macro_rules! admin_columns {
    () => {
        "id, email, password_hash, created_at, credential_epoch, totp_secret, last_login_at"
    };
}
macro_rules! session_columns {
    () => {
        "digest, id, admin_id, credential_epoch, created_at, last_seen_at, expires_at"
    };
}
macro_rules! ticket_columns {
    () => {
        "digest, admin_id, credential_epoch, created_at, expires_at, used_at"
    };
}

fn admin(row: &AnyRow) -> anyhow::Result<Admin> {
    Ok(Admin {
        id: row.try_get("id")?,
        email: Email::from_trusted(row.try_get("email")?),
        password_hash: PasswordHash::new(row.try_get("password_hash")?),
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        credential_epoch: row.try_get("credential_epoch")?,
        totp_secret: row
            .try_get::<Option<String>, _>("totp_secret")?
            .map(SecretString::from),
        last_login_at: row
            .try_get::<Option<i64>, _>("last_login_at")?
            .map(Timestamp::from_millis),
    })
}

fn session(row: &AnyRow) -> anyhow::Result<AdminSessionRecord> {
    Ok(AdminSessionRecord {
        digest: row.try_get("digest")?,
        id: row.try_get("id")?,
        admin_id: row.try_get("admin_id")?,
        credential_epoch: row.try_get("credential_epoch")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        last_seen_at: Timestamp::from_millis(row.try_get("last_seen_at")?),
        expires_at: Timestamp::from_millis(row.try_get("expires_at")?),
    })
}

fn ticket(row: &AnyRow) -> anyhow::Result<AdminTicket> {
    Ok(AdminTicket {
        digest: row.try_get("digest")?,
        admin_id: row.try_get("admin_id")?,
        credential_epoch: row.try_get("credential_epoch")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        expires_at: Timestamp::from_millis(row.try_get("expires_at")?),
        used_at: row
            .try_get::<Option<i64>, _>("used_at")?
            .map(Timestamp::from_millis),
    })
}

/// Inserts an administrator (also inside the bootstrap transaction).
pub(super) async fn insert_admin<'e>(
    exec: impl Executor<'e, Database = Any>,
    a: &Admin,
) -> StoreResult<()> {
    sqlx::query(concat!(
        "INSERT INTO admins (",
        admin_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
    ))
    .bind(a.id.clone())
    .bind(a.email.as_str().to_owned())
    .bind(a.password_hash.as_str().to_owned())
    .bind(a.created_at.millis())
    .bind(a.credential_epoch)
    .bind(a.totp_secret.as_ref().map(|s| s.expose_secret().to_owned()))
    .bind(a.last_login_at.map(|t| t.millis()))
    .execute(exec)
    .await
    .map_err(conflict("An administrator with that email"))?;
    Ok(())
}

#[async_trait]
impl AdminStore for SqlStore {
    async fn insert_admin(&self, a: &Admin) -> StoreResult<()> {
        insert_admin(&self.writer, a).await
    }

    async fn list_admins(&self) -> StoreResult<Vec<Admin>> {
        let q = sqlx::query(concat!(
            "SELECT ",
            admin_columns!(),
            " FROM admins ORDER BY email"
        ));
        fetch_all(q, &self.reader, admin).await
    }

    async fn get_admin(&self, id: &str) -> StoreResult<Option<Admin>> {
        let q = sqlx::query(concat!(
            "SELECT ",
            admin_columns!(),
            " FROM admins WHERE id = $1"
        ))
        .bind(id.to_owned());
        fetch_opt(q, &self.reader, admin).await
    }

    async fn get_admin_by_email(&self, email: &Email) -> StoreResult<Option<Admin>> {
        let q = sqlx::query(concat!(
            "SELECT ",
            admin_columns!(),
            " FROM admins WHERE email = $1"
        ))
        .bind(email.as_str().to_owned());
        fetch_opt(q, &self.reader, admin).await
    }

    async fn delete_admin(&self, id: &str) -> StoreResult<bool> {
        let q = sqlx::query("DELETE FROM admins WHERE id = $1").bind(id.to_owned());
        Ok(execute(q, &self.writer).await? == 1)
    }

    async fn set_admin_password(
        &self,
        id: &str,
        hash: &PasswordHash,
        ticket_digest: Option<&str>,
    ) -> StoreResult<bool> {
        let now = Timestamp::now().millis();
        let mut tx = self.begin_write().await.map_err(other)?;
        if let Some(digest) = ticket_digest {
            // Single use: only the redemption that flips used_at goes on.
            let q = sqlx::query(
                "UPDATE admin_tickets SET used_at = $1 WHERE digest = $2 AND admin_id = $3 \
                 AND used_at IS NULL AND expires_at > $1 AND credential_epoch = \
                 (SELECT credential_epoch FROM admins WHERE id = $3)",
            )
            .bind(now)
            .bind(digest.to_owned())
            .bind(id.to_owned());
            if execute(q, &mut *tx).await? != 1 {
                return Ok(false);
            }
        }
        let q = sqlx::query(
            "UPDATE admins SET password_hash = $1, credential_epoch = credential_epoch + 1 \
             WHERE id = $2",
        )
        .bind(hash.as_str().to_owned())
        .bind(id.to_owned());
        if execute(q, &mut *tx).await? != 1 {
            return Ok(false);
        }
        execute(
            sqlx::query("DELETE FROM admin_sessions WHERE admin_id = $1").bind(id.to_owned()),
            &mut *tx,
        )
        .await?;
        tx.commit().await.map_err(other)?;
        Ok(true)
    }

    async fn set_admin_totp(&self, id: &str, secret: Option<&SecretString>) -> StoreResult<()> {
        let q = sqlx::query("UPDATE admins SET totp_secret = $1, totp_last_step = 0 WHERE id = $2")
            .bind(secret.map(|s| s.expose_secret().to_owned()))
            .bind(id.to_owned());
        execute(q, &self.writer).await.map(drop)
    }

    async fn use_admin_totp_step(&self, id: &str, step: i64) -> StoreResult<bool> {
        let q = sqlx::query(
            "UPDATE admins SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1",
        )
        .bind(step)
        .bind(id.to_owned());
        Ok(execute(q, &self.writer).await? == 1)
    }

    async fn record_admin_login(&self, id: &str, at: Timestamp) -> StoreResult<()> {
        let q = sqlx::query("UPDATE admins SET last_login_at = $1 WHERE id = $2")
            .bind(at.millis())
            .bind(id.to_owned());
        execute(q, &self.writer).await.map(drop)
    }

    async fn insert_admin_session(&self, s: &AdminSessionRecord) -> StoreResult<()> {
        let q = sqlx::query(concat!(
            "INSERT INTO admin_sessions (",
            session_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(s.digest.clone())
        .bind(s.id.clone())
        .bind(s.admin_id.clone())
        .bind(s.credential_epoch)
        .bind(s.created_at.millis())
        .bind(s.last_seen_at.millis())
        .bind(s.expires_at.millis());
        execute(q, &self.writer).await.map(drop)
    }

    async fn find_admin_session(&self, digest: &str) -> StoreResult<Option<AdminSessionRecord>> {
        let q = sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM admin_sessions WHERE digest = $1"
        ))
        .bind(digest.to_owned());
        fetch_opt(q, &self.reader, session).await
    }

    async fn touch_admin_session(&self, digest: &str, at: Timestamp) -> StoreResult<()> {
        let q = sqlx::query("UPDATE admin_sessions SET last_seen_at = $1 WHERE digest = $2")
            .bind(at.millis())
            .bind(digest.to_owned());
        execute(q, &self.writer).await.map(drop)
    }

    async fn delete_admin_session(&self, digest: &str) -> StoreResult<()> {
        let q = sqlx::query("DELETE FROM admin_sessions WHERE digest = $1").bind(digest.to_owned());
        execute(q, &self.writer).await.map(drop)
    }

    async fn insert_admin_ticket(&self, t: &AdminTicket) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(other)?;
        execute(
            sqlx::query("DELETE FROM admin_tickets WHERE admin_id = $1 AND used_at IS NULL")
                .bind(t.admin_id.clone()),
            &mut *tx,
        )
        .await?;
        let q = sqlx::query(concat!(
            "INSERT INTO admin_tickets (",
            ticket_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(t.digest.clone())
        .bind(t.admin_id.clone())
        .bind(t.credential_epoch)
        .bind(t.created_at.millis())
        .bind(t.expires_at.millis())
        .bind(t.used_at.map(|u| u.millis()));
        execute(q, &mut *tx).await?;
        tx.commit().await.map_err(other)
    }

    async fn find_admin_ticket(&self, digest: &str) -> StoreResult<Option<AdminTicket>> {
        let q = sqlx::query(concat!(
            "SELECT ",
            ticket_columns!(),
            " FROM admin_tickets WHERE digest = $1"
        ))
        .bind(digest.to_owned());
        fetch_opt(q, &self.reader, ticket).await
    }
}
