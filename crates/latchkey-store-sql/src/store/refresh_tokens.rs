use super::{SqlStore, execute, fetch_all, fetch_opt, flag, other};
use crate::rows;
use async_trait::async_trait;
use latchkey_core::domain::{ClientId, UserId};
use latchkey_core::store::{RefreshTokenRecord, RefreshTokenStore, RefreshUse, StoreResult};
use latchkey_core::time::Timestamp;

macro_rules! refresh_columns {
    () => {
        "id, digest, family, user_id, client_id, audience, scope, credential_epoch, created_at, expires_at, \
         last_used_at, rotated"
    };
}

#[async_trait]
impl RefreshTokenStore for SqlStore {
    async fn insert_refresh_token(&self, t: &RefreshTokenRecord) -> StoreResult<()> {
        let q = sqlx::query(concat!(
            "INSERT INTO refresh_tokens (",
            refresh_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(t.id.clone())
        .bind(t.digest.clone())
        .bind(t.family.clone())
        .bind(t.user_id.as_str().to_owned())
        .bind(t.client_id.as_str().to_owned())
        .bind(t.audience.clone())
        .bind(t.scope.clone())
        .bind(t.credential_epoch)
        .bind(t.created_at.millis())
        .bind(t.expires_at.millis())
        .bind(t.last_used_at.map(Timestamp::millis))
        .bind(flag(t.rotated));
        execute(q, &self.writer).await.map(drop)
    }

    async fn use_refresh_token(
        &self,
        digest: &str,
        rotate: bool,
        at: Timestamp,
    ) -> StoreResult<RefreshUse> {
        let mut tx = self.begin_write().await.map_err(other)?;
        // One conditional update: of concurrent presenters of the same token, exactly one wins.
        let claim = sqlx::query(concat!(
            "UPDATE refresh_tokens SET rotated = $1, last_used_at = $2 WHERE digest = $3 AND rotated = 0 RETURNING ",
            refresh_columns!()
        ))
        .bind(flag(rotate))
        .bind(at.millis())
        .bind(digest.to_owned());
        if let Some(record) = fetch_opt(claim, &mut *tx, rows::refresh_token).await? {
            tx.commit().await.map_err(other)?;
            return Ok(RefreshUse::Accepted(Box::new(record)));
        }
        let family: Option<String> =
            sqlx::query_scalar("SELECT family FROM refresh_tokens WHERE digest = $1")
                .bind(digest.to_owned())
                .fetch_optional(&mut *tx)
                .await
                .map_err(other)?;
        let outcome = match family {
            Some(family) => {
                // A rotated token came back: someone holds a copy. End the whole family.
                execute(
                    sqlx::query("DELETE FROM refresh_tokens WHERE family = $1").bind(family),
                    &mut *tx,
                )
                .await?;
                RefreshUse::Reused
            }
            None => RefreshUse::Unknown,
        };
        tx.commit().await.map_err(other)?;
        Ok(outcome)
    }

    async fn list_refresh_tokens(&self, user: &UserId) -> StoreResult<Vec<RefreshTokenRecord>> {
        let q = sqlx::query(concat!(
            "SELECT ",
            refresh_columns!(),
            " FROM refresh_tokens WHERE user_id = $1 AND rotated = 0 ORDER BY created_at, id"
        ))
        .bind(user.as_str().to_owned());
        fetch_all(q, &self.reader, rows::refresh_token).await
    }

    async fn revoke_refresh_tokens(
        &self,
        user: &UserId,
        client: Option<&ClientId>,
    ) -> StoreResult<u64> {
        let q = match client {
            Some(c) => {
                sqlx::query("DELETE FROM refresh_tokens WHERE user_id = $1 AND client_id = $2")
                    .bind(user.as_str().to_owned())
                    .bind(c.as_str().to_owned())
            }
            None => sqlx::query("DELETE FROM refresh_tokens WHERE user_id = $1")
                .bind(user.as_str().to_owned()),
        };
        execute(q, &self.writer).await
    }

    async fn revoke_refresh_token_by_digest(
        &self,
        digest: &str,
        client: &ClientId,
    ) -> StoreResult<bool> {
        // Revoking one token revokes its family: the rotated successors came from it.
        let q = sqlx::query(
            "DELETE FROM refresh_tokens WHERE family IN \
             (SELECT family FROM refresh_tokens WHERE digest = $1 AND client_id = $2)",
        )
        .bind(digest.to_owned())
        .bind(client.as_str().to_owned());
        Ok(execute(q, &self.writer).await? > 0)
    }

    async fn revoke_refresh_family(&self, family: &str) -> StoreResult<u64> {
        let q = sqlx::query("DELETE FROM refresh_tokens WHERE family = $1").bind(family.to_owned());
        execute(q, &self.writer).await
    }
}
