use crate::domain::{ClientId, Connection, ConnectionId, ConnectionOptions, ParseError, Strategy};
use crate::error::{ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::services::{Caller, TenantConfig};
use serde_json::{Map, Value};

#[derive(Debug)]
pub struct NewConnection {
    pub name: String,
    pub strategy: String,
    pub display_name: Option<String>,
    pub options: Value,
    pub enabled_clients: Vec<String>,
    pub realms: Option<Vec<String>>,
    pub is_domain_connection: bool,
    pub metadata: Map<String, Value>,
}

/// `PATCH /connections/{id}`: `options` replaces the whole object, as in Auth0.
#[derive(Debug, Default)]
pub struct ConnectionPatch {
    pub display_name: Option<Option<String>>,
    pub options: Option<Value>,
    pub enabled_clients: Option<Vec<String>>,
    pub realms: Option<Vec<String>>,
    pub is_domain_connection: Option<bool>,
    pub metadata: Option<Map<String, Value>>,
}

fn not_found() -> ServiceError {
    ServiceError::not_found(
        ErrorCode::InexistentConnection,
        "The connection does not exist",
    )
}

impl TenantConfig {
    async fn known_clients(&self, ids: Vec<String>) -> ServiceResult<Vec<ClientId>> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let parsed = ClientId::parse(&id)?;
            if self.store.get_client(&parsed).await?.is_none() {
                return Err(ServiceError::bad_request(
                    ErrorCode::InvalidBody,
                    format!("The client {id} does not exist"),
                ));
            }
            if !out.contains(&parsed) {
                out.push(parsed);
            }
        }
        Ok(out)
    }

    pub async fn create_connection(
        &self,
        new: NewConnection,
        caller: &Caller,
    ) -> ServiceResult<Connection> {
        Connection::validate_name(&new.name)?;
        let strategy = Strategy::parse(&new.strategy)?;
        let mut options = ConnectionOptions::from_json(new.options)?;
        self.actions.seal_configuration(&mut options.extra)?;
        if self
            .store
            .find_connection_by_name(&new.name)
            .await?
            .is_some()
        {
            return Err(ServiceError::conflict(
                ErrorCode::ConnectionConflict,
                "A connection with the same name already exists",
            ));
        }
        let connection = Connection {
            id: ConnectionId::generate()?,
            realms: new.realms.unwrap_or_else(|| vec![new.name.clone()]),
            name: new.name,
            strategy,
            display_name: new.display_name,
            options,
            enabled_clients: self.known_clients(new.enabled_clients).await?,
            is_domain_connection: new.is_domain_connection,
            metadata: new.metadata,
        };
        self.store
            .insert_connection(&connection)
            .await
            .map_err(|e| match e {
                crate::store::StoreError::Conflict(_) => ServiceError::conflict(
                    ErrorCode::ConnectionConflict,
                    "A connection with the same name already exists",
                ),
                other => other.into(),
            })?;
        self.audit.record_some(
            caller
                .api_log("Create a connection")
                .map(|log| log.connection(&connection.name)),
        );
        Ok(connection)
    }

    pub async fn get_connection(&self, id: &str) -> ServiceResult<Connection> {
        let id = ConnectionId::parse(id).map_err(|_| not_found())?;
        self.store.get_connection(&id).await?.ok_or_else(not_found)
    }

    pub async fn list_connections(&self) -> ServiceResult<Vec<Connection>> {
        Ok(self.store.list_connections().await?)
    }

    pub async fn update_connection(
        &self,
        id: &str,
        patch: ConnectionPatch,
        caller: &Caller,
    ) -> ServiceResult<Connection> {
        let mut c = self.get_connection(id).await?;
        if let Some(d) = patch.display_name {
            c.display_name = d;
        }
        if let Some(o) = patch.options {
            c.options = ConnectionOptions::from_json(o)?;
            self.actions.seal_configuration(&mut c.options.extra)?;
        }
        if let Some(ids) = patch.enabled_clients {
            c.enabled_clients = self.known_clients(ids).await?;
        }
        if let Some(r) = patch.realms {
            if r.is_empty() {
                return Err(ParseError::new("realms", "must not be empty").into());
            }
            c.realms = r;
        }
        if let Some(v) = patch.is_domain_connection {
            c.is_domain_connection = v;
        }
        if let Some(m) = patch.metadata {
            c.metadata = m;
        }
        if !self.store.update_connection(&c).await? {
            return Err(not_found());
        }
        self.cache.forget_connection(&c.name);
        self.audit.record_some(
            caller
                .api_log("Update a connection")
                .map(|log| log.connection(&c.name)),
        );
        Ok(c)
    }

    pub async fn delete_connection(&self, id: &str, caller: &Caller) -> ServiceResult<()> {
        let c = self.get_connection(id).await?;
        if !self.store.delete_connection(&c.id).await? {
            return Err(not_found());
        }
        self.cache.forget_connection(&c.name);
        self.audit.record_some(
            caller
                .api_log("Delete a connection")
                .map(|log| log.connection(&c.name)),
        );
        Ok(())
    }
}
