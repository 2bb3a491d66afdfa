//! Migration: bringing users in from another system in bulk (`import.rs`: the
//! `/api/v2/jobs/users-imports` job, its file checked on upload, run from the outbox in
//! batches, each user written whole or reported; `user_file.rs`: Auth0's bulk-import user
//! schema read into a `User`). Sits under the job runner, above the tenant configuration.

pub(super) mod import;
mod user_file;

use crate::store::Store;
use std::sync::Arc;

pub use import::{BATCH as IMPORT_BATCH, NewImport, StreamedImport};

/// Bulk user imports: the upload (a durable job) and its run from the outbox.
pub struct Migration {
    pub(in crate::services) job_intake: crate::services::jobs::JobIntake,
    pub(in crate::services) store: Arc<dyn Store>,
    pub(in crate::services) tenant: Arc<crate::services::TenantConfig>,
}
