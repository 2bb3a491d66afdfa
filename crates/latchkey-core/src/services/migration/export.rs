//! `POST /api/v2/jobs/users-exports` and the job behind it. The request is checked (format,
//! limit, fields, connection) and stored with the outbox row that runs it, in one
//! transaction. The run reads users in pages in id order; each page becomes one complete gzip
//! member (concatenated members are one valid gzip file) stored in the database with the
//! job's cursor and counters, so any node can serve the file and a run cut short resumes
//! after the last stored page. When done the job's `location` is a link signed with the
//! tenant keys, valid for a minute as Auth0's; the file itself is deleted a day later.

use super::Migration;
use super::export_fields::{FieldPath, csv_header, default_fields, line, read_fields};
use crate::error::{ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::mail::OutboxJob;
use crate::services::Caller;
use crate::store::{
    ExportChunk, ExportField, ExportFormat, ExportRecord, JobKind, JobRecord, JobStatus, QueuedMail,
};
use crate::time::Timestamp;
use std::io::Write as _;

/// Users per page (one transaction and one gzip member each).
const PAGE: u64 = 1000;
/// How long a `location` link works (Auth0: 60 seconds; ask the job again for a new one).
const LINK_SECONDS: i64 = 60;
/// How long the file is kept after the export ends (Auth0: 24 hours).
const KEEP_SECONDS: i64 = 24 * 3600;

/// An export as requested, its values already typed by the caller.
#[derive(Debug, Clone)]
pub struct NewExport {
    /// `None`: every user of the tenant.
    pub connection_id: Option<String>,
    pub format: ExportFormat,
    pub limit: Option<u64>,
    /// `None`: the default fields.
    pub fields: Option<Vec<ExportField>>,
}

/// What an export job adds to the job's answer.
#[derive(Debug, Clone)]
pub struct ExportView {
    pub format: ExportFormat,
    pub limit: Option<u64>,
    pub fields: Vec<ExportField>,
    /// The signed download link, once the file is ready and until it is deleted.
    pub location: Option<String>,
}

/// A download the link allows: the file's name and how many stored pieces make it.
#[derive(Debug, Clone)]
pub struct ExportDownload {
    pub job_id: String,
    pub filename: String,
    pub pieces: u64,
}

fn job_not_found() -> ServiceError {
    ServiceError::not_found(ErrorCode::InexistentJob, "The job does not exist.")
}

fn link_purpose(job_id: &str) -> String {
    format!("user-export\0{job_id}")
}

fn gzip(text: &str) -> ServiceResult<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder
        .write_all(text.as_bytes())
        .and_then(|()| encoder.finish())
        .map_err(|e| ServiceError::Unexpected(anyhow::anyhow!("gzip: {e}")))
}

impl Migration {
    /// Checks the request, stores the export and queues its run; answers with the pending job.
    pub async fn start_export(
        &self,
        new: NewExport,
        caller: &Caller,
    ) -> ServiceResult<(JobRecord, ExportView)> {
        if new.limit == Some(0) {
            return Err(ServiceError::bad_request(
                ErrorCode::InvalidBody,
                "limit must be at least 1.",
            ));
        }
        let fields = new.fields.unwrap_or_else(|| default_fields(new.format));
        read_fields(&fields, new.format)?;
        let (connection_id, connection) = match &new.connection_id {
            Some(id) => {
                let c = self.tenant.get_connection(id).await?;
                (c.id.as_str().to_owned(), c.name.clone())
            }
            None => (String::new(), String::new()),
        };
        let now = Timestamp::now();
        let job = JobRecord {
            id: format!("job_{}", crate::random::alnum(16)?),
            kind: JobKind::UsersExport,
            user_id: None,
            status: JobStatus::Pending,
            connection_id,
            connection,
            external_id: None,
            upsert: false,
            send_completion_email: false,
            total: 0,
            position: 0,
            inserted: 0,
            updated: 0,
            failed: 0,
            created_at: now,
            updated_at: now,
        };
        let export = ExportRecord {
            job_id: job.id.clone(),
            format: new.format,
            limit: new.limit,
            fields: fields.clone(),
            cursor: String::new(),
            chunks: 0,
            expires_at: None,
        };
        let run = QueuedMail {
            id: format!("mail_{}", crate::random::alnum(20)?),
            job: OutboxJob::UsersExport {
                job_id: job.id.clone(),
            },
            at: now,
        };
        self.store.insert_export(&job, &export, &run).await?;
        self.job_intake.wake_worker();
        tracing::info!(job = %job.id, format = new.format.as_str(), client = ?caller.actor, "user export queued");
        let view = ExportView {
            format: new.format,
            limit: new.limit,
            fields,
            location: None,
        };
        Ok((job, view))
    }

    /// The CLI's export: the same job, run here and now. Answers with the ended job.
    pub async fn export_now(
        &self,
        connection_name: Option<&str>,
        format: ExportFormat,
        fields: Option<Vec<ExportField>>,
    ) -> ServiceResult<JobRecord> {
        let connection_id = match connection_name {
            Some(name) => Some(
                self.tenant
                    .connection_named(name)
                    .await?
                    .id
                    .as_str()
                    .to_owned(),
            ),
            None => None,
        };
        let (job, _) = self
            .start_export(
                NewExport {
                    connection_id,
                    format,
                    limit: None,
                    fields,
                },
                &Caller::system(),
            )
            .await?;
        self.run_export(&job.id).await?;
        self.get_job(&job.id).await
    }

    /// The export's part of `GET /jobs/{id}`: its settings and, when the file is ready, a
    /// freshly signed link.
    pub async fn export_view(&self, job: &JobRecord) -> ServiceResult<Option<ExportView>> {
        let Some(export) = self.store.get_export(&job.id).await? else {
            return Ok(None);
        };
        let now = Timestamp::now();
        let location = match export.expires_at {
            Some(expires) if job.status == JobStatus::Completed && expires > now => {
                let until = now
                    .plus_seconds(LINK_SECONDS)
                    .seconds()
                    .min(expires.seconds());
                let sig = self.tenant_keys.proof(&link_purpose(&job.id), until);
                Some(format!(
                    "{}exports/{}?sig={sig}",
                    self.config.issuer, job.id
                ))
            }
            _ => None,
        };
        Ok(Some(ExportView {
            format: export.format,
            limit: export.limit,
            fields: export.fields,
            location,
        }))
    }

    /// Checks a download link: its signature and expiry, then that the file is still kept.
    pub async fn open_export_download(
        &self,
        job_id: &str,
        sig: &str,
    ) -> ServiceResult<ExportDownload> {
        let now = Timestamp::now();
        if !self
            .tenant_keys
            .proof_valid(&link_purpose(job_id), sig, now.seconds())
        {
            return Err(ServiceError::AccessDenied(
                "The download link is invalid or has expired; ask the job for a new one.".into(),
            ));
        }
        let export = self
            .store
            .get_export(job_id)
            .await?
            .ok_or_else(job_not_found)?;
        if export.expires_at.is_none_or(|e| e <= now) {
            return Err(job_not_found());
        }
        let extension = match export.format {
            ExportFormat::Json => "json",
            ExportFormat::Csv => "csv",
        };
        Ok(ExportDownload {
            job_id: job_id.to_owned(),
            filename: format!("{job_id}.{extension}.gz"),
            pieces: export.chunks,
        })
    }

    /// Piece `seq` of an export's file (a complete gzip member), or `None` past the end.
    pub async fn export_piece(&self, job_id: &str, seq: u64) -> ServiceResult<Option<Vec<u8>>> {
        Ok(self.store.export_chunk(job_id, seq).await?)
    }

    /// Runs (or resumes) export `job_id` from the outbox. An error leaves the job where its
    /// last page put it, and the outbox retries.
    pub(in crate::services) async fn run_export(&self, job_id: &str) -> ServiceResult<()> {
        let Some(job) = self.store.get_job(job_id).await? else {
            return Ok(());
        };
        if matches!(job.status, JobStatus::Completed | JobStatus::Failed) {
            return Ok(());
        }
        let Some(export) = self.store.get_export(job_id).await? else {
            tracing::warn!(job = %job_id, "user export failed: its record is gone");
            self.store
                .set_job_status(job_id, JobStatus::Failed, Timestamp::now(), None)
                .await?;
            return Ok(());
        };
        let paths: Vec<FieldPath> = match read_fields(&export.fields, export.format) {
            Ok(p) => p,
            Err(_) => {
                self.store
                    .set_job_status(job_id, JobStatus::Failed, Timestamp::now(), None)
                    .await?;
                return Ok(());
            }
        };
        let connection = (!job.connection.is_empty()).then_some(job.connection.as_str());
        let (mut cursor, mut seq, mut written) = (export.cursor, export.chunks, job.position);
        loop {
            let want = match export.limit {
                Some(l) => l.saturating_sub(written).min(PAGE),
                None => PAGE,
            };
            let users = if want == 0 {
                Vec::new()
            } else {
                self.store
                    .users_after(connection, &cursor, u32::try_from(want).unwrap_or(1000))
                    .await?
            };
            // An empty export still gets one piece: the CSV's header, or an empty file.
            if users.is_empty() && seq > 0 {
                break;
            }
            let mut text = String::new();
            if seq == 0 && export.format == ExportFormat::Csv {
                text.push_str(&csv_header(&paths));
            }
            for u in &users {
                text.push_str(&line(&u.to_auth0_json(), &paths, export.format));
            }
            let last = users
                .last()
                .map_or_else(|| cursor.clone(), |u| u.user_id.as_str().to_owned());
            let chunk = ExportChunk {
                data: gzip(&text)?,
                users: users.len() as u64,
                cursor: last.clone(),
                at: Timestamp::now(),
            };
            if !self.store.append_export_chunk(job_id, seq, &chunk).await? {
                // Another run of this export is ahead of this one: it finishes the job.
                return Ok(());
            }
            seq += 1;
            written += chunk.users;
            cursor = last;
            if (users.len() as u64) < want || want == 0 {
                break;
            }
        }
        let now = Timestamp::now();
        self.store
            .finish_export(job_id, now.plus_seconds(KEEP_SECONDS), now)
            .await?;
        tracing::info!(job = %job_id, users = written, "user export completed");
        Ok(())
    }
}
