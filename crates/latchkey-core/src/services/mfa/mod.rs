//! Multi-factor authentication: TOTP authenticators, recovery codes, Guardian factors and
//! policies (`factors.rs`), and the `/mfa/*` Authentication API (`api.rs`).

pub(super) mod api;
pub(super) mod factors;

use crate::store::Store;
use std::sync::Arc;

/// Second factors.
pub struct Mfa {
    pub(in crate::services) audit: crate::audit::AuditLog,
    pub(in crate::services) cache: Arc<crate::services::tenant::ConfigCache>,
    pub(in crate::services) store: Arc<dyn Store>,
    pub(in crate::services) tenant_keys: Arc<crate::tenant_keys::TenantKeys>,
    pub(in crate::services) directory: Arc<crate::services::UserDirectory>,
    pub(in crate::services) tenant: Arc<crate::services::TenantConfig>,
}
