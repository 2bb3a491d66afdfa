use super::{SqlStore, execute, other};
use async_trait::async_trait;
use latchkey_core::store::{SecretStore, StoreResult};
use latchkey_core::time::Timestamp;

#[async_trait]
impl SecretStore for SqlStore {
    async fn tenant_secret(&self, name: &str, candidate: &str) -> StoreResult<String> {
        // The first node to ask writes its candidate; everyone reads the winner.
        let q = sqlx::query(
            "INSERT INTO tenant_secrets (name, value, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name.to_owned())
        .bind(candidate.to_owned())
        .bind(Timestamp::now().millis());
        execute(q, &self.writer).await?;
        sqlx::query_scalar("SELECT value FROM tenant_secrets WHERE name = $1")
            .bind(name.to_owned())
            .fetch_one(&self.writer)
            .await
            .map_err(other)
    }
}
