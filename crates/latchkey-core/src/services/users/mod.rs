//! Users: reading the directory (`directory.rs`, `logs.rs`), which every flow below the
//! Management API needs, apart from creating, changing and deleting users (`lifecycle.rs`),
//! which needs the credentials flow (a password given in a `PATCH` is a password change).

pub(super) mod directory;
pub(super) mod lifecycle;
pub(super) mod logs;

use crate::store::Store;
use std::sync::Arc;

/// Reads users and their log entries; depends on nothing but the store.
pub struct UserDirectory {
    pub(in crate::services) store: Arc<dyn Store>,
}

/// Creates, updates and deletes users.
pub struct Users {
    pub(in crate::services) hasher: crate::password::PasswordHasher,
    pub(in crate::services) store: Arc<dyn Store>,
    pub(in crate::services) credentials: Arc<crate::services::Credentials>,
    pub(in crate::services) directory: Arc<crate::services::UserDirectory>,
    pub(in crate::services) tenant: Arc<crate::services::TenantConfig>,
}
