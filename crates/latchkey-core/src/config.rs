//! Settings the services need, resolved by the binary from file, environment and flags.

use crate::ratelimit::RateRule;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Public URL with a trailing `/`, e.g. `https://id.example.com/`.
    pub issuer: String,
    /// Lifetime of access tokens issued to users and of Management API tokens.
    pub access_token_lifetime_secs: i64,
    /// How long other nodes' configuration changes may take to be seen here (see
    /// `services::config_cache`).
    pub config_cache_ttl: Duration,
    pub mail: MailConfig,
    pub rate_limits: RateLimitConfig,
    pub admin: AdminConsoleConfig,
    /// Bounds on every Action execution.
    pub actions: crate::actions::ActionLimits,
    /// Whether log streams may deliver to this machine (loopback hosts); off by default.
    pub log_streams_allow_loopback: bool,
    /// Pending deliveries one log stream may hold; beyond it the oldest are dropped and counted.
    pub log_streams_max_pending: u64,
    /// How long a log stream's endpoint has to answer one POST.
    pub log_streams_timeout: Duration,
}

/// Admin console sessions: ended after `idle_timeout` without a request, and `session_lifetime`
/// after sign-in in any case.
#[derive(Debug, Clone)]
pub struct AdminConsoleConfig {
    pub idle_timeout: Duration,
    pub session_lifetime: Duration,
}

#[derive(Debug, Clone)]
pub struct MailConfig {
    /// `LATCHKEY_SMTP_URL`: when set, it wins over the Management API provider.
    pub smtp_url: Option<secrecy::SecretString>,
    /// Where the development transport writes `.eml` files.
    pub outbox_dir: PathBuf,
    /// How long a worker holds a mail before another may take it over (a crashed node's mail
    /// goes out after this).
    pub lease: Duration,
    /// First retry delay; doubles per attempt up to an hour.
    pub retry_base: Duration,
    pub max_attempts: u32,
    /// Mails to people in flight at once per node (the `people` lane).
    pub concurrency: usize,
    /// Deliveries to machines in flight at once per node (the `machines` lane: log streams,
    /// back-channel logout, post-change-password actions).
    pub machine_concurrency: usize,
    /// Where the sender's address comes from when neither the template nor the provider says.
    pub default_from: String,
}

#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    pub enabled: bool,
    /// `POST /dbconnections/change_password` per (email, IP): Auth0's 1/min, burst 10.
    pub change_password_per_email: RateRule,
    /// A ceiling per IP across all addresses.
    pub change_password_per_ip: RateRule,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            change_password_per_email: RateRule::per_minute(1, 10),
            change_password_per_ip: RateRule::per_minute(60, 100),
        }
    }
}

impl CoreConfig {
    pub fn management_audience(&self) -> String {
        format!("{}api/v2/", self.issuer)
    }
    pub fn userinfo_audience(&self) -> String {
        format!("{}userinfo", self.issuer)
    }
    /// The hosted reset page's URL for a ticket token (Auth0's Classic form, trailing `#`).
    pub fn reset_url(&self, token: &str) -> String {
        format!("{}lo/reset?ticket={token}#", self.issuer)
    }
    /// The email-verification link for `token` (Auth0's `/u/email-verification?ticket=…#`).
    pub fn verification_url(&self, token: &str) -> String {
        format!("{}lo/email-verification?ticket={token}#", self.issuer)
    }
}
