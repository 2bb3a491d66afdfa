use super::{SqlStore, execute, other, to_json};
use anyhow::Context;
use async_trait::async_trait;
use latchkey_core::domain::TenantSettings;
use latchkey_core::store::{StoreError, StoreResult, TenantStore};

#[async_trait]
impl TenantStore for SqlStore {
    async fn get_tenant(&self) -> StoreResult<Option<TenantSettings>> {
        let s: Option<String> = sqlx::query_scalar("SELECT settings FROM tenant WHERE id = 1")
            .fetch_optional(&self.reader)
            .await
            .map_err(other)?;
        s.map(|s| serde_json::from_str(&s).context("stored tenant settings"))
            .transpose()
            .map_err(StoreError::Other)
    }

    async fn put_tenant(&self, settings: &TenantSettings) -> StoreResult<()> {
        let q = sqlx::query("INSERT INTO tenant (id, settings) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET settings = excluded.settings")
            .bind(to_json(settings));
        execute(q, &self.writer).await.map(drop)
    }

    async fn get_tenant_document(&self, name: &str) -> StoreResult<Option<serde_json::Value>> {
        let s: Option<String> =
            sqlx::query_scalar("SELECT doc FROM tenant_documents WHERE name = $1")
                .bind(name.to_owned())
                .fetch_optional(&self.reader)
                .await
                .map_err(other)?;
        s.map(|s| serde_json::from_str(&s).context("stored tenant document"))
            .transpose()
            .map_err(StoreError::Other)
    }

    async fn put_tenant_document(&self, name: &str, doc: &serde_json::Value) -> StoreResult<()> {
        let q = sqlx::query("INSERT INTO tenant_documents (name, doc) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET doc = excluded.doc")
            .bind(name.to_owned())
            .bind(doc.to_string());
        execute(q, &self.writer).await.map(drop)
    }
}
