use super::placeholders::{Placeholders, rows_per_statement};
use super::users::{INSERT_USER, INSERT_USERS_HEAD, INSERTED_USER_COLUMNS, bind_user};
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
    async fn insert_job(
        &self,
        job: &JobRecord,
        input: Option<&str>,
        run: Option<&QueuedMail>,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(other)?;
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
        .bind(input.map(str::to_owned))
        .bind(big(job.total))
        .bind(job.created_at.millis())
        .bind(job.user_id.as_ref().map(|u| u.as_str().to_owned()));
        execute(q, &mut *tx).await?;
        if let Some(run) = run {
            super::outbox::insert_mail(&mut tx, std::slice::from_ref(run)).await?;
        }
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

    async fn job_errors_page(
        &self,
        id: &str,
        from: u64,
        limit: u64,
    ) -> StoreResult<Vec<ImportFailure>> {
        fetch_all(
            sqlx::query(
                "SELECT body FROM job_errors WHERE job_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3",
            )
            .bind(id.to_owned())
            .bind(big(from))
            .bind(big(limit)),
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
        let mut tx = self.begin_write().await.map_err(other)?;
        // Claims the batch first: a second run of the job (a lease that ran out) finds the
        // position moved and writes nothing.
        let claim = match batch.total {
            Some(_) => {
                "UPDATE jobs SET position = $1, status = 'processing', updated_at = $2, total = $5 \
                 WHERE id = $3 AND position = $4 RETURNING failed"
            }
            None => {
                "UPDATE jobs SET position = $1, status = 'processing', updated_at = $2 \
                 WHERE id = $3 AND position = $4 RETURNING failed"
            }
        };
        let mut q = sqlx::query(claim)
            .bind(big(from.saturating_add(batch.settled)))
            .bind(batch.at.millis())
            .bind(job_id.to_owned())
            .bind(big(from));
        if let Some(total) = batch.total {
            q = q.bind(big(total));
        }
        let Some(claimed) = q.fetch_optional(&mut *tx).await.map_err(other)? else {
            return Ok(None);
        };
        let first_failure: i64 = claimed.try_get("failed").map_err(other)?;
        let (mut inserted, mut updated) = (0u64, 0u64);
        // With upsert, Auth0 finds the user by address and rewrites what the file gives; the
        // id, username and credential epoch stay. The others are inserted.
        let mut to_insert: Vec<&ImportedUser> = Vec::with_capacity(batch.users.len());
        for imported in &batch.users {
            let user = &imported.user;
            if batch.upsert
                && let Some(email) = &user.email
            {
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
            to_insert.push(imported);
        }
        let written = insert_users(&mut tx, &to_insert).await?;
        let mut failures: Vec<&ImportFailure> = batch.invalid.iter().collect();
        let mut duplicates = Vec::new();
        for (imported, was_written) in to_insert.iter().zip(&written) {
            if *was_written {
                for a in &imported.authenticators {
                    execute(super::authenticators::insert_row(a), &mut *tx).await?;
                }
                inserted += 1;
            } else {
                duplicates.push(ImportFailure {
                    user: imported.original.clone(),
                    errors: vec![ImportError::duplicated_user(batch.upsert)],
                });
            }
        }
        failures.extend(duplicates.iter());
        let bodies: Vec<String> = failures
            .iter()
            .map(|f| json!({"user": f.user, "errors": f.errors}).to_string())
            .collect();
        let numbered: Vec<(i64, String)> = (first_failure..).zip(bodies).collect();
        let (sqlite, postgres) = ERRORS_PER_STATEMENT;
        for chunk in numbered.chunks(rows_per_statement(&tx, sqlite, postgres)) {
            let mut sql = String::from("INSERT INTO job_errors (job_id, seq, body) VALUES ");
            Placeholders::for_connection(&tx).push_rows(&mut sql, chunk.len(), 3);
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (seq, body) in chunk {
                q = q.bind(job_id.to_owned()).bind(*seq).bind(body.clone());
            }
            execute(q, &mut *tx).await?;
        }
        let sql = format!(
            "UPDATE jobs SET inserted = inserted + $1, updated = updated + $2, \
             failed = failed + $3 WHERE id = $4 RETURNING {JOB_COLUMNS}"
        );
        let after = fetch_opt(
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(big(inserted))
                .bind(big(updated))
                .bind(big(failures.len() as u64))
                .bind(job_id.to_owned()),
            &mut *tx,
            job,
        )
        .await?;
        tx.commit().await.map_err(other)?;
        Ok(after)
    }

    async fn set_job_status(
        &self,
        id: &str,
        status: JobStatus,
        at: Timestamp,
        notice: Option<&QueuedMail>,
    ) -> StoreResult<bool> {
        let ended = matches!(status, JobStatus::Completed | JobStatus::Failed);
        let sql = if ended {
            "UPDATE jobs SET status = $1, updated_at = $2, input = NULL \
             WHERE id = $3 AND status NOT IN ('completed', 'failed')"
        } else {
            "UPDATE jobs SET status = $1, updated_at = $2 \
             WHERE id = $3 AND status NOT IN ('completed', 'failed')"
        };
        let mut tx = self.begin_write().await.map_err(other)?;
        let changed = execute(
            sqlx::query(sql)
                .bind(status.as_str())
                .bind(at.millis())
                .bind(id.to_owned()),
            &mut *tx,
        )
        .await?;
        if changed > 0
            && let Some(notice) = notice
        {
            super::outbox::insert_mail(&mut tx, std::slice::from_ref(notice)).await?;
        }
        tx.commit().await.map_err(other)?;
        Ok(changed > 0)
    }
}

/// Users per multi-row INSERT (18 parameters each) on SQLite (a batch of 500 is 4
/// statements) and on PostgreSQL (see `placeholders`: a message under 64 KiB).
const USERS_PER_STATEMENT: (usize, usize) = (128, 16);
/// Failures per multi-row INSERT into job_errors (3 parameters each; a body is a user's
/// object): SQLite, PostgreSQL.
const ERRORS_PER_STATEMENT: (usize, usize) = (100, 16);

/// Inserts `users` in file order with multi-row `INSERT … ON CONFLICT DO NOTHING RETURNING`
/// (DO NOTHING, not an error: a failed statement would end a PostgreSQL transaction); answers,
/// for each, whether it was written (false: it collides with a stored user or an earlier one
/// of the file). Within one statement rows go in in order, so the first of two colliding
/// users wins, as one-by-one inserts would have it. A user whose id repeats an earlier one of
/// the batch goes in alone after the statements, so each id returned names one row.
async fn insert_users(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    users: &[&ImportedUser],
) -> StoreResult<Vec<bool>> {
    use std::collections::HashSet;
    let mut written = vec![false; users.len()];
    let mut seen: HashSet<&str> = HashSet::with_capacity(users.len());
    let mut bulk = Vec::with_capacity(users.len());
    let mut alone = Vec::new();
    for (i, u) in users.iter().enumerate() {
        if seen.insert(u.user.user_id.as_str()) {
            bulk.push(i);
        } else {
            alone.push(i);
        }
    }
    let (sqlite, postgres) = USERS_PER_STATEMENT;
    for chunk in bulk.chunks(rows_per_statement(tx, sqlite, postgres)) {
        let mut sql = String::with_capacity(INSERT_USERS_HEAD.len() + chunk.len() * 80);
        sql.push_str(INSERT_USERS_HEAD);
        Placeholders::for_connection(tx).push_rows(&mut sql, chunk.len(), INSERTED_USER_COLUMNS);
        sql.push_str(" ON CONFLICT DO NOTHING RETURNING user_id");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for &i in chunk {
            q = bind_user(q, &users[i].user);
        }
        let rows = q.fetch_all(&mut **tx).await.map_err(other)?;
        let mut ids = HashSet::with_capacity(rows.len());
        for row in rows {
            ids.insert(row.try_get::<String, _>("user_id").map_err(other)?);
        }
        for &i in chunk {
            written[i] = ids.contains(users[i].user.user_id.as_str());
        }
    }
    for i in alone {
        let sql = format!("{INSERT_USER} ON CONFLICT DO NOTHING");
        written[i] = execute(
            bind_user(sqlx::query(sqlx::AssertSqlSafe(sql)), &users[i].user),
            &mut **tx,
        )
        .await?
            > 0;
    }
    Ok(written)
}
