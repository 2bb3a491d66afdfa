use super::Services;
use crate::audit::{LogEntry, RequestMeta, codes};
use crate::domain::{Client, ClientId, Email, GrantType, Password, Scope, User};
use crate::error::{ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::random;
use crate::store::{LoginRecord, RefreshTokenRecord, RefreshUse};
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
    scope: String,
    audience: Option<String>,
    auth_time: i64,
    expires: i64,
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
}

/// The refresh-token family a code's exchange starts: derived from the code's digest, so a
/// replayed code finds it without storing anything more.
fn code_refresh_family(code_digest: &str) -> String {
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
struct MachineClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    scope: &'a str,
    gty: &'static str,
    azp: &'a str,
}

/// Consecutive failed logins from one IP that block it for the user (Auth0's default).
const BRUTE_FORCE_THRESHOLD: i64 = 10;

pub(crate) const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];
const DEFAULT_USER_SCOPE: &str = "openid profile email";

fn client_failed() -> ServiceError {
    ServiceError::InvalidClient("Client authentication failed.".into())
}

impl Services {
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
                    super::mfa::SecondFactorKind::RecoveryCode
                } else {
                    super::mfa::SecondFactorKind::Otp
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

    async fn client_credentials(
        &self,
        client: &Client,
        audience: Option<String>,
        requested: Option<Scope>,
        meta: &RequestMeta,
    ) -> ServiceResult<TokenResponse> {
        let audience = match audience {
            Some(a) => a,
            None => self.active_tenant().await?.default_audience.ok_or_else(|| {
                ServiceError::AccessDenied(
                    "No audience parameter was provided, and no default audience has been configured".into(),
                )
            })?,
        };
        let grant = self.active_grant(&client.client_id, &audience).await?
            .ok_or_else(|| {
                ServiceError::AccessDenied(format!(
                    "Client is not authorized to access \"{audience}\". You need to create a \"client-grant\" associated to this API. See: https://auth0.com/docs/api/v2#!/Client_Grants/post_client_grants"
                ))
            })?;
        // Without a requested scope the token carries the grant's scope as stored; only an
        // explicit request needs the set intersection.
        let scope = match requested {
            Some(r) if !r.is_empty() => r
                .intersect(&Scope::from_items(grant.scope.iter().cloned()))
                .to_string(),
            _ => grant.scope.join(" "),
        };
        // This grant can run on cached configuration while the store is away: its log entry
        // must then wait in the queue, so a full queue refuses the token instead of losing it.
        let log_place = self.audit.reserve().ok_or_else(|| {
            ServiceError::Unavailable(anyhow::anyhow!(
                "the tenant log queue is full (store unreachable)"
            ))
        })?;
        let now = Timestamp::now().seconds();
        let lifetime = self.config.access_token_lifetime_secs;
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

    #[allow(clippy::too_many_arguments)]
    async fn password_grant(
        &self,
        client: &Client,
        username: &str,
        password: &Password,
        realm: Option<String>,
        audience: Option<String>,
        requested: Option<Scope>,
        meta: &RequestMeta,
    ) -> ServiceResult<TokenResponse> {
        let tenant = self.active_tenant().await?;
        let realm = realm.or(tenant.default_directory.clone()).ok_or_else(|| {
            ServiceError::bad_request(
                ErrorCode::InvalidRequest,
                "Authorization server not configured with default connection.",
            )
        })?;
        let connection = self
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
        if let Some(aud) = &audience
            && *aud != self.config.management_audience()
            && *aud != self.config.userinfo_audience()
        {
            return Err(ServiceError::AccessDenied(format!(
                "Service not found: {aud}"
            )));
        }

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
        let mut scope = requested.intersect(&allowed);
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
        let need = self.second_factor_need(&user).await?;
        if need != super::mfa::SecondFactorNeed::None {
            let enroll = need == super::mfa::SecondFactorNeed::Enroll;
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
            let enroll = !self.has_second_factor(&user).await?;
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

    async fn refresh_grant(
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
        let granted = Scope::parse(&record.scope);
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
            _ => granted,
        };
        let mut response = self.user_tokens(
            client,
            &user,
            &scope,
            record.audience.as_deref(),
            "refresh_token",
            now,
            &LoginContext::default(),
        )?;
        if client.refresh_token_rotation {
            response.refresh_token = Some(
                self.issue_refresh_token(
                    client,
                    &user,
                    &Scope::parse(&record.scope),
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

    /// The first refresh token of a new family (a login), living the client's lifetime.
    async fn new_refresh_family(
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

    async fn issue_refresh_token(
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

    /// Checks a username (or email) and password on a database connection for `client`: the
    /// one credential check behind the password grants and the hosted login form. Unknown users
    /// cost a decoy verification; the blocked state is told only after a correct password.
    /// Logs `s`/`f`/`fu`/`fp` and records the login.
    pub(crate) async fn authenticate_user(
        &self,
        client: &Client,
        connection: &str,
        username: &str,
        password: &Password,
        method: &str,
        meta: &RequestMeta,
    ) -> ServiceResult<User> {
        let mut user = if username.contains('@') {
            match Email::parse(username) {
                Ok(email) => self.store.find_user_by_email(connection, &email).await?,
                Err(_) => None,
            }
        } else {
            self.store
                .find_user_by_username(connection, username)
                .await?
        };
        let log_failure = |code: &str, user: Option<&User>, description: &str| {
            let mut entry = LogEntry::new(code, meta)
                .description(description)
                .client(client.client_id.as_str(), &client.name)
                .connection(connection);
            entry = match user {
                Some(u) => entry.user(u.user_id.as_str(), &u.display_name()),
                None => entry.user("", username),
            };
            self.audit.record(entry);
        };
        // A custom database answers for users whose password is not held here: every user
        // without import mode, users not migrated yet with it. Brute-force protection holds
        // for them too: a blocked pair never reaches the store, and a refusal counts.
        let mut checked_by_script = false;
        if let Some(db) = self
            .find_connection(connection)
            .await?
            .and_then(|c| self.custom_database(&c))
            && (!db.import_mode || user.as_ref().is_none_or(|u| u.password_hash.is_none()))
        {
            let ip = meta.ip.clone().unwrap_or_default();
            if let Some(local) = &user
                && self
                    .store
                    .login_failures(&local.user_id, &ip)
                    .await?
                    .is_some_and(|(_, blocked)| blocked)
            {
                log_failure(
                    codes::BLOCKED_BY_ATTEMPTS,
                    Some(local),
                    "Blocked account: too many consecutive failed logins from this IP",
                );
                return Err(ServiceError::TooManyAttempts);
            }
            let local = user.clone();
            match self
                .login_through_script(&db, username, password, local.clone())
                .await?
            {
                Some(accepted) => {
                    user = Some(accepted);
                    checked_by_script = true;
                }
                None => {
                    if let Some(local) = local {
                        return Err(self.wrong_password(&local, &ip, &log_failure).await?);
                    }
                }
            }
        }
        let (user, hash) = match user {
            Some(u) if checked_by_script => {
                return self
                    .login_succeeded(client, connection, u, None, true, method, meta)
                    .await;
            }
            Some(u) => match u.password_hash.clone() {
                Some(h) => (u, h),
                None => {
                    self.hasher.verify_decoy(password).await?;
                    log_failure(
                        codes::FAILED_LOGIN_WRONG_PASSWORD,
                        Some(&u),
                        "Wrong email or password.",
                    );
                    return Err(ServiceError::WrongCredentials);
                }
            },
            None => {
                // Same work as a real check, so timing does not reveal which emails exist.
                self.hasher.verify_decoy(password).await?;
                log_failure(
                    codes::FAILED_LOGIN_INVALID_USER,
                    None,
                    "Wrong email or password.",
                );
                return Err(ServiceError::WrongCredentials);
            }
        };
        // Brute-force protection: a (user, IP) pair blocked after consecutive failures is
        // refused even with the right password, after the same hashing work.
        let ip = meta.ip.clone().unwrap_or_default();
        let earlier_failures = self.store.login_failures(&user.user_id, &ip).await?;
        if earlier_failures.is_some_and(|(_, blocked)| blocked) {
            self.hasher.verify_decoy(password).await?;
            log_failure(
                codes::BLOCKED_BY_ATTEMPTS,
                Some(&user),
                "Blocked account: too many consecutive failed logins from this IP",
            );
            return Err(ServiceError::TooManyAttempts);
        }
        let verification = self.hasher.verify(password, &hash).await?;
        if !verification.matches {
            return Err(self.wrong_password(&user, &ip, &log_failure).await?);
        }
        let upgraded_hash = if verification.needs_rehash && !user.blocked {
            Some(self.hasher.hash(password).await?)
        } else {
            None
        };
        self.login_succeeded(
            client,
            connection,
            user,
            upgraded_hash,
            earlier_failures.is_some(),
            method,
            meta,
        )
        .await
    }

    /// Auth0's `mfa_required` for a password grant: a sealed token for the `mfa-otp` grant (and
    /// `/mfa/associate` when the user must enrol first), valid ten minutes.
    fn mfa_required(
        &self,
        client: &Client,
        user: &User,
        scope: &Scope,
        audience: Option<&str>,
        now: Timestamp,
        enroll: bool,
    ) -> ServiceResult<ServiceError> {
        let pending = PendingMfa {
            client_id: client.client_id.as_str().to_owned(),
            user_id: user.user_id.as_str().to_owned(),
            scope: scope.to_string(),
            audience: audience.map(str::to_owned),
            auth_time: now.millis(),
            expires: now.seconds() + 600,
        };
        Ok(ServiceError::MfaRequired {
            mfa_token: SecretString::from(self.seal_value(
                "mfa-token",
                &pending,
                pending.expires,
            )?),
            enroll,
        })
    }

    /// A wrong password for a known user: logged, counted against (user, IP), and the pair
    /// blocked (with the unblock mail) at the threshold. Returns the error to answer with.
    async fn wrong_password(
        &self,
        user: &User,
        ip: &str,
        log_failure: &(dyn Fn(&str, Option<&User>, &str) + Send + Sync),
    ) -> ServiceResult<ServiceError> {
        log_failure(
            codes::FAILED_LOGIN_WRONG_PASSWORD,
            Some(user),
            "Wrong email or password.",
        );
        let count = self
            .store
            .record_login_failure(&user.user_id, ip, Timestamp::now(), BRUTE_FORCE_THRESHOLD)
            .await?;
        if count.newly_blocked {
            log_failure(
                codes::BLOCKED_BY_ATTEMPTS,
                Some(user),
                "Account blocked for this IP after 10 consecutive failed logins",
            );
            // The mail carries a link that lifts this block (a reset lifts it too).
            self.job_intake
                .enqueue(crate::mail::OutboxJob::AccountBlocked {
                    user_id: user.user_id.clone(),
                    ip: Some(ip.to_owned()),
                })
                .await?;
        }
        Ok(ServiceError::WrongCredentials)
    }

    /// The password was right: refuses a blocked user, records the login and logs it.
    #[allow(clippy::too_many_arguments)]
    async fn login_succeeded(
        &self,
        client: &Client,
        connection: &str,
        user: User,
        upgraded_hash: Option<crate::domain::PasswordHash>,
        clear_failures: bool,
        method: &str,
        meta: &RequestMeta,
    ) -> ServiceResult<User> {
        // Checked only after the password, so the blocked state is not revealed to guessers.
        if user.blocked {
            self.audit.record(
                LogEntry::new(codes::FAILED_LOGIN, meta)
                    .description("user is blocked")
                    .client(client.client_id.as_str(), &client.name)
                    .connection(connection)
                    .user(user.user_id.as_str(), &user.display_name()),
            );
            return Err(ServiceError::UserBlocked);
        }
        let now = Timestamp::now();
        self.store
            .record_login(&LoginRecord {
                user_id: user.user_id.clone(),
                at: now,
                ip: meta.ip.clone(),
                upgraded_hash,
                clear_failures,
            })
            .await?;
        self.audit.record(
            LogEntry::new(codes::SUCCESS_LOGIN, meta)
                .description("Successful login")
                .client(client.client_id.as_str(), &client.name)
                .user(user.user_id.as_str(), &user.display_name())
                .connection(connection)
                .detail("grant_type", Value::String(method.into())),
        );
        Ok(user)
    }

    /// `authorization_code`: the single-use code from `/authorize`, for the client and redirect
    /// URI it was issued to, with the PKCE verifier when a challenge was sent.
    async fn authorization_code_grant(
        &self,
        client: &Client,
        code: &SecretString,
        redirect_uri: Option<&str>,
        verifier: Option<&SecretString>,
        meta: &RequestMeta,
    ) -> ServiceResult<TokenResponse> {
        let invalid = || ServiceError::InvalidGrant("Invalid authorization code".into());
        let now = Timestamp::now();
        let digest = random::token_digest(code.expose_secret());
        let Some(record) = self.store.use_code(&digest, now).await? else {
            // A code used twice: whoever holds it, what its first exchange issued must not
            // outlive it (RFC 6749 §4.1.2).
            let revoked = self
                .store
                .revoke_refresh_family(&code_refresh_family(&digest))
                .await?;
            if revoked > 0 {
                tracing::warn!(client_id = %client.client_id, "authorization code presented again; its refresh tokens revoked");
            }
            return Err(invalid());
        };
        if record.client_id != client.client_id.as_str() {
            return Err(invalid());
        }
        // RFC 6749 §4.1.3: required, and identical, when the authorization request had it.
        let redirect_ok = match (redirect_uri, record.redirect_uri.as_str()) {
            (None, "") => true,
            (None, _) => false,
            (Some(r), "") => client.callbacks.iter().any(|c| c == r),
            (Some(r), expected) => r == expected,
        };
        if !redirect_ok {
            return Err(ServiceError::InvalidGrant(
                "The redirect_uri does not match the one of the authorization request".into(),
            ));
        }
        if let Some(challenge) = &record.code_challenge {
            let ok = verifier.is_some_and(|v| {
                use base64::Engine as _;
                use sha2::Digest as _;
                let digest = sha2::Sha256::digest(v.expose_secret().as_bytes());
                let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
                subtle::ConstantTimeEq::ct_eq(computed.as_bytes(), challenge.as_bytes()).into()
            });
            if !ok {
                return Err(ServiceError::InvalidGrant(
                    "Failed to verify code verifier".into(),
                ));
            }
        }
        let user = self
            .store
            .get_user(&record.user_id)
            .await?
            .ok_or_else(invalid)?;
        // A password change since the login ends what the login started.
        if user.blocked || user.credential_epoch != record.credential_epoch {
            return Err(invalid());
        }
        let scope = Scope::parse(&record.scope);
        let login = LoginContext {
            nonce: record.nonce.clone(),
            auth_time: Some(record.auth_time),
            amr: record.amr.clone(),
            sid: record.session_id.clone(),
            custom_claims: record.custom_claims.clone(),
            refresh_family: Some(code_refresh_family(&digest)),
        };
        let response = self
            .login_tokens(
                client,
                &user,
                &scope,
                record.audience.as_deref(),
                "authorization_code",
                &login,
            )
            .await?;
        self.audit.record(
            LogEntry::new(codes::SUCCESS_EXCHANGE_AUTHORIZATION_CODE, meta)
                .description("Authorization Code for Access Token")
                .client(client.client_id.as_str(), &client.name)
                .user(user.user_id.as_str(), &user.display_name()),
        );
        Ok(response)
    }

    /// `mfa-otp` / `mfa-recovery-code`: the second factor of a password login.
    async fn mfa_grant(
        &self,
        client: &Client,
        mfa_token: &str,
        code: &SecretString,
        accept: super::mfa::SecondFactorKind,
        meta: &RequestMeta,
    ) -> ServiceResult<TokenResponse> {
        let (pending, user) = self
            .pending_mfa(mfa_token, client.client_id.as_str())
            .await
            .map_err(|_| ServiceError::InvalidGrant("Malformed mfa_token".into()))?;
        let bucket = self.tenant_keys.bucket("login-mfa", &[&pending.user_id]);
        let rule = crate::ratelimit::RateRule::per_minute(5, 10);
        if !self.rate_limiter.check(&bucket, rule).await.allowed {
            return Err(ServiceError::TooManyRequests(
                "Too many attempts. Wait a minute and try again.".into(),
            ));
        }
        // The first code after `/mfa/associate` confirms that enrolment.
        let check = if accept == super::mfa::SecondFactorKind::Otp
            && self
                .confirm_associated_totp(&user, code.expose_secret())
                .await?
        {
            super::mfa::SecondFactorCheck::Passed
        } else {
            self.verify_second_factor(&user, code.expose_secret(), accept)
                .await?
        };
        if !check.passed() {
            self.audit.record(
                LogEntry::new(codes::FAILED_MFA, meta)
                    .description("Wrong second-factor code")
                    .client(client.client_id.as_str(), &client.name)
                    .user(user.user_id.as_str(), &user.display_name()),
            );
            return Err(ServiceError::InvalidGrant("Invalid otp_code.".into()));
        }
        let amr = vec!["pwd".to_owned(), "mfa".to_owned()];
        let custom_claims = self
            .post_login_for_grant(
                client,
                &user,
                &pending.scope,
                pending.audience.as_deref(),
                &amr,
                meta,
            )
            .await?
            .claims;
        let login = LoginContext {
            auth_time: Some(Timestamp::from_millis(pending.auth_time)),
            amr,
            custom_claims,
            ..LoginContext::default()
        };
        let mut response = self
            .login_tokens(
                client,
                &user,
                &Scope::parse(&pending.scope),
                pending.audience.as_deref(),
                "mfa",
                &login,
            )
            .await?;
        // Auth0 answers a recovery-code grant with the user's new recovery code.
        response.recovery_code = check.into_new_recovery_code();
        Ok(response)
    }

    /// What a completed login gets, whatever the grant: access token, id_token when `openid`
    /// was granted, and the first refresh token of a new family with `offline_access` (when
    /// the client may use refresh tokens).
    async fn login_tokens(
        &self,
        client: &Client,
        user: &User,
        scope: &Scope,
        audience: Option<&str>,
        gty: &str,
        login: &LoginContext,
    ) -> ServiceResult<TokenResponse> {
        let now = Timestamp::now();
        let mut response = self.user_tokens(client, user, scope, audience, gty, now, login)?;
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

    /// Access token (and id_token when `openid` was granted) for a user.
    #[allow(clippy::too_many_arguments)]
    fn user_tokens(
        &self,
        client: &Client,
        user: &User,
        scope: &Scope,
        audience: Option<&str>,
        gty: &str,
        now: Timestamp,
        login: &LoginContext,
    ) -> ServiceResult<TokenResponse> {
        let iat = now.seconds();
        let lifetime = self.config.access_token_lifetime_secs;
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
        self.get_user(user).await?;
        Ok(self.store.revoke_refresh_tokens(user, client).await?)
    }

    pub async fn list_refresh_tokens(
        &self,
        user: &crate::domain::UserId,
    ) -> ServiceResult<Vec<RefreshTokenRecord>> {
        self.get_user(user).await?;
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
    async fn authenticate_client(
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
        let client = self.active_client(&id).await?.ok_or_else(client_failed)?;
        match &auth.client_secret {
            Some(secret) if client.secret_matches(secret.expose_secret()) => Ok(client),
            None if public_allowed && client.is_public() => Ok(client),
            _ => Err(client_failed()),
        }
    }
}

/// Adds an action's claims to a token, never replacing one Latchkey set (an action cannot
/// change `sub`, `aud`, `exp` and the like).
fn add_custom_claims(token: &mut Value, custom: &serde_json::Map<String, Value>) {
    if let Value::Object(m) = token {
        for (k, v) in custom {
            m.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
}
