//! Actions: drafts, deployed versions, bindings and secrets (`definitions.rs`), running a
//! trigger's bound actions and serving their Management API calls (`runs.rs`), and
//! custom-database scripts (`custom_db.rs`).

pub(super) mod custom_db;
pub(super) mod definitions;
pub(super) mod runs;

use crate::config::CoreConfig;
use crate::store::Store;
use std::sync::Arc;

/// The Actions runtime and what it runs. Depends on no other flow.
pub struct Actions {
    pub(in crate::services) action_runtime: Arc<dyn crate::actions::ActionRuntime>,
    pub(in crate::services) audit: crate::audit::AuditLog,
    pub(in crate::services) cache: Arc<crate::services::tenant::ConfigCache>,
    pub(in crate::services) config: Arc<CoreConfig>,
    pub(in crate::services) hasher: crate::password::PasswordHasher,
    pub(in crate::services) management_gateway:
        std::sync::OnceLock<Arc<dyn crate::services::ManagementGateway>>,
    pub(in crate::services) store: Arc<dyn Store>,
    pub(in crate::services) tenant_keys: Arc<crate::tenant_keys::TenantKeys>,
}
