//! Log streams in the shape of Auth0's custom-webhook streams (`/api/v2/log-streams`, type
//! `http`): tenant log entries POSTed to an administrator's endpoint.
//!
//! Production: every log write that can carry a streamed entry queues the deliveries in the
//! transaction that writes the entry: the batching `AuditLog` through `LogFanout`
//! (`append_logs_queuing`), a password change through `PasswordChange::outbox`. One outbox job
//! per (stream, entry), so delivery is durable, at least once, retried with the mail's
//! backoff, and each stream's deliveries are listed from the outbox rows.
//!
//! Signing (a Latchkey addition): each stream has a random secret, shown once at creation;
//! each POST carries `Latchkey-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
//! "<t>.<body>")>`, the key being the secret's text as shown.

use super::Caller;
use super::jobs::Attempt;
use crate::audit::{LogEntry, LogFanout};
use crate::config::CoreConfig;
use crate::domain::{ContentFormat, FILTER_CATEGORIES, HttpSink, LogStream, LogStreamStatus};
use crate::error::{ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::mail::{MailError, OutboxJob};
use crate::store::{QueuedMail, Store, StreamBacklog, StreamDelivery};
use crate::time::Timestamp;
use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Deliveries listed by `GET /api/v2/log-streams/{id}/deliveries`.
const DELIVERIES_SHOWN: u32 = 100;
/// Headers Latchkey sets itself (or HTTP does): a custom header may not replace them.
const RESERVED_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "content-length",
    "host",
    "connection",
    "transfer-encoding",
    "latchkey-signature",
];

fn signing_label(id: &str) -> String {
    format!("log-stream\0{id}")
}
fn authorization_label(id: &str) -> String {
    format!("log-stream-auth\0{id}")
}

/// `Latchkey-Signature`'s value for `body` sent at `t` (unix seconds).
pub fn log_stream_signature(secret: &str, t: i64, body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, format!("{t}.{body}").as_bytes());
    let hex = crate::random::lower_hex(tag.as_ref());
    format!("t={t},v1={hex}")
}

/// The active streams, kept for the configuration cache's TTL (a write through this node
/// forgets them at once), so the log writer does not read the table for every batch.
pub(crate) struct StreamRouter {
    store: Arc<dyn Store>,
    ttl: Duration,
    cached: Mutex<Option<(Instant, Arc<Vec<LogStream>>)>>,
}

impl StreamRouter {
    pub(crate) fn new(store: Arc<dyn Store>, ttl: Duration) -> Self {
        Self {
            store,
            ttl,
            cached: Mutex::new(None),
        }
    }

    pub(crate) fn forget(&self) {
        if let Ok(mut c) = self.cached.lock() {
            *c = None;
        }
    }

    async fn active(&self) -> anyhow::Result<Arc<Vec<LogStream>>> {
        if let Ok(c) = self.cached.lock()
            && let Some((at, streams)) = c.as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(streams.clone());
        }
        let streams: Vec<LogStream> = self
            .store
            .list_log_streams()
            .await?
            .into_iter()
            .filter(|s| s.status == LogStreamStatus::Active)
            .collect();
        let streams = Arc::new(streams);
        if let Ok(mut c) = self.cached.lock() {
            *c = Some((Instant::now(), streams.clone()));
        }
        Ok(streams)
    }

    /// One outbox job per (active stream, entry) whose filters take the entry.
    pub(crate) async fn jobs_for(&self, entries: &[LogEntry]) -> anyhow::Result<Vec<QueuedMail>> {
        let streams = self.active().await?;
        if streams.is_empty() {
            return Ok(Vec::new());
        }
        let now = Timestamp::now();
        let mut out = Vec::new();
        for entry in entries {
            for stream in streams.iter().filter(|s| s.wants(&entry.type_code)) {
                out.push(QueuedMail {
                    id: format!("lsd_{}", crate::random::alnum(20)?),
                    job: OutboxJob::LogStreamDelivery {
                        stream_id: stream.id.clone(),
                        log_id: entry.log_id.clone(),
                    },
                    at: now,
                });
            }
        }
        Ok(out)
    }
}

#[async_trait::async_trait]
impl LogFanout for StreamRouter {
    async fn deliveries(&self, entries: &[LogEntry]) -> anyhow::Result<Vec<QueuedMail>> {
        self.jobs_for(entries).await
    }
}

/// A sink as the request gives it; absent fields keep their value (PATCH) or take Auth0's
/// default (POST).
#[derive(Default)]
pub struct SinkInput {
    pub http_endpoint: Option<String>,
    pub http_content_type: Option<String>,
    pub http_content_format: Option<String>,
    /// Write-only. `Some("")` removes it.
    pub http_authorization: Option<SecretString>,
    pub http_custom_headers: Option<Vec<(String, String)>>,
}

/// A filter as the request gives it: `{type: "category", name}`.
pub struct FilterInput {
    pub filter_type: String,
    pub name: String,
}

pub struct NewLogStream {
    pub name: String,
    pub stream_type: String,
    pub sink: SinkInput,
    pub filters: Vec<FilterInput>,
}

#[derive(Default)]
pub struct LogStreamPatch {
    pub name: Option<String>,
    pub status: Option<String>,
    pub sink: Option<SinkInput>,
    pub filters: Option<Vec<FilterInput>>,
}

/// A stream just created, with its signing secret (shown this once).
pub struct CreatedLogStream {
    pub stream: LogStream,
    pub signing_secret: SecretString,
}

fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::bad_request(ErrorCode::InvalidBody, message)
}

fn not_found() -> ServiceError {
    ServiceError::not_found(
        ErrorCode::InexistentLogStream,
        "The log stream does not exist.",
    )
}

fn check_name(name: &str) -> ServiceResult<String> {
    let name = name.trim();
    if name.is_empty() || name.len() > 256 {
        return Err(invalid(
            "Payload validation error: 'name' must be 1 to 256 characters.",
        ));
    }
    Ok(name.to_owned())
}

/// https to other machines; this machine (loopback, any scheme) only when the operator opted
/// in with `log_streams.allow_loopback` (a local collector, tests): otherwise a log stream
/// could probe or feed local services (`http://127.0.0.1:22/`).
fn check_endpoint(endpoint: &str, allow_loopback: bool) -> ServiceResult<String> {
    let bad = |why: &str| {
        invalid(format!(
            "Payload validation error: 'sink.httpEndpoint' {why}."
        ))
    };
    let url = url::Url::parse(endpoint).map_err(|_| bad("must be an absolute URL"))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(bad("must name a host")),
    };
    match url.scheme() {
        "http" | "https" if loopback && !allow_loopback => {
            return Err(bad(
                "must not name this machine (an operator may allow it with log_streams.allow_loopback)",
            ));
        }
        "https" => {}
        "http" if loopback => {}
        "http" => return Err(bad("must use https (http only on a loopback host)")),
        _ => return Err(bad("must be an https URL")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not carry credentials (use httpAuthorization)"));
    }
    Ok(url.to_string())
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn is_header_value(s: &str) -> bool {
    s.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

fn check_headers(headers: Vec<(String, String)>) -> ServiceResult<Vec<(String, String)>> {
    if headers.len() > 20 {
        return Err(invalid(
            "Payload validation error: at most 20 'sink.httpCustomHeaders'.",
        ));
    }
    for (name, value) in &headers {
        if !is_token(name) || RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(invalid(format!(
                "Payload validation error: {name:?} cannot be a custom header."
            )));
        }
        if !is_header_value(value) || value.len() > 4096 {
            return Err(invalid(format!(
                "Payload validation error: the value of custom header {name} is not valid."
            )));
        }
    }
    Ok(headers)
}

fn check_filters(filters: Vec<FilterInput>) -> ServiceResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for f in filters {
        if f.filter_type != "category" {
            return Err(invalid(
                "Payload validation error: a filter's 'type' must be \"category\".",
            ));
        }
        if !FILTER_CATEGORIES.contains(&f.name.as_str()) {
            return Err(invalid(format!(
                "Payload validation error: {:?} is not a log stream filter category.",
                f.name
            )));
        }
        if !out.contains(&f.name) {
            out.push(f.name);
        }
    }
    Ok(out)
}

impl LogStreams {
    fn seal_authorization(&self, id: &str, value: &SecretString) -> ServiceResult<Option<String>> {
        let v = value.expose_secret();
        if v.is_empty() {
            return Ok(None);
        }
        if !is_header_value(v) || v.len() > 4096 {
            return Err(invalid(
                "Payload validation error: 'sink.httpAuthorization' is not a valid header value.",
            ));
        }
        Ok(Some(
            self.tenant_keys.seal_secret(&authorization_label(id), v)?,
        ))
    }

    /// Applies `input` over `sink`.
    fn apply_sink(&self, id: &str, sink: &mut HttpSink, input: SinkInput) -> ServiceResult<()> {
        if let Some(e) = input.http_endpoint {
            sink.endpoint = check_endpoint(&e, self.config.log_streams_allow_loopback)?;
        }
        if let Some(t) = input.http_content_type {
            if t.trim().is_empty() || !is_header_value(&t) || t.len() > 256 {
                return Err(invalid(
                    "Payload validation error: 'sink.httpContentType' is not valid.",
                ));
            }
            sink.content_type = t;
        }
        if let Some(f) = input.http_content_format {
            sink.content_format = ContentFormat::parse(&f).ok_or_else(|| {
                invalid("Payload validation error: 'sink.httpContentFormat' must be JSONOBJECT, JSONLINES or JSONARRAY.")
            })?;
        }
        if let Some(a) = input.http_authorization {
            sink.sealed_authorization = self.seal_authorization(id, &a)?;
        }
        if let Some(h) = input.http_custom_headers {
            sink.custom_headers = check_headers(h)?;
        }
        Ok(())
    }

    pub async fn create_log_stream(
        &self,
        new: NewLogStream,
        caller: &Caller,
    ) -> ServiceResult<CreatedLogStream> {
        if new.stream_type != "http" {
            return Err(invalid(format!(
                "Payload validation error: log streams of type {:?} are not supported (only \"http\").",
                new.stream_type
            )));
        }
        let id = format!("lst_{}", crate::random::alnum(16)?);
        let Some(endpoint) = new.sink.http_endpoint.as_deref() else {
            return Err(invalid(
                "Payload validation error: Missing required property: sink.httpEndpoint.",
            ));
        };
        let mut sink = HttpSink {
            endpoint: check_endpoint(endpoint, self.config.log_streams_allow_loopback)?,
            content_type: "application/json".into(),
            content_format: ContentFormat::JsonObject,
            sealed_authorization: None,
            custom_headers: Vec::new(),
        };
        self.apply_sink(&id, &mut sink, new.sink)?;
        let mut raw = [0u8; 32];
        crate::random::fill(&mut raw)?;
        let secret = URL_SAFE_NO_PAD.encode(raw);
        let now = Timestamp::now();
        let stream = LogStream {
            name: check_name(&new.name)?,
            status: LogStreamStatus::Active,
            sink,
            filters: check_filters(new.filters)?,
            sealed_signing_secret: self.tenant_keys.seal_secret(&signing_label(&id), &secret)?,
            id,
            created_at: now,
            updated_at: now,
        };
        self.store.insert_log_stream(&stream).await?;
        self.router.forget();
        self.audit
            .record_some(caller.api_log("Create a log stream"));
        Ok(CreatedLogStream {
            stream,
            signing_secret: SecretString::from(secret),
        })
    }

    pub async fn list_log_streams(&self) -> ServiceResult<Vec<LogStream>> {
        Ok(self.store.list_log_streams().await?)
    }

    pub async fn get_log_stream(&self, id: &str) -> ServiceResult<LogStream> {
        self.store.get_log_stream(id).await?.ok_or_else(not_found)
    }

    pub async fn update_log_stream(
        &self,
        id: &str,
        patch: LogStreamPatch,
        caller: &Caller,
    ) -> ServiceResult<LogStream> {
        let mut stream = self.get_log_stream(id).await?;
        if let Some(n) = patch.name {
            stream.name = check_name(&n)?;
        }
        if let Some(s) = patch.status {
            stream.status = LogStreamStatus::parse(&s).ok_or_else(|| {
                invalid("Payload validation error: 'status' must be \"active\" or \"paused\".")
            })?;
        }
        if let Some(sink) = patch.sink {
            self.apply_sink(id, &mut stream.sink, sink)?;
        }
        if let Some(f) = patch.filters {
            stream.filters = check_filters(f)?;
        }
        stream.updated_at = Timestamp::now();
        if !self.store.update_log_stream(&stream).await? {
            return Err(not_found());
        }
        self.router.forget();
        self.audit
            .record_some(caller.api_log("Update a log stream"));
        Ok(stream)
    }

    pub async fn delete_log_stream(&self, id: &str, caller: &Caller) -> ServiceResult<()> {
        if !self.store.delete_log_stream(id).await? {
            return Err(not_found());
        }
        self.router.forget();
        self.audit
            .record_some(caller.api_log("Delete a log stream"));
        Ok(())
    }

    /// The stream's recent deliveries, newest first (outbox rows are kept a week), and its
    /// backlog: pending deliveries, and those dropped over `log_streams.max_pending`.
    pub async fn log_stream_deliveries(
        &self,
        id: &str,
    ) -> ServiceResult<(Vec<StreamDelivery>, StreamBacklog)> {
        self.get_log_stream(id).await?;
        let list = self
            .store
            .list_stream_deliveries(id, DELIVERIES_SHOWN)
            .await?;
        Ok((list, self.store.stream_backlog(id).await?))
    }

    /// The deliveries of entries a store call writes itself (a password change's `scp`), to
    /// queue in the same transaction.
    pub(crate) async fn log_stream_jobs(
        &self,
        entries: &[LogEntry],
    ) -> ServiceResult<Vec<QueuedMail>> {
        Ok(self.router.jobs_for(entries).await?)
    }

    /// Delivers one entry to one stream. 2xx is success; no answer, 408, 429 and 5xx are
    /// retried; other answers are not. A stream deleted or paused meanwhile gets nothing.
    pub(super) async fn deliver_log_entry(
        &self,
        stream_id: &str,
        log_id: &str,
    ) -> ServiceResult<Attempt> {
        let dropped = |reason: &str| {
            Ok(Attempt::Dropped {
                reason: reason.to_owned(),
                log: None,
            })
        };
        let Some(stream) = self.store.get_log_stream(stream_id).await? else {
            return dropped("the log stream no longer exists");
        };
        if stream.status != LogStreamStatus::Active {
            return dropped("the log stream is paused");
        }
        let Some(entry) = self.store.get_log(log_id).await? else {
            return dropped("the log entry no longer exists");
        };
        let Some(secret) = self
            .tenant_keys
            .open_secret(&signing_label(stream_id), &stream.sealed_signing_secret)
        else {
            return Ok(Attempt::Failed(MailError::Permanent(
                "the stream's signing secret cannot be opened".into(),
            )));
        };
        let body = stream.sink.content_format.frame(&entry);
        let mut headers = stream.sink.custom_headers.clone();
        if let Some(sealed) = &stream.sink.sealed_authorization {
            let Some(auth) = self
                .tenant_keys
                .open_secret(&authorization_label(stream_id), sealed)
            else {
                return Ok(Attempt::Failed(MailError::Permanent(
                    "the stream's authorization cannot be opened".into(),
                )));
            };
            headers.push(("Authorization".into(), auth.expose_secret().to_owned()));
        }
        let t = Timestamp::now().seconds();
        headers.push((
            "Latchkey-Signature".into(),
            log_stream_signature(secret.expose_secret(), t, &body),
        ));
        let url = &stream.sink.endpoint;
        Ok(
            match self
                .form_poster
                .post(
                    url,
                    &stream.sink.content_type,
                    &headers,
                    body,
                    self.config.log_streams_timeout,
                )
                .await
            {
                Ok(200..=299) => Attempt::Sent { log: None },
                Ok(status @ (408 | 429 | 500..)) => {
                    Attempt::Failed(MailError::Transient(format!("{url} answered {status}")))
                }
                Ok(status) => {
                    Attempt::Failed(MailError::Permanent(format!("{url} answered {status}")))
                }
                Err(e) => Attempt::Failed(MailError::Transient(format!("{url}: {e}"))),
            },
        )
    }
}

/// Auth0's custom-webhook log streams: their configuration and signed delivery.
pub struct LogStreams {
    pub(in crate::services) audit: crate::audit::AuditLog,
    pub(in crate::services) config: Arc<CoreConfig>,
    pub(in crate::services) form_poster: Arc<dyn crate::backchannel::FormPoster>,
    pub(in crate::services) router: Arc<crate::services::log_streams::StreamRouter>,
    pub(in crate::services) store: Arc<dyn Store>,
    pub(in crate::services) tenant_keys: Arc<crate::tenant_keys::TenantKeys>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert!(check_endpoint("https://example.com/hook", false).is_ok());
        assert!(check_endpoint("http://127.0.0.1:9/x", true).is_ok());
        assert!(check_endpoint("http://localhost/x", true).is_ok());
        assert!(check_endpoint("http://[::1]:8080/x", true).is_ok());
        assert!(check_endpoint("http://127.0.0.1:22/", false).is_err());
        assert!(check_endpoint("https://localhost/x", false).is_err());
        assert!(check_endpoint("http://[::1]:8080/x", false).is_err());
        assert!(check_endpoint("http://example.com/x", true).is_err());
        assert!(check_endpoint("ftp://example.com/x", true).is_err());
        assert!(check_endpoint("https://u:p@example.com/x", true).is_err());
    }

    #[test]
    fn categories() {
        use crate::domain::category_of;
        assert_eq!(category_of("fp"), "auth.login.fail");
        assert_eq!(category_of("fu"), "auth.login.fail");
        assert_eq!(category_of("f"), "auth.login.fail");
        assert_eq!(category_of("scp"), "user.success");
        assert_eq!(category_of("fcpr"), "user.fail");
        assert_eq!(category_of("limit_wc"), "system.notification");
        assert_eq!(category_of("s"), "auth.login.success");
    }
}
