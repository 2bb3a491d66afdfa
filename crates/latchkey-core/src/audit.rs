//! The tenant log, with Auth0's event type codes. Entries for state changes are written in the
//! same transaction as the change (they travel inside the store call); high-volume entries
//! (logins, token exchanges) go through `AuditLog`, which batches them off the request path.

use crate::store::{QueuedMail, Store, StoreError};
use crate::time::Timestamp;
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Auth0 log type codes used here.
pub mod codes {
    pub const SUCCESS_LOGIN: &str = "s";
    pub const FAILED_LOGIN: &str = "f";
    pub const FAILED_LOGIN_WRONG_PASSWORD: &str = "fp";
    pub const FAILED_LOGIN_INVALID_USER: &str = "fu";
    pub const SUCCESS_SIGNUP: &str = "ss";
    pub const SUCCESS_CHANGE_PASSWORD: &str = "scp";
    pub const FAILED_CHANGE_PASSWORD: &str = "fcp";
    pub const SUCCESS_CHANGE_PASSWORD_REQUEST: &str = "scpr";
    pub const FAILED_CHANGE_PASSWORD_REQUEST: &str = "fcpr";
    /// An email verification link was followed and the address verified.
    pub const SUCCESS_VERIFICATION_EMAIL: &str = "sv";
    /// An email verification link could not be used (used, expired, address changed).
    pub const FAILED_VERIFICATION_EMAIL: &str = "fv";
    /// A verification mail was sent.
    pub const SUCCESS_VERIFICATION_EMAIL_REQUEST: &str = "svr";
    /// A verification mail could not be sent.
    pub const FAILED_VERIFICATION_EMAIL_REQUEST: &str = "fvr";
    pub const FAILED_MFA: &str = "gd_auth_failed";
    pub const BLOCKED_BY_ATTEMPTS: &str = "limit_wc";
    /// Suspicious IP throttling refused an address (Auth0's "blocked IP address").
    pub const BLOCKED_IP: &str = "limit_mu";
    /// A brute-force block released (Auth0's "user login block released").
    pub const USER_BLOCK_RELEASED: &str = "ublkdu";
    pub const MFA_ENROLLED: &str = "gd_enrollment_complete";
    pub const SUCCESS_API_OPERATION: &str = "sapi";
    pub const SUCCESS_EXCHANGE_CLIENT_CREDENTIALS: &str = "seccft";
    pub const SUCCESS_EXCHANGE_REFRESH_TOKEN: &str = "sertft";
    pub const SUCCESS_EXCHANGE_AUTHORIZATION_CODE: &str = "seacft";
    pub const SUCCESS_LOGOUT: &str = "slo";
}

/// Where a request came from, for the log. Filled by the HTTP layer; services never parse it.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// One tenant log entry. It never holds a password, a token or a reset link: the fields are
/// identifiers and descriptions, and `details` is written only by code in this crate.
#[derive(Debug, Clone)]
pub struct LogEntry {
    pub log_id: String,
    pub date: Timestamp,
    pub type_code: String,
    pub description: Option<String>,
    pub client_id: Option<String>,
    pub client_name: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub user_id: Option<String>,
    pub user_name: Option<String>,
    pub connection: Option<String>,
    pub details: Map<String, Value>,
}

impl LogEntry {
    pub fn new(type_code: &str, meta: &RequestMeta) -> Self {
        // Every entry starts here, whichever way it is written (the batched writer, or in the
        // same transaction as a password change): one place to count them for `/metrics`.
        crate::metrics::METRICS.log_event(type_code);
        let date = Timestamp::now();
        // Sortable by time, unique by the random suffix.
        let suffix = crate::random::hex(12).unwrap_or_else(|_| "000000000000".into());
        Self {
            log_id: format!("9002{:016}{suffix}", date.millis()),
            date,
            type_code: type_code.to_owned(),
            description: None,
            client_id: None,
            client_name: None,
            ip: meta.ip.clone(),
            user_agent: meta.user_agent.clone(),
            user_id: None,
            user_name: None,
            connection: None,
            details: Map::new(),
        }
    }
    pub fn description(mut self, d: impl Into<String>) -> Self {
        self.description = Some(d.into());
        self
    }
    pub fn client(mut self, id: &str, name: &str) -> Self {
        self.client_id = Some(id.to_owned());
        self.client_name = Some(name.to_owned());
        self
    }
    pub fn user(mut self, id: &str, name: &str) -> Self {
        self.user_id = Some(id.to_owned());
        self.user_name = Some(name.to_owned());
        self
    }
    pub fn connection(mut self, name: &str) -> Self {
        self.connection = Some(name.to_owned());
        self
    }
    pub fn detail(mut self, key: &str, value: Value) -> Self {
        self.details.insert(key.to_owned(), value);
        self
    }

    /// The Management API representation (`GET /api/v2/logs`).
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "_id": self.log_id,
            "log_id": self.log_id,
            "date": self.date.to_iso(),
            "type": self.type_code,
            "isMobile": false,
        });
        if let Value::Object(m) = &mut v {
            let optional = [
                ("description", &self.description),
                ("client_id", &self.client_id),
                ("client_name", &self.client_name),
                ("ip", &self.ip),
                ("user_agent", &self.user_agent),
                ("user_id", &self.user_id),
                ("user_name", &self.user_name),
                ("connection", &self.connection),
            ];
            for (k, val) in optional {
                if let Some(s) = val {
                    m.insert(k.to_owned(), Value::String(s.clone()));
                }
            }
            if !self.details.is_empty() {
                m.insert("details".into(), Value::Object(self.details.clone()));
            }
        }
        v
    }
}

/// Who else hears of a batch of entries: the log streams' deliveries, written to the outbox in
/// the transaction that writes the entries.
#[async_trait::async_trait]
pub(crate) trait LogFanout: Send + Sync {
    async fn deliveries(&self, entries: &[LogEntry]) -> anyhow::Result<Vec<QueuedMail>>;
}

/// Batches log entries into the store. Entries are flushed within ~50 ms or at 256 entries.
///
/// No entry for something that happened is dropped: a batch the store cannot take (outage,
/// disk full, locked file) is kept and retried with backoff until it is written, while new
/// entries wait in the bounded queue. Actions that can happen without the store (tokens from
/// cached configuration) reserve their entry's place first (`reserve`) and are refused while
/// the queue is full; others wait for room rather than drop their entry.
#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<LogEntry>,
}

/// A place in the log queue, taken before the action it records.
pub struct AuditPermit(mpsc::OwnedPermit<LogEntry>);

impl AuditPermit {
    pub fn record(self, entry: LogEntry) {
        self.0.send(entry);
    }
}

/// Entries held in memory while the store is unreachable.
const QUEUE: usize = 8192;
const BATCH: usize = 256;

impl AuditLog {
    /// Queues `entry` if there is one: a caller's kind of action may not be logged (see
    /// `Caller::api_log`).
    pub(crate) fn record_some(&self, entry: Option<LogEntry>) {
        if let Some(e) = entry {
            self.record(e);
        }
    }

    pub(crate) fn start(
        store: Arc<dyn Store>,
        fanout: Arc<dyn LogFanout>,
        wake: Arc<tokio::sync::Notify>,
    ) -> Self {
        let (tx, mut rx) = mpsc::channel::<LogEntry>(QUEUE);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while let Some(first) = rx.recv().await {
                batch.push(first);
                let deadline = tokio::time::sleep(Duration::from_millis(50));
                tokio::pin!(deadline);
                while batch.len() < BATCH {
                    tokio::select! {
                        next = rx.recv() => match next {
                            Some(e) => batch.push(e),
                            None => break,
                        },
                        () = &mut deadline => break,
                    }
                }
                write_batch(store.as_ref(), fanout.as_ref(), &wake, &batch).await;
                batch.clear();
            }
        });
        Self { tx }
    }

    /// Takes a place for one entry, or `None` while the queue is full (the store has been
    /// unreachable for a while): the caller refuses the action instead of losing its entry.
    pub fn reserve(&self) -> Option<AuditPermit> {
        self.tx.clone().try_reserve_owned().ok().map(AuditPermit)
    }

    /// Queues an entry. When the queue is full the entry waits for room on its own task: it is
    /// never dropped.
    pub fn record(&self, entry: LogEntry) {
        match self.tx.try_send(entry) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(entry)) => {
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    if tx.send(entry).await.is_err() {
                        tracing::error!("tenant log writer stopped; entry not written");
                    }
                });
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::error!("tenant log writer stopped; entry not written");
            }
        }
    }
}

/// Writes `batch` (and its log-stream deliveries) in one transaction, retrying until it is
/// written. A batch refused for another reason than an outage is retried a few times, then
/// written entry by entry so one bad entry cannot hold the others back.
async fn write_batch(
    store: &dyn Store,
    fanout: &dyn LogFanout,
    wake: &tokio::sync::Notify,
    batch: &[LogEntry],
) {
    let mut backoff = Duration::from_millis(100);
    let mut failures = 0u32;
    let mut reported = false;
    loop {
        let outbox = match fanout.deliveries(batch).await {
            Ok(o) => o,
            Err(e) if is_outage(&e) => {
                if !reported {
                    tracing::warn!(error = %e, held = batch.len(), "store unreachable; tenant log entries held until it is back");
                    reported = true;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
            Err(e) => {
                tracing::error!(error = %e, "could not read the log streams; this batch is not streamed");
                Vec::new()
            }
        };
        match store.append_logs_queuing(batch, &outbox).await {
            Ok(()) => {
                if !outbox.is_empty() {
                    wake.notify_one();
                }
                if reported {
                    tracing::info!(
                        written = batch.len(),
                        "store reachable again; held tenant log entries written"
                    );
                }
                return;
            }
            // A retry after a commit whose answer was lost: the entries are there.
            Err(StoreError::Conflict(_)) if failures + u32::from(reported) > 0 => return,
            Err(StoreError::Unavailable(e)) => {
                if !reported {
                    tracing::warn!(error = %e, held = batch.len(), "store unreachable; tenant log entries held until it is back");
                    reported = true;
                }
            }
            Err(e) => {
                failures += 1;
                if failures >= 3 {
                    write_one_by_one(store, batch).await;
                    return;
                }
                tracing::warn!(error = %e, "could not write tenant log entries; retrying");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

async fn write_one_by_one(store: &dyn Store, batch: &[LogEntry]) {
    for entry in batch {
        let mut backoff = Duration::from_millis(100);
        loop {
            match store
                .append_logs_queuing(std::slice::from_ref(entry), &[])
                .await
            {
                Ok(()) | Err(StoreError::Conflict(_)) => break,
                Err(StoreError::Unavailable(_)) => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
                Err(e) => {
                    tracing::error!(error = %e, log_id = %entry.log_id, type_code = %entry.type_code, "the store refuses this tenant log entry");
                    break;
                }
            }
        }
    }
}

fn is_outage(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<StoreError>(),
            Some(StoreError::Unavailable(_))
        )
    })
}
