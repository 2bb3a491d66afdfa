use super::{Bind, Filter, SqlStore, fetch_page, insert_log, other};
use anyhow::Context;
use async_trait::async_trait;
use latchkey_core::audit::LogEntry;
use latchkey_core::store::{LogQuery, LogStore, StoreResult};
use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;

fn entry(row: &AnyRow) -> anyhow::Result<Value> {
    serde_json::from_str(&row.try_get::<String, _>("data")?).context("stored log entry")
}

#[async_trait]
impl LogStore for SqlStore {
    async fn append_logs(&self, entries: &[LogEntry]) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(other)?;
        for e in entries {
            insert_log(&mut *tx, e).await?;
        }
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
}
