use super::{SqlStore, execute, fetch_all, fetch_opt, other, to_json};
use async_trait::async_trait;
use latchkey_core::audit::LogEntry;
use latchkey_core::domain::LogStream;
use latchkey_core::store::{
    LogStreamStore, QueuedMail, StoreResult, StreamBacklog, StreamDelivery,
};
use latchkey_core::time::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;

fn doc(row: &AnyRow) -> anyhow::Result<LogStream> {
    Ok(serde_json::from_str(&row.try_get::<String, _>("doc")?)?)
}

fn delivery(row: &AnyRow) -> anyhow::Result<StreamDelivery> {
    let job: serde_json::Value = serde_json::from_str(&row.try_get::<String, _>("job")?)?;
    Ok(StreamDelivery {
        log_id: job
            .get("log_id")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned(),
        status: row.try_get("status")?,
        attempts: row.try_get("attempts")?,
        last_error: row.try_get("last_error")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
    })
}

#[async_trait]
impl LogStreamStore for SqlStore {
    async fn insert_log_stream(&self, s: &LogStream) -> StoreResult<()> {
        let q = sqlx::query("INSERT INTO log_streams (id, doc, created_at) VALUES ($1, $2, $3)")
            .bind(s.id.clone())
            .bind(to_json(s))
            .bind(s.created_at.millis());
        execute(q, &self.writer).await.map(drop)
    }

    async fn get_log_stream(&self, id: &str) -> StoreResult<Option<LogStream>> {
        let q = sqlx::query("SELECT doc FROM log_streams WHERE id = $1").bind(id.to_owned());
        fetch_opt(q, &self.reader, doc).await
    }

    async fn list_log_streams(&self) -> StoreResult<Vec<LogStream>> {
        let q = sqlx::query("SELECT doc FROM log_streams ORDER BY created_at, id");
        fetch_all(q, &self.reader, doc).await
    }

    async fn update_log_stream(&self, s: &LogStream) -> StoreResult<bool> {
        let q = sqlx::query("UPDATE log_streams SET doc = $1 WHERE id = $2")
            .bind(to_json(s))
            .bind(s.id.clone());
        Ok(execute(q, &self.writer).await? == 1)
    }

    async fn delete_log_stream(&self, id: &str) -> StoreResult<bool> {
        let q = sqlx::query("DELETE FROM log_streams WHERE id = $1").bind(id.to_owned());
        Ok(execute(q, &self.writer).await? == 1)
    }

    async fn append_logs_queuing(
        &self,
        entries: &[LogEntry],
        outbox: &[QueuedMail],
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(other)?;
        super::logs::insert_logs(&mut tx, entries).await?;
        super::outbox::insert_mail(&mut tx, outbox).await?;
        tx.commit().await.map_err(other)
    }

    async fn stream_backlog(&self, stream_id: &str) -> StoreResult<StreamBacklog> {
        let q = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM mail_outbox WHERE stream_id = $1 AND status = 'pending') \
             AS pending, (SELECT dropped FROM log_streams WHERE id = $1) AS dropped",
        )
        .bind(stream_id.to_owned());
        let row = q.fetch_one(&self.reader).await.map_err(other)?;
        let pending: i64 = row.try_get("pending").map_err(other)?;
        let dropped: Option<i64> = row.try_get("dropped").map_err(other)?;
        Ok(StreamBacklog {
            pending: u64::try_from(pending).unwrap_or(0),
            dropped: u64::try_from(dropped.unwrap_or(0)).unwrap_or(0),
        })
    }

    async fn list_stream_deliveries(
        &self,
        stream_id: &str,
        limit: u32,
    ) -> StoreResult<Vec<StreamDelivery>> {
        let q = sqlx::query(
            "SELECT job, status, attempts, last_error, created_at, updated_at FROM mail_outbox \
             WHERE stream_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(stream_id.to_owned())
        .bind(i64::from(limit));
        fetch_all(q, &self.reader, delivery).await
    }
}
