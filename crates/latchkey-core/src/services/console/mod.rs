//! The console's administrators: accounts, sign-in, sessions, TOTP and reset by mail.

pub(super) mod admins;

use crate::config::CoreConfig;
use crate::store::Store;
use std::sync::Arc;

/// Console administrators.
pub struct Console {
    pub(in crate::services) config: Arc<CoreConfig>,
    pub(in crate::services) hasher: crate::password::PasswordHasher,
    pub(in crate::services) job_intake: crate::services::jobs::JobIntake,
    pub(in crate::services) rate_limiter: Arc<dyn crate::ratelimit::RateLimiter>,
    pub(in crate::services) store: Arc<dyn Store>,
    pub(in crate::services) tenant_keys: Arc<crate::tenant_keys::TenantKeys>,
    pub(in crate::services) mailer: Arc<crate::services::Mailer>,
    pub(in crate::services) mfa: Arc<crate::services::Mfa>,
    pub(in crate::services) tenant: Arc<crate::services::TenantConfig>,
}
