//! The tenant log, with Auth0's event type codes. Entries for state changes are written in the
//! same transaction as the change (they travel inside the store call); high-volume entries
//! (logins, token exchanges) go through `AuditLog`, which batches them off the request path.

use crate::store::{QueuedMail, Store};
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
    pub const FAILED_MFA: &str = "gd_auth_failed";
    pub const BLOCKED_BY_ATTEMPTS: &str = "limit_wc";
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
#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<LogEntry>,
}

impl AuditLog {
    pub(crate) fn start(
        store: Arc<dyn Store>,
        fanout: Arc<dyn LogFanout>,
        wake: Arc<tokio::sync::Notify>,
    ) -> Self {
        let (tx, mut rx) = mpsc::channel::<LogEntry>(8192);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(256);
            while let Some(first) = rx.recv().await {
                batch.push(first);
                let deadline = tokio::time::sleep(Duration::from_millis(50));
                tokio::pin!(deadline);
                while batch.len() < 256 {
                    tokio::select! {
                        next = rx.recv() => match next {
                            Some(e) => batch.push(e),
                            None => break,
                        },
                        () = &mut deadline => break,
                    }
                }
                let outbox = match fanout.deliveries(&batch).await {
                    Ok(o) => o,
                    Err(e) => {
                        tracing::error!(error = %e, "could not read the log streams; this batch is not streamed");
                        Vec::new()
                    }
                };
                match store.append_logs_queuing(&batch, &outbox).await {
                    Ok(()) if !outbox.is_empty() => wake.notify_one(),
                    Ok(()) => {}
                    Err(e) => {
                        tracing::error!(error = %e, dropped = batch.len(), "could not write tenant log entries");
                    }
                }
                batch.clear();
            }
        });
        Self { tx }
    }

    /// Queues an entry. Under overload the entry is dropped with a warning rather than slowing
    /// the login that produced it.
    pub fn record(&self, entry: LogEntry) {
        if let Err(e) = self.tx.try_send(entry) {
            tracing::warn!(error = %e, "tenant log queue full; entry dropped");
        }
    }
}
