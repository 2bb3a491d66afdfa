use super::{SqlStore, conflict, execute, fetch_all, fetch_opt, to_json};
use async_trait::async_trait;
use latchkey_core::domain::ResourceServer;
use latchkey_core::store::{ResourceServerStore, StoreResult};
use sqlx::Row;
use sqlx::any::AnyRow;

fn doc(row: &AnyRow) -> anyhow::Result<ResourceServer> {
    Ok(serde_json::from_str(&row.try_get::<String, _>("doc")?)?)
}

const TAKEN: &str = "A resource server with that identifier";

#[async_trait]
impl ResourceServerStore for SqlStore {
    async fn insert_resource_server(&self, rs: &ResourceServer) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO resource_servers (id, identifier, doc, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(rs.id.clone())
        .bind(rs.identifier.clone())
        .bind(to_json(rs))
        .bind(rs.created_at.millis())
        .execute(&self.writer)
        .await
        .map_err(conflict(TAKEN))?;
        Ok(())
    }

    async fn get_resource_server(&self, id: &str) -> StoreResult<Option<ResourceServer>> {
        let q = sqlx::query("SELECT doc FROM resource_servers WHERE id = $1").bind(id.to_owned());
        fetch_opt(q, &self.reader, doc).await
    }

    async fn find_resource_server(&self, identifier: &str) -> StoreResult<Option<ResourceServer>> {
        let q = sqlx::query("SELECT doc FROM resource_servers WHERE identifier = $1")
            .bind(identifier.to_owned());
        fetch_opt(q, &self.reader, doc).await
    }

    async fn list_resource_servers(&self) -> StoreResult<Vec<ResourceServer>> {
        let q = sqlx::query("SELECT doc FROM resource_servers ORDER BY created_at, id");
        fetch_all(q, &self.reader, doc).await
    }

    async fn update_resource_server(&self, rs: &ResourceServer) -> StoreResult<bool> {
        let done =
            sqlx::query("UPDATE resource_servers SET identifier = $1, doc = $2 WHERE id = $3")
                .bind(rs.identifier.clone())
                .bind(to_json(rs))
                .bind(rs.id.clone())
                .execute(&self.writer)
                .await
                .map_err(conflict(TAKEN))?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_resource_server(&self, id: &str) -> StoreResult<bool> {
        let q = sqlx::query("DELETE FROM resource_servers WHERE id = $1").bind(id.to_owned());
        Ok(execute(q, &self.writer).await? == 1)
    }
}
