//! `password` and `password-realm`: the user's password at the token endpoint.

use super::{DEFAULT_USER_SCOPE, LoginContext, OIDC_SCOPES, TokenResponse};
use crate::audit::RequestMeta;
use crate::domain::{Client, GrantType, Password, Scope};
use crate::error::{ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::services::Login;
use crate::time::Timestamp;

impl Login {
    #[allow(clippy::too_many_arguments)]
    pub(in crate::services) async fn password_grant(
        &self,
        client: &Client,
        username: &str,
        password: &Password,
        realm: Option<String>,
        audience: Option<String>,
        requested: Option<Scope>,
        meta: &RequestMeta,
    ) -> ServiceResult<TokenResponse> {
        let tenant = self.tenant.active_tenant().await?;
        let realm = realm.or(tenant.default_directory.clone()).ok_or_else(|| {
            ServiceError::bad_request(
                ErrorCode::InvalidRequest,
                "Authorization server not configured with default connection.",
            )
        })?;
        let connection = self
            .tenant
            .find_connection(&realm)
            .await?
            .filter(|c| c.is_database())
            .ok_or_else(|| {
                ServiceError::bad_request(ErrorCode::InvalidRequest, "the connection was not found")
            })?;
        if !connection.is_enabled_for(&client.client_id) {
            return Err(ServiceError::bad_request(
                ErrorCode::InvalidRequest,
                "the connection was disabled",
            ));
        }
        let audience = audience.or(tenant.default_audience.clone());
        let api = self
            .api_for_user(audience.as_deref())
            .await?
            .map_err(ServiceError::AccessDenied)?;

        let user = self
            .authenticate_user(
                client,
                &connection.name,
                username,
                password,
                "password",
                meta,
            )
            .await?;
        let now = Timestamp::now();
        let requested = requested
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| Scope::parse(DEFAULT_USER_SCOPE));
        let allowed = Scope::from_items(OIDC_SCOPES);
        let mut scope = crate::services::login::audience::scope_for_api(
            requested.intersect(&allowed),
            &requested,
            api.as_deref(),
        );
        if scope.contains("offline_access") && !client.allows_grant(GrantType::RefreshToken) {
            scope = Scope::from_items(
                scope
                    .items()
                    .iter()
                    .filter(|s| *s != "offline_access")
                    .cloned(),
            );
        }
        // The same rule as the hosted form: Auth0's `mfa_required` with a token for the
        // `mfa-otp` grant. A user the policy requires to enrol gets one too: `/mfa/associate`
        // enrols with it, and the `mfa-otp` grant's first code confirms the enrolment.
        let need = self.mfa.second_factor_need(&user).await?;
        if need != crate::services::mfa::factors::SecondFactorNeed::None {
            let enroll = need == crate::services::mfa::factors::SecondFactorNeed::Enroll;
            return Err(self.mfa_required(
                client,
                &user,
                &scope,
                audience.as_deref(),
                now,
                enroll,
            )?);
        }
        let actions = self
            .post_login_for_grant(
                client,
                &user,
                &requested.to_string(),
                audience.as_deref(),
                &["pwd".to_owned()],
                meta,
            )
            .await?;
        // An action asked for a second factor: the same answer as the tenant's policy gives.
        if actions.mfa_required {
            let enroll = !self.mfa.has_second_factor(&user).await?;
            return Err(self.mfa_required(
                client,
                &user,
                &scope,
                audience.as_deref(),
                now,
                enroll,
            )?);
        }
        let custom_claims = actions.claims;
        self.login_tokens(
            client,
            &user,
            &scope,
            audience.as_deref(),
            "password",
            &LoginContext {
                custom_claims,
                ..LoginContext::default()
            },
        )
        .await
    }
}
