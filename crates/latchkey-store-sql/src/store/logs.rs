use super::placeholders::{Placeholders, dialect_of};
use super::{Bind, Filter, SqlStore, WriteBatch, execute, fetch_page, other};
use crate::Dialect;
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

/// The multi-row INSERT of `entries` and its values in placeholder order.
fn log_rows(p: &mut Placeholders, entries: &[&LogEntry]) -> (String, Vec<Bind>) {
    let mut rows = String::new();
    p.push_rows(&mut rows, entries.len(), 5);
    let sql = format!(
        // A retry after a commit whose answer was lost (the audit writer retries until the
        // store takes its batch) finds its entries already there.
        "INSERT INTO logs (log_id, date, type, user_id, data) VALUES {rows} \
         ON CONFLICT (log_id) DO NOTHING"
    );
    let binds = entries
        .iter()
        .flat_map(|e| {
            [
                Bind::Text(e.log_id.clone()),
                Bind::Int(e.date.millis()),
                Bind::Text(e.type_code.clone()),
                Bind::OptText(e.user_id.clone()),
                Bind::Text(e.to_json().to_string()),
            ]
        })
        .collect();
    (sql, binds)
}

/// Log entries per multi-row statement: a log entry is up to a few KiB of JSON, so
/// PostgreSQL takes fewer.
pub(super) fn logs_per_statement(dialect: Dialect) -> usize {
    match dialect {
        Dialect::Sqlite => 100,
        Dialect::Postgres => 16,
    }
}

/// Adds the INSERT of `entries` (at most `logs_per_statement`) to `batch`.
pub(super) fn push_log_rows(p: &mut Placeholders, entries: &[&LogEntry], batch: &mut WriteBatch) {
    let (sql, binds) = log_rows(p, entries);
    batch.push(sql, binds);
}

/// Inserts `entries` in the caller's transaction. One multi-row INSERT per chunk: on SQLite
/// every statement is a hop to the connection's thread, so 256 single-row inserts would cost
/// 256 hops.
pub(super) async fn insert_logs(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    entries: &[LogEntry],
) -> StoreResult<()> {
    for chunk in entries.chunks(logs_per_statement(dialect_of(tx))) {
        let refs: Vec<&LogEntry> = chunk.iter().collect();
        let (sql, binds) = log_rows(&mut Placeholders::for_connection(tx), &refs);
        let q = binds
            .into_iter()
            .fold(sqlx::query(AssertSqlSafe(sql)), |q, b| b.onto(q));
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
