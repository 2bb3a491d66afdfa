use super::{AnyQuery, SqlStore, execute, flag, insert_log, other};
use async_trait::async_trait;
use latchkey_core::audit::LogEntry;
use latchkey_core::domain::UserId;
use latchkey_core::store::{Authenticator, AuthenticatorStore, StoreResult};
use latchkey_core::time::Timestamp;
use secrecy::{ExposeSecret, SecretString};
use sqlx::Row;

pub(super) fn insert_row(a: &Authenticator) -> AnyQuery<'_> {
    sqlx::query(
        "INSERT INTO authenticators (id, user_id, kind, name, secret, confirmed, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(a.id.clone())
    .bind(a.user_id.as_str().to_owned())
    .bind(a.kind.clone())
    .bind(a.name.clone())
    .bind(a.secret.expose_secret().to_owned())
    .bind(flag(a.confirmed))
    .bind(a.created_at.millis())
}

#[async_trait]
impl AuthenticatorStore for SqlStore {
    async fn insert_authenticator(
        &self,
        a: &Authenticator,
        log: Option<&LogEntry>,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(other)?;
        execute(insert_row(a), &mut *tx).await?;
        if let Some(log) = log {
            insert_log(&mut *tx, log).await?;
        }
        tx.commit().await.map_err(other)
    }

    async fn replace_authenticator(&self, old_id: &str, a: &Authenticator) -> StoreResult<bool> {
        let mut tx = self.begin_write().await.map_err(other)?;
        let gone = execute(
            sqlx::query("DELETE FROM authenticators WHERE id = $1").bind(old_id.to_owned()),
            &mut *tx,
        )
        .await?;
        if gone != 1 {
            return Ok(false);
        }
        execute(insert_row(a), &mut *tx).await?;
        tx.commit().await.map_err(other)?;
        Ok(true)
    }

    async fn list_authenticators(&self, user: &UserId) -> StoreResult<Vec<Authenticator>> {
        let rows = sqlx::query(
            "SELECT id, user_id, kind, name, secret, confirmed, created_at FROM authenticators \
             WHERE user_id = $1 ORDER BY created_at, id",
        )
        .bind(user.as_str().to_owned())
        .fetch_all(&self.reader)
        .await
        .map_err(other)?;
        rows.iter()
            .map(|r| -> Result<Authenticator, sqlx::Error> {
                Ok(Authenticator {
                    id: r.try_get("id")?,
                    user_id: UserId::from_trusted(r.try_get("user_id")?),
                    kind: r.try_get("kind")?,
                    name: r.try_get("name")?,
                    secret: SecretString::from(r.try_get::<String, _>("secret")?),
                    confirmed: r.try_get::<i64, _>("confirmed")? != 0,
                    created_at: Timestamp::from_millis(r.try_get("created_at")?),
                })
            })
            .collect::<Result<_, _>>()
            .map_err(other)
    }

    async fn delete_authenticators(
        &self,
        user: &UserId,
        log: Option<&LogEntry>,
    ) -> StoreResult<u64> {
        let mut tx = self.begin_write().await.map_err(other)?;
        let n = execute(
            sqlx::query("DELETE FROM authenticators WHERE user_id = $1")
                .bind(user.as_str().to_owned()),
            &mut *tx,
        )
        .await?;
        if let Some(log) = log {
            insert_log(&mut *tx, log).await?;
        }
        tx.commit().await.map_err(other)?;
        Ok(n)
    }

    async fn confirm_pending_totp(&self, user: &UserId, totp_id: &str) -> StoreResult<bool> {
        let mut tx = self.begin_write().await.map_err(other)?;
        let confirmed = execute(
            sqlx::query(
                "UPDATE authenticators SET confirmed = 1 WHERE id = $1 AND user_id = $2 \
                 AND confirmed = 0",
            )
            .bind(totp_id.to_owned())
            .bind(user.as_str().to_owned()),
            &mut *tx,
        )
        .await?;
        if confirmed != 1 {
            return Ok(false);
        }
        execute(
            sqlx::query(
                "UPDATE authenticators SET confirmed = 1 WHERE user_id = $1 \
                 AND kind = 'recovery-code' AND confirmed = 0",
            )
            .bind(user.as_str().to_owned()),
            &mut *tx,
        )
        .await?;
        execute(
            sqlx::query("DELETE FROM authenticators WHERE user_id = $1 AND confirmed = 0")
                .bind(user.as_str().to_owned()),
            &mut *tx,
        )
        .await?;
        tx.commit().await.map_err(other)?;
        Ok(true)
    }

    async fn delete_unconfirmed_authenticators(&self, user: &UserId) -> StoreResult<u64> {
        let q = sqlx::query("DELETE FROM authenticators WHERE user_id = $1 AND confirmed = 0")
            .bind(user.as_str().to_owned());
        execute(q, &self.writer).await
    }

    async fn use_totp_step(&self, id: &str, step: i64) -> StoreResult<bool> {
        let q = sqlx::query(
            "UPDATE authenticators SET last_step = $1 WHERE id = $2 AND last_step < $1",
        )
        .bind(step)
        .bind(id.to_owned());
        Ok(execute(q, &self.writer).await? == 1)
    }
}
