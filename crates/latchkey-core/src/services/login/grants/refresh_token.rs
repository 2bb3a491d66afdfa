//! `refresh_token`: rotation, and a replayed token revokes its family.

use super::{LoginContext, TokenResponse};
use crate::audit::{LogEntry, RequestMeta, codes};
use crate::domain::{Client, Scope};
use crate::error::{ServiceError, ServiceResult};
use crate::random;
use crate::services::Login;
use crate::store::RefreshUse;
use crate::time::Timestamp;
use secrecy::{ExposeSecret, SecretString};

impl Login {
    pub(in crate::services) async fn refresh_grant(
        &self,
        client: &Client,
        token: &SecretString,
        requested: Option<Scope>,
        meta: &RequestMeta,
    ) -> ServiceResult<TokenResponse> {
        let invalid = || ServiceError::InvalidGrant("Unknown or invalid refresh token.".into());
        let digest = random::token_digest(token.expose_secret());
        let now = Timestamp::now();
        let record = match self
            .store
            .use_refresh_token(&digest, client.refresh_token_rotation, now)
            .await?
        {
            RefreshUse::Accepted(r) => r,
            RefreshUse::Reused => {
                tracing::warn!(client_id = %client.client_id, "rotated refresh token presented again; family revoked");
                return Err(invalid());
            }
            RefreshUse::Unknown => return Err(invalid()),
        };
        if record.client_id != client.client_id || record.expires_at < now {
            return Err(invalid());
        }
        let user = self
            .store
            .get_user(&record.user_id)
            .await?
            .ok_or_else(invalid)?;
        // A password change since the token was issued ends it.
        if user.blocked || user.credential_epoch != record.credential_epoch {
            return Err(invalid());
        }
        // The API the token was issued for must still exist and still allow offline access;
        // its scopes are what it defines now (one removed since is not reissued).
        let api = self
            .api_for_user(record.audience.as_deref())
            .await?
            .map_err(|_| invalid())?;
        let custom_api = api.as_ref().filter(|a| !a.is_system);
        if custom_api.is_some_and(|a| !a.allow_offline_access) {
            return Err(invalid());
        }
        let granted = match custom_api {
            Some(api) => Scope::from_items(
                Scope::parse(&record.scope)
                    .items()
                    .iter()
                    .filter(|s| super::OIDC_SCOPES.contains(&s.as_str()) || api.has_scope(s))
                    .cloned(),
            ),
            None => Scope::parse(&record.scope),
        };
        let scope = match requested {
            Some(r) if !r.is_empty() => {
                if r.items().iter().any(|s| !granted.contains(s)) {
                    return Err(ServiceError::InvalidScope(
                        "The requested scope exceeds the scope granted by the resource owner."
                            .into(),
                    ));
                }
                r
            }
            _ => granted.clone(),
        };
        let lifetime = self
            .access_token_lifetime(record.audience.as_deref())
            .await?;
        let mut response = self.user_tokens(
            client,
            &user,
            &scope,
            record.audience.as_deref(),
            "refresh_token",
            (now, lifetime),
            &LoginContext::default(),
        )?;
        if client.refresh_token_rotation {
            response.refresh_token = Some(
                self.issue_refresh_token(
                    client,
                    &user,
                    &granted,
                    record.audience.as_deref(),
                    &record.family,
                    record.expires_at,
                )
                .await?,
            );
        }
        self.audit.record(
            LogEntry::new(codes::SUCCESS_EXCHANGE_REFRESH_TOKEN, meta)
                .description("Refresh Token for Access Token")
                .client(client.client_id.as_str(), &client.name)
                .user(user.user_id.as_str(), &user.display_name()),
        );
        Ok(response)
    }
}
