//! A small embedded migration runner: the files are compiled into the binary and applied in
//! order inside a transaction, recorded in `latchkey_migrations`. Each backend has its own list;
//! while the schema stays dialect-neutral both lists name the same files, and a migration that
//! needs dialect-specific SQL gets one file per backend under the same version.

use crate::Dialect;
use anyhow::Context;
use sqlx::{AnyPool, Executor};

const INIT: &str = include_str!("../migrations/0001_init.sql");
const EMAIL_TEMPLATES: &str = include_str!("../migrations/0002_email_templates.sql");
const EMAIL_PROVIDER: &str = include_str!("../migrations/0003_email_provider.sql");
const PASSWORD_RESET: &str = include_str!("../migrations/0004_password_reset.sql");
const AUTHENTICATORS: &str = include_str!("../migrations/0005_authenticators.sql");
const SESSIONS: &str = include_str!("../migrations/0006_sessions.sql");
const LOGIN_FAILURES: &str = include_str!("../migrations/0007_login_failures.sql");
const ADMIN_CONSOLE: &str = include_str!("../migrations/0008_admin_console.sql");
const ACTIONS: &str = include_str!("../migrations/0009_actions.sql");
const LOG_STREAMS: &str = include_str!("../migrations/0010_log_streams.sql");
const OUTBOX_LANES: &str = include_str!("../migrations/0011_outbox_lanes.sql");
const LOGIN_TICKETS: &str = include_str!("../migrations/0012_login_tickets.sql");
const TENANT_DOCUMENTS_RESOURCE_SERVERS: &str =
    include_str!("../migrations/0014_tenant_documents_resource_servers.sql");
const JOBS: &str = include_str!("../migrations/0017_jobs.sql");
const EMAIL_VERIFICATION: &str = include_str!("../migrations/0018_email_verification.sql");
const USER_EXPORTS: &str = include_str!("../migrations/0019_user_exports.sql");
const SQLITE: &[(i64, &str)] = &[
    (1, INIT),
    (2, EMAIL_TEMPLATES),
    (3, EMAIL_PROVIDER),
    (4, PASSWORD_RESET),
    (5, AUTHENTICATORS),
    (6, SESSIONS),
    (7, LOGIN_FAILURES),
    (8, ADMIN_CONSOLE),
    (9, ACTIONS),
    (10, LOG_STREAMS),
    (11, OUTBOX_LANES),
    (12, LOGIN_TICKETS),
    (14, TENANT_DOCUMENTS_RESOURCE_SERVERS),
    (17, JOBS),
    (18, EMAIL_VERIFICATION),
    (19, USER_EXPORTS),
];
const POSTGRES: &[(i64, &str)] = &[
    (1, INIT),
    (2, EMAIL_TEMPLATES),
    (3, EMAIL_PROVIDER),
    (4, PASSWORD_RESET),
    (5, AUTHENTICATORS),
    (6, SESSIONS),
    (7, LOGIN_FAILURES),
    (8, ADMIN_CONSOLE),
    (9, ACTIONS),
    (10, LOG_STREAMS),
    (11, OUTBOX_LANES),
    (12, LOGIN_TICKETS),
    (14, TENANT_DOCUMENTS_RESOURCE_SERVERS),
    (17, JOBS),
    (18, EMAIL_VERIFICATION),
    (19, USER_EXPORTS),
];

pub async fn run(pool: &AnyPool, dialect: Dialect) -> anyhow::Result<()> {
    let migrations = match dialect {
        Dialect::Sqlite => SQLITE,
        Dialect::Postgres => POSTGRES,
    };
    let mut conn = pool.acquire().await.context("migration connection")?;
    if dialect == Dialect::Postgres {
        // Several nodes may start together against one database: one migrates, the rest wait.
        conn.execute("SELECT pg_advisory_lock(7426347281)")
            .await
            .context("migration lock")?;
    }
    conn.execute(
        "CREATE TABLE IF NOT EXISTS latchkey_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .await
    .context("creating the migrations table")?;
    for (version, sql) in migrations {
        let applied: Option<i64> =
            sqlx::query_scalar("SELECT version FROM latchkey_migrations WHERE version = $1")
                .bind(*version)
                .fetch_optional(&mut *conn)
                .await?;
        if applied.is_some() {
            continue;
        }
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(*sql))
            .execute(&mut *tx)
            .await
            .with_context(|| format!("applying migration {version}"))?;
        sqlx::query("INSERT INTO latchkey_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(*version)
            .bind(latchkey_core::time::Timestamp::now().millis())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::debug!(version, "applied database migration");
    }
    if dialect == Dialect::Postgres {
        conn.execute("SELECT pg_advisory_unlock(7426347281)")
            .await?;
    }
    Ok(())
}
