//! `client_credentials`: machine tokens for a client grant's audience and scopes.

use super::{MachineClaims, TokenResponse};
use crate::audit::{LogEntry, RequestMeta, codes};
use crate::domain::{Client, Scope};
use crate::error::{ServiceError, ServiceResult};
use crate::services::Login;
use crate::time::Timestamp;
use secrecy::SecretString;
use serde_json::Value;

impl Login {
    pub(in crate::services) async fn client_credentials(
        &self,
        client: &Client,
        audience: Option<String>,
        requested: Option<Scope>,
        meta: &RequestMeta,
    ) -> ServiceResult<TokenResponse> {
        let audience = match audience {
            Some(a) => a,
            None => self.tenant.active_tenant().await?.default_audience.ok_or_else(|| {
                ServiceError::AccessDenied(
                    "No audience parameter was provided, and no default audience has been configured".into(),
                )
            })?,
        };
        let grant = match self.tenant.active_grant(&client.client_id, &audience).await? {
            Some(g) => Some(g),
            // The Management API's identifier follows the issuer: a grant made for it under an
            // earlier public URL still names it.
            None if audience == self.config.management_audience() => {
                self.management_grant_under_any_url(&client.client_id, &audience)
                    .await?
            }
            None => None,
        }
            .ok_or_else(|| {
                ServiceError::AccessDenied(format!(
                    "Client is not authorized to access \"{audience}\". You need to create a \"client-grant\" associated to this API. See: https://auth0.com/docs/api/v2#!/Client_Grants/post_client_grants"
                ))
            })?;
        // A custom API bounds the grant by the scopes it defines now and sets the lifetime. A
        // grant whose audience names no API (made before resource servers existed) keeps its
        // scopes and the server's lifetime.
        let api = self
            .tenant
            .active_resource_server(&audience)
            .await?
            .filter(|rs| !rs.is_system);
        // The grant's entries this API still defines (each entry may hold several words).
        let granted = || {
            grant
                .scope
                .iter()
                .map(String::as_str)
                .filter(|entry| api.as_ref().is_none_or(|rs| rs.has_scope(entry)))
        };
        // Without a requested scope the token carries the grant's scope as stored; only an
        // explicit request needs the set intersection.
        let scope = match requested {
            Some(r) if !r.is_empty() => r
                .intersect_with(|s| granted().any(|e| e.split_ascii_whitespace().any(|w| w == s)))
                .to_string(),
            _ => {
                let api = api.as_ref();
                match self.cache.granted_scope(&grant, api) {
                    Some(kept) => kept.to_string(),
                    None => {
                        let joined = Scope::join_unique(granted());
                        self.cache.keep_granted_scope(&grant, api, &joined);
                        joined
                    }
                }
            }
        };
        // This grant can run on cached configuration while the store is away: its log entry
        // must then wait in the queue, so a full queue refuses the token instead of losing it.
        let log_place = self.audit.reserve().ok_or_else(|| {
            ServiceError::Unavailable(anyhow::anyhow!(
                "the tenant log queue is full (store unreachable)"
            ))
        })?;
        let now = Timestamp::now().seconds();
        let lifetime = api.map_or(self.config.access_token_lifetime_secs, |rs| {
            i64::from(rs.token_lifetime)
        });
        let subject = format!("{}@clients", client.client_id);
        let claims = MachineClaims {
            iss: &self.config.issuer,
            sub: &subject,
            aud: &audience,
            iat: now,
            exp: now + lifetime,
            scope: &scope,
            gty: "client-credentials",
            azp: client.client_id.as_str(),
        };
        let access_token = SecretString::from(self.keys.sign(&claims)?);
        log_place.record(
            LogEntry::new(codes::SUCCESS_EXCHANGE_CLIENT_CREDENTIALS, meta)
                .description("Client Credentials for Access Token")
                .client(client.client_id.as_str(), &client.name)
                .detail("audience", Value::String(audience)),
        );
        Ok(TokenResponse {
            access_token,
            id_token: None,
            refresh_token: None,
            recovery_code: None,
            scope,
            expires_in: lifetime,
        })
    }

    /// This client's grant for the Management API made under an earlier public URL, served (and
    /// cached) as the grant for the current one.
    async fn management_grant_under_any_url(
        &self,
        client: &crate::domain::ClientId,
        audience: &str,
    ) -> ServiceResult<Option<std::sync::Arc<crate::domain::ClientGrant>>> {
        let found = self
            .store
            .list_client_grants()
            .await?
            .into_iter()
            .find(|g| {
                g.client_id == *client
                    && crate::services::tenant::bootstrap::names_a_management_api(&g.audience)
            });
        Ok(found.map(|mut g| {
            g.audience = audience.to_owned();
            let g = std::sync::Arc::new(g);
            self.cache.keep_grant(&g);
            g
        }))
    }
}
