//! Durable work behind the outbox table: what requests queue (`intake.rs`), the worker that
//! leases and settles rows (`worker.rs`), and the registry that hands each kind of job to its
//! handler (`registry.rs`). Mail to people is in `mail.rs`; machine deliveries (back-channel
//! logout, log streams) and post-change-password actions live with their flows.

mod intake;
mod mail;
mod registry;
mod settler;
mod worker;

pub(crate) use intake::JobIntake;

use crate::audit::LogEntry;
use crate::mail::MailError;

/// What one delivery attempt ended with.
pub(crate) enum Attempt {
    Sent {
        log: Option<LogEntry>,
    },
    Dropped {
        reason: String,
        log: Option<LogEntry>,
    },
    Failed(MailError),
}

use crate::config::CoreConfig;
use crate::store::Store;
use std::sync::Arc;

/// Runs the outbox's jobs: leases them and hands each to the flow that owns its kind (`registry.rs`). It sits above every flow it delivers for; nothing below calls it.
pub struct JobRunner {
    pub(in crate::services) audit: crate::audit::AuditLog,
    pub(in crate::services) config: Arc<CoreConfig>,
    pub(in crate::services) job_intake: crate::services::jobs::JobIntake,
    pub(in crate::services) store: Arc<dyn Store>,
    pub(in crate::services) stream_failures:
        std::sync::Mutex<std::collections::HashMap<String, (u32, crate::time::Timestamp)>>,
    pub(in crate::services) actions: Arc<crate::services::Actions>,
    pub(in crate::services) console: Arc<crate::services::Console>,
    pub(in crate::services) credentials: Arc<crate::services::Credentials>,
    pub(in crate::services) directory: Arc<crate::services::UserDirectory>,
    pub(in crate::services) log_streams: Arc<crate::services::LogStreams>,
    pub(in crate::services) login: Arc<crate::services::Login>,
    pub(in crate::services) mailer: Arc<crate::services::Mailer>,
    pub(in crate::services) migration: Arc<crate::services::Migration>,
    pub(in crate::services) sessions: Arc<crate::services::Sessions>,
    pub(in crate::services) tenant: Arc<crate::services::TenantConfig>,
}
