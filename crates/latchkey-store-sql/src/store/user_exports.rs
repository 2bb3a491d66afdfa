use super::{SqlStore, execute, fetch_all, fetch_opt, other};
use crate::rows;
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use latchkey_core::domain::User;
use latchkey_core::store::{
    ExportChunk, ExportFormat, ExportRecord, ExportStore, JobRecord, QueuedMail, StoreResult,
};
use latchkey_core::time::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;

fn big(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn export(row: &AnyRow) -> anyhow::Result<ExportRecord> {
    let format: String = row.try_get("format")?;
    Ok(ExportRecord {
        job_id: row.try_get("job_id")?,
        format: ExportFormat::parse(&format)
            .ok_or_else(|| anyhow::anyhow!("unknown export format {format}"))?,
        limit: row
            .try_get::<Option<i64>, _>("row_limit")?
            .and_then(|n| u64::try_from(n).ok()),
        fields: serde_json::from_str(&row.try_get::<String, _>("fields")?)?,
        cursor: row.try_get("cursor")?,
        chunks: u64::try_from(row.try_get::<i64, _>("chunks")?).unwrap_or(0),
        expires_at: row
            .try_get::<Option<i64>, _>("expires_at")?
            .map(Timestamp::from_millis),
    })
}

#[async_trait]
impl ExportStore for SqlStore {
    async fn insert_export(
        &self,
        job: &JobRecord,
        record: &ExportRecord,
        run: &QueuedMail,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(other)?;
        let q = sqlx::query(
            "INSERT INTO jobs (id, type, status, connection_id, connection, upsert, \
             send_completion_email, total, position, inserted, updated, failed, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 0, 0, 0, 0, 0, 0, 0, $6, $6)",
        )
        .bind(job.id.clone())
        .bind(job.kind.as_str())
        .bind(job.status.as_str())
        .bind(job.connection_id.clone())
        .bind(job.connection.clone())
        .bind(job.created_at.millis());
        execute(q, &mut *tx).await?;
        let q = sqlx::query(
            "INSERT INTO user_exports (job_id, format, row_limit, fields, cursor, chunks) \
             VALUES ($1, $2, $3, $4, '', 0)",
        )
        .bind(record.job_id.clone())
        .bind(record.format.as_str())
        .bind(record.limit.map(big))
        .bind(serde_json::to_string(&record.fields).map_err(other)?);
        execute(q, &mut *tx).await?;
        super::outbox::insert_mail(&mut tx, std::slice::from_ref(run)).await?;
        tx.commit().await.map_err(other)
    }

    async fn get_export(&self, job_id: &str) -> StoreResult<Option<ExportRecord>> {
        fetch_opt(
            sqlx::query(
                "SELECT job_id, format, row_limit, fields, cursor, chunks, expires_at \
                 FROM user_exports WHERE job_id = $1",
            )
            .bind(job_id.to_owned()),
            &self.reader,
            export,
        )
        .await
    }

    async fn users_after(
        &self,
        connection: Option<&str>,
        after: &str,
        limit: u32,
    ) -> StoreResult<Vec<User>> {
        let q = match connection {
            Some(c) => {
                const SQL: &str = concat!(
                    "SELECT ",
                    user_columns!(),
                    " FROM users WHERE user_id > $1 AND connection = $2 ORDER BY user_id LIMIT $3"
                );
                sqlx::query(SQL)
                    .bind(after.to_owned())
                    .bind(c.to_owned())
                    .bind(i64::from(limit))
            }
            None => {
                const SQL: &str = concat!(
                    "SELECT ",
                    user_columns!(),
                    " FROM users WHERE user_id > $1 ORDER BY user_id LIMIT $2"
                );
                sqlx::query(SQL)
                    .bind(after.to_owned())
                    .bind(i64::from(limit))
            }
        };
        fetch_all(q, &self.reader, rows::user).await
    }

    async fn append_export_chunk(
        &self,
        job_id: &str,
        seq: u64,
        chunk: &ExportChunk,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await.map_err(other)?;
        // Claims the piece first: a second run of the export (a lease that ran out) finds the
        // count moved and writes nothing.
        let claimed = execute(
            sqlx::query(
                "UPDATE user_exports SET chunks = $1, cursor = $2 WHERE job_id = $3 AND chunks = $4",
            )
            .bind(big(seq.saturating_add(1)))
            .bind(chunk.cursor.clone())
            .bind(job_id.to_owned())
            .bind(big(seq)),
            &mut *tx,
        )
        .await?;
        if claimed == 0 {
            return Ok(false);
        }
        execute(
            sqlx::query("INSERT INTO user_export_chunks (job_id, seq, data) VALUES ($1, $2, $3)")
                .bind(job_id.to_owned())
                .bind(big(seq))
                .bind(STANDARD.encode(&chunk.data)),
            &mut *tx,
        )
        .await?;
        execute(
            sqlx::query(
                "UPDATE jobs SET status = 'processing', position = position + $1, \
                 total = total + $1, updated_at = $2 WHERE id = $3",
            )
            .bind(big(chunk.users))
            .bind(chunk.at.millis())
            .bind(job_id.to_owned()),
            &mut *tx,
        )
        .await?;
        tx.commit().await.map_err(other)?;
        Ok(true)
    }

    async fn finish_export(
        &self,
        job_id: &str,
        expires_at: Timestamp,
        at: Timestamp,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(other)?;
        execute(
            sqlx::query("UPDATE user_exports SET expires_at = $1 WHERE job_id = $2")
                .bind(expires_at.millis())
                .bind(job_id.to_owned()),
            &mut *tx,
        )
        .await?;
        execute(
            sqlx::query("UPDATE jobs SET status = 'completed', updated_at = $1 WHERE id = $2")
                .bind(at.millis())
                .bind(job_id.to_owned()),
            &mut *tx,
        )
        .await?;
        tx.commit().await.map_err(other)
    }

    async fn export_chunk(&self, job_id: &str, seq: u64) -> StoreResult<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT data FROM user_export_chunks WHERE job_id = $1 AND seq = $2")
            .bind(job_id.to_owned())
            .bind(big(seq))
            .fetch_optional(&self.reader)
            .await
            .map_err(other)?;
        let Some(row) = row else { return Ok(None) };
        let text: String = row.try_get("data").map_err(other)?;
        STANDARD.decode(text.as_bytes()).map(Some).map_err(other)
    }

    async fn prune_exports(&self, now: Timestamp) -> StoreResult<u64> {
        let ids: Vec<String> = fetch_all(
            sqlx::query(
                "SELECT job_id FROM user_exports WHERE expires_at IS NOT NULL AND expires_at < $1",
            )
            .bind(now.millis()),
            &self.reader,
            |row| Ok(row.try_get::<String, _>("job_id")?),
        )
        .await?;
        for id in &ids {
            let mut tx = self.begin_write().await.map_err(other)?;
            for sql in [
                "DELETE FROM user_export_chunks WHERE job_id = $1",
                "DELETE FROM user_exports WHERE job_id = $1",
                "DELETE FROM jobs WHERE id = $1",
            ] {
                execute(sqlx::query(sql).bind(id.clone()), &mut *tx).await?;
            }
            tx.commit().await.map_err(other)?;
        }
        Ok(ids.len() as u64)
    }
}
