//! `/api/v2/resource-servers`: the APIs an `audience` may name. The Management API is always
//! listed first and follows the issuer; the others are stored.

use crate::domain::{MANAGEMENT_API_ID, ParseError, ResourceServer, ResourceServerInput};
use crate::error::{ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::services::{Caller, MANAGEMENT_SCOPES, TenantConfig};
use crate::store::StoreError;
use crate::time::Timestamp;

fn not_found() -> ServiceError {
    ServiceError::not_found(
        ErrorCode::InexistentResourceServer,
        "The resource server does not exist",
    )
}

fn refused(reason: impl Into<String>) -> ServiceError {
    ServiceError::bad_request(ErrorCode::OperationNotSupported, reason)
}

fn taken(e: StoreError, identifier: &str) -> ServiceError {
    match e {
        StoreError::Conflict(_) => ServiceError::conflict(
            ErrorCode::Conflict,
            format!("A resource server with the same identifier already exists: {identifier}"),
        ),
        other => other.into(),
    }
}

impl TenantConfig {
    /// The Management API as a resource server, at the current issuer.
    pub fn management_api(&self) -> ResourceServer {
        ResourceServer::management_api(self.config.management_audience(), MANAGEMENT_SCOPES)
    }

    pub async fn list_resource_servers(&self) -> ServiceResult<Vec<ResourceServer>> {
        let mut all = vec![self.management_api()];
        all.extend(self.store.list_resource_servers().await?);
        Ok(all)
    }

    /// By `id`, or by identifier as Auth0 also accepts.
    pub async fn resource_server(&self, id: &str) -> ServiceResult<ResourceServer> {
        let management = self.management_api();
        if id == MANAGEMENT_API_ID || id == management.identifier {
            return Ok(management);
        }
        if let Some(rs) = self.store.get_resource_server(id).await? {
            return Ok(rs);
        }
        self.store
            .find_resource_server(id)
            .await?
            .ok_or_else(not_found)
    }

    /// The resource server an `audience` names, if any, as stored now (the Management API's
    /// checks read this; the token paths read `active_resource_server`, cached).
    pub async fn resource_server_for_audience(
        &self,
        audience: &str,
    ) -> ServiceResult<Option<ResourceServer>> {
        if audience == self.config.management_audience() {
            return Ok(Some(self.management_api()));
        }
        Ok(self.store.find_resource_server(audience).await?)
    }

    pub async fn create_resource_server(
        &self,
        input: ResourceServerInput,
        caller: &Caller,
    ) -> ServiceResult<ResourceServer> {
        if let Some(reason) = input.unsupported() {
            return Err(refused(reason));
        }
        let identifier = input
            .identifier
            .clone()
            .ok_or_else(|| ParseError::new("identifier", "is required"))?;
        let mut rs = ResourceServer::new(crate::random::hex(24)?, Timestamp::now());
        rs.name = identifier.clone();
        input.apply(&mut rs)?;
        if rs.identifier == self.config.management_audience() {
            return Err(taken(StoreError::Conflict(""), &rs.identifier));
        }
        self.store
            .insert_resource_server(&rs)
            .await
            .map_err(|e| taken(e, &rs.identifier))?;
        self.audit
            .record_some(caller.api_log("Create a resource server"));
        Ok(rs)
    }

    pub async fn update_resource_server(
        &self,
        id: &str,
        input: ResourceServerInput,
        caller: &Caller,
    ) -> ServiceResult<ResourceServer> {
        let mut rs = self.resource_server(id).await?;
        if rs.is_system {
            return Err(refused(
                "The Management API's settings are fixed in Latchkey: its identifier follows the issuer and its scopes are Latchkey's",
            ));
        }
        if let Some(reason) = input.unsupported() {
            return Err(refused(reason));
        }
        // Tokens and client grants name the API by its identifier: it cannot change, as in
        // Auth0 (the same value again is accepted).
        if input
            .identifier
            .as_ref()
            .is_some_and(|i| *i != rs.identifier)
        {
            return Err(ParseError::new("identifier", "cannot be changed").into());
        }
        input.apply(&mut rs)?;
        let updated = self
            .store
            .update_resource_server(&rs)
            .await
            .map_err(|e| taken(e, &rs.identifier))?;
        if !updated {
            return Err(not_found());
        }
        self.cache.forget_resource_servers();
        self.audit
            .record_some(caller.api_log("Update a resource server"));
        Ok(rs)
    }

    pub async fn delete_resource_server(&self, id: &str, caller: &Caller) -> ServiceResult<()> {
        let rs = self.resource_server(id).await?;
        if rs.is_system {
            return Err(refused("The Management API cannot be deleted"));
        }
        if !self.store.delete_resource_server(&rs.id).await? {
            return Err(not_found());
        }
        // Its client grants go with it, so no token is issued for an API that is gone.
        for grant in self.store.list_client_grants().await? {
            if grant.audience == rs.identifier {
                self.store.delete_client_grant(&grant.id).await?;
            }
        }
        self.cache.forget_grants();
        self.cache.forget_resource_servers();
        self.audit
            .record_some(caller.api_log("Delete a resource server"));
        Ok(())
    }
}
