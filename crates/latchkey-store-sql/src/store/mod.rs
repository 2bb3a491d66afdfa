//! `SqlStore`: the storage traits over one writer pool and one reader pool (the same pool on
//! PostgreSQL). One file per aggregate; the helpers here are the only place that runs a query.

mod actions;
mod admins;
mod authenticators;
mod clients;
mod connections;
mod email_provider;
mod email_templates;
mod jobs;
mod keys;
mod log_streams;
mod login_failures;
mod logs;
mod outbox;
mod placeholders;
mod refresh_tokens;
mod resource_servers;
mod secrets;
mod sessions;
mod tenant;
mod tickets;
mod user_exports;
mod users;

use crate::Dialect;
use async_trait::async_trait;
use latchkey_core::audit::LogEntry;
use latchkey_core::store::{BootstrapData, Store, StoreError, StoreResult};
use sqlx::any::{Any, AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{AnyPool, AssertSqlSafe, Executor, Row};

#[derive(Clone)]
pub struct SqlStore {
    writer: AnyPool,
    reader: AnyPool,
    dialect: Dialect,
    /// SQLite: copies the write-ahead log into the database off the writer's path.
    checkpointer: Option<std::sync::Arc<crate::checkpoint::Checkpointer>>,
}

type AnyQuery<'q> = Query<'q, Any, AnyArguments>;
type RowMapper<T> = fn(&AnyRow) -> anyhow::Result<T>;

/// Maps a unique-key violation to `StoreError::Conflict(what)`, anything else as `other` does.
fn conflict(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
        _ => other(e),
    }
}

/// `Unavailable` when the database cannot be reached or cannot take the write right now,
/// `Other` for anything else.
fn other(e: impl Into<anyhow::Error>) -> StoreError {
    let e = e.into();
    if e.downcast_ref::<sqlx::Error>().is_some_and(unreachable) {
        StoreError::Unavailable(e)
    } else {
        StoreError::Other(e)
    }
}

/// Connectivity and capacity failures: the connection could not be made or was cut, the pool
/// had no connection to give, PostgreSQL is shutting down, starting up, out of connections or
/// disk (SQLSTATE classes 08, 53, 57P), SQLite is busy or locked (a backup holding the file),
/// full, or cannot do I/O.
fn unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Protocol(m) => {
            // A connection cut mid-message surfaces as a protocol error on some paths.
            let m = m.to_lowercase();
            m.contains("connection") || m.contains("eof") || m.contains("closed")
        }
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // SQLite result codes (extended codes carry the primary in the low byte):
                // BUSY 5, LOCKED 6, IOERR 10, FULL 13, CANTOPEN 14, PROTOCOL 15.
                code.parse::<u32>()
                    .is_ok_and(|n| matches!(n & 0xff, 5 | 6 | 10 | 13 | 14 | 15))
            } else {
                code.starts_with("08") || code.starts_with("53") || code.starts_with("57P")
            }
        }
        _ => false,
    }
}

fn flag(b: bool) -> i64 {
    i64::from(b)
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "{}".into())
}

/// The row `q` returns, if any, mapped to a domain value.
async fn fetch_opt<'e, T>(
    q: AnyQuery<'_>,
    exec: impl Executor<'e, Database = Any>,
    map: RowMapper<T>,
) -> StoreResult<Option<T>> {
    let row = q.fetch_optional(exec).await.map_err(other)?;
    row.as_ref().map(map).transpose().map_err(StoreError::Other)
}

/// Every row `q` returns, mapped to domain values.
async fn fetch_all<'e, T>(
    q: AnyQuery<'_>,
    exec: impl Executor<'e, Database = Any>,
    map: RowMapper<T>,
) -> StoreResult<Vec<T>> {
    let rows = q.fetch_all(exec).await.map_err(other)?;
    rows.iter()
        .map(map)
        .collect::<anyhow::Result<_>>()
        .map_err(StoreError::Other)
}

/// Runs a write; returns how many rows it touched.
async fn execute<'e>(q: AnyQuery<'_>, exec: impl Executor<'e, Database = Any>) -> StoreResult<u64> {
    Ok(q.execute(exec).await.map_err(other)?.rows_affected())
}

/// Writes a tenant log entry (inside the caller's transaction when given one).
async fn insert_log<'e>(
    exec: impl Executor<'e, Database = Any>,
    log: &LogEntry,
) -> StoreResult<()> {
    let q = sqlx::query(
        "INSERT INTO logs (log_id, date, type, user_id, data) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(log.log_id.clone())
    .bind(log.date.millis())
    .bind(log.type_code.clone())
    .bind(log.user_id.clone())
    .bind(log.to_json().to_string());
    execute(q, exec).await.map(drop)
}

/// A value bound into dynamically built SQL.
#[derive(Clone)]
enum Bind {
    Text(String),
    Int(i64),
    OptText(Option<String>),
    OptInt(Option<i64>),
}

impl Bind {
    fn onto(self, q: AnyQuery<'_>) -> AnyQuery<'_> {
        match self {
            Bind::Text(s) => q.bind(s),
            Bind::Int(i) => q.bind(i),
            Bind::OptText(s) => q.bind(s),
            Bind::OptInt(i) => q.bind(i),
        }
    }
}

/// Statements that commit together, each with its values in placeholder order
/// (`Placeholders` numbered per statement on PostgreSQL, anonymous on SQLite).
#[derive(Default)]
pub(super) struct WriteBatch {
    statements: Vec<(String, Vec<Bind>)>,
}

impl WriteBatch {
    fn push(&mut self, sql: String, binds: Vec<Bind>) {
        self.statements.push((sql, binds));
    }
}

/// A `WHERE` clause built from optional filters, numbering its placeholders in order.
#[derive(Default)]
struct Filter {
    clauses: Vec<String>,
    binds: Vec<Bind>,
}

impl Filter {
    /// Adds a condition; `condition` receives the placeholder (`$n`) of `value`.
    fn and(&mut self, value: Bind, condition: impl FnOnce(&str) -> String) {
        self.binds.push(value);
        let placeholder = format!("${}", self.binds.len());
        self.clauses.push(condition(&placeholder));
    }
    fn eq(&mut self, column: &str, value: Bind) {
        self.and(value, |p| format!("{column} = {p}"));
    }
    fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.clauses.join(" AND "))
        }
    }
    fn query(&self, sql: String) -> AnyQuery<'static> {
        self.binds
            .iter()
            .fold(sqlx::query(AssertSqlSafe(sql)), |q, b| b.clone().onto(q))
    }
}

/// One page of `SELECT columns FROM table <filter> ORDER BY order`, and the total count.
#[allow(clippy::too_many_arguments)]
async fn fetch_page<T>(
    pool: &AnyPool,
    table: &str,
    columns: &str,
    filter: &Filter,
    order: &str,
    page: u32,
    per_page: u32,
    map: RowMapper<T>,
) -> StoreResult<(Vec<T>, u64)> {
    let where_sql = filter.sql();
    let total: i64 = filter
        .query(format!("SELECT COUNT(*) AS n FROM {table} {where_sql}"))
        .fetch_one(pool)
        .await
        .map_err(other)?
        .try_get("n")
        .map_err(other)?;
    let per_page = i64::from(per_page.clamp(1, 100));
    let offset = i64::from(page) * per_page;
    let sql = format!(
        "SELECT {columns} FROM {table} {where_sql} ORDER BY {order} LIMIT {per_page} OFFSET {offset}"
    );
    let items = fetch_all(filter.query(sql), pool, map).await?;
    Ok((items, u64::try_from(total).unwrap_or(0)))
}

impl SqlStore {
    /// A write transaction. On SQLite it takes the write lock at BEGIN (IMMEDIATE): a deferred
    /// transaction that reads first and then writes cannot wait for the lock once it holds a
    /// snapshot, so while another process writes the file (`latchkey users import` beside a
    /// running server) it failed at once with "database is locked" instead of waiting
    /// `busy_timeout`. In this process the one writer connection takes its turn either way.
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Any>, sqlx::Error> {
        match self.dialect {
            Dialect::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await,
            Dialect::Postgres => self.writer.begin().await,
        }
    }

    /// Commits `batch`. SQLite gets it as one string from BEGIN to COMMIT: its connection runs
    /// every statement of a string in one command, so the batch costs one hop to the
    /// connection's thread, not one per statement and two for the transaction (those hops,
    /// not CPU, bounded a node that delivers mail while it serves). PostgreSQL takes one
    /// statement per message, so there it is an ordinary transaction.
    pub(super) async fn write_batch(&self, batch: WriteBatch) -> StoreResult<()> {
        if self.dialect == Dialect::Postgres {
            let mut tx = self.begin_write().await.map_err(other)?;
            for (sql, binds) in batch.statements {
                let q = binds
                    .into_iter()
                    .fold(sqlx::query(AssertSqlSafe(sql)), |q, b| b.onto(q));
                execute(q, &mut *tx).await?;
            }
            return tx.commit().await.map_err(other);
        }
        let mut sql = String::from("BEGIN IMMEDIATE;");
        let mut binds = Vec::new();
        for (statement, values) in batch.statements {
            sql.push_str(&statement);
            sql.push(';');
            binds.extend(values);
        }
        sql.push_str("COMMIT;");
        let mut conn = self.writer.acquire().await.map_err(other)?;
        // Its own task, so that a caller that stops waiting cannot leave the transaction open
        // on a pooled connection: a failed statement leaves SQLite inside the transaction, and
        // it is rolled back here whether or not anyone still waits for the answer.
        let written = tokio::spawn(async move {
            let q = binds
                .into_iter()
                .fold(sqlx::query(AssertSqlSafe(sql)), |q, b| b.onto(q));
            let result = execute(q, &mut *conn).await.map(drop);
            if result.is_err() && sqlx::query("ROLLBACK").execute(&mut *conn).await.is_err() {
                // No transaction was open (the error ended it, or BEGIN failed), or the
                // connection is broken: either way a fresh one is safer than guessing.
                let _ = conn.close().await;
            }
            result
        });
        written
            .await
            .map_err(|e| other(anyhow::anyhow!("the write task stopped: {e}")))?
    }

    /// Placeholders for a statement of a `WriteBatch`.
    fn placeholders(&self) -> placeholders::Placeholders {
        placeholders::Placeholders::for_dialect(self.dialect)
    }

    pub(crate) fn new(writer: AnyPool, reader: AnyPool, dialect: Dialect) -> Self {
        Self {
            writer,
            reader,
            dialect,
            checkpointer: None,
        }
    }
    pub(crate) fn with_checkpointer(self, checkpointer: crate::checkpoint::Checkpointer) -> Self {
        Self {
            checkpointer: Some(std::sync::Arc::new(checkpointer)),
            ..self
        }
    }
    pub(crate) fn writer(&self) -> &AnyPool {
        &self.writer
    }
    pub async fn close(&self) {
        if let Some(c) = &self.checkpointer {
            c.stop().await;
        }
        self.reader.close().await;
        self.writer.close().await;
    }
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> &'static str {
        match self.dialect {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }

    async fn bootstrap(&self, data: &BootstrapData) -> StoreResult<bool> {
        let mut tx = self.begin_write().await.map_err(other)?;
        // The tenant row is the marker: whoever inserts it first bootstraps.
        let inserted = execute(
            sqlx::query(
                "INSERT INTO tenant (id, settings) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
            )
            .bind(to_json(&data.tenant)),
            &mut *tx,
        )
        .await?;
        if inserted == 0 {
            tx.rollback().await.map_err(other)?;
            return Ok(false);
        }
        for c in &data.clients {
            clients::insert_client(&mut *tx, c).await?;
        }
        for g in &data.grants {
            clients::insert_grant(&mut *tx, g).await?;
        }
        connections::insert_connection(&mut *tx, &data.connection).await?;
        admins::insert_admin(&mut *tx, &data.admin).await?;
        keys::insert_key(&mut *tx, &data.key).await?;
        tx.commit().await.map_err(other)?;
        Ok(true)
    }

    async fn ping(&self) -> StoreResult<()> {
        execute(sqlx::query("SELECT 1"), &self.reader)
            .await
            .map(drop)
    }
}
