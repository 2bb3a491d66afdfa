use super::{SqlStore, conflict, execute, fetch_all, flag, other};
use crate::rows;
use async_trait::async_trait;
use latchkey_core::store::{KeyStore, SigningKeyRecord, StoreResult};
use secrecy::ExposeSecret;
use sqlx::Executor;
use sqlx::any::Any;

pub(super) async fn insert_key<'e>(
    exec: impl Executor<'e, Database = Any>,
    k: &SigningKeyRecord,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO signing_keys (kid, private_pkcs8, created_at, is_current, revoked) VALUES ($1, $2, $3, $4, $5)")
        .bind(k.kid.clone())
        .bind(k.private_pkcs8.expose_secret().to_owned())
        .bind(k.created_at.millis())
        .bind(flag(k.current))
        .bind(flag(k.revoked))
        .execute(exec)
        .await
        .map_err(conflict("A signing key with that kid"))?;
    Ok(())
}

#[async_trait]
impl KeyStore for SqlStore {
    async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        let q = sqlx::query(
            "SELECT kid, private_pkcs8, created_at, is_current, revoked FROM signing_keys ORDER BY created_at, kid",
        );
        fetch_all(q, &self.reader, rows::signing_key).await
    }

    async fn rotate_in_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(other)?;
        execute(
            sqlx::query("UPDATE signing_keys SET is_current = 0"),
            &mut *tx,
        )
        .await?;
        insert_key(&mut *tx, key).await?;
        tx.commit().await.map_err(other)
    }

    async fn revoke_signing_key(&self, kid: &str) -> StoreResult<bool> {
        let q =
            sqlx::query("UPDATE signing_keys SET revoked = 1 WHERE kid = $1 AND is_current = 0")
                .bind(kid.to_owned());
        Ok(execute(q, &self.writer).await? == 1)
    }
}
