//! `POST /api/v2/jobs/users-imports` and the job behind it. The upload is checked (a JSON array
//! of users, a database connection) and stored with the outbox row that runs it, in one
//! transaction, so an accepted import survives a restart. The run reads the file in batches;
//! each batch's users, failures, counters and the job's position are written together, so a
//! run cut short resumes where the last batch ended and nothing is half-imported.
//!
//! The CLI's import streams instead (`StreamedImport`): the file is never stored, the caller
//! reads it element by element and hands over batches, written by the same per-batch code
//! (`write_batch`) into a job row that `GET /api/v2/jobs/{id}` shows like any other.

use super::Migration;
use super::user_file::read_user;
use crate::domain::Connection;
use crate::error::{ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::mail::OutboxJob;
use crate::services::Caller;
use crate::store::{
    ImportBatch, ImportFailure, ImportedUser, JobKind, JobRecord, JobStatus, QueuedMail,
};
use crate::time::Timestamp;
use serde_json::Value;

/// Users written per transaction: small enough to keep SQLite's single writer available to
/// logins between batches, large enough that the commit is not the cost.
pub const BATCH: usize = 500;

/// A streamed import under way (the CLI's): its job row and connection. The file stays with
/// the caller, which hands its users over in order, at most `BATCH` at a time.
#[derive(Debug)]
pub struct StreamedImport {
    job: JobRecord,
    connection: Connection,
}

impl StreamedImport {
    /// The job as the last batch left it.
    pub fn job(&self) -> &JobRecord {
        &self.job
    }

    /// What reads this import's users against the schema, for another thread.
    pub fn batch_reader(&self) -> BatchReader {
        BatchReader {
            connection: self.connection.clone(),
        }
    }
}

/// Reads users against Auth0's schema for a streamed import: the CPU side of a batch, which
/// the CLI runs on its file-reading thread so that it overlaps the previous batch's write.
#[derive(Debug, Clone)]
pub struct BatchReader {
    connection: Connection,
}

impl BatchReader {
    pub fn prepare(&self, values: &[Value]) -> PreparedBatch {
        prepare(&self.connection, values, Timestamp::now())
    }
}

/// A batch read and ready to be written: the users that came out whole, the refused ones
/// (their report, secrets redacted), and how many of the file's users it settles.
#[derive(Debug, Default)]
pub struct PreparedBatch {
    users: Vec<ImportedUser>,
    invalid: Vec<ImportFailure>,
    settled: u64,
}

impl PreparedBatch {
    /// The file's users this batch settles (written or refused).
    pub fn len(&self) -> u64 {
        self.settled
    }

    pub fn is_empty(&self) -> bool {
        self.settled == 0
    }
}

/// Each user read against Auth0's schema, with `connection`'s rules.
fn prepare(connection: &Connection, values: &[Value], now: Timestamp) -> PreparedBatch {
    let mut batch = PreparedBatch {
        users: Vec::with_capacity(values.len()),
        invalid: Vec::new(),
        settled: values.len() as u64,
    };
    for value in values {
        match read_user(value, connection, now) {
            Ok((user, authenticators)) => batch.users.push(ImportedUser {
                user,
                authenticators,
                original: report_copy(value),
            }),
            Err(errors) => batch.invalid.push(ImportFailure {
                user: report_copy(value),
                errors,
            }),
        }
    }
    batch
}

/// A bulk import as uploaded.
#[derive(Debug)]
pub struct NewImport {
    pub connection_id: String,
    /// The file: a JSON array of users.
    pub users: String,
    pub upsert: bool,
    pub external_id: Option<String>,
    pub send_completion_email: bool,
}

/// A user's object as the job's report keeps it: without its password hashes and second-factor
/// secrets. The report outlives the job (the file itself is dropped when the job ends) and is
/// answered by `GET /jobs/{id}/errors` and written to the CLI's errors file.
fn report_copy(value: &serde_json::Value) -> serde_json::Value {
    const SECRET_FIELDS: [&str; 3] = ["password_hash", "custom_password_hash", "mfa_factors"];
    let mut copy = value.clone();
    if let Some(object) = copy.as_object_mut() {
        for field in SECRET_FIELDS {
            if object.contains_key(field) {
                object.insert(
                    field.to_owned(),
                    serde_json::Value::String("[redacted]".into()),
                );
            }
        }
    }
    copy
}

fn job_not_found() -> ServiceError {
    ServiceError::not_found(ErrorCode::InexistentJob, "The job does not exist.")
}

impl Migration {
    /// Stores the import and queues its run; answers with the pending job.
    pub async fn start_import(&self, new: NewImport, caller: &Caller) -> ServiceResult<JobRecord> {
        let connection = self.tenant.get_connection(&new.connection_id).await?;
        if !connection.is_database() {
            return Err(ServiceError::bad_request(
                ErrorCode::OperationNotSupported,
                "Users can only be imported into database connections.",
            ));
        }
        let users: Vec<Value> = serde_json::from_str(&new.users).map_err(|e| {
            ServiceError::bad_request(
                ErrorCode::InvalidBody,
                format!("The users file must be a JSON array of users: {e}"),
            )
        })?;
        if users.is_empty() {
            return Err(ServiceError::bad_request(
                ErrorCode::InvalidBody,
                "The users file must contain at least one user.",
            ));
        }
        if let Some(external) = &new.external_id
            && external.chars().count() > 128
        {
            return Err(ServiceError::bad_request(
                ErrorCode::InvalidBody,
                "external_id must be at most 128 characters.",
            ));
        }
        let now = Timestamp::now();
        let job = JobRecord {
            id: format!("job_{}", crate::random::alnum(16)?),
            kind: JobKind::UsersImport,
            status: JobStatus::Pending,
            connection_id: connection.id.as_str().to_owned(),
            connection: connection.name.clone(),
            user_id: None,
            external_id: new.external_id,
            upsert: new.upsert,
            send_completion_email: new.send_completion_email,
            total: users.len() as u64,
            position: 0,
            inserted: 0,
            updated: 0,
            failed: 0,
            created_at: now,
            updated_at: now,
        };
        let run = QueuedMail {
            id: format!("mail_{}", crate::random::alnum(20)?),
            job: OutboxJob::UsersImport {
                job_id: job.id.clone(),
            },
            at: now,
        };
        self.store
            .insert_job(&job, Some(&new.users), Some(&run))
            .await?;
        self.job_intake.wake_worker();
        tracing::info!(job = %job.id, connection = %job.connection, users = job.total, client = ?caller.actor, "bulk import queued");
        Ok(job)
    }

    /// Starts a streamed import into the database connection `connection_name`: a job row
    /// (processing, no stored file, no outbox run), answered for the batches to come.
    pub async fn begin_streamed_import(
        &self,
        connection_name: &str,
        upsert: bool,
    ) -> ServiceResult<StreamedImport> {
        let connection = self.tenant.connection_named(connection_name).await?;
        if !connection.is_database() {
            return Err(ServiceError::bad_request(
                ErrorCode::OperationNotSupported,
                "Users can only be imported into database connections.",
            ));
        }
        let now = Timestamp::now();
        let job = JobRecord {
            id: format!("job_{}", crate::random::alnum(16)?),
            kind: JobKind::UsersImport,
            user_id: None,
            status: JobStatus::Processing,
            connection_id: connection.id.as_str().to_owned(),
            connection: connection.name.clone(),
            external_id: None,
            upsert,
            send_completion_email: false,
            total: 0,
            position: 0,
            inserted: 0,
            updated: 0,
            failed: 0,
            created_at: now,
            updated_at: now,
        };
        self.store.insert_job(&job, None, None).await?;
        tracing::info!(job = %job.id, connection = %job.connection, "streamed bulk import started");
        Ok(StreamedImport { job, connection })
    }

    /// Writes the next users of a streamed import (at most `BATCH`, in file order, read by its
    /// `batch_reader`) in one transaction. `total`: the file's user count as the caller knows
    /// it (an estimate while reading, exact with the last batch).
    pub async fn write_streamed_batch(
        &self,
        run: &mut StreamedImport,
        batch: PreparedBatch,
        total: Option<u64>,
    ) -> ServiceResult<()> {
        let job = self
            .write_batch(&run.job, run.job.position, batch, total)
            .await?
            // Nothing else runs a streamed job: a moved position means another writer.
            .ok_or_else(|| {
                ServiceError::Unexpected(anyhow::anyhow!(
                    "job {} was moved by another writer",
                    run.job.id
                ))
            })?;
        run.job = job;
        Ok(())
    }

    /// Ends a streamed import (`completed`, or `failed` when the file could not be read to
    /// its end: the users before the fault stay written and counted).
    pub async fn end_streamed_import(
        &self,
        run: StreamedImport,
        completed: bool,
    ) -> ServiceResult<JobRecord> {
        let status = if completed {
            JobStatus::Completed
        } else {
            JobStatus::Failed
        };
        self.end(&run.job, status).await?;
        self.get_job(&run.job.id).await
    }

    /// Up to `limit` of the users job `id` refused, from the `from`-th: the CLI's errors file
    /// is written page by page.
    pub async fn job_errors_page(
        &self,
        id: &str,
        from: u64,
        limit: u64,
    ) -> ServiceResult<Vec<ImportFailure>> {
        Ok(self.store.job_errors_page(id, from, limit).await?)
    }

    pub async fn get_job(&self, id: &str) -> ServiceResult<JobRecord> {
        self.store.get_job(id).await?.ok_or_else(job_not_found)
    }

    /// The users the job could not import (none until it has run).
    pub async fn job_errors(&self, id: &str) -> ServiceResult<(JobRecord, Vec<ImportFailure>)> {
        let job = self.get_job(id).await?;
        let errors = self.store.job_errors(id).await?;
        Ok((job, errors))
    }

    /// Runs (or resumes) import `job_id` from the outbox. An error leaves the job where its last
    /// batch put it, and the outbox retries.
    pub(in crate::services) async fn run_import(&self, job_id: &str) -> ServiceResult<()> {
        let Some(job) = self.store.get_job(job_id).await? else {
            return Ok(());
        };
        if matches!(job.status, JobStatus::Completed | JobStatus::Failed) {
            return Ok(());
        }
        let fail = |reason: &str| {
            tracing::warn!(job = %job_id, reason, "bulk import failed");
        };
        let Some(input) = self.store.job_input(job_id).await? else {
            fail("the uploaded file is gone");
            return self.end(&job, JobStatus::Failed).await;
        };
        let Ok(users) = serde_json::from_str::<Vec<Value>>(&input) else {
            fail("the uploaded file is not a JSON array");
            return self.end(&job, JobStatus::Failed).await;
        };
        drop(input);
        let connection = match self.tenant.get_connection(&job.connection_id).await {
            Ok(c) => c,
            Err(ServiceError::NotFound { .. }) => {
                fail("the connection was deleted");
                return self.end(&job, JobStatus::Failed).await;
            }
            Err(e) => return Err(e),
        };
        let mut position = usize::try_from(job.position).unwrap_or(usize::MAX);
        while position < users.len() {
            let end = (position + BATCH).min(users.len());
            let batch = prepare(&connection, &users[position..end], Timestamp::now());
            match self.write_batch(&job, position as u64, batch, None).await? {
                Some(after) => position = usize::try_from(after.position).unwrap_or(usize::MAX),
                // Another run of this job is ahead of this one: it finishes the job.
                None => return Ok(()),
            }
        }
        self.end(&job, JobStatus::Completed).await
    }

    /// The per-batch write both paths share: the batch in one transaction from position
    /// `from`. `None` when the job is not at `from` any more.
    async fn write_batch(
        &self,
        job: &JobRecord,
        from: u64,
        batch: PreparedBatch,
        total: Option<u64>,
    ) -> ServiceResult<Option<JobRecord>> {
        let batch = ImportBatch {
            users: batch.users,
            invalid: batch.invalid,
            settled: batch.settled,
            upsert: job.upsert,
            at: Timestamp::now(),
            total,
        };
        Ok(self.store.import_batch(&job.id, from, &batch).await?)
    }

    /// Ends the job once; a job that asked for `send_completion_email` queues its summary
    /// mail to the console administrators in the same transaction.
    async fn end(&self, job: &JobRecord, status: JobStatus) -> ServiceResult<()> {
        let now = Timestamp::now();
        let notice = if job.send_completion_email {
            Some(QueuedMail {
                id: format!("mail_{}", crate::random::alnum(20)?),
                job: OutboxJob::UsersImportCompletion {
                    job_id: job.id.clone(),
                },
                at: now,
            })
        } else {
            None
        };
        let ended = self
            .store
            .set_job_status(&job.id, status, now, notice.as_ref())
            .await?;
        if ended && notice.is_some() {
            self.job_intake.wake_worker();
        }
        Ok(())
    }
}
