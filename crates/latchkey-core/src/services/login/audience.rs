//! What an `audience` means for a user's tokens: it must name a resource server (or
//! `/userinfo`); a custom API adds the requested scopes it defines, decides whether
//! `offline_access` (a refresh token) is allowed, and sets the access token's lifetime. The
//! Management API adds no scopes to a user's token.

use crate::domain::{ResourceServer, Scope};
use crate::error::ServiceResult;
use crate::services::Login;

impl Login {
    /// The API a user's token is for (`None`: no audience, or `/userinfo` only), or the
    /// message Auth0 answers for an unknown audience (`access_denied`).
    pub(in crate::services) async fn api_for_user(
        &self,
        audience: Option<&str>,
    ) -> ServiceResult<Result<Option<std::sync::Arc<ResourceServer>>, String>> {
        let Some(aud) = audience else {
            return Ok(Ok(None));
        };
        if aud == self.config.userinfo_audience() {
            return Ok(Ok(None));
        }
        Ok(match self.tenant.active_resource_server(aud).await? {
            Some(rs) => Ok(Some(rs)),
            None => Err(format!("Service not found: {aud}")),
        })
    }

    /// Seconds an access token for `audience` lives: a custom API's `token_lifetime`, else
    /// the server's `access_token_lifetime_secs`.
    pub(in crate::services) async fn access_token_lifetime(
        &self,
        audience: Option<&str>,
    ) -> ServiceResult<i64> {
        Ok(match self.api_for_user(audience).await? {
            Ok(Some(rs)) if !rs.is_system => i64::from(rs.token_lifetime),
            _ => self.config.access_token_lifetime_secs,
        })
    }
}

/// `granted` (the OpenID scopes a login grants) for a token to `api`: a custom API adds the
/// `requested` scopes it defines and drops `offline_access` unless it allows offline access.
pub(in crate::services) fn scope_for_api(
    granted: Scope,
    requested: &Scope,
    api: Option<&ResourceServer>,
) -> Scope {
    let Some(api) = api.filter(|a| !a.is_system) else {
        return granted;
    };
    // `offline_access` is the login's to grant (below), never an API scope of that name.
    let api_scopes = requested
        .items()
        .iter()
        .filter(|s| *s != "offline_access" && api.has_scope(s))
        .cloned();
    Scope::from_items(
        granted
            .items()
            .iter()
            .filter(|s| api.allow_offline_access || *s != "offline_access")
            .cloned()
            .chain(api_scopes),
    )
}
