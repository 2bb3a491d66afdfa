use super::{SqlStore, conflict, execute, fetch_all, fetch_opt, to_json};
use crate::rows;
use async_trait::async_trait;
use latchkey_core::domain::{Client, ClientGrant, ClientId};
use latchkey_core::store::{ClientStore, StoreResult};
use secrecy::ExposeSecret;
use sqlx::Executor;
use sqlx::any::Any;

pub(super) async fn insert_client<'e>(
    exec: impl Executor<'e, Database = Any>,
    c: &Client,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO clients (client_id, name, client_secret, data, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(c.client_id.as_str().to_owned())
        .bind(c.name.clone())
        .bind(c.client_secret.as_ref().map(|s| s.expose_secret().to_owned()))
        .bind(to_json(c))
        .bind(c.created_at.millis())
        .execute(exec)
        .await
        .map_err(conflict("A client with that id"))?;
    Ok(())
}

pub(super) async fn insert_grant<'e>(
    exec: impl Executor<'e, Database = Any>,
    g: &ClientGrant,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO client_grants (id, client_id, audience, scope) VALUES ($1, $2, $3, $4)",
    )
    .bind(g.id.clone())
    .bind(g.client_id.as_str().to_owned())
    .bind(g.audience.clone())
    .bind(to_json(&g.scope))
    .execute(exec)
    .await
    .map_err(conflict("A grant for that client and audience"))?;
    Ok(())
}

const GRANT_COLUMNS: &str = "SELECT id, client_id, audience, scope FROM client_grants";

#[async_trait]
impl ClientStore for SqlStore {
    async fn insert_client(&self, c: &Client) -> StoreResult<()> {
        insert_client(&self.writer, c).await
    }

    async fn get_client(&self, id: &ClientId) -> StoreResult<Option<Client>> {
        let q = sqlx::query("SELECT client_secret, data FROM clients WHERE client_id = $1")
            .bind(id.as_str().to_owned());
        fetch_opt(q, &self.reader, rows::client).await
    }

    async fn list_clients(&self) -> StoreResult<Vec<Client>> {
        let q =
            sqlx::query("SELECT client_secret, data FROM clients ORDER BY created_at, client_id");
        fetch_all(q, &self.reader, rows::client).await
    }

    async fn update_client(&self, c: &Client) -> StoreResult<bool> {
        let q = sqlx::query(
            "UPDATE clients SET name = $1, client_secret = $2, data = $3 WHERE client_id = $4",
        )
        .bind(c.name.clone())
        .bind(
            c.client_secret
                .as_ref()
                .map(|s| s.expose_secret().to_owned()),
        )
        .bind(to_json(c))
        .bind(c.client_id.as_str().to_owned());
        Ok(execute(q, &self.writer).await? == 1)
    }

    async fn delete_client(&self, id: &ClientId) -> StoreResult<bool> {
        // Grants and refresh tokens go with it (ON DELETE CASCADE).
        let q =
            sqlx::query("DELETE FROM clients WHERE client_id = $1").bind(id.as_str().to_owned());
        Ok(execute(q, &self.writer).await? == 1)
    }

    async fn insert_client_grant(&self, g: &ClientGrant) -> StoreResult<()> {
        insert_grant(&self.writer, g).await
    }

    async fn list_client_grants(&self) -> StoreResult<Vec<ClientGrant>> {
        let q = sqlx::query(sqlx::AssertSqlSafe(format!("{GRANT_COLUMNS} ORDER BY id")));
        fetch_all(q, &self.reader, rows::client_grant).await
    }

    async fn get_client_grant(&self, id: &str) -> StoreResult<Option<ClientGrant>> {
        let q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{GRANT_COLUMNS} WHERE id = $1"
        )))
        .bind(id.to_owned());
        fetch_opt(q, &self.reader, rows::client_grant).await
    }

    async fn find_client_grant(
        &self,
        client: &ClientId,
        audience: &str,
    ) -> StoreResult<Option<ClientGrant>> {
        let q = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{GRANT_COLUMNS} WHERE client_id = $1 AND audience = $2"
        )))
        .bind(client.as_str().to_owned())
        .bind(audience.to_owned());
        fetch_opt(q, &self.reader, rows::client_grant).await
    }

    async fn update_client_grant(&self, g: &ClientGrant) -> StoreResult<bool> {
        let q = sqlx::query("UPDATE client_grants SET scope = $1 WHERE id = $2")
            .bind(to_json(&g.scope))
            .bind(g.id.clone());
        Ok(execute(q, &self.writer).await? == 1)
    }

    async fn delete_client_grant(&self, id: &str) -> StoreResult<bool> {
        let q = sqlx::query("DELETE FROM client_grants WHERE id = $1").bind(id.to_owned());
        Ok(execute(q, &self.writer).await? == 1)
    }
}
