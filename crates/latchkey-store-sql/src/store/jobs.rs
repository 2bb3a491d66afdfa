use super::users::{INSERT_USER, bind_user};
use super::{SqlStore, execute, fetch_all, fetch_opt, flag, other, to_json};
use async_trait::async_trait;
use latchkey_core::domain::ImportError;
use latchkey_core::store::{
    ImportBatch, ImportFailure, ImportedUser, JobKind, JobRecord, JobStatus, JobStore, QueuedMail,
    StoreResult,
};
use latchkey_core::time::Timestamp;
use serde_json::{Value, json};
use sqlx::Row;
use sqlx::any::AnyRow;

const JOB_COLUMNS: &str = "id, type, status, connection_id, connection, user_id, external_id, upsert, \
     send_completion_email, total, position, inserted, updated, failed, created_at, updated_at";

fn count(row: &AnyRow, column: &str) -> anyhow::Result<u64> {
    Ok(u64::try_from(row.try_get::<i64, _>(column)?).unwrap_or(0))
}

fn job(row: &AnyRow) -> anyhow::Result<JobRecord> {
    let kind: String = row.try_get("type")?;
    let status: String = row.try_get("status")?;
    Ok(JobRecord {
        id: row.try_get("id")?,
        kind: JobKind::parse(&kind).ok_or_else(|| anyhow::anyhow!("unknown job type {kind}"))?,
        status: JobStatus::parse(&status)
            .ok_or_else(|| anyhow::anyhow!("unknown job status {status}"))?,
        connection_id: row.try_get("connection_id")?,
        connection: row.try_get("connection")?,
        user_id: row
            .try_get::<Option<String>, _>("user_id")?
            .map(latchkey_core::domain::UserId::from_trusted),
        external_id: row.try_get("external_id")?,
        upsert: row.try_get::<i64, _>("upsert")? != 0,
        send_completion_email: row.try_get::<i64, _>("send_completion_email")? != 0,
        total: count(row, "total")?,
        position: count(row, "position")?,
        inserted: count(row, "inserted")?,
        updated: count(row, "updated")?,
        failed: count(row, "failed")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
    })
}

fn failure(row: &AnyRow) -> anyhow::Result<ImportFailure> {
    let body: Value = serde_json::from_str(&row.try_get::<String, _>("body")?)?;
    Ok(ImportFailure {
        user: body.get("user").cloned().unwrap_or(Value::Null),
        errors: serde_json::from_value(body.get("errors").cloned().unwrap_or(Value::Null))?,
    })
}

fn big(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl JobStore for SqlStore {
    async fn insert_job(&self, job: &JobRecord, input: &str, run: &QueuedMail) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(other)?;
        let q = sqlx::query(
            "INSERT INTO jobs (id, type, status, connection_id, connection, external_id, upsert, \
             send_completion_email, input, total, position, inserted, updated, failed, created_at, updated_at, user_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, 0, 0, 0, $11, $11, $12)",
        )
        .bind(job.id.clone())
        .bind(job.kind.as_str())
        .bind(job.status.as_str())
        .bind(job.connection_id.clone())
        .bind(job.connection.clone())
        .bind(job.external_id.clone())
        .bind(flag(job.upsert))
        .bind(flag(job.send_completion_email))
        .bind(input.to_owned())
        .bind(big(job.total))
        .bind(job.created_at.millis())
        .bind(job.user_id.as_ref().map(|u| u.as_str().to_owned()));
        execute(q, &mut *tx).await?;
        super::outbox::insert_mail(&mut *tx, std::slice::from_ref(run)).await?;
        tx.commit().await.map_err(other)
    }

    async fn get_job(&self, id: &str) -> StoreResult<Option<JobRecord>> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
        fetch_opt(
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_owned()),
            &self.reader,
            job,
        )
        .await
    }

    async fn job_input(&self, id: &str) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT input FROM jobs WHERE id = $1")
            .bind(id.to_owned())
            .fetch_optional(&self.reader)
            .await
            .map_err(other)?;
        Ok(row.and_then(|r| r.try_get::<Option<String>, _>("input").ok().flatten()))
    }

    async fn job_errors(&self, id: &str) -> StoreResult<Vec<ImportFailure>> {
        fetch_all(
            sqlx::query("SELECT body FROM job_errors WHERE job_id = $1 ORDER BY seq")
                .bind(id.to_owned()),
            &self.reader,
            failure,
        )
        .await
    }

    async fn import_batch(
        &self,
        job_id: &str,
        from: u64,
        batch: &ImportBatch,
    ) -> StoreResult<Option<JobRecord>> {
        let mut tx = self.writer.begin().await.map_err(other)?;
        // Claims the batch first: a second run of the job (a lease that ran out) finds the
        // position moved and writes nothing.
        let claimed = execute(
            sqlx::query(
                "UPDATE jobs SET position = $1, status = 'processing', updated_at = $2 \
                 WHERE id = $3 AND position = $4",
            )
            .bind(big(from.saturating_add(batch.settled)))
            .bind(batch.at.millis())
            .bind(job_id.to_owned())
            .bind(big(from)),
            &mut *tx,
        )
        .await?;
        if claimed == 0 {
            return Ok(None);
        }
        let (mut inserted, mut updated) = (0u64, 0u64);
        let mut failures: Vec<&ImportFailure> = batch.invalid.iter().collect();
        let mut duplicates = Vec::new();
        for ImportedUser {
            user,
            authenticators,
            original,
        } in &batch.users
        {
            if batch.upsert
                && let Some(email) = &user.email
            {
                // Auth0's upsert finds the user by address and rewrites what the file gives;
                // the id, username and credential epoch stay.
                let n = execute(
                    sqlx::query(
                        "UPDATE users SET email_verified = $1, blocked = $2, profile = $3, \
                         user_metadata = $4, app_metadata = $5, updated_at = $6, \
                         password_hash = COALESCE($7, password_hash) \
                         WHERE connection = $8 AND email = $9",
                    )
                    .bind(flag(user.email_verified))
                    .bind(flag(user.blocked))
                    .bind(to_json(&user.profile))
                    .bind(to_json(&user.user_metadata))
                    .bind(to_json(&user.app_metadata))
                    .bind(batch.at.millis())
                    .bind(user.password_hash.as_ref().map(|h| h.as_str().to_owned()))
                    .bind(user.connection.clone())
                    .bind(email.as_str().to_owned()),
                    &mut *tx,
                )
                .await?;
                if n > 0 {
                    updated += 1;
                    continue;
                }
            }
            // DO NOTHING, not an error: a failed statement would end a PostgreSQL transaction.
            let sql = format!("{INSERT_USER} ON CONFLICT DO NOTHING");
            let n = execute(
                bind_user(sqlx::query(sqlx::AssertSqlSafe(sql)), user),
                &mut *tx,
            )
            .await?;
            if n > 0 {
                for a in authenticators {
                    execute(super::authenticators::insert_row(a), &mut *tx).await?;
                }
                inserted += 1;
            } else {
                duplicates.push(ImportFailure {
                    user: original.clone(),
                    errors: vec![ImportError::duplicated_user(batch.upsert)],
                });
            }
        }
        failures.extend(duplicates.iter());
        let before = sqlx::query("SELECT failed FROM jobs WHERE id = $1")
            .bind(job_id.to_owned())
            .fetch_one(&mut *tx)
            .await
            .map_err(other)?;
        let first: i64 = before.try_get("failed").map_err(other)?;
        for (seq, f) in (first..).zip(&failures) {
            let body = json!({"user": f.user, "errors": f.errors});
            execute(
                sqlx::query("INSERT INTO job_errors (job_id, seq, body) VALUES ($1, $2, $3)")
                    .bind(job_id.to_owned())
                    .bind(seq)
                    .bind(body.to_string()),
                &mut *tx,
            )
            .await?;
        }
        execute(
            sqlx::query(
                "UPDATE jobs SET inserted = inserted + $1, updated = updated + $2, \
                 failed = failed + $3 WHERE id = $4",
            )
            .bind(big(inserted))
            .bind(big(updated))
            .bind(big(failures.len() as u64))
            .bind(job_id.to_owned()),
            &mut *tx,
        )
        .await?;
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
        let after = fetch_opt(
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(job_id.to_owned()),
            &mut *tx,
            job,
        )
        .await?;
        tx.commit().await.map_err(other)?;
        Ok(after)
    }

    async fn set_job_status(&self, id: &str, status: JobStatus, at: Timestamp) -> StoreResult<()> {
        let ended = matches!(status, JobStatus::Completed | JobStatus::Failed);
        let sql = if ended {
            "UPDATE jobs SET status = $1, updated_at = $2, input = NULL WHERE id = $3"
        } else {
            "UPDATE jobs SET status = $1, updated_at = $2 WHERE id = $3"
        };
        execute(
            sqlx::query(sql)
                .bind(status.as_str())
                .bind(at.millis())
                .bind(id.to_owned()),
            &self.writer,
        )
        .await
        .map(drop)
    }
}
