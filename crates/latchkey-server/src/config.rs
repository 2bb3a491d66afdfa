//! Settings: defaults, then a TOML file (`--config`), then `LATCHKEY_SECTION__KEY` environment
//! variables, then command-line flags. `DATABASE_URL` selects PostgreSQL and `LATCHKEY_BOOTSTRAP_*`
//! preset the first start's credentials (README). Every secret may also come from a file named by `…_FILE`.

use anyhow::{Context, bail};
use latchkey_core::password::Argon2Settings;
use secrecy::SecretString;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub version: u32,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub passwords: PasswordSettings,
    pub tokens: TokenSettings,
    pub log: LogSettings,
    pub mail: MailSettings,
    pub rate_limits: RateLimitSettings,
    pub admin: AdminSettings,
    pub actions: ActionSettings,
    pub log_streams: LogStreamSettings,
    pub metrics: MetricsSettings,
}

/// Prometheus metrics (`/metrics`). Nothing is exposed until one of these is set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// A separate HOST:PORT serving only `/metrics` over plain HTTP (bind it to an interface
    /// only the monitoring network reaches, e.g. `127.0.0.1:9464`).
    pub listen: Option<String>,
    /// Client addresses (CIDR blocks) that may read `/metrics` on the main listener, judged
    /// by the derived client address (see `server.trusted_proxies`). Empty: nobody.
    /// `LATCHKEY_METRICS__ALLOW_FROM` takes them comma-separated.
    #[serde(deserialize_with = "list_or_commas")]
    pub allow_from: Vec<String>,
}

/// Log streams (`/api/v2/log-streams`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogStreamSettings {
    /// Let log streams deliver to this machine (`localhost`, `127.0.0.1`, `[::1]`, over http or
    /// https): a collector running beside the server. Off: such endpoints are refused, so a
    /// Management API caller cannot aim deliveries at local services.
    pub allow_loopback: bool,
    /// Pending deliveries one stream may hold (an endpoint that is down or hangs); beyond it
    /// the oldest are dropped, and counted in `GET /api/v2/log-streams/{id}/deliveries`.
    pub max_pending: u64,
    /// Seconds a stream's endpoint has to answer one POST.
    pub timeout_secs: u64,
}

impl Default for LogStreamSettings {
    fn default() -> Self {
        Self {
            allow_loopback: false,
            max_pending: 1000,
            timeout_secs: 5,
        }
    }
}

/// Bounds on Actions (tenant JavaScript run at login, reset and password change).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActionSettings {
    /// Wall-clock limit of one action, in milliseconds.
    pub timeout_ms: u64,
    /// Heap limit of one action, in MiB.
    pub memory_mib: usize,
    /// Actions running at once on this node (0: twice the CPU count).
    pub max_concurrent: usize,
    /// Hosts `fetch` may reach, comma-separated (`api.example.com,*.example.org`); empty: none.
    pub fetch_allowed_hosts: String,
    /// Limit of one `fetch`, in milliseconds.
    pub fetch_timeout_ms: u64,
}

impl Default for ActionSettings {
    fn default() -> Self {
        Self {
            timeout_ms: 5_000,
            memory_mib: 32,
            max_concurrent: 0,
            fetch_allowed_hosts: String::new(),
            fetch_timeout_ms: 3_000,
        }
    }
}

impl ActionSettings {
    pub fn concurrency(&self) -> usize {
        match self.max_concurrent {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()) * 2,
            n => n,
        }
    }
}

/// The admin console's sessions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSettings {
    /// Minutes without a request after which an administrator must sign in again.
    pub idle_timeout_mins: u64,
    /// Hours after sign-in after which the session ends however active it is.
    pub session_hours: u64,
}

impl Default for AdminSettings {
    fn default() -> Self {
        Self {
            idle_timeout_mins: 30,
            session_hours: 12,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailSettings {
    /// `LATCHKEY_SMTP_URL`: `smtp://user:pass@host:587?tls=required`, `smtps://…`. Wins over the
    /// provider set through the Management API; without either, mail goes to `DATA/outbox/`.
    pub smtp_url: Option<SecretString>,
    /// Sender when neither the template nor the provider names one.
    pub default_from: Option<String>,
    /// Seconds a node holds a mail it is delivering; a crashed node's mail goes out after this.
    pub lease_secs: u64,
    /// First retry delay in seconds; doubles per attempt, at most an hour.
    pub retry_base_secs: u64,
    pub max_attempts: u32,
    /// Mails to people delivered at once by this node (their own lane).
    pub concurrency: usize,
    /// Deliveries to machines (log streams, back-channel logout, post-change-password actions)
    /// at once by this node; they never take the people's slots.
    pub machine_concurrency: usize,
    /// Whether this node delivers mail. In a cluster, nodes that only take requests can leave
    /// delivery to others (the queue is shared through the database).
    pub deliver: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitSettings {
    pub enabled: bool,
    /// `REDIS_URL`: share the buckets between nodes; without it they live in this process.
    pub redis_url: Option<SecretString>,
    /// `POST /dbconnections/change_password` per (email, IP): Auth0's 1 per minute, burst 10.
    pub change_password_per_minute: u32,
    pub change_password_burst: u32,
    /// Across all addresses, per IP.
    pub change_password_ip_per_minute: u32,
    pub change_password_ip_burst: u32,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            smtp_url: None,
            default_from: None,
            lease_secs: 60,
            retry_base_secs: 5,
            max_attempts: 10,
            concurrency: 8,
            machine_concurrency: 8,
            deliver: true,
        }
    }
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            redis_url: None,
            change_password_per_minute: 1,
            change_password_burst: 10,
            change_password_ip_per_minute: 60,
            change_password_ip_burst: 100,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    pub listen: String,
    pub data_dir: PathBuf,
    pub public_url: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub tls_self_signed: bool,
    /// Seconds a node may serve clients, grants, connections and tenant settings from memory
    /// before re-reading them; a change made on another node is seen within this time.
    pub config_cache_secs: u64,
    /// A directory with the tenant's own hosted-page layout: `page.liquid` (Auth0's page
    /// template syntax) and/or `custom.css`.
    pub pages_dir: Option<PathBuf>,
    /// Start even when the data directory or the SQLite files are open to other users
    /// (group/world permission bits); they hold the signing key and client secrets.
    pub allow_insecure_permissions: bool,
    /// Seconds a new connection (TLS handshake included), or a kept-alive one that has begun
    /// its next request, has to deliver a request's complete headers; then it is closed.
    pub header_read_timeout_secs: u64,
    /// Seconds a request may take to deliver its whole body; then it is answered 408 and the
    /// connection closed.
    pub body_read_timeout_secs: u64,
    /// Seconds a kept-alive connection may sit idle between requests before it is closed.
    pub idle_timeout_secs: u64,
    /// Connections served at once. At the cap, the longest-idle connections without a request
    /// in progress are closed to make room; when every connection is busy, new ones are
    /// closed at once. Bounded by the process's open-file limit (less a reserve for the
    /// database, mail and files).
    pub max_connections: usize,
    /// Proxies (CIDR blocks) whose `Forwarded`/`X-Forwarded-For` name the client; empty: the
    /// TCP peer is the client. `LATCHKEY_SERVER__TRUSTED_PROXIES` takes them comma-separated.
    #[serde(deserialize_with = "list_or_commas")]
    pub trusted_proxies: Vec<String>,
}

/// A TOML array of strings, or one comma-separated string (as environment variables give it).
fn list_or_commas<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        List(Vec<String>),
        Commas(String),
    }
    Ok(match Form::deserialize(d)? {
        Form::List(v) => v,
        Form::Commas(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// `postgres://…` or `sqlite://…`; empty means SQLite in the data directory.
    pub url: Option<String>,
}

/// The URL may carry a database password: `Debug` shows it redacted.
impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &self.url.as_deref().map(redact_url))
            .finish()
    }
}

/// A database URL with its password replaced, for printing.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("REDACTED"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordSettings {
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    /// Hashes computed at once; 0 = one per core.
    pub hashing_concurrency: usize,
    /// Hashes that may wait for a thread; beyond it a login is answered 503 at once.
    pub hashing_queue_depth: usize,
    /// A queued hash older than this when a thread is free is refused (503), not computed.
    pub hashing_queue_max_wait_ms: u64,
    /// A local breached-password corpus, on top of the bundled one: the Have I Been Pwned
    /// downloader's single sorted file or its directory of prefix files, or an index built by
    /// `latchkey breach build-index`. Checked at start-up (a bad one stops the server).
    pub breached_corpus: Option<PathBuf>,
    /// A Have I Been Pwned compatible range service (a self-hosted mirror of
    /// `https://api.pwnedpasswords.com/range/`), asked after the local corpora while detection
    /// is on: only the first five hex digits of a password's SHA-1 are sent. Unset: none.
    pub breached_range_url: Option<String>,
    /// How long a range lookup may take before it counts as failed.
    pub breached_range_timeout_ms: u64,
    /// `open`: a failed range lookup counts as "not breached" (logged, counted). `closed`: a
    /// new password is refused for now (503) until the service answers; logins go on.
    pub breached_range_on_failure: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenSettings {
    pub access_token_lifetime_secs: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// `pretty` or `json`.
    pub format: String,
    /// An `EnvFilter` directive, e.g. `info,latchkey=debug`.
    pub level: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            version: 1,
            server: ServerSettings::default(),
            database: DatabaseSettings::default(),
            passwords: PasswordSettings::default(),
            tokens: TokenSettings::default(),
            log: LogSettings::default(),
            mail: MailSettings::default(),
            rate_limits: RateLimitSettings::default(),
            admin: AdminSettings::default(),
            actions: ActionSettings::default(),
            log_streams: LogStreamSettings::default(),
            metrics: MetricsSettings::default(),
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./latchkey-data"),
            public_url: None,
            tls_cert: None,
            tls_key: None,
            tls_self_signed: false,
            config_cache_secs: 5,
            pages_dir: None,
            allow_insecure_permissions: false,
            trusted_proxies: Vec::new(),
            header_read_timeout_secs: 10,
            body_read_timeout_secs: 30,
            idle_timeout_secs: 60,
            max_connections: 4096,
        }
    }
}

impl Default for PasswordSettings {
    fn default() -> Self {
        let a = Argon2Settings::default();
        Self {
            argon2_memory_kib: a.memory_kib,
            argon2_iterations: a.iterations,
            argon2_parallelism: a.parallelism,
            hashing_concurrency: 0,
            hashing_queue_depth: 64,
            hashing_queue_max_wait_ms: 1000,
            breached_corpus: None,
            breached_range_url: None,
            breached_range_timeout_ms: 1500,
            breached_range_on_failure: "open".to_owned(),
        }
    }
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            access_token_lifetime_secs: 86_400,
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: "pretty".into(),
            level: "info".into(),
        }
    }
}

impl Settings {
    /// Defaults ← file ← environment. Unknown `LATCHKEY_*` variables are reported, not ignored.
    pub fn load(
        file: Option<&Path>,
        env: &[(String, String)],
    ) -> anyhow::Result<(Self, Vec<String>)> {
        let mut doc = toml::Table::new();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            doc = text
                .parse::<toml::Table>()
                .with_context(|| format!("parsing {}", path.display()))?;
        }
        let mut warnings = Vec::new();
        for (key, value) in env {
            let (name, value) = match key.strip_suffix("_FILE") {
                Some(base)
                    if base.starts_with("LATCHKEY_")
                        || base == "DATABASE_URL"
                        || base == "REDIS_URL" =>
                {
                    let v =
                        std::fs::read_to_string(value).with_context(|| format!("reading {key}"))?;
                    (base.to_owned(), v.trim().to_owned())
                }
                _ => (key.clone(), value.clone()),
            };
            match name.as_str() {
                "DATABASE_URL" => {
                    set(&mut doc, "database", "url", &value);
                    continue;
                }
                "LATCHKEY_SMTP_URL" => {
                    set(&mut doc, "mail", "smtp_url", &value);
                    continue;
                }
                "REDIS_URL" => {
                    set(&mut doc, "rate_limits", "redis_url", &value);
                    continue;
                }
                _ => {}
            }
            let Some(rest) = name.strip_prefix("LATCHKEY_") else {
                continue;
            };
            if rest.starts_with("BOOTSTRAP_")
                || rest.starts_with("TEST_")
                || rest == "PYTHON"
                || rest == "NODE_SDK_DIR"
                || rest == "CHROMIUM"
                || rest == "ADMIN_PASSWORD"
            {
                continue;
            }
            match rest.split_once("__") {
                Some((section, field)) => set(
                    &mut doc,
                    &section.to_lowercase(),
                    &field.to_lowercase(),
                    &value,
                ),
                None => warnings.push(format!("ignoring unknown environment variable {name}")),
            }
        }
        let settings: Self = toml::Value::Table(doc)
            .try_into()
            .context("invalid configuration")?;
        settings.validate()?;
        Ok((settings, warnings))
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.version != 1 {
            bail!(
                "unsupported configuration version {} (expected 1)",
                self.version
            );
        }
        self.argon2().params().context("passwords")?;
        if self.server.tls_self_signed
            && (self.server.tls_cert.is_some() || self.server.tls_key.is_some())
        {
            bail!("choose either tls_self_signed or tls_cert/tls_key, not both");
        }
        if self.server.tls_cert.is_some() != self.server.tls_key.is_some() {
            bail!("tls_cert and tls_key go together");
        }
        if !(60..=2_592_000).contains(&self.tokens.access_token_lifetime_secs) {
            bail!("tokens.access_token_lifetime_secs must be between 60 and 2592000");
        }
        if !(1..=1440).contains(&self.admin.idle_timeout_mins) {
            bail!("admin.idle_timeout_mins must be between 1 and 1440");
        }
        if !(1..=720).contains(&self.admin.session_hours) {
            bail!("admin.session_hours must be between 1 and 720");
        }
        if !(10..=60_000).contains(&self.actions.timeout_ms) {
            bail!("actions.timeout_ms must be between 10 and 60000");
        }
        if !(1..=1024).contains(&self.actions.memory_mib) {
            bail!("actions.memory_mib must be between 1 and 1024");
        }
        if !(10..=60_000).contains(&self.actions.fetch_timeout_ms) {
            bail!("actions.fetch_timeout_ms must be between 10 and 60000");
        }
        let s = &self.server;
        if !(1..=300).contains(&s.header_read_timeout_secs)
            || !(1..=3600).contains(&s.body_read_timeout_secs)
            || !(1..=3600).contains(&s.idle_timeout_secs)
        {
            bail!(
                "server.header_read_timeout_secs must be 1 to 300, server.body_read_timeout_secs and server.idle_timeout_secs 1 to 3600"
            );
        }
        if !(1..=1_000_000).contains(&s.max_connections) {
            bail!("server.max_connections must be 1 to 1000000");
        }
        if self.server.config_cache_secs > 300 {
            bail!("server.config_cache_secs must be at most 300");
        }
        if !matches!(self.log.format.as_str(), "pretty" | "json") {
            bail!("log.format must be pretty or json");
        }
        crate::logging::check_filter(&self.log.level)
            .map_err(|e| anyhow::anyhow!("log.level: {e}"))?;
        let m = &self.mail;
        if m.lease_secs == 0 || m.max_attempts == 0 || m.concurrency == 0 || m.concurrency > 256 {
            bail!(
                "mail.lease_secs and mail.max_attempts must be positive, mail.concurrency 1 to 256"
            );
        }
        if m.machine_concurrency == 0 || m.machine_concurrency > 256 {
            bail!("mail.machine_concurrency must be 1 to 256");
        }
        let l = &self.log_streams;
        if l.max_pending == 0 || l.timeout_secs == 0 || l.timeout_secs > 60 {
            bail!("log_streams.max_pending must be positive, log_streams.timeout_secs 1 to 60");
        }
        let r = &self.rate_limits;
        if [
            r.change_password_per_minute,
            r.change_password_burst,
            r.change_password_ip_per_minute,
            r.change_password_ip_burst,
        ]
        .contains(&0)
        {
            bail!(
                "rate_limits values must be positive (set rate_limits.enabled = false to turn them off)"
            );
        }
        self.listen_addr()?;
        self.trusted_proxies()?;
        self.metrics_allow_from()?;
        self.metrics_listen_addr()?;
        if let Some(url) = &self.server.public_url {
            let parsed = url::Url::parse(url).context("server.public_url")?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.query().is_some() {
                bail!("server.public_url must be an http(s) URL without a query");
            }
        }
        Ok(())
    }

    pub fn listen_addr(&self) -> anyhow::Result<std::net::SocketAddr> {
        self.server
            .listen
            .parse()
            .context("server.listen must be HOST:PORT")
    }

    /// `server.trusted_proxies`, parsed.
    pub fn trusted_proxies(&self) -> anyhow::Result<latchkey_http::TrustedProxies> {
        let blocks = self
            .server
            .trusted_proxies
            .iter()
            .map(|b| {
                b.parse()
                    .map_err(|e| anyhow::anyhow!("server.trusted_proxies: {e}"))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(latchkey_http::TrustedProxies::new(blocks))
    }

    /// `metrics.allow_from`, parsed.
    pub fn metrics_allow_from(&self) -> anyhow::Result<Vec<latchkey_http::Cidr>> {
        self.metrics
            .allow_from
            .iter()
            .map(|b| {
                b.parse()
                    .map_err(|e| anyhow::anyhow!("metrics.allow_from: {e}"))
            })
            .collect()
    }

    /// `metrics.listen`, parsed; it must differ from `server.listen`.
    pub fn metrics_listen_addr(&self) -> anyhow::Result<Option<std::net::SocketAddr>> {
        let Some(listen) = self.metrics.listen.as_deref().filter(|l| !l.is_empty()) else {
            return Ok(None);
        };
        let addr: std::net::SocketAddr =
            listen.parse().context("metrics.listen must be HOST:PORT")?;
        if addr == self.listen_addr()? {
            bail!(
                "metrics.listen must differ from server.listen (use metrics.allow_from to serve /metrics on the main listener)"
            );
        }
        Ok(Some(addr))
    }

    pub fn tls_enabled(&self) -> bool {
        self.server.tls_self_signed || self.server.tls_cert.is_some()
    }

    /// The breached-password corpus: the bundled one, and the configured file if any (opened
    /// and checked now).
    pub fn breach_corpus(
        &self,
    ) -> anyhow::Result<std::sync::Arc<latchkey_core::password::breach::BreachCorpus>> {
        use latchkey_core::password::breach::BreachCorpus;
        use latchkey_core::password::breach::{RangeFailure, RangeService};
        let mut corpus = match &self.passwords.breached_corpus {
            Some(path) => BreachCorpus::open(path).context("passwords.breached_corpus")?,
            None => BreachCorpus::bundled(),
        };
        let on_failure = match self.passwords.breached_range_on_failure.as_str() {
            "open" => RangeFailure::Open,
            "closed" => RangeFailure::Closed,
            other => anyhow::bail!(
                "passwords.breached_range_on_failure must be \"open\" or \"closed\", not {other:?}"
            ),
        };
        if let Some(url) = &self.passwords.breached_range_url {
            let range = RangeService::new(
                url,
                std::time::Duration::from_millis(self.passwords.breached_range_timeout_ms),
                on_failure,
                std::sync::Arc::new(crate::breach_range::ReqwestRangeFetcher::new()?),
            )
            .context("passwords.breached_range_url")?;
            corpus = corpus.with_range(range);
        }
        Ok(std::sync::Arc::new(corpus))
    }

    pub fn argon2(&self) -> Argon2Settings {
        Argon2Settings {
            memory_kib: self.passwords.argon2_memory_kib,
            iterations: self.passwords.argon2_iterations,
            parallelism: self.passwords.argon2_parallelism,
        }
    }

    pub fn database_url(&self) -> String {
        self.database
            .url
            .clone()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| latchkey_store_sql::sqlite_url(&self.server.data_dir))
    }

    pub fn core(&self, issuer: &str) -> latchkey_core::config::CoreConfig {
        use latchkey_core::config::{AdminConsoleConfig, CoreConfig, MailConfig, RateLimitConfig};
        use latchkey_core::ratelimit::RateRule;
        use std::time::Duration;
        let host = url::Url::parse(issuer)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .filter(|h| h.contains('.') && h.parse::<std::net::IpAddr>().is_err())
            .unwrap_or_else(|| "localhost.localdomain".into());
        let r = &self.rate_limits;
        CoreConfig {
            issuer: issuer.to_owned(),
            access_token_lifetime_secs: self.tokens.access_token_lifetime_secs,
            config_cache_ttl: Duration::from_secs(self.server.config_cache_secs),
            mail: MailConfig {
                smtp_url: self.mail.smtp_url.clone(),
                outbox_dir: self.server.data_dir.join("outbox"),
                lease: Duration::from_secs(self.mail.lease_secs),
                retry_base: Duration::from_secs(self.mail.retry_base_secs),
                max_attempts: self.mail.max_attempts,
                concurrency: self.mail.concurrency,
                machine_concurrency: self.mail.machine_concurrency,
                default_from: self
                    .mail
                    .default_from
                    .clone()
                    .unwrap_or_else(|| format!("Latchkey <no-reply@{host}>")),
            },
            rate_limits: RateLimitConfig {
                enabled: r.enabled,
                change_password_per_email: RateRule::per_minute(
                    r.change_password_per_minute,
                    r.change_password_burst,
                ),
                change_password_per_ip: RateRule::per_minute(
                    r.change_password_ip_per_minute,
                    r.change_password_ip_burst,
                ),
            },
            admin: AdminConsoleConfig {
                idle_timeout: Duration::from_secs(self.admin.idle_timeout_mins * 60),
                session_lifetime: Duration::from_secs(self.admin.session_hours * 3600),
            },
            actions: latchkey_core::actions::ActionLimits {
                memory_bytes: self.actions.memory_mib * 1024 * 1024,
                timeout: Duration::from_millis(self.actions.timeout_ms),
                fetch_timeout: Duration::from_millis(self.actions.fetch_timeout_ms),
                fetch_allowed_hosts: self
                    .actions
                    .fetch_allowed_hosts
                    .split(',')
                    .map(str::trim)
                    .filter(|h| !h.is_empty())
                    .map(str::to_lowercase)
                    .collect(),
                max_log_bytes: 16 * 1024,
            },
            log_streams_allow_loopback: self.log_streams.allow_loopback,
            log_streams_max_pending: self.log_streams.max_pending,
            log_streams_timeout: Duration::from_secs(self.log_streams.timeout_secs),
        }
    }

    /// The issuer: the public URL with exactly one trailing `/`.
    pub fn issuer(&self, bound: std::net::SocketAddr) -> String {
        let base = match &self.server.public_url {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None => {
                let scheme = if self.tls_enabled() { "https" } else { "http" };
                format!("{scheme}://{bound}")
            }
        };
        format!("{base}/")
    }
}

fn set(doc: &mut toml::Table, section: &str, field: &str, raw: &str) {
    let value = if let Ok(b) = raw.parse::<bool>() {
        toml::Value::Boolean(b)
    } else if let Ok(i) = raw.parse::<i64>() {
        toml::Value::Integer(i)
    } else {
        toml::Value::String(raw.to_owned())
    };
    let entry = doc
        .entry(section.to_owned())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if let toml::Value::Table(t) = entry {
        t.insert(field.to_owned(), value);
    }
}

/// `LATCHKEY_BOOTSTRAP_*` presets for the first start.
pub fn bootstrap_presets(env: &[(String, String)]) -> latchkey_core::services::BootstrapPresets {
    let get = |k: &str| {
        env.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let secret = |k: &str| get(k).map(SecretString::from);
    latchkey_core::services::BootstrapPresets {
        admin_email: get("LATCHKEY_BOOTSTRAP_ADMIN_EMAIL"),
        admin_password: secret("LATCHKEY_BOOTSTRAP_ADMIN_PASSWORD"),
        management_client_id: get("LATCHKEY_BOOTSTRAP_MANAGEMENT_CLIENT_ID"),
        management_client_secret: secret("LATCHKEY_BOOTSTRAP_MANAGEMENT_CLIENT_SECRET"),
        default_client_id: get("LATCHKEY_BOOTSTRAP_DEFAULT_CLIENT_ID"),
        default_client_secret: secret("LATCHKEY_BOOTSTRAP_DEFAULT_CLIENT_SECRET"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn environment_overrides_defaults_and_unknown_variables_are_reported() {
        let env = vec![
            (
                "LATCHKEY_SERVER__LISTEN".to_owned(),
                "127.0.0.1:9999".to_owned(),
            ),
            (
                "LATCHKEY_PASSWORDS__ARGON2_MEMORY_KIB".to_owned(),
                "1024".to_owned(),
            ),
            ("LATCHKEY_TYPO".to_owned(), "x".to_owned()),
            ("DATABASE_URL".to_owned(), "postgres://db/x".to_owned()),
        ];
        let (s, warnings) = Settings::load(None, &env).unwrap();
        assert_eq!(s.server.listen, "127.0.0.1:9999");
        assert_eq!(s.passwords.argon2_memory_kib, 1024);
        assert_eq!(s.database_url(), "postgres://db/x");
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn bad_settings_are_refused() {
        for (k, v) in [
            ("LATCHKEY_SERVER__LISTEN", "nowhere"),
            ("LATCHKEY_LOG__FORMAT", "xml"),
            ("LATCHKEY_PASSWORDS__ARGON2_MEMORY_KIB", "1"),
            ("LATCHKEY_SERVER__NO_SUCH_KEY", "1"),
            ("LATCHKEY_SERVER__MAX_CONNECTIONS", "0"),
            ("LATCHKEY_SERVER__HEADER_READ_TIMEOUT_SECS", "0"),
            ("LATCHKEY_SERVER__IDLE_TIMEOUT_SECS", "0"),
        ] {
            assert!(
                Settings::load(None, &[(k.to_owned(), v.to_owned())]).is_err(),
                "{k}={v}"
            );
        }
    }

    #[test]
    fn database_passwords_never_reach_debug_output() {
        let env = vec![(
            "DATABASE_URL".to_owned(),
            "postgres://app:s3cret-pw@db:5432/lk".to_owned(),
        )];
        let (s, _) = Settings::load(None, &env).unwrap();
        let printed = format!("{s:?}");
        assert!(!printed.contains("s3cret-pw"), "{printed}");
        assert!(printed.contains("REDACTED"));
    }

    #[test]
    fn the_issuer_ends_with_one_slash() {
        let (mut s, _) = Settings::load(None, &[]).unwrap();
        s.server.public_url = Some("https://id.example.com//".into());
        assert_eq!(
            s.issuer("127.0.0.1:1".parse().unwrap()),
            "https://id.example.com/"
        );
    }
}
