//! Credentials: `set_password` (the one way a password changes), the reset flow and
//! password-change tickets, and the triggers around a change (post-challenge gate,
//! post-change-password from the outbox), and breached-password detection at every stage
//! (`breach.rs`).

pub(super) mod action_triggers;
pub(super) mod breach;
pub(super) mod passwords;
pub(super) mod reset;
pub(super) mod verification;

use crate::config::CoreConfig;
use crate::store::Store;
use std::sync::Arc;

/// Password changes, resets and tickets.
pub struct Credentials {
    pub(in crate::services) audit: crate::audit::AuditLog,
    pub(in crate::services) breach_corpus: Arc<crate::password::breach::BreachCorpus>,
    pub(in crate::services) config: Arc<CoreConfig>,
    pub(in crate::services) hasher: crate::password::PasswordHasher,
    pub(in crate::services) job_intake: crate::services::jobs::JobIntake,
    pub(in crate::services) password_turns: crate::keyed_lock::KeyedLocks,
    pub(in crate::services) rate_limiter: Arc<dyn crate::ratelimit::RateLimiter>,
    pub(in crate::services) store: Arc<dyn Store>,
    pub(in crate::services) tenant_keys: Arc<crate::tenant_keys::TenantKeys>,
    /// Password tickets, written in batches (`group_commit.rs`).
    pub(in crate::services) tickets: crate::group_commit::GroupCommit<(
        crate::store::PasswordTicket,
        Option<crate::audit::LogEntry>,
    )>,
    pub(in crate::services) actions: Arc<crate::services::Actions>,
    pub(in crate::services) directory: Arc<crate::services::UserDirectory>,
    pub(in crate::services) log_streams: Arc<crate::services::LogStreams>,
    pub(in crate::services) mfa: Arc<crate::services::Mfa>,
    pub(in crate::services) sessions: Arc<crate::services::Sessions>,
    pub(in crate::services) tenant: Arc<crate::services::TenantConfig>,
}
