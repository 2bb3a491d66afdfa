//! Use-cases. Every surface (Authentication API, Management API, hosted pages, dashboard, CLI)
//! calls these functions, so each rule lives in exactly one place.

mod action_runs;
mod action_triggers;
mod actions;
mod admins;
mod backchannel_logout;
mod bootstrap;
mod clients;
mod config_cache;
mod connections;
mod custom_db;
mod email_provider;
mod email_templates;
mod jobs;
mod lock_config;
mod log_streams;
mod login;
mod login_blocks;
mod logs;
mod mail_defaults;
mod management_auth;
mod mfa;
mod mfa_api;
mod origins;
mod passwords;
mod reset;
mod resource_servers;
mod rp_logout;
mod sessions;
mod settings_documents;
mod signing_keys;
mod signup;
mod tenant;
mod users;

pub use action_runs::ManagementGateway;
pub use actions::{ActionPatch, BindingRef, NewAction, SecretInput};
pub use admins::{AdminPrincipal, AdminResetState, AdminSignIn, AdminTotpSetup, NewAdminSession};
pub use bootstrap::{
    BootstrapOutcome, BootstrapPresets, DEFAULT_CONNECTION, MANAGEMENT_SCOPES, bootstrap,
    earlier_management_audiences,
};
pub use clients::{ClientGrantPatch, ClientPatch, NewClient, NewClientGrant, OidcLogoutPatch};
pub use connections::{ConnectionPatch, NewConnection};
pub use email_provider::EmailProviderPatch;
pub use email_templates::EmailTemplatePatch;
pub use lock_config::{LockClientConfig, LockConnection, LockStrategy};
pub use log_streams::{
    CreatedLogStream, FilterInput, LogStreamPatch, NewLogStream, SinkInput, log_stream_signature,
};
pub use login::{
    AuthorizationResponse, AuthorizeOutcome, AuthorizeRequest, LoginForm, LoginStep, NewSession,
    ResponseMode, ResponseType,
};
pub use login::{ClientAuth, TokenRequest, TokenResponse};
pub use login::{CrossOriginLogin, IssuedLoginTicket, LOGIN_TICKET_TTL_SECS};
pub use login_blocks::UnblockLinkState;
pub use mail_defaults::default_template;
pub use management_auth::{ManagementAuthError, ManagementPrincipal};
pub use mfa::NewAuthenticationMethod;
pub use mfa_api::MfaAssociation;
pub use passwords::PasswordChangeReason;
pub use reset::{
    Branding, NewPasswordTicket, OpenTicket, PasswordResetRequest, RateLimited, ResetDone,
    ResetSecondFactorPassed, TicketState,
};
pub use rp_logout::{RpLogout, RpLogoutRequest};
pub use settings_documents::SettingsDocument;
pub use users::{NewUser, UserPatch};

use crate::audit::{AuditLog, LogEntry, RequestMeta};
use crate::config::CoreConfig;
use crate::keys::Keys;
use crate::password::PasswordHasher;
use crate::store::Store;
use std::sync::Arc;

/// Who is asking: decides how the action is logged.
#[derive(Debug, Clone)]
pub enum Actor {
    /// A Management API token (client credentials) for this client.
    Api { client_id: String },
    /// A console administrator.
    Admin { email: String },
    /// The end user, through the Authentication API or a hosted page.
    EndUser,
    /// Latchkey itself (bootstrap, CLI).
    System,
}

#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: Actor,
    pub meta: RequestMeta,
}

impl Caller {
    pub fn system() -> Self {
        Self {
            actor: Actor::System,
            meta: RequestMeta::default(),
        }
    }
    pub fn end_user(meta: RequestMeta) -> Self {
        Self {
            actor: Actor::EndUser,
            meta,
        }
    }
    pub fn api(client_id: &str, meta: RequestMeta) -> Self {
        Self {
            actor: Actor::Api {
                client_id: client_id.to_owned(),
            },
            meta,
        }
    }

    /// Names who acted on a log entry: the Management API client, or the console
    /// administrator (`details.admin`).
    pub(crate) fn attribute(&self, entry: LogEntry) -> LogEntry {
        match &self.actor {
            Actor::Api { client_id } => entry.client(client_id, ""),
            Actor::Admin { email } => {
                entry.detail("admin", serde_json::Value::String(email.clone()))
            }
            Actor::EndUser | Actor::System => entry,
        }
    }

    /// A `sapi` entry for a Management API write, or `None` for other callers.
    pub(crate) fn api_log(&self, description: &str) -> Option<LogEntry> {
        match &self.actor {
            Actor::Api { .. } | Actor::Admin { .. } => Some(
                self.attribute(
                    LogEntry::new(crate::audit::codes::SUCCESS_API_OPERATION, &self.meta)
                        .description(description),
                ),
            ),
            Actor::EndUser | Actor::System => None,
        }
    }
}

/// The infrastructure the services run on, chosen by the binary.
pub struct Infrastructure {
    pub store: Arc<dyn Store>,
    pub hasher: PasswordHasher,
    pub templates: Arc<dyn crate::mail::TemplateEngine>,
    pub mail: Arc<dyn crate::mail::MailTransport>,
    pub rate_limiter: Arc<dyn crate::ratelimit::RateLimiter>,
    pub action_runtime: Arc<dyn crate::actions::ActionRuntime>,
    /// Delivers OpenID Connect Back-Channel Logout tokens.
    pub form_poster: Arc<dyn crate::backchannel::FormPoster>,
}

pub struct Services {
    config: CoreConfig,
    store: Arc<dyn Store>,
    hasher: PasswordHasher,
    keys: Arc<Keys>,
    audit: AuditLog,
    log_streams: Arc<log_streams::StreamRouter>,
    cache: config_cache::ConfigCache,
    templates: Arc<dyn crate::mail::TemplateEngine>,
    mail: Arc<dyn crate::mail::MailTransport>,
    job_intake: jobs::JobIntake,
    /// Wakes the worker's people lane (mail) and machines lane (the rest) after a commit.
    mail_wake: Arc<tokio::sync::Notify>,
    machine_wake: Arc<tokio::sync::Notify>,
    /// Consecutive failed deliveries per log stream on this node (reset by a success), and
    /// until when its deliveries are parked.
    stream_failures:
        std::sync::Mutex<std::collections::HashMap<String, (u32, crate::time::Timestamp)>>,
    rate_limiter: Arc<dyn crate::ratelimit::RateLimiter>,
    tenant_keys: crate::tenant_keys::TenantKeys,
    action_runtime: Arc<dyn crate::actions::ActionRuntime>,
    management_gateway: std::sync::OnceLock<Arc<dyn action_runs::ManagementGateway>>,
    form_poster: Arc<dyn crate::backchannel::FormPoster>,
    /// One password change per user at a time on this node, in arrival order.
    password_turns: crate::keyed_lock::KeyedLocks,
}

impl Services {
    /// Loads the signing keys and the tenant's MAC keys, and starts the log writer and the mail
    /// intake. Call after `bootstrap`; spawn `run_job_worker` to run queued jobs.
    pub async fn new(config: CoreConfig, infra: Infrastructure) -> anyhow::Result<Self> {
        let Infrastructure {
            store,
            hasher,
            templates,
            mail,
            rate_limiter,
            action_runtime,
            form_poster,
        } = infra;
        let keys = Arc::new(Keys::load(store.clone()).await?);
        // Other nodes may rotate keys: pick up their changes every minute.
        let weak = Arc::downgrade(&keys);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                let Some(keys) = weak.upgrade() else { break };
                if let Err(e) = keys.reload().await {
                    tracing::warn!(error = %e, "could not refresh signing keys");
                }
            }
        });
        let mail_wake = Arc::new(tokio::sync::Notify::new());
        let machine_wake = Arc::new(tokio::sync::Notify::new());
        let log_streams = Arc::new(log_streams::StreamRouter::new(
            store.clone(),
            config.config_cache_ttl,
        ));
        let audit = AuditLog::start(store.clone(), log_streams.clone(), machine_wake.clone());
        let cache = config_cache::ConfigCache::new(config.config_cache_ttl);
        let tenant_keys = crate::tenant_keys::TenantKeys::load(store.as_ref()).await?;
        let job_intake =
            jobs::JobIntake::start(store.clone(), mail_wake.clone(), machine_wake.clone());
        Ok(Self {
            config,
            store,
            hasher,
            keys,
            audit,
            log_streams,
            cache,
            templates,
            mail,
            job_intake,
            mail_wake,
            machine_wake,
            stream_failures: std::sync::Mutex::default(),
            rate_limiter: Arc::new(crate::metrics::CountedRateLimiter(rate_limiter)),
            tenant_keys,
            action_runtime,
            management_gateway: std::sync::OnceLock::new(),
            form_poster,
            password_turns: crate::keyed_lock::KeyedLocks::default(),
        })
    }

    pub fn config(&self) -> &CoreConfig {
        &self.config
    }
    pub fn keys(&self) -> &Keys {
        &self.keys
    }
    /// Queues a tenant log entry, if the caller's kind of action is logged (see `Caller::api_log`).
    pub(crate) fn record(&self, entry: Option<LogEntry>) {
        if let Some(e) = entry {
            self.audit.record(e);
        }
    }

    /// "sqlite" or "postgres".
    pub fn backend(&self) -> &'static str {
        self.store.backend()
    }

    /// Whether this node can serve: the store answers and a signing key is loaded. (The
    /// migrations ran before `Services` existed.) The error is a short reason, safe to show anyone; the cause is logged.
    pub async fn readiness(&self) -> Result<(), String> {
        const WAIT: std::time::Duration = std::time::Duration::from_secs(3);
        match tokio::time::timeout(WAIT, self.store.ping()).await {
            Err(_) => return Err("store did not answer within 3 s".into()),
            Ok(Err(e)) => {
                // The cause goes to the log: `/ready` is often reachable by anyone.
                tracing::warn!(error = %e, "readiness: the store is unreachable");
                return Err("store unreachable".into());
            }
            Ok(Ok(())) => {}
        }
        let keys = self.keys.jwks();
        if keys["keys"].as_array().is_none_or(Vec::is_empty) {
            return Err("no signing key loaded".into());
        }
        Ok(())
    }

    /// `/metrics`: this node's series and the gauges read now (the hashing queue, the outbox's
    /// pending jobs per lane). A store that cannot answer leaves the outbox gauges out rather
    /// than failing the scrape; the `up` of the scrape stays a statement about this process.
    pub async fn metrics_exposition(&self) -> String {
        let now = crate::time::Timestamp::now();
        let outbox = match tokio::time::timeout(
            std::time::Duration::from_secs(3),
            self.store.pending_by_lane(),
        )
        .await
        {
            Ok(Ok(lanes)) => lanes
                .into_iter()
                .map(|(lane, pending, oldest)| crate::metrics::OutboxLane {
                    lane,
                    pending,
                    oldest_age_seconds: u64::try_from(now.seconds() - oldest.seconds())
                        .unwrap_or(0),
                })
                .collect(),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "metrics: could not read the outbox");
                Vec::new()
            }
            Err(_) => {
                tracing::warn!("metrics: the outbox query did not answer within 3 s");
                Vec::new()
            }
        };
        crate::metrics::METRICS.render(&crate::metrics::Gauges {
            hashing_queue_depth: self.hasher.queued(),
            outbox,
        })
    }

    /// OpenID Provider metadata, with every URL under the issuer.
    pub fn discovery_document(&self) -> serde_json::Value {
        let i = &self.config.issuer;
        serde_json::json!({
            "issuer": i,
            "authorization_endpoint": format!("{i}authorize"),
            "token_endpoint": format!("{i}oauth/token"),
            "userinfo_endpoint": format!("{i}userinfo"),
            "jwks_uri": format!("{i}.well-known/jwks.json"),
            "revocation_endpoint": format!("{i}oauth/revoke"),
            "end_session_endpoint": format!("{i}oidc/logout"),
            "scopes_supported": ["openid", "profile", "offline_access", "name", "given_name", "family_name",
                                  "nickname", "email", "email_verified", "picture", "created_at", "identities"],
            "response_types_supported": ["code", "token", "id_token", "id_token token", "code id_token",
                                         "code token", "code id_token token"],
            "code_challenge_methods_supported": ["S256"],
            "response_modes_supported": ["query", "fragment", "form_post", "web_message"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "grant_types_supported": ["authorization_code", "implicit", "client_credentials", "password",
                                       "http://auth0.com/oauth/grant-type/password-realm", "refresh_token"],
            "claims_supported": ["aud", "at_hash", "auth_time", "c_hash", "created_at", "email", "email_verified", "exp", "family_name",
                                  "given_name", "iat", "identities", "iss", "name", "nickname", "picture", "sub"],
            "request_uri_parameter_supported": false,
            "request_parameter_supported": false,
            "backchannel_logout_supported": true,
            "backchannel_logout_session_supported": true,
        })
    }
}
