//! Durable work behind the outbox table: what requests queue (`intake.rs`), the worker that
//! leases and settles rows (`worker.rs`), and the registry that hands each kind of job to its
//! handler (`registry.rs`). Mail to people is in `mail.rs`; machine deliveries (back-channel
//! logout, log streams) and post-change-password actions live with their flows.

mod intake;
mod mail;
mod registry;
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
