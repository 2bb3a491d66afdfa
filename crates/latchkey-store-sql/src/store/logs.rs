use super::placeholders::{Placeholders, rows_per_statement};
use super::{Bind, Filter, SqlStore, execute, fetch_page, other};
use anyhow::Context;
use async_trait::async_trait;
use latchkey_core::audit::LogEntry;
use latchkey_core::store::{LogQuery, LogStore, StoreResult};
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

fn entry(row: &AnyRow) -> anyhow::Result<Value> {
    serde_json::from_str(&row.try_get::<String, _>("data")?).context("stored log entry")
}

/// Inserts `entries` in the caller's transaction. One multi-row INSERT per chunk: on SQLite
/// every statement is a hop to the connection's thread, so 256 single-row inserts would cost
/// 256 hops.
pub(super) async fn insert_logs(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    entries: &[LogEntry],
) -> StoreResult<()> {
    // A log entry is up to a few KiB of JSON: PostgreSQL takes fewer per statement.
    for chunk in entries.chunks(rows_per_statement(tx, 100, 16)) {
        let mut rows = String::new();
        Placeholders::for_connection(tx).push_rows(&mut rows, chunk.len(), 5);
        let sql = format!(
            // A retry after a commit whose answer was lost (the audit writer retries until the
            // store takes its batch) finds its entries already there.
            "INSERT INTO logs (log_id, date, type, user_id, data) VALUES {rows} \
             ON CONFLICT (log_id) DO NOTHING"
        );
        let q = chunk.iter().fold(sqlx::query(AssertSqlSafe(sql)), |q, e| {
            q.bind(e.log_id.clone())
                .bind(e.date.millis())
                .bind(e.type_code.clone())
                .bind(e.user_id.clone())
                .bind(e.to_json().to_string())
        });
        execute(q, &mut **tx).await?;
    }
    Ok(())
}

#[async_trait]
impl LogStore for SqlStore {
    async fn append_logs(&self, entries: &[LogEntry]) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(other)?;
        insert_logs(&mut tx, entries).await?;
        tx.commit().await.map_err(other)
    }

    async fn list_logs(&self, query: &LogQuery) -> StoreResult<(Vec<Value>, u64)> {
        let mut filter = Filter::default();
        if let Some(u) = &query.user_id {
            filter.eq("user_id", Bind::Text(u.clone()));
        }
        if let Some(t) = &query.type_code {
            filter.eq("type", Bind::Text(t.clone()));
        }
        if let Some(since) = query.since {
            filter.and(Bind::Int(since.millis()), |p| format!("date >= {p}"));
        }
        if let Some(until) = query.until {
            filter.and(Bind::Int(until.millis()), |p| format!("date < {p}"));
        }
        fetch_page(
            &self.reader,
            "logs",
            "data",
            &filter,
            "log_id DESC",
            query.page,
            query.per_page,
            entry,
        )
        .await
    }

    async fn get_log(&self, log_id: &str) -> StoreResult<Option<Value>> {
        let q = sqlx::query("SELECT data FROM logs WHERE log_id = $1").bind(log_id.to_owned());
        super::fetch_opt(q, &self.reader, entry).await
    }
}
