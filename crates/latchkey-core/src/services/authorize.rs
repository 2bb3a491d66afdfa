//! OpenID Connect authorization: `GET /authorize` (validation, single sign-on), the hosted login
//! form, sessions and authorization codes, `/userinfo` and logout. The code exchange is in
//! tokens.rs. The validated request travels through the login form sealed with a tenant key,
//! so no server-side state exists before the user has logged in.

use super::mfa::SecondFactorNeed;
use super::tokens::OIDC_SCOPES;
use super::{Caller, Services};
use crate::domain::{Client, ClientId, Password, Scope, UserId};
use crate::error::{ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::store::{AuthorizationCode, SessionRecord};
use crate::time::Timestamp;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Codes live one minute, as Auth0's.
const CODE_TTL_SECS: i64 = 60;
/// A login form may be submitted for an hour after `/authorize`.
const TRANSACTION_TTL_SECS: i64 = 3600;

/// `GET /authorize`'s parameters, as received.
#[derive(Debug, Default, Deserialize)]
pub struct AuthorizeRequest {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub response_mode: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub audience: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub login_hint: Option<String>,
    pub screen_hint: Option<String>,
    pub connection: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    /// The page language the application asks for (the pages read it; the service does not).
    pub ui_locales: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    Query,
    FormPost,
}

/// The answer to the client's callback: a code, or an error, with `state`. `Debug` leaves the
/// parameters out: one of them is the code.
#[derive(Clone)]
pub struct AuthorizationResponse {
    pub redirect_uri: String,
    pub mode: ResponseMode,
    pub params: Vec<(String, String)>,
}

impl std::fmt::Debug for AuthorizationResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationResponse")
            .field("redirect_uri", &self.redirect_uri)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl AuthorizationResponse {
    /// The callback URL with the parameters in its query (response_mode=query).
    pub fn location(&self) -> String {
        match url::Url::parse(&self.redirect_uri) {
            Ok(mut u) => {
                u.query_pairs_mut().extend_pairs(self.params.iter());
                u.to_string()
            }
            Err(_) => self.redirect_uri.clone(),
        }
    }
}

/// What the hosted login form needs.
#[derive(Debug, Clone)]
pub struct LoginForm {
    /// The sealed authorization request, returned with the form.
    pub transaction: String,
    pub login_hint: Option<String>,
    pub client_name: String,
    pub connection: String,
    /// The callback: a successful login redirects there, so the page's CSP must allow it.
    pub redirect_uri: String,
    /// Whether the connection takes public sign-ups (the page links to the sign-up form).
    pub signup_allowed: bool,
    /// `screen_hint=signup`: open on the sign-up form.
    pub show_signup: bool,
    /// The connection's password rules, for the sign-up form.
    pub rules: Vec<crate::password::RuleReport>,
}

#[derive(Debug)]
pub enum AuthorizeOutcome {
    Respond(AuthorizationResponse),
    Login(LoginForm),
    /// The client or callback cannot be trusted: show the error, redirect nowhere.
    Refuse(String),
    /// Single sign-on with post-login actions bound: where the actions took the login.
    Step(LoginStep),
}

/// Where a login stands after the password. Every field is a credential or carries one (the
/// sealed `pending` holds a new TOTP key), so `Debug` names the step only.
pub enum LoginStep {
    /// Logged in: the session cookie and the answer to the callback. `recovery_code` is shown
    /// once, right after a new enrolment.
    Done {
        session: NewSession,
        response: AuthorizationResponse,
        recovery_code: Option<SecretString>,
    },
    /// The user has a second factor: ask for a code (`pending` goes back with it).
    /// `callback` is where the code's answer redirects (the page's CSP must allow it).
    SecondFactor { pending: String, callback: String },
    /// The tenant requires MFA and the user has none: enrol this TOTP key first.
    Enroll {
        pending: String,
        secret: SecretString,
        otpauth_uri: SecretString,
        callback: String,
    },
    /// A post-login action sent the user elsewhere (`api.redirect.sendUserTo`); they come back
    /// through `/continue?state=…`, in a browser that holds `browser_binding` as a cookie.
    Redirect {
        url: String,
        browser_binding: SecretString,
    },
    /// The answer goes back to the application without a new session: a code from the live
    /// session (single sign-on), or a post-login action's denial.
    Respond { response: AuthorizationResponse },
}

impl std::fmt::Debug for LoginStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Done { .. } => "LoginStep::Done",
            Self::SecondFactor { .. } => "LoginStep::SecondFactor",
            Self::Enroll { .. } => "LoginStep::Enroll",
            Self::Redirect { .. } => "LoginStep::Redirect",
            Self::Respond { .. } => "LoginStep::Respond",
        })
    }
}

/// A login between the password and the second factor, sealed into the challenge form. An
/// enrolment carries the new key, which the user is shown anyway.
// No Debug: it may hold the new TOTP key.
#[derive(Clone, Serialize, Deserialize)]
struct PendingLogin {
    tx: Transaction,
    user_id: String,
    auth_time: i64,
    enroll_secret: Option<String>,
    enroll_uri: Option<String>,
    expires: i64,
    #[serde(default)]
    post_login: PostLoginProgress,
}

/// Where the post-login actions stand for one login.
#[derive(Clone, Default, Serialize, Deserialize)]
struct PostLoginProgress {
    /// The actions have run: a login that goes on to a second factor does not run them again.
    done: bool,
    /// Claims the actions added, for the tokens.
    claims: crate::actions::CustomClaims,
    /// An action called `api.multifactor.enable`.
    mfa_required: bool,
    /// Single sign-on: the live session this login answers from, by id.
    session_id: Option<String>,
    /// An action redirected the user: the binding to resume at `/continue`, the login's
    /// methods, the user's credential epoch then, and the digest of the browser's
    /// continuation cookie (the state alone does not resume a login).
    resume_at: Option<usize>,
    amr: Vec<String>,
    credential_epoch: i64,
    browser_binding: Option<String>,
}

/// What the post-login actions decided for a password or MFA grant.
#[derive(Debug, Default)]
pub(crate) struct GrantPostLogin {
    pub claims: crate::actions::CustomClaims,
    /// An action called `api.multifactor.enable`: without a second factor yet, the grant
    /// answers `mfa_required`.
    pub mfa_required: bool,
}

/// A new session: the cookie value and how long it lives.
#[derive(Debug)]
pub struct NewSession {
    pub token: SecretString,
    pub max_age_secs: i64,
}

/// The validated request, sealed into the login form.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Transaction {
    client_id: String,
    redirect_uri: String,
    mode: ResponseMode,
    scope: String,
    state: Option<String>,
    nonce: Option<String>,
    audience: Option<String>,
    connection: String,
    code_challenge: Option<String>,
    max_age: Option<i64>,
    login_hint: Option<String>,
    expires: i64,
    /// The scope as requested (post-login actions see `update:password` and the like, which
    /// the tokens do not carry).
    #[serde(default)]
    requested_scope: String,
    #[serde(default)]
    prompt: Option<String>,
    /// `/authorize` had no `redirect_uri` (the client's only callback was used), so the code
    /// exchange need not repeat it (RFC 6749 §4.1.3).
    #[serde(default)]
    redirect_uri_omitted: bool,
}

impl Transaction {
    fn respond(&self, params: Vec<(String, String)>) -> AuthorizationResponse {
        let mut params = params;
        if let Some(s) = &self.state {
            params.push(("state".into(), s.clone()));
        }
        AuthorizationResponse {
            redirect_uri: self.redirect_uri.clone(),
            mode: self.mode,
            params,
        }
    }
    fn error(&self, error: ErrorCode, description: &str) -> AuthorizationResponse {
        self.respond(vec![
            ("error".into(), error.as_str().into()),
            ("error_description".into(), description.into()),
        ])
    }
}

impl Services {
    /// `GET /authorize`. Errors about the client or the callback are shown, never redirected;
    /// every later error goes back to the callback with `state`.
    pub async fn authorize(
        &self,
        req: AuthorizeRequest,
        session_token: Option<&str>,
        caller: &Caller,
    ) -> ServiceResult<AuthorizeOutcome> {
        let client = match req.client_id.as_deref().map(ClientId::parse) {
            Some(Ok(id)) => self.active_client(&id).await?,
            _ => None,
        };
        let Some(client) = client else {
            return Ok(AuthorizeOutcome::Refuse("Unknown client.".into()));
        };
        let redirect_uri_omitted = req.redirect_uri.is_none();
        let redirect_uri = match (&req.redirect_uri, client.callbacks.as_slice()) {
            (Some(r), callbacks) if callbacks.iter().any(|c| c == r) => r.clone(),
            (None, [only]) => only.clone(),
            (Some(_), _) => {
                return Ok(AuthorizeOutcome::Refuse(
                    "The redirect_uri is not in the application's list of allowed callback URLs."
                        .into(),
                ));
            }
            (None, _) => {
                return Ok(AuthorizeOutcome::Refuse(
                    "Missing required parameter: redirect_uri".into(),
                ));
            }
        };
        let mode = match req.response_mode.as_deref() {
            None | Some("query") => ResponseMode::Query,
            Some("form_post") => ResponseMode::FormPost,
            Some(_) => ResponseMode::Query,
        };
        let mut tx = Transaction {
            client_id: client.client_id.as_str().to_owned(),
            redirect_uri,
            redirect_uri_omitted,
            mode,
            scope: String::new(),
            state: req.state.clone(),
            nonce: req.nonce.clone(),
            audience: None,
            connection: String::new(),
            code_challenge: None,
            max_age: None,
            login_hint: req.login_hint.clone(),
            expires: Timestamp::now().seconds() + TRANSACTION_TTL_SECS,
            requested_scope: req.scope.clone().unwrap_or_else(|| "openid".into()),
            prompt: req.prompt.clone(),
        };
        match self.validate_authorize(&req, &client, &mut tx).await? {
            Ok(()) => {}
            Err((error, description)) => {
                return Ok(AuthorizeOutcome::Respond(tx.error(error, &description)));
            }
        }
        let prompt = req.prompt.as_deref().unwrap_or_default();
        if prompt != "login"
            && let Some(session) = self.live_session(session_token).await?
        {
            // max_age=0 always asks again (J4: re-authenticate before a password change).
            let fresh_enough = tx.max_age.is_none_or(|max| {
                max > 0 && Timestamp::now().seconds() - session.auth_time.seconds() <= max
            });
            if fresh_enough {
                if self
                    .trigger_has_actions(crate::actions::Trigger::PostLogin)
                    .await?
                {
                    let pending = PendingLogin {
                        user_id: session.user_id.as_str().to_owned(),
                        auth_time: session.auth_time.millis(),
                        enroll_secret: None,
                        enroll_uri: None,
                        expires: tx.expires,
                        post_login: PostLoginProgress {
                            session_id: Some(session.id.clone()),
                            ..PostLoginProgress::default()
                        },
                        tx,
                    };
                    let step = self
                        .finish_login(&pending, session.amr.clone(), None, caller)
                        .await?;
                    return Ok(AuthorizeOutcome::Step(step));
                }
                let response = self.issue_code(&tx, &session, Default::default()).await?;
                return Ok(AuthorizeOutcome::Respond(response));
            }
        }
        if prompt == "none" {
            return Ok(AuthorizeOutcome::Respond(
                tx.error(ErrorCode::LoginRequired, "Login required"),
            ));
        }
        let mut form = self.login_form(&self.seal(&tx)?).await?;
        form.show_signup = req.screen_hint.as_deref() == Some("signup") && form.signup_allowed;
        Ok(AuthorizeOutcome::Login(form))
    }

    /// Fills `tx` from the request, or names the OAuth error to send back.
    async fn validate_authorize(
        &self,
        req: &AuthorizeRequest,
        client: &Client,
        tx: &mut Transaction,
    ) -> ServiceResult<Result<(), (ErrorCode, String)>> {
        if req.response_type.as_deref() != Some("code") {
            return Ok(Err((
                ErrorCode::UnsupportedResponseType,
                "Only response_type=code is supported.".into(),
            )));
        }
        if !matches!(
            req.response_mode.as_deref(),
            None | Some("query" | "form_post")
        ) {
            return Ok(Err((
                ErrorCode::InvalidRequest,
                "response_mode must be query or form_post".into(),
            )));
        }
        if !client.allows_grant(crate::domain::GrantType::AuthorizationCode) {
            return Ok(Err((
                ErrorCode::UnauthorizedClient,
                "The client may not use the authorization code flow.".into(),
            )));
        }
        match (&req.code_challenge, req.code_challenge_method.as_deref()) {
            (Some(c), None | Some("S256")) if c.len() >= 43 && c.len() <= 128 => {
                tx.code_challenge = Some(c.clone());
            }
            (Some(_), Some("S256") | None) => {
                return Ok(Err((
                    ErrorCode::InvalidRequest,
                    "Invalid code_challenge".into(),
                )));
            }
            (Some(_), Some(_)) => {
                return Ok(Err((
                    ErrorCode::InvalidRequest,
                    "Only code_challenge_method=S256 is supported.".into(),
                )));
            }
            (None, _) if client.is_public() => {
                return Ok(Err((
                    ErrorCode::InvalidRequest,
                    "Public clients must use PKCE (code_challenge with S256).".into(),
                )));
            }
            (None, _) => {}
        }
        let requested = Scope::parse(req.scope.as_deref().unwrap_or("openid"));
        let mut scope = requested.intersect(&Scope::from_items(OIDC_SCOPES));
        if !scope.contains("openid") {
            scope = Scope::from_items(
                std::iter::once("openid".to_owned()).chain(scope.items().iter().cloned()),
            );
        }
        tx.scope = scope.to_string();
        if let Some(aud) = &req.audience
            && *aud != self.config.management_audience()
            && *aud != self.config.userinfo_audience()
        {
            return Ok(Err((
                ErrorCode::AccessDenied,
                format!("Service not found: {aud}"),
            )));
        }
        tx.audience = req.audience.clone();
        let tenant = self.active_tenant().await?;
        let name = req
            .connection
            .clone()
            .or(tenant.default_directory.clone())
            .unwrap_or_else(|| super::DEFAULT_CONNECTION.to_owned());
        let connection = self
            .find_connection(&name)
            .await?
            .filter(|c| c.is_database());
        match connection {
            Some(c) if c.is_enabled_for(&client.client_id) => tx.connection = c.name,
            _ => {
                return Ok(Err((
                    ErrorCode::InvalidRequest,
                    "The connection does not exist or is not enabled for this client.".into(),
                )));
            }
        }
        match req.prompt.as_deref() {
            None | Some("login" | "none" | "consent" | "select_account") => {}
            Some(_) => {
                return Ok(Err((
                    ErrorCode::InvalidRequest,
                    "Unsupported prompt value".into(),
                )));
            }
        }
        tx.max_age = match req.max_age.as_deref().map(str::parse::<i64>) {
            None => None,
            Some(Ok(v)) if v >= 0 => Some(v),
            Some(_) => {
                return Ok(Err((
                    ErrorCode::InvalidRequest,
                    "max_age must be a number of seconds".into(),
                )));
            }
        };
        Ok(Ok(()))
    }

    /// The hosted login form's submission: checks the password, then either asks for the
    /// second factor (enrolling one first when the tenant requires MFA) or opens the session
    /// and answers the authorization request with a code.
    pub async fn login_with_password(
        &self,
        transaction: &str,
        username: &str,
        password: &Password,
        caller: &Caller,
    ) -> ServiceResult<LoginStep> {
        let tx = self.unseal(transaction)?;
        let id = ClientId::parse(&tx.client_id).map_err(ServiceError::from)?;
        let client = self.active_client(&id).await?.ok_or_else(|| {
            ServiceError::bad_request(ErrorCode::InvalidRequest, "Unknown client.")
        })?;
        let user = self
            .authenticate_user(
                &client,
                &tx.connection,
                username.trim(),
                password,
                "pwd",
                &caller.meta,
            )
            .await?;
        let now = Timestamp::now();
        let need = self.second_factor_need(&user).await?;
        let mut pending = PendingLogin {
            tx,
            user_id: user.user_id.as_str().to_owned(),
            auth_time: now.millis(),
            enroll_secret: None,
            enroll_uri: None,
            expires: now.seconds() + 300,
            post_login: PostLoginProgress::default(),
        };
        if need == SecondFactorNeed::Challenge {
            return Ok(LoginStep::SecondFactor {
                pending: self.seal_value("login-mfa", &pending, pending.expires)?,
                callback: pending.tx.redirect_uri.clone(),
            });
        }
        if need == SecondFactorNeed::Enroll {
            let label = user.email.as_ref().map_or_else(
                || user.user_id.as_str().to_owned(),
                |e| e.as_str().to_owned(),
            );
            let (secret, uri) = self.new_totp_key(&label).await?;
            pending.enroll_secret = Some(secret.clone());
            pending.enroll_uri = Some(uri.clone());
            return Ok(LoginStep::Enroll {
                pending: self.seal_value("login-mfa", &pending, pending.expires)?,
                secret: SecretString::from(secret),
                otpauth_uri: SecretString::from(uri),
                callback: pending.tx.redirect_uri.clone(),
            });
        }
        self.finish_login(&pending, vec!["pwd".into()], None, caller)
            .await
    }

    /// The challenge (or enrolment) a pending login shows again after a wrong code.
    pub fn login_challenge(&self, pending: &str) -> ServiceResult<LoginStep> {
        let sealed = pending.to_owned();
        let pending: PendingLogin = self.unseal_value("login-mfa", pending)?;
        let callback = pending.tx.redirect_uri;
        Ok(match (pending.enroll_secret, pending.enroll_uri) {
            (Some(secret), Some(uri)) => LoginStep::Enroll {
                pending: sealed,
                secret: SecretString::from(secret),
                otpauth_uri: SecretString::from(uri),
                callback,
            },
            _ => LoginStep::SecondFactor {
                pending: sealed,
                callback,
            },
        })
    }

    /// The second factor of a login (or the first code of a new enrolment).
    pub async fn login_second_factor(
        &self,
        pending: &str,
        code: &str,
        caller: &Caller,
    ) -> ServiceResult<LoginStep> {
        let pending: PendingLogin = self.unseal_value("login-mfa", pending)?;
        let user = self
            .get_user(&UserId::from_trusted(pending.user_id.clone()))
            .await?;
        let bucket = self.tenant_keys.bucket("login-mfa", &[&pending.user_id]);
        let rule = crate::ratelimit::RateRule::per_minute(5, 10);
        if !self.rate_limiter.check(&bucket, rule).await.allowed {
            return Err(ServiceError::TooManyRequests(
                "Too many attempts. Wait a minute and try again.".into(),
            ));
        }
        let wrong = || {
            ServiceError::bad_request(
                ErrorCode::InvalidOtp,
                "That code is not valid. Enter the current code from your authenticator app.",
            )
        };
        let recovery = match &pending.enroll_secret {
            Some(secret) => {
                // A replayed enrolment form: the user enrolled meanwhile (with this very form).
                if self.has_second_factor(&user).await? {
                    return Err(wrong());
                }
                let key = crate::totp::decode_base32(secret).ok_or_else(wrong)?;
                let step = crate::totp::matching_step(&key, code, Timestamp::now().seconds())
                    .ok_or_else(wrong)?;
                Some(self.enroll_totp(&user, secret, step, caller).await?)
            }
            None => {
                let check = self
                    .verify_second_factor(&user, code, super::mfa::SecondFactorKind::Any)
                    .await?;
                if !check.passed() {
                    self.record(Some(
                        crate::audit::LogEntry::new(crate::audit::codes::FAILED_MFA, &caller.meta)
                            .description("Wrong second-factor code at login")
                            .user(user.user_id.as_str(), &user.display_name()),
                    ));
                    return Err(wrong());
                }
                // A used recovery code was replaced: the new one is shown like an enrolment's.
                check.into_new_recovery_code()
            }
        };
        self.finish_login(&pending, vec!["pwd".into(), "mfa".into()], recovery, caller)
            .await
    }

    /// The end of every login: the post-login actions (once), the second factor an action
    /// asked for, then the session (new, or the single-sign-on one) and the code.
    async fn finish_login(
        &self,
        pending: &PendingLogin,
        amr: Vec<String>,
        recovery_code: Option<SecretString>,
        caller: &Caller,
    ) -> ServiceResult<LoginStep> {
        let mut pending = pending.clone();
        if !pending.post_login.done
            && let Some(step) = self
                .run_post_login(&mut pending, &amr, None, caller)
                .await?
        {
            return Ok(step);
        }
        let user = self
            .get_user(&UserId::from_trusted(pending.user_id.clone()))
            .await?;
        if pending.post_login.mfa_required && !amr.iter().any(|m| m == "mfa") {
            return self.second_factor_step(pending, &user).await;
        }
        let now = Timestamp::now();
        let claims = pending.post_login.claims.clone();
        if let Some(id) = &pending.post_login.session_id {
            // Single sign-on answers only from that very session, still live; gone, it means
            // logging in again (never a new session without a password).
            let session = self
                .store
                .list_sessions(&user.user_id)
                .await?
                .into_iter()
                .find(|s| {
                    &s.id == id
                        && s.credential_epoch == user.credential_epoch
                        && s.expires_at > now
                        && !user.blocked
                })
                .ok_or_else(|| {
                    ServiceError::bad_request(
                        ErrorCode::InvalidTransaction,
                        "This login can no longer continue. Go back to the application and log in again.",
                    )
                })?;
            let response = self.issue_code(&pending.tx, &session, claims).await?;
            return Ok(LoginStep::Respond { response });
        }
        let token = crate::random::opaque_token()?;
        let lifetime_secs =
            ((self.active_tenant().await?.session_lifetime * 3600.0) as i64).max(60);
        let session = SessionRecord {
            id: crate::random::alnum(24)?,
            digest: crate::random::token_digest(token.expose_secret()),
            user_id: user.user_id.clone(),
            credential_epoch: user.credential_epoch,
            auth_time: Timestamp::from_millis(pending.auth_time),
            amr,
            created_at: now,
            last_seen_at: now,
            expires_at: now.plus_seconds(lifetime_secs),
            ip: caller.meta.ip.clone(),
            user_agent: caller.meta.user_agent.clone(),
        };
        self.store.insert_session(&session).await?;
        let response = self.issue_code(&pending.tx, &session, claims).await?;
        Ok(LoginStep::Done {
            session: NewSession {
                token,
                max_age_secs: lifetime_secs,
            },
            response,
            recovery_code,
        })
    }

    /// The second factor a post-login action asked for (`api.multifactor.enable`): the
    /// challenge, or an enrolment when the user has no factor yet.
    async fn second_factor_step(
        &self,
        mut pending: PendingLogin,
        user: &crate::domain::User,
    ) -> ServiceResult<LoginStep> {
        pending.expires = Timestamp::now().seconds() + 300;
        let callback = pending.tx.redirect_uri.clone();
        if self.has_second_factor(user).await? {
            return Ok(LoginStep::SecondFactor {
                pending: self.seal_value("login-mfa", &pending, pending.expires)?,
                callback,
            });
        }
        let label = user.email.as_ref().map_or_else(
            || user.user_id.as_str().to_owned(),
            |e| e.as_str().to_owned(),
        );
        let (secret, uri) = self.new_totp_key(&label).await?;
        pending.enroll_secret = Some(secret.clone());
        pending.enroll_uri = Some(uri.clone());
        Ok(LoginStep::Enroll {
            pending: self.seal_value("login-mfa", &pending, pending.expires)?,
            secret: SecretString::from(secret),
            otpauth_uri: SecretString::from(uri),
            callback,
        })
    }

    /// Runs the post-login actions (from the start, or from the one that redirected when the
    /// user comes back with `resume`), folding what they asked for into `pending`. Returns the
    /// step that ends the login here (a redirect, a denial), or `None` to go on.
    async fn run_post_login(
        &self,
        pending: &mut PendingLogin,
        amr: &[String],
        resume: Option<(usize, Value)>,
        caller: &Caller,
    ) -> ServiceResult<Option<LoginStep>> {
        use crate::actions::{ActionCommand, Entry, Trigger};
        pending.post_login.done = true;
        if !self.trigger_has_actions(Trigger::PostLogin).await? {
            return Ok(None);
        }
        let mut user = self
            .get_user(&UserId::from_trusted(pending.user_id.clone()))
            .await?;
        let (from, entry, query) = match resume {
            Some((at, query)) => (at, Entry::Continue, Some(query)),
            None => (0, Entry::Execute, None),
        };
        let event = self
            .post_login_event(&pending.tx, &user, amr, pending.auth_time, query, caller)
            .await?;
        let run = self
            .run_trigger(Trigger::PostLogin, &event, from, entry, true)
            .await?;
        // Auth0 names the execution in the log entry, for GET /actions/executions/{id}.
        let executions = json!({"executions": run.execution_id.iter().collect::<Vec<_>>()});
        if let Some((name, _)) = &run.failure {
            self.record(Some(
                crate::audit::LogEntry::new(crate::audit::codes::FAILED_LOGIN, &caller.meta)
                    .description(format!("The post-login action {name} failed"))
                    .user(user.user_id.as_str(), &user.display_name())
                    .client(&pending.tx.client_id, "")
                    .detail("actions", executions.clone()),
            ));
            return Err(ServiceError::AccessDenied(
                "The login could not be completed because one of the application's login rules failed. Try again later, or contact the application's support.".into(),
            ));
        }
        if let Some(reason) = run.denied() {
            self.record(Some(
                crate::audit::LogEntry::new(crate::audit::codes::FAILED_LOGIN, &caller.meta)
                    .description(reason)
                    .user(user.user_id.as_str(), &user.display_name())
                    .client(&pending.tx.client_id, "")
                    .detail("actions", executions),
            ));
            return Ok(Some(LoginStep::Respond {
                response: pending.tx.error(ErrorCode::AccessDenied, reason),
            }));
        }
        let mut metadata = Vec::new();
        let mut redirect = None;
        for command in run.commands {
            match command {
                ActionCommand::IdTokenClaim { name, value } => {
                    pending.post_login.claims.id_token.insert(name, value);
                }
                ActionCommand::AccessTokenClaim { name, value } => {
                    pending.post_login.claims.access_token.insert(name, value);
                }
                ActionCommand::EnableMultifactor { .. } | ActionCommand::ChallengeWith { .. } => {
                    pending.post_login.mfa_required = true;
                }
                ActionCommand::SetAppMetadata { name, value } => {
                    metadata.push((true, name, value));
                }
                ActionCommand::SetUserMetadata { name, value } => {
                    metadata.push((false, name, value));
                }
                ActionCommand::Redirect { url, query } => redirect = Some((url, query)),
                ActionCommand::Deny { .. } => {}
            }
        }
        if !metadata.is_empty() {
            // Onto the user as stored now: the actions' own Management API calls (a block,
            // an update) must not be undone by a copy read before they ran.
            user = self.get_user(&user.user_id).await?;
            for (app, name, value) in metadata {
                let map = if app {
                    &mut user.app_metadata
                } else {
                    &mut user.user_metadata
                };
                set_or_remove(map, name, value);
            }
            user.updated_at = Timestamp::now();
            self.store.update_user(&user, None).await?;
        }
        let (Some(at), Some((url, query))) = (run.suspended_at, redirect) else {
            return Ok(None);
        };
        // Silent authentication cannot show the user anything.
        if pending
            .tx
            .prompt
            .as_deref()
            .is_some_and(|p| p.split_whitespace().any(|p| p == "none"))
        {
            return Ok(Some(LoginStep::Respond {
                response: pending
                    .tx
                    .error(ErrorCode::InteractionRequired, "Interaction required"),
            }));
        }
        let binding = crate::random::opaque_token()?;
        pending.post_login.done = false;
        pending.post_login.resume_at = Some(at);
        pending.post_login.amr = amr.to_vec();
        pending.post_login.credential_epoch = user.credential_epoch;
        pending.post_login.browser_binding =
            Some(crate::random::token_digest(binding.expose_secret()));
        pending.expires = Timestamp::now().seconds() + TRANSACTION_TTL_SECS;
        let state = self.seal_private("login-continue", &*pending, pending.expires)?;
        let mut target = url::Url::parse(&url).map_err(|_| {
            ServiceError::AccessDenied(
                "The login could not be completed: an action redirected to an invalid URL.".into(),
            )
        })?;
        if !matches!(target.scheme(), "https" | "http") {
            return Err(ServiceError::AccessDenied(
                "The login could not be completed: an action redirected to an invalid URL.".into(),
            ));
        }
        target
            .query_pairs_mut()
            .extend_pairs(query.iter())
            .append_pair("state", &state);
        Ok(Some(LoginStep::Redirect {
            url: target.to_string(),
            browser_binding: binding,
        }))
    }

    /// The post-login actions of a login without a browser (the password and MFA grants):
    /// their claims for the tokens. A denial, a failure, or a redirect (which this grant
    /// cannot follow) refuses the login with `access_denied`.
    pub(crate) async fn post_login_for_grant(
        &self,
        client: &Client,
        user: &crate::domain::User,
        requested_scope: &str,
        audience: Option<&str>,
        amr: &[String],
        meta: &crate::audit::RequestMeta,
    ) -> ServiceResult<GrantPostLogin> {
        if !self
            .trigger_has_actions(crate::actions::Trigger::PostLogin)
            .await?
        {
            return Ok(GrantPostLogin::default());
        }
        let now = Timestamp::now();
        let mut pending = PendingLogin {
            tx: Transaction {
                client_id: client.client_id.as_str().to_owned(),
                redirect_uri: String::new(),
                redirect_uri_omitted: true,
                mode: ResponseMode::Query,
                scope: requested_scope.to_owned(),
                state: None,
                nonce: None,
                audience: audience.map(str::to_owned),
                connection: user.connection.clone(),
                code_challenge: None,
                max_age: None,
                login_hint: None,
                expires: now.seconds() + 300,
                requested_scope: requested_scope.to_owned(),
                prompt: None,
            },
            user_id: user.user_id.as_str().to_owned(),
            auth_time: now.millis(),
            enroll_secret: None,
            enroll_uri: None,
            expires: now.seconds() + 300,
            post_login: PostLoginProgress::default(),
        };
        let caller = Caller::end_user(meta.clone());
        match self
            .run_post_login(&mut pending, amr, None, &caller)
            .await?
        {
            None => Ok(GrantPostLogin {
                claims: pending.post_login.claims,
                mfa_required: pending.post_login.mfa_required,
            }),
            Some(LoginStep::Respond { response }) => Err(ServiceError::AccessDenied(
                response
                    .params
                    .iter()
                    .find(|(k, _)| k == "error_description")
                    .map_or_else(|| "Access denied".to_owned(), |(_, v)| v.clone()),
            )),
            Some(_) => Err(ServiceError::AccessDenied(
                "A post-login action redirects the user, which needs the browser-based login."
                    .into(),
            )),
        }
    }

    /// `GET /continue?state=…`: the user is back from a post-login action's redirect. Runs that
    /// action's `onContinuePostLogin` and the actions after it, then finishes the login.
    /// `browser_binding` is the cookie set with the redirect; `query` is `/continue`'s query.
    pub async fn continue_login(
        &self,
        state: &str,
        browser_binding: Option<&str>,
        query: Value,
        caller: &Caller,
    ) -> ServiceResult<LoginStep> {
        let mut pending: PendingLogin = self.unseal_private("login-continue", state)?;
        let expired = || {
            ServiceError::bad_request(
                ErrorCode::InvalidTransaction,
                "This login can no longer continue. Go back to the application and log in again.",
            )
        };
        let bound = match (&pending.post_login.browser_binding, browser_binding) {
            (Some(digest), Some(cookie)) => bool::from(subtle::ConstantTimeEq::ct_eq(
                digest.as_bytes(),
                crate::random::token_digest(cookie).as_bytes(),
            )),
            _ => false,
        };
        let at = pending.post_login.resume_at.ok_or_else(expired)?;
        let user = self
            .get_user(&UserId::from_trusted(pending.user_id.clone()))
            .await?;
        // A password change (J4's very purpose) or a block ends the login: log in again.
        if !bound || user.blocked || user.credential_epoch != pending.post_login.credential_epoch {
            return Err(expired());
        }
        let amr = pending.post_login.amr.clone();
        pending.post_login.resume_at = None;
        pending.post_login.browser_binding = None;
        if let Some(step) = self
            .run_post_login(&mut pending, &amr, Some((at, query)), caller)
            .await?
        {
            return Ok(step);
        }
        self.finish_login(&pending, amr, None, caller).await
    }

    /// Auth0's post-login `event`.
    async fn post_login_event(
        &self,
        tx: &Transaction,
        user: &crate::domain::User,
        amr: &[String],
        auth_time_ms: i64,
        continue_query: Option<Value>,
        caller: &Caller,
    ) -> ServiceResult<Value> {
        let client = match ClientId::parse(&tx.client_id) {
            Ok(id) => self.active_client(&id).await?,
            Err(_) => None,
        };
        let connection = self.connection_named(&tx.connection).await?;
        let scopes: Vec<&str> = tx.requested_scope.split_whitespace().collect();
        let mut query = serde_json::Map::new();
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                query.insert(k.to_owned(), Value::String(v));
            }
        };
        put("client_id", Some(tx.client_id.clone()));
        put("redirect_uri", Some(tx.redirect_uri.clone()));
        put("response_type", Some("code".into()));
        put("scope", Some(tx.requested_scope.clone()));
        put("state", tx.state.clone());
        put("nonce", tx.nonce.clone());
        put("audience", tx.audience.clone());
        put("connection", Some(tx.connection.clone()));
        put("prompt", tx.prompt.clone());
        put("max_age", tx.max_age.map(|m| m.to_string()));
        put("login_hint", tx.login_hint.clone());
        if tx.mode == ResponseMode::FormPost {
            put("response_mode", Some("form_post".into()));
        }
        let auth_time = Timestamp::from_millis(auth_time_ms).to_iso();
        let (method, query) = match continue_query {
            Some(q) => ("GET", q),
            None => ("POST", Value::Object(query)),
        };
        Ok(json!({
            "transaction": {
                "requested_scopes": scopes,
                "protocol": "oidc-basic-profile",
                "redirect_uri": tx.redirect_uri,
                "state": tx.state,
                "prompt": tx.prompt.as_deref().map(|p| p.split_whitespace().collect::<Vec<_>>()).unwrap_or_default(),
                "login_hint": tx.login_hint,
                "acr_values": [],
                "ui_locales": [],
                "locale": "en",
                "response_mode": if tx.mode == ResponseMode::FormPost { "form_post" } else { "query" },
                "response_type": ["code"],
            },
            "request": self.action_request(&caller.meta, json!({"method": method, "query": query, "body": {}})),
            "user": user.to_auth0_json(),
            "client": client.as_ref().map(|c| json!({"client_id": c.client_id, "name": c.name, "metadata": {}})),
            "connection": {"id": connection.id, "name": connection.name, "strategy": "auth0", "metadata": {}},
            "authentication": {
                "methods": amr.iter().map(|m| json!({"name": m, "timestamp": auth_time})).collect::<Vec<_>>(),
            },
            "stats": {"logins_count": user.logins_count},
            "tenant": self.action_tenant(),
            "resource_server": tx.audience.as_ref().map(|a| json!({"identifier": a})),
            "authorization": {"roles": []},
            "secrets": {},
        }))
    }

    /// The login form's context again (after a failed attempt), if the transaction is valid.
    pub async fn login_form(&self, transaction: &str) -> ServiceResult<LoginForm> {
        let tx = self.unseal(transaction)?;
        let id = ClientId::parse(&tx.client_id).map_err(ServiceError::from)?;
        let client = self.active_client(&id).await?.ok_or_else(|| {
            ServiceError::bad_request(ErrorCode::InvalidRequest, "Unknown client.")
        })?;
        let connection = self.connection_named(&tx.connection).await?;
        Ok(LoginForm {
            transaction: transaction.to_owned(),
            login_hint: tx.login_hint.clone(),
            client_name: client.name.clone(),
            connection: tx.connection.clone(),
            redirect_uri: tx.redirect_uri.clone(),
            signup_allowed: !connection.options.disable_signup.unwrap_or(false),
            show_signup: false,
            rules: crate::password::PasswordPolicy::from_options(&connection.options).describe(),
        })
    }

    /// The hosted sign-up form: creates the user through `signup` (the same rules as
    /// `/dbconnections/signup`), then logs in as the login form does (MFA enrolment included).
    pub async fn signup_with_password(
        &self,
        transaction: &str,
        email: crate::domain::Email,
        password: Password,
        caller: &Caller,
    ) -> ServiceResult<LoginStep> {
        let tx = self.unseal(transaction)?;
        let new = super::NewUser {
            connection: tx.connection.clone(),
            email: Some(email.clone()),
            email_verified: false,
            username: None,
            password: Some(Password::parse(password.expose().to_owned())?),
            user_id: None,
            profile: crate::domain::Profile::default(),
            user_metadata: serde_json::Map::new(),
            app_metadata: serde_json::Map::new(),
            blocked: false,
        };
        self.signup(&tx.client_id, new, caller).await?;
        self.login_with_password(transaction, email.as_str(), &password, caller)
            .await
    }

    async fn issue_code(
        &self,
        tx: &Transaction,
        session: &SessionRecord,
        custom_claims: crate::actions::CustomClaims,
    ) -> ServiceResult<AuthorizationResponse> {
        let code = crate::random::opaque_token()?;
        let now = Timestamp::now();
        self.store
            .insert_code(&AuthorizationCode {
                digest: crate::random::token_digest(code.expose_secret()),
                client_id: tx.client_id.clone(),
                user_id: session.user_id.clone(),
                session_id: Some(session.id.clone()),
                // Empty: the exchange need not name it (the request did not).
                redirect_uri: if tx.redirect_uri_omitted {
                    String::new()
                } else {
                    tx.redirect_uri.clone()
                },
                scope: tx.scope.clone(),
                audience: tx.audience.clone(),
                nonce: tx.nonce.clone(),
                code_challenge: tx.code_challenge.clone(),
                auth_time: session.auth_time,
                amr: session.amr.clone(),
                credential_epoch: session.credential_epoch,
                created_at: now,
                expires_at: now.plus_seconds(CODE_TTL_SECS),
                custom_claims,
            })
            .await?;
        Ok(tx.respond(vec![("code".into(), code.expose_secret().to_owned())]))
    }

    /// The session behind a cookie, if it is live: unexpired, and issued under the user's
    /// current credential epoch (a password change ends every session).
    async fn live_session(&self, token: Option<&str>) -> ServiceResult<Option<SessionRecord>> {
        let Some(token) = token.filter(|t| t.len() == 43) else {
            return Ok(None);
        };
        let Some(session) = self
            .store
            .find_session(&crate::random::token_digest(token))
            .await?
        else {
            return Ok(None);
        };
        let now = Timestamp::now();
        let user = self.store.get_user(&session.user_id).await?;
        let valid = session.expires_at > now
            && user.is_some_and(|u| !u.blocked && u.credential_epoch == session.credential_epoch);
        if !valid {
            self.store.delete_session(&session.id).await?;
            return Ok(None);
        }
        self.store.touch_session(&session.id, now).await?;
        Ok(Some(session))
    }

    /// `GET /v2/logout`: ends the session; returns where to send the browser, if `return_to`
    /// is one of the client's (or the tenant's) allowed logout URLs.
    pub async fn logout(
        &self,
        session_token: Option<&str>,
        client_id: Option<&str>,
        return_to: Option<&str>,
        caller: &Caller,
    ) -> ServiceResult<Option<String>> {
        if let Some(token) = session_token
            && let Some(session) = self
                .store
                .find_session(&crate::random::token_digest(token))
                .await?
        {
            // Only the request that ended it announces it (OIDC Back-Channel Logout).
            if self.store.delete_session(&session.id).await? {
                self.announce_ended_sessions(
                    &session.user_id,
                    std::slice::from_ref(&session.id),
                    crate::domain::LogoutInitiator::RpLogout,
                )
                .await?;
            }
            self.record(Some(
                crate::audit::LogEntry::new(crate::audit::codes::SUCCESS_LOGOUT, &caller.meta)
                    .description("User successfully logged out")
                    .user(session.user_id.as_str(), ""),
            ));
        }
        let Some(target) = return_to else {
            return Ok(None);
        };
        let client = match client_id.map(ClientId::parse) {
            Some(Ok(id)) => self.active_client(&id).await?,
            _ => None,
        };
        let allowed = match &client {
            Some(c) => c.allowed_logout_urls.iter().any(|u| u == target),
            None => false,
        } || self
            .active_tenant()
            .await?
            .allowed_logout_urls
            .iter()
            .any(|u| u == target);
        Ok(allowed.then(|| target.to_owned()))
    }

    /// `GET /userinfo`: the claims the access token's scope allows.
    pub async fn userinfo(&self, access_token: &str) -> ServiceResult<Value> {
        let denied = || ServiceError::InvalidClient("Unauthorized".into());
        let claims = Value::Object(self.keys.verify(access_token).map_err(|_| denied())?);
        let audience_ok = match &claims["aud"] {
            Value::String(a) => *a == self.config.userinfo_audience(),
            Value::Array(list) => list
                .iter()
                .any(|a| a.as_str() == Some(&self.config.userinfo_audience())),
            _ => false,
        };
        let expired = claims["exp"]
            .as_i64()
            .is_none_or(|e| e <= Timestamp::now().seconds());
        if !audience_ok || expired || claims["iss"].as_str() != Some(&self.config.issuer) {
            return Err(denied());
        }
        let sub = claims["sub"].as_str().ok_or_else(denied)?;
        let user = self
            .store
            .get_user(&UserId::from_trusted(sub.to_owned()))
            .await?
            .ok_or_else(denied)?;
        let scope = Scope::parse(claims["scope"].as_str().unwrap_or_default());
        let mut out = json!({"sub": user.user_id});
        if let Value::Object(m) = &mut out {
            if scope.contains("profile") {
                m.insert("name".into(), json!(user.display_name()));
                m.insert("nickname".into(), json!(user.nickname()));
                m.insert("updated_at".into(), json!(user.updated_at.to_iso()));
                if let Some(p) = &user.profile.picture {
                    m.insert("picture".into(), json!(p));
                }
            }
            if scope.contains("email")
                && let Some(e) = &user.email
            {
                m.insert("email".into(), json!(e));
                m.insert("email_verified".into(), json!(user.email_verified));
            }
        }
        Ok(out)
    }

    /// `GET /api/v2/users/{id}/sessions`.
    pub async fn user_sessions(&self, user: &UserId) -> ServiceResult<Vec<SessionRecord>> {
        self.get_user(user).await?;
        Ok(self.store.list_sessions(user).await?)
    }

    /// `DELETE /api/v2/users/{id}/sessions` (and the console's "end every session"): the
    /// live sessions' ends are announced to back-channel logout clients.
    pub async fn revoke_user_sessions(&self, user: &UserId, caller: &Caller) -> ServiceResult<u64> {
        let found = self.get_user(user).await?;
        let ended = self.store.delete_sessions(user).await?;
        let now = Timestamp::now();
        let live: Vec<String> = ended
            .iter()
            .filter(|s| s.credential_epoch == found.credential_epoch && s.expires_at > now)
            .map(|s| s.id.clone())
            .collect();
        self.announce_ended_sessions(user, &live, crate::domain::LogoutInitiator::SessionRevoked)
            .await?;
        self.record(caller.api_log("Delete all sessions of a user"));
        Ok(ended.len() as u64)
    }

    fn seal(&self, tx: &Transaction) -> ServiceResult<String> {
        self.seal_value("authorize", tx, tx.expires)
    }

    fn unseal(&self, sealed: &str) -> ServiceResult<Transaction> {
        self.unseal_value("authorize", sealed)
    }

    /// `value` as `base64(json).proof`, MAC'd for `purpose` until `expires` (epoch seconds):
    /// state that travels through a form instead of the database.
    pub(crate) fn seal_value<T: Serialize>(
        &self,
        purpose: &str,
        value: &T,
        expires: i64,
    ) -> ServiceResult<String> {
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).map_err(anyhow::Error::from)?);
        let proof = self
            .tenant_keys
            .proof(&format!("{purpose}\0{body}"), expires);
        Ok(format!("{body}.{proof}"))
    }

    /// Like `seal_value`, but encrypted (AES-256-GCM): for state that passes through a third
    /// party's page (a post-login action's redirect target), which must learn nothing from it.
    fn seal_private<T: Serialize>(
        &self,
        purpose: &str,
        value: &T,
        expires: i64,
    ) -> ServiceResult<String> {
        let body = serde_json::to_string(&(expires, value)).map_err(anyhow::Error::from)?;
        Ok(self.tenant_keys.seal_secret(purpose, &body)?)
    }

    fn unseal_private<T: serde::de::DeserializeOwned>(
        &self,
        purpose: &str,
        sealed: &str,
    ) -> ServiceResult<T> {
        let expired = || {
            ServiceError::bad_request(
                ErrorCode::InvalidTransaction,
                "This login can no longer continue. Go back to the application and log in again.",
            )
        };
        let clear = self
            .tenant_keys
            .open_secret(purpose, sealed)
            .ok_or_else(expired)?;
        let (expires, value): (i64, T) =
            serde_json::from_str(clear.expose_secret()).map_err(|_| expired())?;
        if expires <= Timestamp::now().seconds() {
            return Err(expired());
        }
        Ok(value)
    }

    pub(crate) fn unseal_value<T: serde::de::DeserializeOwned>(
        &self,
        purpose: &str,
        sealed: &str,
    ) -> ServiceResult<T> {
        let expired = || {
            ServiceError::bad_request(
                ErrorCode::InvalidTransaction,
                "This login page expired. Go back to the application and try again.",
            )
        };
        let (body, proof) = sealed.split_once('.').ok_or_else(expired)?;
        if !self.tenant_keys.proof_valid(
            &format!("{purpose}\0{body}"),
            proof,
            Timestamp::now().seconds(),
        ) {
            return Err(expired());
        }
        let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| expired())?;
        serde_json::from_slice(&bytes).map_err(|_| expired())
    }
}

/// `api.user.setAppMetadata(name, null)` deletes the key, as Auth0's does.
fn set_or_remove(map: &mut serde_json::Map<String, Value>, name: String, value: Value) {
    if value.is_null() {
        map.remove(&name);
    } else {
        map.insert(name, value);
    }
}

pub(crate) fn url_component(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

impl SessionRecord {
    /// Auth0's session representation.
    pub fn to_auth0_json(&self) -> Value {
        json!({"id": self.id, "user_id": self.user_id,
               "created_at": self.created_at.to_iso(), "updated_at": self.last_seen_at.to_iso(),
               "authenticated_at": self.auth_time.to_iso(), "expires_at": self.expires_at.to_iso(),
               "last_interacted_at": self.last_seen_at.to_iso(),
               "authentication": {"methods": self.amr.iter().map(|m| json!({"name": m, "timestamp": self.auth_time.to_iso()})).collect::<Vec<_>>()},
               "device": {"last_ip": self.ip, "last_user_agent": self.user_agent}})
    }
}
