//! `POST /oauth/token`: client authentication, the grant dispatch, and what every grant that
//! finishes a login issues (access and id token, a refresh token family). One file per grant.

mod authorization_code;
mod client_credentials;
mod mfa;
mod password;
mod refresh_token;

use crate::audit::RequestMeta;
use crate::domain::{Client, ClientId, GrantType, Password, Scope, User};
use crate::error::{ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::random;
use crate::services::Login;
#[allow(unused_imports)]
use crate::services::*;
use crate::store::RefreshTokenRecord;
use crate::time::Timestamp;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

/// How the client identified itself at the token endpoint.
#[derive(Debug, Default)]
pub struct ClientAuth {
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
}

#[derive(Debug)]
pub enum TokenRequest {
    ClientCredentials {
        audience: Option<String>,
        scope: Option<Scope>,
    },
    Password {
        grant: GrantType,
        username: String,
        password: Password,
        realm: Option<String>,
        audience: Option<String>,
        scope: Option<Scope>,
    },
    RefreshToken {
        refresh_token: SecretString,
        scope: Option<Scope>,
    },
    AuthorizationCode {
        code: SecretString,
        redirect_uri: Option<String>,
        code_verifier: Option<SecretString>,
    },
    /// The second step after `mfa_required`: a TOTP code or a recovery code.
    Mfa {
        grant: GrantType,
        mfa_token: String,
        code: SecretString,
    },
}

/// A password login waiting for its second factor, sealed into `mfa_token`.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct PendingMfa {
    pub(crate) client_id: String,
    pub(crate) user_id: String,
    pub(in crate::services) scope: String,
    pub(in crate::services) audience: Option<String>,
    pub(in crate::services) auth_time: i64,
    pub(in crate::services) expires: i64,
}

/// What an interactive login adds to the id_token.
#[derive(Debug, Default)]
pub(crate) struct LoginContext {
    pub nonce: Option<String>,
    pub auth_time: Option<Timestamp>,
    pub amr: Vec<String>,
    pub sid: Option<String>,
    /// Claims post-login actions added.
    pub custom_claims: crate::actions::CustomClaims,
    /// The refresh-token family to start (an authorization code's, so that a replay of the
    /// code can revoke it); a random one when `None`.
    pub refresh_family: Option<String>,
    /// Tokens handed over at `/authorize` (implicit and hybrid flows): what the ID token
    /// must bind to with `at_hash` and `c_hash`.
    pub front_channel: Option<FrontChannel>,
}

/// What travels beside an ID token in a front-channel answer.
#[derive(Debug, Default)]
pub(crate) struct FrontChannel {
    /// The access token travels too: the ID token carries its `at_hash`.
    pub at_hash: bool,
    /// The code travels too: the ID token carries its `c_hash`.
    pub c_hash_of: Option<SecretString>,
}

/// OIDC Core §3.1.3.6/§3.3.2.11 for RS256: the left half of the SHA-256 of the token's ASCII
/// text, base64url without padding.
pub(in crate::services) fn left_half_hash(token: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

/// The refresh-token family a code's exchange starts: derived from the code's digest, so a
/// replayed code finds it without storing anything more.
pub(in crate::services) fn code_refresh_family(code_digest: &str) -> String {
    format!(
        "code-{}",
        random::token_digest(&format!("refresh-family:{code_digest}"))
    )
}

impl TokenRequest {
    fn grant(&self) -> GrantType {
        match self {
            Self::ClientCredentials { .. } => GrantType::ClientCredentials,
            Self::Password { grant, .. } => *grant,
            Self::RefreshToken { .. } => GrantType::RefreshToken,
            Self::AuthorizationCode { .. } => GrantType::AuthorizationCode,
            Self::Mfa { grant, .. } => *grant,
        }
    }
}

/// Issued tokens. Bearer credentials all: `Debug` never shows them.
#[derive(Debug)]
pub struct TokenResponse {
    pub access_token: SecretString,
    pub id_token: Option<SecretString>,
    pub refresh_token: Option<SecretString>,
    /// After `mfa-recovery-code`: the code that replaces the one just used.
    pub recovery_code: Option<SecretString>,
    pub scope: String,
    pub expires_in: i64,
}

/// The claims of a client-credentials access token, serialized without an intermediate map.
#[derive(serde::Serialize)]
pub(in crate::services) struct MachineClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    scope: &'a str,
    gty: &'static str,
    azp: &'a str,
}

pub(crate) const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];
pub(in crate::services) const DEFAULT_USER_SCOPE: &str = "openid profile email";

pub(in crate::services) fn client_failed() -> ServiceError {
    ServiceError::InvalidClient("Client authentication failed.".into())
}

/// Adds an action's claims to a token, never replacing one Latchkey set (an action cannot
/// change `sub`, `aud`, `exp` and the like).
pub(in crate::services) fn add_custom_claims(
    token: &mut Value,
    custom: &serde_json::Map<String, Value>,
) {
    if let Value::Object(m) = token {
        for (k, v) in custom {
            m.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
}

impl Login {
    /// `POST /oauth/token`: authenticates the client, then runs the grant.
    pub async fn exchange_token(
        &self,
        auth: ClientAuth,
        request: TokenRequest,
        meta: &RequestMeta,
    ) -> ServiceResult<TokenResponse> {
        let grant = request.grant();
        // Public clients (no secret) may use the user-facing grants without a secret.
        let client = self
            .authenticate_client(&auth, grant != GrantType::ClientCredentials)
            .await?;
        if !client.allows_grant(grant) {
            return Err(ServiceError::UnauthorizedClient(format!(
                "Grant type '{}' not allowed for the client.",
                grant.as_str()
            )));
        }
        match request {
            TokenRequest::ClientCredentials { audience, scope } => {
                self.client_credentials(&client, audience, scope, meta)
                    .await
            }
            TokenRequest::Password {
                username,
                password,
                realm,
                audience,
                scope,
                ..
            } => {
                self.password_grant(&client, &username, &password, realm, audience, scope, meta)
                    .await
            }
            TokenRequest::RefreshToken {
                refresh_token,
                scope,
            } => {
                self.refresh_grant(&client, &refresh_token, scope, meta)
                    .await
            }
            TokenRequest::Mfa {
                grant,
                mfa_token,
                code,
            } => {
                let accept = if grant == GrantType::MfaRecoveryCode {
                    crate::services::mfa::factors::SecondFactorKind::RecoveryCode
                } else {
                    crate::services::mfa::factors::SecondFactorKind::Otp
                };
                self.mfa_grant(&client, &mfa_token, &code, accept, meta)
                    .await
            }
            TokenRequest::AuthorizationCode {
                code,
                redirect_uri,
                code_verifier,
            } => {
                self.authorization_code_grant(
                    &client,
                    &code,
                    redirect_uri.as_deref(),
                    code_verifier.as_ref(),
                    meta,
                )
                .await
            }
        }
    }

    /// The first refresh token of a new family (a login), living the client's lifetime.
    pub(in crate::services) async fn new_refresh_family(
        &self,
        client: &Client,
        user: &User,
        scope: &Scope,
        audience: Option<&str>,
        now: Timestamp,
        family: Option<&str>,
    ) -> ServiceResult<SecretString> {
        let family = match family {
            Some(f) => f.to_owned(),
            None => random::hex(16)?,
        };
        let expires_at = now.plus_seconds(client.refresh_token_lifetime_secs);
        self.issue_refresh_token(client, user, scope, audience, &family, expires_at)
            .await
    }

    pub(in crate::services) async fn issue_refresh_token(
        &self,
        client: &Client,
        user: &User,
        scope: &Scope,
        audience: Option<&str>,
        family: &str,
        expires_at: Timestamp,
    ) -> ServiceResult<SecretString> {
        let token = random::opaque_token()?;
        let record = RefreshTokenRecord {
            id: random::hex(24)?,
            digest: random::token_digest(token.expose_secret()),
            family: family.to_owned(),
            user_id: user.user_id.clone(),
            client_id: client.client_id.clone(),
            audience: audience.map(str::to_owned),
            scope: scope.to_string(),
            credential_epoch: user.credential_epoch,
            created_at: Timestamp::now(),
            expires_at,
            last_used_at: None,
            rotated: false,
        };
        self.store.insert_refresh_token(&record).await?;
        Ok(token)
    }

    /// What a completed login gets, whatever the grant: access token, id_token when `openid`
    /// was granted, and the first refresh token of a new family with `offline_access` (when
    /// the client may use refresh tokens).
    pub(in crate::services) async fn login_tokens(
        &self,
        client: &Client,
        user: &User,
        scope: &Scope,
        audience: Option<&str>,
        gty: &str,
        login: &LoginContext,
    ) -> ServiceResult<TokenResponse> {
        let now = Timestamp::now();
        let lifetime = self.access_token_lifetime(audience).await?;
        let mut response =
            self.user_tokens(client, user, scope, audience, gty, (now, lifetime), login)?;
        if scope.contains("offline_access") && client.allows_grant(GrantType::RefreshToken) {
            response.refresh_token = Some(
                self.new_refresh_family(
                    client,
                    user,
                    scope,
                    audience,
                    now,
                    login.refresh_family.as_deref(),
                )
                .await?,
            );
        }
        Ok(response)
    }

    /// Access token (and id_token when `openid` was granted) for a user; the access token lives
    /// `lifetime` seconds from `now`.
    #[allow(clippy::too_many_arguments)]
    pub(in crate::services) fn user_tokens(
        &self,
        client: &Client,
        user: &User,
        scope: &Scope,
        audience: Option<&str>,
        gty: &str,
        (now, lifetime): (Timestamp, i64),
        login: &LoginContext,
    ) -> ServiceResult<TokenResponse> {
        let iat = now.seconds();
        let userinfo = self.config.userinfo_audience();
        let aud = match audience {
            Some(a) if a != userinfo && scope.contains("openid") => json!([a, userinfo]),
            Some(a) => json!(a),
            None => json!(userinfo),
        };
        let mut access = json!({
            "iss": self.config.issuer,
            "sub": user.user_id,
            "aud": aud,
            "iat": iat,
            "exp": iat + lifetime,
            "scope": scope.to_string(),
            "gty": gty,
            "azp": client.client_id,
        });
        add_custom_claims(&mut access, &login.custom_claims.access_token);
        let access_token = SecretString::from(self.keys.sign(&access)?);
        let front_channel = login.front_channel.as_ref();
        let id_token = if scope.contains("openid") {
            let mut claims = json!({
                "iss": self.config.issuer,
                "sub": user.user_id,
                "aud": client.client_id,
                "iat": iat,
                "exp": iat + client.id_token_lifetime_secs,
                "auth_time": login.auth_time.map_or(iat, Timestamp::seconds),
            });
            if let Value::Object(m) = &mut claims {
                if let Some(n) = &login.nonce {
                    m.insert("nonce".into(), json!(n));
                }
                if !login.amr.is_empty() {
                    m.insert("amr".into(), json!(login.amr));
                }
                if let Some(sid) = &login.sid {
                    m.insert("sid".into(), json!(sid));
                }
                if front_channel.is_some_and(|f| f.at_hash) {
                    let hash = left_half_hash(access_token.expose_secret());
                    m.insert("at_hash".into(), json!(hash));
                }
                if let Some(code) = front_channel.and_then(|f| f.c_hash_of.as_ref()) {
                    m.insert("c_hash".into(), json!(left_half_hash(code.expose_secret())));
                }
                if scope.contains("profile") {
                    m.insert("name".into(), json!(user.display_name()));
                    m.insert("nickname".into(), json!(user.nickname()));
                    m.insert("updated_at".into(), json!(user.updated_at.to_iso()));
                    for (k, v) in [
                        ("picture", &user.profile.picture),
                        ("given_name", &user.profile.given_name),
                        ("family_name", &user.profile.family_name),
                    ] {
                        if let Some(v) = v {
                            m.insert(k.into(), json!(v));
                        }
                    }
                }
                if scope.contains("email")
                    && let Some(email) = &user.email
                {
                    m.insert("email".into(), json!(email));
                    m.insert("email_verified".into(), json!(user.email_verified));
                }
            }
            add_custom_claims(&mut claims, &login.custom_claims.id_token);
            Some(SecretString::from(self.keys.sign(&claims)?))
        } else {
            None
        };
        Ok(TokenResponse {
            access_token,
            id_token,
            refresh_token: None,
            recovery_code: None,
            scope: scope.to_string(),
            expires_in: lifetime,
        })
    }

    /// `POST /api/v2/users/{id}/revoke-access` and `DELETE /users/{id}/refresh-tokens`.
    pub async fn revoke_refresh_tokens(
        &self,
        user: &crate::domain::UserId,
        client: Option<&ClientId>,
    ) -> ServiceResult<u64> {
        self.directory.get_user(user).await?;
        Ok(self.store.revoke_refresh_tokens(user, client).await?)
    }

    pub async fn list_refresh_tokens(
        &self,
        user: &crate::domain::UserId,
    ) -> ServiceResult<Vec<RefreshTokenRecord>> {
        self.directory.get_user(user).await?;
        Ok(self.store.list_refresh_tokens(user).await?)
    }

    /// `POST /oauth/revoke`: revokes a refresh token presented by its client. Always succeeds
    /// from the caller's point of view (RFC 7009), unless the client fails to authenticate.
    pub async fn revoke_token(&self, auth: ClientAuth, token: &SecretString) -> ServiceResult<()> {
        let client = self.authenticate_client(&auth, true).await?;
        self.store
            .revoke_refresh_token_by_digest(
                &random::token_digest(token.expose_secret()),
                &client.client_id,
            )
            .await?;
        Ok(())
    }

    /// The client presenting `auth`: a confidential client must prove its secret; a public
    /// client may go without one where `public_allowed`. Every failure looks the same.
    pub(in crate::services) async fn authenticate_client(
        &self,
        auth: &ClientAuth,
        public_allowed: bool,
    ) -> ServiceResult<std::sync::Arc<Client>> {
        let client_id = auth.client_id.as_deref().ok_or_else(|| {
            ServiceError::bad_request(
                ErrorCode::InvalidRequest,
                "Missing required parameter: client_id",
            )
        })?;
        let Ok(id) = ClientId::parse(client_id) else {
            return Err(client_failed());
        };
        let client = self
            .tenant
            .active_client(&id)
            .await?
            .ok_or_else(client_failed)?;
        match &auth.client_secret {
            Some(secret) if client.secret_matches(secret.expose_secret()) => Ok(client),
            None if public_allowed && client.is_public() => Ok(client),
            _ => Err(client_failed()),
        }
    }
}
