//! Migration: bringing users in from another system in bulk and taking them out (`import.rs`:
//! the `/api/v2/jobs/users-imports` job, its file checked on upload, run from the outbox in
//! batches, each user written whole or reported; `user_file.rs`: Auth0's bulk-import user
//! schema read into a `User`; `export.rs`: the `/api/v2/jobs/users-exports` job, users read
//! in pages into gzip pieces stored in the database, served by a short-lived signed link;
//! `export_fields.rs`: Auth0's export field names, read once and applied to a user;
//! `secrets_export.rs`: the CLI's export in the bulk-import format, with password hashes and
//! TOTP keys). Sits under the job runner, above the tenant configuration.

mod export;
mod export_fields;
pub(super) mod import;
mod secrets_export;
mod user_file;

use crate::store::Store;
use std::sync::Arc;

pub use export::{ExportDownload, ExportView, NewExport};
pub use import::{BATCH as IMPORT_BATCH, BatchReader, NewImport, PreparedBatch, StreamedImport};
pub use secrets_export::BulkUser;

/// Bulk user imports and exports: the uploads and requests (durable jobs) and their runs from
/// the outbox.
pub struct Migration {
    pub(in crate::services) config: Arc<crate::config::CoreConfig>,
    pub(in crate::services) job_intake: crate::services::jobs::JobIntake,
    pub(in crate::services) store: Arc<dyn Store>,
    pub(in crate::services) tenant_keys: Arc<crate::tenant_keys::TenantKeys>,
    pub(in crate::services) tenant: Arc<crate::services::TenantConfig>,
}
