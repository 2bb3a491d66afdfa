//! Use-cases. Every surface (Authentication API, Management API, hosted pages, dashboard, CLI)
//! calls these functions, so each rule lives in exactly one place.

mod actions;
mod console;
mod credentials;
mod jobs;
mod log_streams;
mod login;
mod mailer;
mod mfa;
mod migration;
mod sessions;
mod tenant;
mod users;

pub use actions::Actions;
pub use actions::definitions::{ActionPatch, BindingRef, NewAction, SecretInput};
pub use actions::runs::ManagementGateway;
pub use console::Console;
pub use console::admins::{
    AdminPrincipal, AdminResetState, AdminSignIn, AdminTotpSetup, NewAdminSession,
};
pub use credentials::Credentials;
pub use credentials::passwords::PasswordChangeReason;
pub use credentials::reset::{
    NewPasswordTicket, OpenTicket, PasswordResetRequest, RateLimited, ResetDone,
    ResetSecondFactorPassed, TicketState,
};
pub use credentials::verification::{
    NewVerificationJob, NewVerificationTicket, VerificationFailure, VerificationIdentity,
    VerificationOutcome,
};
pub use jobs::JobRunner;
pub use log_streams::{
    CreatedLogStream, FilterInput, LogStreamPatch, LogStreams, NewLogStream, SinkInput,
    log_stream_signature,
};
pub use login::Login;
pub use login::blocks::UnblockLinkState;
pub use login::{
    AuthorizationResponse, AuthorizeOutcome, AuthorizeRequest, LoginForm, LoginStep, NewSession,
    ResponseMode, ResponseType,
};
pub use login::{ClientAuth, TokenRequest, TokenResponse};
pub use login::{CrossOriginLogin, IssuedLoginTicket, LOGIN_TICKET_TTL_SECS};
pub use mailer::Mailer;
pub use mfa::Mfa;
pub use mfa::api::MfaAssociation;
pub use mfa::factors::NewAuthenticationMethod;
pub use migration::{
    BatchReader, BulkUser, ExportDownload, ExportView, IMPORT_BATCH, Migration, NewExport,
    NewImport, PreparedBatch, StreamedImport,
};
pub use sessions::Sessions;
pub use sessions::rp_logout::{RpLogout, RpLogoutRequest};
pub use tenant::TenantConfig;
pub use tenant::bootstrap::{
    BootstrapOutcome, BootstrapPresets, DEFAULT_CONNECTION, MANAGEMENT_SCOPES, bootstrap,
    earlier_management_audiences,
};
pub use tenant::clients::{
    ClientGrantPatch, ClientPatch, NewClient, NewClientGrant, OidcLogoutPatch,
};
pub use tenant::connections::{ConnectionPatch, NewConnection};
pub use tenant::email_provider::EmailProviderPatch;
pub use tenant::email_templates::EmailTemplatePatch;
pub use tenant::lock_config::{LockClientConfig, LockConnection, LockStrategy};
pub use tenant::mail_defaults::default_template;
pub use tenant::management_auth::{ManagementAuthError, ManagementPrincipal};
pub use tenant::settings::Branding;
pub use tenant::settings_documents::SettingsDocument;
pub use users::lifecycle::{NewUser, UserPatch};
pub use users::{UserDirectory, Users};

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
    /// Breached passwords, looked up offline.
    pub breach_corpus: Arc<crate::password::breach::BreachCorpus>,
}

/// The flows, wired once at start-up. Each flow holds only what it uses: the infrastructure
/// handles its rules need and the lower flows it calls. Calls go one way, from top to bottom:
///
/// ```text
/// jobs (JobRunner) → login, console, credentials, mailer, log_streams, …
/// login → users → credentials → sessions, mfa → tenant, directory → actions;  login → credentials
/// console → mailer, mfa, tenant;  mailer → tenant;  log_streams, directory: store only
/// ```
///
/// Surfaces (the Management API, hosted pages, console, CLI) pick the flow they need from
/// here, so the same rule is reached from every surface through the same method.
pub struct Services {
    config: Arc<CoreConfig>,
    store: Arc<dyn Store>,
    hasher: PasswordHasher,
    keys: Arc<Keys>,
    pub tenant: Arc<TenantConfig>,
    pub directory: Arc<UserDirectory>,
    pub users: Arc<Users>,
    pub actions: Arc<Actions>,
    pub log_streams: Arc<LogStreams>,
    pub mailer: Arc<Mailer>,
    pub credentials: Arc<Credentials>,
    pub mfa: Arc<Mfa>,
    pub sessions: Arc<Sessions>,
    pub login: Arc<Login>,
    pub console: Arc<Console>,
    pub migration: Arc<Migration>,
    pub jobs: Arc<JobRunner>,
}

impl Services {
    /// Loads the signing keys and the tenant's MAC keys, starts the log writer and the job
    /// intake, and wires the flows bottom-up. Call after `bootstrap`; spawn
    /// `jobs.run_job_worker` to run queued jobs.
    pub async fn new(config: CoreConfig, infra: Infrastructure) -> anyhow::Result<Self> {
        let Infrastructure {
            store,
            hasher,
            templates,
            mail,
            rate_limiter,
            action_runtime,
            form_poster,
            breach_corpus,
        } = infra;
        let config = Arc::new(config);
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
        let router = Arc::new(log_streams::StreamRouter::new(
            store.clone(),
            config.config_cache_ttl,
        ));
        let audit = AuditLog::start(store.clone(), router.clone(), machine_wake.clone());
        let cache = Arc::new(tenant::ConfigCache::new(config.config_cache_ttl));
        let tenant_keys = Arc::new(crate::tenant_keys::TenantKeys::load(store.as_ref()).await?);
        let job_intake = jobs::JobIntake::start(store.clone(), mail_wake, machine_wake);
        let rate_limiter: Arc<dyn crate::ratelimit::RateLimiter> =
            Arc::new(crate::metrics::CountedRateLimiter(rate_limiter));

        let actions = Arc::new(Actions {
            action_runtime,
            audit: audit.clone(),
            cache: cache.clone(),
            config: config.clone(),
            hasher: hasher.clone(),
            management_gateway: std::sync::OnceLock::new(),
            store: store.clone(),
            tenant_keys: tenant_keys.clone(),
        });
        let tenant = Arc::new(TenantConfig {
            audit: audit.clone(),
            cache: cache.clone(),
            config: config.clone(),
            keys: keys.clone(),
            store: store.clone(),
            templates: templates.clone(),
            actions: actions.clone(),
        });
        let directory = Arc::new(UserDirectory {
            store: store.clone(),
        });
        let log_streams = Arc::new(LogStreams {
            audit: audit.clone(),
            config: config.clone(),
            form_poster: form_poster.clone(),
            router,
            store: store.clone(),
            tenant_keys: tenant_keys.clone(),
        });
        let mailer = Arc::new(Mailer {
            audit: audit.clone(),
            config: config.clone(),
            mail,
            templates,
            tenant: tenant.clone(),
        });
        let mfa = Arc::new(Mfa {
            audit: audit.clone(),
            cache: cache.clone(),
            store: store.clone(),
            tenant_keys: tenant_keys.clone(),
            directory: directory.clone(),
            tenant: tenant.clone(),
        });
        let sessions = Arc::new(Sessions {
            audit: audit.clone(),
            config: config.clone(),
            form_poster,
            job_intake: job_intake.clone(),
            keys: keys.clone(),
            store: store.clone(),
            directory: directory.clone(),
            tenant: tenant.clone(),
        });
        let credentials = Arc::new(Credentials {
            audit: audit.clone(),
            breach_corpus,
            config: config.clone(),
            hasher: hasher.clone(),
            job_intake: job_intake.clone(),
            password_turns: crate::keyed_lock::KeyedLocks::default(),
            rate_limiter: rate_limiter.clone(),
            store: store.clone(),
            tenant_keys: tenant_keys.clone(),
            // Tickets go out in bursts (a reset mail each); a batch of them is one commit.
            tickets: crate::group_commit::GroupCommit::start(
                store.clone(),
                256,
                |store, tickets| store.insert_tickets(tickets),
            ),
            actions: actions.clone(),
            directory: directory.clone(),
            log_streams: log_streams.clone(),
            mfa: mfa.clone(),
            sessions: sessions.clone(),
            tenant: tenant.clone(),
        });
        let users = Arc::new(Users {
            hasher: hasher.clone(),
            store: store.clone(),
            credentials: credentials.clone(),
            directory: directory.clone(),
            tenant: tenant.clone(),
        });
        let login = Arc::new(Login {
            audit: audit.clone(),
            cache,
            config: config.clone(),
            hasher: hasher.clone(),
            job_intake: job_intake.clone(),
            keys: keys.clone(),
            rate_limiter: rate_limiter.clone(),
            store: store.clone(),
            tenant_keys: tenant_keys.clone(),
            actions: actions.clone(),
            directory: directory.clone(),
            mfa: mfa.clone(),
            sessions: sessions.clone(),
            tenant: tenant.clone(),
            users: users.clone(),
            credentials: credentials.clone(),
        });
        let console = Arc::new(Console {
            config: config.clone(),
            hasher: hasher.clone(),
            job_intake: job_intake.clone(),
            rate_limiter,
            store: store.clone(),
            tenant_keys: tenant_keys.clone(),
            mailer: mailer.clone(),
            mfa: mfa.clone(),
            tenant: tenant.clone(),
        });
        let migration = Arc::new(Migration {
            config: config.clone(),
            job_intake: job_intake.clone(),
            store: store.clone(),
            tenant_keys,
            tenant: tenant.clone(),
        });
        let jobs = Arc::new(JobRunner {
            audit,
            config: config.clone(),
            job_intake,
            store: store.clone(),
            stream_failures: std::sync::Mutex::default(),
            actions: actions.clone(),
            console: console.clone(),
            credentials: credentials.clone(),
            directory: directory.clone(),
            log_streams: log_streams.clone(),
            login: login.clone(),
            mailer: mailer.clone(),
            migration: migration.clone(),
            sessions: sessions.clone(),
            tenant: tenant.clone(),
        });
        Ok(Self {
            config,
            store,
            hasher,
            keys,
            tenant,
            directory,
            users,
            actions,
            log_streams,
            mailer,
            credentials,
            mfa,
            sessions,
            login,
            console,
            migration,
            jobs,
        })
    }

    pub fn config(&self) -> &CoreConfig {
        &self.config
    }
    pub fn keys(&self) -> &Keys {
        &self.keys
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
