//! Logging in: OpenID Connect `/authorize` (validation, single sign-on, codes), the hosted
//! login state machine (password, second factor, sign-up), post-login Actions and
//! `/continue`, the password check every login shares (`authenticate.rs`), and the token
//! endpoint's grants, one file each (`grants/`). The validated request travels through the
//! login form sealed with a tenant key (`sealed.rs`), so no server-side state exists before the
//! user has logged in.

mod audience;
mod authenticate;
mod authorize;
pub(super) mod blocks;
mod cross_origin;
pub(in crate::services) mod grants;
mod hosted;
mod post_login;
mod sealed;
mod signup;

pub use cross_origin::{CrossOriginLogin, IssuedLoginTicket, LOGIN_TICKET_TTL_SECS};
pub(crate) use grants::PendingMfa;
pub use grants::{ClientAuth, TokenRequest, TokenResponse};

use crate::config::CoreConfig;
use crate::error_code::ErrorCode;
use crate::store::Store;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;

/// Codes live one minute, as Auth0's.
pub(in crate::services) const CODE_TTL_SECS: i64 = 60;
/// A login form may be submitted for an hour after `/authorize`.
pub(in crate::services) const TRANSACTION_TTL_SECS: i64 = 3600;

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
    /// Cross-origin authentication: the ticket `/co/authenticate` minted, and the connection
    /// auth0-js names as `realm` alongside it.
    pub login_ticket: Option<String>,
    pub realm: Option<String>,
    /// The verifier the browser holds for the ticket (a cookie, never the query).
    #[serde(skip)]
    pub co_verifier: Option<SecretString>,
}

/// How the answer travels back to the application (OAuth 2.0 Multiple Response Types,
/// Form Post Response Mode, and Auth0's `web_message`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    Query,
    FormPost,
    Fragment,
    /// A page that hands the answer to the window that opened or framed it with
    /// `postMessage`, to the callback's origin only (which is one of the client's web origins).
    WebMessage,
}

impl ResponseMode {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "query" => Self::Query,
            "form_post" => Self::FormPost,
            "fragment" => Self::Fragment,
            "web_message" => Self::WebMessage,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::FormPost => "form_post",
            Self::Fragment => "fragment",
            Self::WebMessage => "web_message",
        }
    }
}

/// `response_type`: which of a code, an ID token and an access token the answer carries. Any
/// non-empty set of the three is one of the response types Auth0 supports (the order of the
/// words does not matter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseType {
    pub code: bool,
    pub id_token: bool,
    pub token: bool,
}

impl Default for ResponseType {
    /// Transactions sealed before other response types existed were all `code`.
    fn default() -> Self {
        Self::CODE
    }
}

impl ResponseType {
    pub const CODE: Self = Self {
        code: true,
        id_token: false,
        token: false,
    };

    pub fn parse(s: &str) -> Option<Self> {
        let mut rt = Self {
            code: false,
            id_token: false,
            token: false,
        };
        for word in s.split_whitespace() {
            let seen = match word {
                "code" => &mut rt.code,
                "id_token" => &mut rt.id_token,
                "token" => &mut rt.token,
                _ => return None,
            };
            if *seen {
                return None;
            }
            *seen = true;
        }
        (rt.code || rt.id_token || rt.token).then_some(rt)
    }

    /// The words in OIDC's order (`code id_token token`).
    pub fn as_words(self) -> Vec<&'static str> {
        [
            (self.code, "code"),
            (self.id_token, "id_token"),
            (self.token, "token"),
        ]
        .into_iter()
        .filter_map(|(on, w)| on.then_some(w))
        .collect()
    }

    /// Tokens in the front channel: the client must allow the `implicit` grant.
    pub fn is_implicit_or_hybrid(self) -> bool {
        self.id_token || self.token
    }

    /// OIDC Core §3.2.2.1 and §3.3.2.11: the implicit flow with an ID token and every hybrid
    /// flow need a `nonce` (a bare `code` or OAuth's bare `token` do not).
    pub fn requires_nonce(self) -> bool {
        self.id_token || (self.code && self.token)
    }

    /// OIDC: `query` for a bare code, `fragment` as soon as a token travels in the answer.
    pub fn default_mode(self) -> ResponseMode {
        if self.is_implicit_or_hybrid() {
            ResponseMode::Fragment
        } else {
            ResponseMode::Query
        }
    }
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
    /// The callback URL with the parameters in its query (response_mode=query) or, for
    /// `fragment`, in its fragment (where tokens stay out of servers' logs).
    pub fn location(&self) -> String {
        match url::Url::parse(&self.redirect_uri) {
            Ok(mut u) if matches!(self.mode, ResponseMode::Fragment | ResponseMode::WebMessage) => {
                let fragment = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(self.params.iter())
                    .finish();
                u.set_fragment(Some(&fragment));
                u.to_string()
            }
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
pub(in crate::services) struct PendingLogin {
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
pub(in crate::services) struct PostLoginProgress {
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
pub(in crate::services) struct Transaction {
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
    #[serde(default)]
    response_type: ResponseType,
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

/// `api.user.setAppMetadata(name, null)` deletes the key, as Auth0's does.
pub(in crate::services) fn set_or_remove(
    map: &mut serde_json::Map<String, Value>,
    name: String,
    value: Value,
) {
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

/// Logins: /authorize, the hosted form, post-login Actions, cross-origin tickets, /oauth/token's grants, sign-up and login blocks.
pub struct Login {
    pub(in crate::services) audit: crate::audit::AuditLog,
    pub(in crate::services) cache: Arc<crate::services::tenant::ConfigCache>,
    pub(in crate::services) config: Arc<CoreConfig>,
    pub(in crate::services) hasher: crate::password::PasswordHasher,
    pub(in crate::services) job_intake: crate::services::jobs::JobIntake,
    pub(in crate::services) keys: Arc<crate::keys::Keys>,
    pub(in crate::services) rate_limiter: Arc<dyn crate::ratelimit::RateLimiter>,
    pub(in crate::services) store: Arc<dyn Store>,
    pub(in crate::services) tenant_keys: Arc<crate::tenant_keys::TenantKeys>,
    pub(in crate::services) actions: Arc<crate::services::Actions>,
    pub(in crate::services) directory: Arc<crate::services::UserDirectory>,
    pub(in crate::services) mfa: Arc<crate::services::Mfa>,
    pub(in crate::services) sessions: Arc<crate::services::Sessions>,
    pub(in crate::services) tenant: Arc<crate::services::TenantConfig>,
    pub(in crate::services) users: Arc<crate::services::Users>,
    pub(in crate::services) credentials: Arc<crate::services::Credentials>,
}
