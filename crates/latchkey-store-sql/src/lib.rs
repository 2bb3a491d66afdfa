//! Latchkey's storage on SQLite (the embedded default) and PostgreSQL (several nodes, one
//! database). There is one SQL implementation, written against sqlx's `Any` driver with
//! `$n` placeholders and only BIGINT/TEXT columns, so both backends run the same statements and
//! cannot drift apart; the few dialect differences are in [`Dialect`]. Each backend has its own
//! migration list (`migrate.rs`), which shares files while the schema is dialect-neutral.

/// The `users` columns in the order `rows::user` reads them; a macro so `concat!` can use it.
macro_rules! user_columns {
    () => {
        "user_id, connection, email, username, email_verified, blocked, password_hash, password_history, \
         credential_epoch, profile, user_metadata, app_metadata, created_at, updated_at, last_login, last_ip, \
         last_password_reset, logins_count"
    };
}

mod checkpoint;
mod migrate;
mod rows;
mod store;

use anyhow::{Context, bail};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};
use std::path::Path;
use std::time::Duration;

pub use store::SqlStore;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// Opens (creating if needed) the store at `url` and brings its schema up to date.
/// `sqlite://path/to/file.db` or `postgres://…`.
pub async fn connect(url: &str) -> anyhow::Result<SqlStore> {
    install_default_drivers();
    if url.starts_with("sqlite:") {
        connect_sqlite(url).await
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        connect_postgres(url).await
    } else {
        bail!("unsupported database URL scheme (expected sqlite:// or postgres://)")
    }
}

/// The SQLite URL for a data directory.
pub fn sqlite_url(data_dir: &Path) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("latchkey.db").display()
    )
}

/// The page caches. Bigger is not better here: SQLite drops a reader's whole cache each time
/// another connection's commit changed the file (under a steady stream of writes, before
/// nearly every read), and trims the writer's cache at the end of each of its transactions;
/// both walk the cache's hash table, which grows with the pages the cache has held. At a
/// million users perf put 7% of a delivering node's CPU in that walk (`pcache1TruncateUnsafe`,
/// from `pager_end_transaction` on the writer and `sqlite3PagerSharedLock` on the readers)
/// with 64 MiB for the writer and 16 MiB a reader. 8 MiB holds the interior pages of a
/// million-user store's user and ticket indexes; a leaf page not held is a read from the OS
/// page cache. Measured against 64 and 16 MiB (`latchkey-bench`, 1M users, runs alternated):
/// `change_password` while delivering 4.0-4.5k against 2.6-3.9k requests/s, 2.5k against
/// 2.1-2.4k mails/s, and a million-user import as fast (28-32k against 25-28k users/s) at
/// 37 MiB of peak RSS against 104 MiB. Memory-mapped reads (`mmap_size` 1 GiB) were tried on
/// top and not kept: 6-16% fewer mails a second and no more requests (runs alternated).
const WRITER_CACHE_KIB: u32 = 8 * 1024;
/// Each reader's (two per core): SQLite's default. A reader's cache lives until the next
/// commit by the writer, so it mostly holds one lookup's pages.
const READER_CACHE_KIB: u32 = 2 * 1024;

async fn connect_sqlite(url: &str) -> anyhow::Result<SqlStore> {
    // One writer connection: SQLite has one writer anyway, and a single connection means a
    // deferred BEGIN can never hit SQLITE_BUSY_SNAPSHOT. Readers run in parallel under WAL.
    let writer = AnyPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        // A file cannot drop a connection: no ping (a round trip to the connection's thread)
        // before every use.
        .test_before_acquire(false)
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute(sqlx::AssertSqlSafe(format!(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
                     PRAGMA cache_size = -{WRITER_CACHE_KIB}; \
                     PRAGMA wal_autocheckpoint = {};",
                    checkpoint::WRITER_BACKSTOP_PAGES
                )))
                .await?;
                Ok(())
            })
        })
        .connect(url)
        .await
        .context("opening the SQLite database")?;
    migrate::run(&writer, Dialect::Sqlite).await?;
    let readers = std::thread::available_parallelism().map_or(4, |n| n.get() * 2);
    let reader = AnyPoolOptions::new()
        .max_connections(readers as u32)
        .acquire_timeout(Duration::from_secs(30))
        .test_before_acquire(false)
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute(sqlx::AssertSqlSafe(format!(
                    "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA query_only = ON; \
                     PRAGMA cache_size = -{READER_CACHE_KIB};"
                )))
                .await?;
                Ok(())
            })
        })
        .connect(url)
        .await
        .context("opening the SQLite database for reading")?;
    let checkpointer = checkpoint::Checkpointer::start(url)
        .await
        .context("opening the SQLite database for checkpoints")?;
    Ok(SqlStore::new(writer, reader, Dialect::Sqlite).with_checkpointer(checkpointer))
}

/// How long start-up waits for PostgreSQL before it gives up.
const PG_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

async fn connect_postgres(url: &str) -> anyhow::Result<SqlStore> {
    let server = url::Url::parse(url).map_or_else(
        |_| "PostgreSQL".to_owned(),
        |u| {
            format!(
                "PostgreSQL at {}:{}",
                u.host_str().unwrap_or("localhost"),
                u.port().unwrap_or(5432)
            )
        },
    );
    // One connection first: the pool retries a refused connection until its acquire timeout
    // and then reports only that it timed out; this says why, within seconds.
    let probe = <sqlx::AnyConnection as sqlx::Connection>::connect(url);
    match tokio::time::timeout(PG_CONNECT_TIMEOUT, probe).await {
        Err(_) => bail!(
            "connecting to {server}: no answer within {}s",
            PG_CONNECT_TIMEOUT.as_secs()
        ),
        Ok(Err(e)) => return Err(anyhow::Error::new(e).context(format!("connecting to {server}"))),
        Ok(Ok(conn)) => {
            let _ = sqlx::Connection::close(conn).await;
        }
    }
    let pool = AnyPoolOptions::new()
        .max_connections(16)
        // While PostgreSQL is unreachable a request waits this long for a connection, then is
        // answered 503 (`StoreError::Unavailable`) instead of piling up.
        .acquire_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .with_context(|| format!("connecting to {server}"))?;
    migrate::run(&pool, Dialect::Postgres).await?;
    Ok(SqlStore::new(pool.clone(), pool, Dialect::Postgres))
}

/// Pool handle kept public for benchmarks and tests that seed many rows quickly.
pub fn writer_pool(store: &SqlStore) -> &AnyPool {
    store.writer()
}

/// What `backup_sqlite` wrote.
#[derive(Debug)]
pub struct BackupReport {
    pub bytes: u64,
}

/// A consistent copy of the SQLite store at `url` in the new file `out`, taken while servers
/// keep using the database: `VACUUM INTO` reads the whole database in one read transaction
/// (under WAL, writers go on), so the copy is one point in time, compacted, and already a
/// complete database (no `-wal` file beside it). The copy is then opened and checked with
/// `PRAGMA integrity_check`. PostgreSQL stores are refused: `pg_dump` is the tool for them.
pub async fn backup_sqlite(url: &str, out: &Path) -> anyhow::Result<BackupReport> {
    install_default_drivers();
    if !url.starts_with("sqlite:") {
        bail!(
            "`latchkey backup` copies a SQLite store; this one is PostgreSQL: use \
             `pg_dump -Fc \"$DATABASE_URL\" > latchkey.dump` (restore with pg_restore)"
        );
    }
    let source = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default();
    if !Path::new(source).is_file() {
        bail!("no database at {source}: is --data-dir the directory `latchkey serve` uses?");
    }
    // The file is made here, new and the owner's only, before anything is written to it: a
    // copy of the signing keys and client secrets is never readable by others, not even while
    // it is written. (SQLite writes `VACUUM INTO` to an existing empty file.)
    let out_str = out
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("the backup path must be valid UTF-8"))?;
    create_private_file(out)?;
    let written = write_backup(source, out, out_str).await;
    if written.is_err() {
        // Never leave a partial or empty file that looks like a backup.
        let _ = std::fs::remove_file(out);
    }
    written
}

/// `VACUUM INTO` the prepared file, then the integrity check.
async fn write_backup(source: &str, out: &Path, out_str: &str) -> anyhow::Result<BackupReport> {
    // Read-only: the backup never migrates or writes the live database.
    let read_only = format!("sqlite://{source}?mode=ro");
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&read_only)
        .await
        .with_context(|| format!("opening {source}"))?;
    conn.execute("PRAGMA busy_timeout = 5000;").await?;
    let statement = format!("VACUUM INTO '{}'", out_str.replace('\'', "''"));
    conn.execute(sqlx::AssertSqlSafe(statement))
        .await
        .with_context(|| format!("writing the backup to {}", out.display()))?;
    sqlx::Connection::close(conn).await?;
    if std::fs::metadata(out)?.len() == 0 {
        bail!("the backup at {} is empty", out.display());
    }

    let copy = format!("sqlite://{out_str}?mode=ro");
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&copy)
        .await
        .with_context(|| format!("opening the backup {}", out.display()))?;
    let verdict: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await?;
    sqlx::Connection::close(conn).await?;
    if verdict != "ok" {
        bail!(
            "the backup at {} failed its integrity check: {verdict}",
            out.display()
        );
    }
    Ok(BackupReport {
        bytes: std::fs::metadata(out)?.len(),
    })
}

/// Creates `path` empty with mode 0600, refusing one that exists.
fn create_private_file(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => bail!(
            "{} already exists: a backup is written to a new file",
            path.display()
        ),
        Err(e) => Err(anyhow::Error::new(e).context(format!("creating {}", path.display()))),
    }
}
