use super::{SqlStore, conflict, execute, fetch_all, fetch_opt, other};
use crate::rows::{self, ConnectionData};
use async_trait::async_trait;
use latchkey_core::domain::{Connection, ConnectionId};
use latchkey_core::store::{ConnectionStore, StoreResult};
use sqlx::Executor;
use sqlx::any::Any;

pub(super) async fn insert_connection<'e>(
    exec: impl Executor<'e, Database = Any>,
    c: &Connection,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO connections (id, name, strategy, data) VALUES ($1, $2, $3, $4)")
        .bind(c.id.as_str().to_owned())
        .bind(c.name.clone())
        .bind(c.strategy.as_str().to_owned())
        .bind(ConnectionData::of(c))
        .execute(exec)
        .await
        .map_err(conflict("A connection with that name"))?;
    Ok(())
}

#[async_trait]
impl ConnectionStore for SqlStore {
    async fn insert_connection(&self, c: &Connection) -> StoreResult<()> {
        insert_connection(&self.writer, c).await
    }

    async fn get_connection(&self, id: &ConnectionId) -> StoreResult<Option<Connection>> {
        let q = sqlx::query("SELECT id, name, strategy, data FROM connections WHERE id = $1")
            .bind(id.as_str().to_owned());
        fetch_opt(q, &self.reader, rows::connection).await
    }

    async fn find_connection_by_name(&self, name: &str) -> StoreResult<Option<Connection>> {
        let q = sqlx::query("SELECT id, name, strategy, data FROM connections WHERE name = $1")
            .bind(name.to_owned());
        fetch_opt(q, &self.reader, rows::connection).await
    }

    async fn list_connections(&self) -> StoreResult<Vec<Connection>> {
        let q = sqlx::query("SELECT id, name, strategy, data FROM connections ORDER BY name");
        fetch_all(q, &self.reader, rows::connection).await
    }

    async fn update_connection(&self, c: &Connection) -> StoreResult<bool> {
        let q = sqlx::query("UPDATE connections SET data = $1 WHERE id = $2")
            .bind(ConnectionData::of(c))
            .bind(c.id.as_str().to_owned());
        Ok(execute(q, &self.writer).await? == 1)
    }

    async fn delete_connection(&self, id: &ConnectionId) -> StoreResult<bool> {
        let mut tx = self.begin_write().await.map_err(other)?;
        let name: Option<String> = sqlx::query_scalar("SELECT name FROM connections WHERE id = $1")
            .bind(id.as_str().to_owned())
            .fetch_optional(&mut *tx)
            .await
            .map_err(other)?;
        let Some(name) = name else {
            return Ok(false);
        };
        // A connection's users go with it, as in Auth0.
        execute(
            sqlx::query("DELETE FROM users WHERE connection = $1").bind(name),
            &mut *tx,
        )
        .await?;
        execute(
            sqlx::query("DELETE FROM connections WHERE id = $1").bind(id.as_str().to_owned()),
            &mut *tx,
        )
        .await?;
        tx.commit().await.map_err(other)?;
        Ok(true)
    }
}
