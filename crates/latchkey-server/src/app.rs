//! Start-up as a value: `Application::build` opens the store, bootstraps it, binds the port and
//! returns; `run_until_stopped` serves. Tests call the same code with port 0.

use crate::config::Settings;
use anyhow::Context;
use latchkey_core::Services;
use latchkey_core::password::PasswordHasher;
use latchkey_core::ratelimit::{MemoryRateLimiter, RateLimiter};
use latchkey_core::services::Infrastructure;
use latchkey_core::services::{BootstrapOutcome, BootstrapPresets};
use latchkey_core::store::Store;
use latchkey_http::{AppState, PageTheme};
use secrecy::ExposeSecret;
use std::net::SocketAddr;
use std::sync::Arc;

pub struct Application {
    deliver_mail: bool,
    listener: std::net::TcpListener,
    address: SocketAddr,
    issuer: String,
    tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
    services: Arc<Services>,
    bootstrap: Option<BootstrapOutcome>,
    theme: Arc<PageTheme>,
    trusted_proxies: latchkey_http::TrustedProxies,
    limits: crate::listener::Limits,
    /// Who may read `/metrics` on the main listener.
    metrics_allow_from: Vec<latchkey_http::Cidr>,
    /// The separate metrics listener, if `metrics.listen` names one.
    metrics_listener: Option<std::net::TcpListener>,
}

/// The services without a listener, for CLI commands (`latchkey admin …`) on a store the
/// server has bootstrapped. Mail is queued for the running server to deliver.
pub async fn offline_services(settings: &Settings) -> anyhow::Result<Arc<Services>> {
    let store: Arc<dyn Store> =
        Arc::new(latchkey_store_sql::connect(&settings.database_url()).await?);
    if store.list_admins().await?.is_empty() {
        anyhow::bail!(
            "the store at {} has not been set up yet: run `latchkey serve` once first",
            crate::config::redact_url(&settings.database_url())
        );
    }
    let issuer = settings.issuer(settings.listen_addr()?);
    let infrastructure = Infrastructure {
        store,
        hasher: PasswordHasher::new(settings.argon2(), 1)?,
        templates: Arc::new(latchkey_mail::LiquidEngine::new()?),
        mail: Arc::new(latchkey_mail::LettreTransport::new()),
        rate_limiter: Arc::new(MemoryRateLimiter::default()),
        action_runtime: Arc::new(latchkey_actions::QuickJsRuntime::new(
            settings.actions.concurrency(),
        )),
        form_poster: Arc::new(crate::backchannel::ReqwestPoster::new()?),
        breach_corpus: settings.breach_corpus()?,
    };
    Ok(Arc::new(
        Services::new(settings.core(&issuer), infrastructure).await?,
    ))
}

impl Application {
    pub async fn build(settings: &Settings, presets: &BootstrapPresets) -> anyhow::Result<Self> {
        let allow_insecure = settings.server.allow_insecure_permissions;
        crate::private_files::prepare_data_dir(&settings.server.data_dir, allow_insecure)?;
        let listener = std::net::TcpListener::bind(settings.listen_addr()?)
            .with_context(|| format!("binding {}", settings.server.listen))?;
        listener.set_nonblocking(true)?;
        let metrics_listener = match settings.metrics_listen_addr()? {
            Some(addr) => {
                let l = std::net::TcpListener::bind(addr)
                    .with_context(|| format!("binding metrics.listen {addr}"))?;
                l.set_nonblocking(true)?;
                Some(l)
            }
            None => None,
        };
        let address = listener.local_addr()?;
        let issuer = settings.issuer(address);

        // TLS material first: once bootstrap.json exists, clients may connect.
        let tls = if settings.server.tls_self_signed {
            Some(crate::tls::self_signed(
                &settings.server.data_dir,
                &address.ip().to_string(),
            )?)
        } else {
            settings
                .server
                .tls_cert
                .clone()
                .zip(settings.server.tls_key.clone())
        };
        // A missing or damaged breached-password corpus stops the start, before anything else.
        let breach_corpus = settings.breach_corpus()?;
        tracing::info!(corpus = %breach_corpus.describe(), "breached-password detection");
        let store: Arc<dyn Store> =
            Arc::new(latchkey_store_sql::connect(&settings.database_url()).await?);
        crate::private_files::tighten_database_files(&settings.server.data_dir, allow_insecure)?;
        let concurrency = match settings.passwords.hashing_concurrency {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let hasher = PasswordHasher::new(settings.argon2(), concurrency)?.with_queue_limits(
            latchkey_core::password::QueueLimits {
                max_depth: settings.passwords.hashing_queue_depth,
                max_wait: std::time::Duration::from_millis(
                    settings.passwords.hashing_queue_max_wait_ms,
                ),
            },
        );
        let bootstrap =
            latchkey_core::services::bootstrap(store.as_ref(), &hasher, &issuer, presets).await?;
        if let Some(b) = &bootstrap {
            let path = settings.server.data_dir.join("bootstrap.json");
            let text = serde_json::to_string_pretty(&b.to_json())?;
            crate::tls::write_private(&path, text.as_bytes())?;
        }
        if bootstrap.is_none() {
            follow_public_url(store.as_ref(), &issuer, &settings.server.data_dir).await?;
        }
        let rate_limiter: Arc<dyn RateLimiter> = match &settings.rate_limits.redis_url {
            Some(url) => Arc::new(
                latchkey_ratelimit::RedisRateLimiter::connect(url.expose_secret(), "latchkey:rl:")
                    .await
                    .context("connecting to Redis (REDIS_URL)")?,
            ),
            None => Arc::new(MemoryRateLimiter::default()),
        };
        let templates = Arc::new(latchkey_mail::LiquidEngine::new()?);
        let theme = match &settings.server.pages_dir {
            Some(dir) => PageTheme::load(dir, templates.clone())
                .map_err(|e| anyhow::anyhow!("server.pages_dir: {e}"))?,
            None => PageTheme::built_in(),
        };
        let infrastructure = Infrastructure {
            store,
            hasher,
            templates,
            mail: Arc::new(latchkey_mail::LettreTransport::new()),
            rate_limiter,
            action_runtime: Arc::new(latchkey_actions::QuickJsRuntime::new(
                settings.actions.concurrency(),
            )),
            form_poster: Arc::new(crate::backchannel::ReqwestPoster::new()?),
            breach_corpus,
        };
        let services = Arc::new(Services::new(settings.core(&issuer), infrastructure).await?);
        let theme = Arc::new(theme);
        services.actions.install_management_gateway(Arc::new(
            latchkey_http::InProcessManagementApi::new(&services, theme.clone()),
        ));
        latchkey_http::set_build_info(crate::VERSION, crate::GIT_COMMIT);
        Ok(Self {
            trusted_proxies: settings.trusted_proxies()?,
            metrics_allow_from: settings.metrics_allow_from()?,
            metrics_listener,
            deliver_mail: settings.mail.deliver,
            listener,
            address,
            issuer,
            tls,
            services,
            bootstrap,
            theme,
            limits: crate::listener::Limits::from_settings(&settings.server),
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }
    /// The separate metrics listener's address, if there is one.
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
    pub fn services(&self) -> &Arc<Services> {
        &self.services
    }
    /// What this start created, if it was the first start on the store.
    pub fn bootstrap(&self) -> Option<&BootstrapOutcome> {
        self.bootstrap.as_ref()
    }

    pub async fn run_until_stopped(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let mut router = latchkey_http::router(AppState {
            services: self.services.clone(),
            theme: self.theme.clone(),
        });
        if self.tls.is_some() || self.issuer.starts_with("https://") {
            router = latchkey_http::with_hsts(router);
        }
        if !self.metrics_allow_from.is_empty() {
            router =
                latchkey_http::with_metrics(router, self.services.clone(), self.metrics_allow_from);
        }
        let router = latchkey_http::with_client_ip(router, self.trusted_proxies);
        // The metrics listener: plain HTTP, only `/metrics`, stopped with the process.
        let _metrics = match self.metrics_listener {
            Some(l) => {
                let l = tokio::net::TcpListener::from_std(l)?;
                let app = latchkey_http::metrics_only(self.services.clone());
                Some(AbortOnDrop(tokio::spawn(async move {
                    if let Err(e) = axum::serve(l, app).await {
                        tracing::error!(error = %e, "the metrics listener stopped");
                    }
                })))
            }
            None => None,
        };
        // Delivery runs beside serving. The stop reaches it together with the listener: it
        // leases nothing more, lets deliveries in progress finish briefly and hands the rest
        // back to the queue, while requests in progress finish.
        let (stop_worker, worker_stop) = tokio::sync::watch::channel(false);
        let mut worker = self.deliver_mail.then(|| {
            AbortOnDrop(tokio::spawn(
                self.services.jobs.clone().run_job_worker(worker_stop),
            ))
        });
        let shutdown = async move {
            shutdown.await;
            tracing::info!("stopping: no new connections; finishing requests and deliveries");
            let _ = stop_worker.send(true);
        };
        let tls = match self.tls {
            Some((cert, key)) => {
                let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key)
                    .await
                    .context("loading the TLS certificate and key")?;
                Some(tokio_rustls::TlsAcceptor::from(config.get_inner()))
            }
            None => None,
        };
        let listener = tokio::net::TcpListener::from_std(self.listener)?;
        crate::listener::serve(listener, tls, router, self.limits, shutdown).await?;
        if let Some(worker) = worker.as_mut() {
            // The worker's own grace is 5 s; past that something is stuck: abort it on drop.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(8), &mut worker.0).await;
        }
        Ok(())
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A store created under another public URL: its Management API grants keep working at the new
/// one (`earlier_management_audiences`), the log says what the old URL's credentials are now,
/// and bootstrap.json names the new issuer and audience.
async fn follow_public_url(
    store: &dyn latchkey_core::store::Store,
    issuer: &str,
    data_dir: &std::path::Path,
) -> anyhow::Result<()> {
    let earlier = latchkey_core::services::earlier_management_audiences(store, issuer).await?;
    if earlier.is_empty() {
        return Ok(());
    }
    tracing::warn!(
        earlier = ?earlier,
        issuer,
        "the public URL changed: client grants made for the Management API under the earlier URL \
         keep working at {issuer}api/v2/; \
         tokens, id tokens, reset and unblock links issued under the earlier URL no longer \
         validate (their issuer or audience is the old one)"
    );
    let path = data_dir.join("bootstrap.json");
    if let Ok(text) = std::fs::read_to_string(&path)
        && let Ok(mut doc) = serde_json::from_str::<serde_json::Value>(&text)
    {
        doc["issuer"] = serde_json::Value::String(issuer.to_owned());
        doc["management_api"]["audience"] = serde_json::Value::String(format!("{issuer}api/v2/"));
        crate::tls::write_private(&path, serde_json::to_string_pretty(&doc)?.as_bytes())?;
    }
    Ok(())
}
