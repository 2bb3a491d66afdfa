use crate::Dialect;
use crate::rows::{self, ConnectionData, REFRESH_COLUMNS, USER_COLUMNS};
use anyhow::Context;
use async_trait::async_trait;
use latchkey_core::audit::LogEntry;
use latchkey_core::domain::{
    Client, ClientGrant, ClientId, Connection, ConnectionId, Email, TenantSettings, User, UserId,
};
use latchkey_core::store::*;
use latchkey_core::time::Timestamp;
use secrecy::ExposeSecret;
use serde_json::Value;
use sqlx::any::{Any, AnyArguments};
use sqlx::query::Query;
use sqlx::{AnyPool, AssertSqlSafe, Row};

/// The store over one writer pool and one reader pool (the same pool on PostgreSQL).
#[derive(Clone)]
pub struct SqlStore {
    writer: AnyPool,
    reader: AnyPool,
    dialect: Dialect,
}

type AnyQuery<'q> = Query<'q, Any, AnyArguments>;

/// Maps a unique-key violation to `StoreError::Conflict(what)`, anything else to `Other`.
fn conflict(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
        _ => StoreError::Other(anyhow::Error::new(e)),
    }
}

fn other(e: impl Into<anyhow::Error>) -> StoreError {
    StoreError::Other(e.into())
}

fn flag(b: bool) -> i64 {
    i64::from(b)
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "{}".into())
}

fn bind_log<'q>(q: AnyQuery<'q>, log: &LogEntry) -> AnyQuery<'q> {
    q.bind(log.log_id.clone())
        .bind(log.date.millis())
        .bind(log.type_code.clone())
        .bind(log.user_id.clone())
        .bind(log.to_json().to_string())
}

const INSERT_LOG: &str =
    "INSERT INTO logs (log_id, date, type, user_id, data) VALUES ($1, $2, $3, $4, $5)";

/// A value bound into dynamically built SQL.
enum Bind {
    Text(String),
    Int(i64),
}

fn bind_all<'q>(mut q: AnyQuery<'q>, binds: &[Bind]) -> AnyQuery<'q> {
    for b in binds {
        q = match b {
            Bind::Text(s) => q.bind(s.clone()),
            Bind::Int(i) => q.bind(*i),
        };
    }
    q
}

impl SqlStore {
    pub(crate) fn new(writer: AnyPool, reader: AnyPool, dialect: Dialect) -> Self {
        Self {
            writer,
            reader,
            dialect,
        }
    }
    pub(crate) fn writer(&self) -> &AnyPool {
        &self.writer
    }
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    async fn fetch_user(
        &self,
        sql: &'static str,
        a: &str,
        b: Option<&str>,
    ) -> StoreResult<Option<User>> {
        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(a.to_owned());
        if let Some(b) = b {
            q = q.bind(b.to_owned());
        }
        let row = q.fetch_optional(&self.reader).await.map_err(other)?;
        row.as_ref()
            .map(rows::user)
            .transpose()
            .map_err(StoreError::Other)
    }
}

#[async_trait]
impl UserStore for SqlStore {
    async fn insert_user(&self, u: &User, log: Option<&LogEntry>) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(other)?;
        sqlx::query(
            "INSERT INTO users (user_id, connection, email, username, email_verified, blocked, password_hash, \
             password_history, credential_epoch, profile, user_metadata, app_metadata, created_at, updated_at, \
             last_login, last_ip, last_password_reset, logins_count) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
        )
        .bind(u.user_id.as_str().to_owned())
        .bind(u.connection.clone())
        .bind(u.email.as_ref().map(|e| e.as_str().to_owned()))
        .bind(u.username.clone())
        .bind(flag(u.email_verified))
        .bind(flag(u.blocked))
        .bind(u.password_hash.as_ref().map(|h| h.as_str().to_owned()))
        .bind(rows::history_json(&u.password_history))
        .bind(u.credential_epoch)
        .bind(to_json(&u.profile))
        .bind(to_json(&u.user_metadata))
        .bind(to_json(&u.app_metadata))
        .bind(u.created_at.millis())
        .bind(u.updated_at.millis())
        .bind(u.last_login.map(Timestamp::millis))
        .bind(u.last_ip.clone())
        .bind(u.last_password_reset.map(Timestamp::millis))
        .bind(u.logins_count)
        .execute(&mut *tx)
        .await
        .map_err(conflict("The user"))?;
        if let Some(log) = log {
            bind_log(sqlx::query(INSERT_LOG), log)
                .execute(&mut *tx)
                .await
                .map_err(other)?;
        }
        tx.commit().await.map_err(other)
    }

    async fn get_user(&self, id: &UserId) -> StoreResult<Option<User>> {
        const SQL: &str = concat!("SELECT ", user_columns!(), " FROM users WHERE user_id = $1");
        self.fetch_user(SQL, id.as_str(), None).await
    }

    async fn find_user_by_email(
        &self,
        connection: &str,
        email: &Email,
    ) -> StoreResult<Option<User>> {
        const SQL: &str = concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE connection = $1 AND email = $2"
        );
        self.fetch_user(SQL, connection, Some(email.as_str())).await
    }

    async fn find_user_by_username(
        &self,
        connection: &str,
        username: &str,
    ) -> StoreResult<Option<User>> {
        const SQL: &str = concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE connection = $1 AND username = $2"
        );
        self.fetch_user(SQL, connection, Some(username)).await
    }

    async fn users_by_email(&self, email: &str) -> StoreResult<Vec<User>> {
        const SQL: &str = concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE email = $1 ORDER BY created_at, user_id"
        );
        let rows = sqlx::query(SQL)
            .bind(email.to_owned())
            .fetch_all(&self.reader)
            .await
            .map_err(other)?;
        rows.iter()
            .map(rows::user)
            .collect::<anyhow::Result<_>>()
            .map_err(StoreError::Other)
    }

    async fn list_users(&self, query: &UserQuery) -> StoreResult<(Vec<User>, u64)> {
        let mut clauses: Vec<String> = Vec::new();
        let mut binds: Vec<Bind> = Vec::new();
        let mut push = |clause: &str, value: Bind, binds: &mut Vec<Bind>| {
            binds.push(value);
            clauses.push(clause.replace('?', &format!("${}", binds.len())));
        };
        if let Some(c) = &query.connection {
            push("connection = ?", Bind::Text(c.clone()), &mut binds);
        }
        if let Some(e) = &query.email {
            push("email = ?", Bind::Text(e.to_lowercase()), &mut binds);
        }
        if let Some(id) = &query.user_id {
            push("user_id = ?", Bind::Text(id.clone()), &mut binds);
        }
        if let Some(b) = query.blocked {
            push("blocked = ?", Bind::Int(flag(b)), &mut binds);
        }
        if let Some(t) = &query.text {
            let pattern = format!("%{}%", t.to_lowercase().replace(['%', '_'], ""));
            binds.push(Bind::Text(pattern));
            let n = binds.len();
            clauses.push(format!(
                "(LOWER(COALESCE(email, '')) LIKE ${n} OR LOWER(COALESCE(username, '')) LIKE ${n} OR LOWER(profile) LIKE ${n} OR LOWER(user_id) LIKE ${n})"
            ));
        }
        let where_sql = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        let count_sql = format!("SELECT COUNT(*) AS n FROM users {where_sql}");
        let total: i64 = bind_all(sqlx::query(AssertSqlSafe(count_sql)), &binds)
            .fetch_one(&self.reader)
            .await
            .map_err(other)?
            .try_get("n")
            .map_err(other)?;
        let order = match query.sort {
            Some(s) => {
                let col = match s.field {
                    UserSortField::CreatedAt => "created_at",
                    UserSortField::UpdatedAt => "updated_at",
                    UserSortField::Email => "email",
                    UserSortField::LastLogin => "last_login",
                    UserSortField::LoginsCount => "logins_count",
                    UserSortField::Name => "profile",
                };
                format!(
                    "{col} {}, user_id",
                    if s.ascending { "ASC" } else { "DESC" }
                )
            }
            None => "created_at, user_id".into(),
        };
        let per_page = i64::from(query.per_page.clamp(1, 100));
        let offset = i64::from(query.page) * per_page;
        let list_sql = format!(
            "SELECT {USER_COLUMNS} FROM users {where_sql} ORDER BY {order} LIMIT {per_page} OFFSET {offset}"
        );
        let rows = bind_all(sqlx::query(AssertSqlSafe(list_sql)), &binds)
            .fetch_all(&self.reader)
            .await
            .map_err(other)?;
        let users = rows
            .iter()
            .map(rows::user)
            .collect::<anyhow::Result<_>>()
            .map_err(StoreError::Other)?;
        Ok((users, u64::try_from(total).unwrap_or(0)))
    }

    async fn update_user(&self, u: &User, log: Option<&LogEntry>) -> StoreResult<bool> {
        let mut tx = self.writer.begin().await.map_err(other)?;
        let done = sqlx::query(
            "UPDATE users SET email = $1, username = $2, email_verified = $3, blocked = $4, profile = $5, \
             user_metadata = $6, app_metadata = $7, updated_at = $8 WHERE user_id = $9",
        )
        .bind(u.email.as_ref().map(|e| e.as_str().to_owned()))
        .bind(u.username.clone())
        .bind(flag(u.email_verified))
        .bind(flag(u.blocked))
        .bind(to_json(&u.profile))
        .bind(to_json(&u.user_metadata))
        .bind(to_json(&u.app_metadata))
        .bind(u.updated_at.millis())
        .bind(u.user_id.as_str().to_owned())
        .execute(&mut *tx)
        .await
        .map_err(conflict("The user"))?
        .rows_affected()
            == 1;
        if done && let Some(log) = log {
            bind_log(sqlx::query(INSERT_LOG), log)
                .execute(&mut *tx)
                .await
                .map_err(other)?;
        }
        tx.commit().await.map_err(other)?;
        Ok(done)
    }

    async fn delete_user(&self, id: &UserId, log: Option<&LogEntry>) -> StoreResult<bool> {
        let mut tx = self.writer.begin().await.map_err(other)?;
        let done = sqlx::query("DELETE FROM users WHERE user_id = $1")
            .bind(id.as_str().to_owned())
            .execute(&mut *tx)
            .await
            .map_err(other)?
            .rows_affected()
            == 1;
        if done && let Some(log) = log {
            bind_log(sqlx::query(INSERT_LOG), log)
                .execute(&mut *tx)
                .await
                .map_err(other)?;
        }
        tx.commit().await.map_err(other)?;
        Ok(done)
    }

    async fn record_login(&self, l: &LoginRecord) -> StoreResult<()> {
        sqlx::query(
            "UPDATE users SET logins_count = logins_count + 1, last_login = $1, last_ip = $2, \
             password_hash = COALESCE($3, password_hash) WHERE user_id = $4",
        )
        .bind(l.at.millis())
        .bind(l.ip.clone())
        .bind(l.upgraded_hash.as_ref().map(|h| h.as_str().to_owned()))
        .bind(l.user_id.as_str().to_owned())
        .execute(&self.writer)
        .await
        .map_err(other)?;
        Ok(())
    }

    async fn apply_password_change(&self, c: &PasswordChange) -> StoreResult<bool> {
        let mut tx = self.writer.begin().await.map_err(other)?;
        let updated = sqlx::query(
            "UPDATE users SET password_hash = $1, password_history = $2, credential_epoch = credential_epoch + 1, \
             last_password_reset = $3, updated_at = $3, \
             email_verified = CASE WHEN $4 = 1 THEN 1 ELSE email_verified END \
             WHERE user_id = $5 AND credential_epoch = $6",
        )
        .bind(c.new_hash.as_str().to_owned())
        .bind(rows::history_json(&c.history))
        .bind(c.at.millis())
        .bind(flag(c.mark_email_verified))
        .bind(c.user_id.as_str().to_owned())
        .bind(c.expected_epoch)
        .execute(&mut *tx)
        .await
        .map_err(other)?
        .rows_affected()
            == 1;
        if !updated {
            tx.rollback().await.map_err(other)?;
            return Ok(false);
        }
        sqlx::query("DELETE FROM refresh_tokens WHERE user_id = $1")
            .bind(c.user_id.as_str().to_owned())
            .execute(&mut *tx)
            .await
            .map_err(other)?;
        bind_log(sqlx::query(INSERT_LOG), &c.log)
            .execute(&mut *tx)
            .await
            .map_err(other)?;
        tx.commit().await.map_err(other)?;
        Ok(true)
    }

    async fn count_users(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM users")
            .fetch_one(&self.reader)
            .await
            .map_err(other)?
            .try_get("n")
            .map_err(other)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

async fn insert_client_in<'e, E>(exec: E, c: &Client) -> StoreResult<()>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    sqlx::query("INSERT INTO clients (client_id, name, client_secret, data, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(c.client_id.as_str().to_owned())
        .bind(c.name.clone())
        .bind(c.client_secret.as_ref().map(|s| s.expose_secret().to_owned()))
        .bind(to_json(c))
        .bind(c.created_at.millis())
        .execute(exec)
        .await
        .map_err(conflict("A client with that id"))?;
    Ok(())
}

async fn insert_grant_in<'e, E>(exec: E, g: &ClientGrant) -> StoreResult<()>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    sqlx::query(
        "INSERT INTO client_grants (id, client_id, audience, scope) VALUES ($1, $2, $3, $4)",
    )
    .bind(g.id.clone())
    .bind(g.client_id.as_str().to_owned())
    .bind(g.audience.clone())
    .bind(to_json(&g.scope))
    .execute(exec)
    .await
    .map_err(conflict("A grant for that client and audience"))?;
    Ok(())
}

async fn insert_connection_in<'e, E>(exec: E, c: &Connection) -> StoreResult<()>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    sqlx::query("INSERT INTO connections (id, name, strategy, data) VALUES ($1, $2, $3, $4)")
        .bind(c.id.as_str().to_owned())
        .bind(c.name.clone())
        .bind(c.strategy.as_str().to_owned())
        .bind(ConnectionData::of(c))
        .execute(exec)
        .await
        .map_err(conflict("A connection with that name"))?;
    Ok(())
}

async fn insert_key_in<'e, E>(exec: E, k: &SigningKeyRecord) -> StoreResult<()>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    sqlx::query("INSERT INTO signing_keys (kid, private_pkcs8, created_at, is_current, revoked) VALUES ($1, $2, $3, $4, $5)")
        .bind(k.kid.clone())
        .bind(k.private_pkcs8.expose_secret().to_owned())
        .bind(k.created_at.millis())
        .bind(flag(k.current))
        .bind(flag(k.revoked))
        .execute(exec)
        .await
        .map_err(conflict("A signing key with that kid"))?;
    Ok(())
}

#[async_trait]
impl ClientStore for SqlStore {
    async fn insert_client(&self, c: &Client) -> StoreResult<()> {
        insert_client_in(&self.writer, c).await
    }

    async fn get_client(&self, id: &ClientId) -> StoreResult<Option<Client>> {
        let row = sqlx::query("SELECT client_secret, data FROM clients WHERE client_id = $1")
            .bind(id.as_str().to_owned())
            .fetch_optional(&self.reader)
            .await
            .map_err(other)?;
        row.as_ref()
            .map(rows::client)
            .transpose()
            .map_err(StoreError::Other)
    }

    async fn list_clients(&self) -> StoreResult<Vec<Client>> {
        let rows =
            sqlx::query("SELECT client_secret, data FROM clients ORDER BY created_at, client_id")
                .fetch_all(&self.reader)
                .await
                .map_err(other)?;
        rows.iter()
            .map(rows::client)
            .collect::<anyhow::Result<_>>()
            .map_err(StoreError::Other)
    }

    async fn update_client(&self, c: &Client) -> StoreResult<bool> {
        let n = sqlx::query(
            "UPDATE clients SET name = $1, client_secret = $2, data = $3 WHERE client_id = $4",
        )
        .bind(c.name.clone())
        .bind(
            c.client_secret
                .as_ref()
                .map(|s| s.expose_secret().to_owned()),
        )
        .bind(to_json(c))
        .bind(c.client_id.as_str().to_owned())
        .execute(&self.writer)
        .await
        .map_err(other)?
        .rows_affected();
        Ok(n == 1)
    }

    async fn delete_client(&self, id: &ClientId) -> StoreResult<bool> {
        let n = sqlx::query("DELETE FROM clients WHERE client_id = $1")
            .bind(id.as_str().to_owned())
            .execute(&self.writer)
            .await
            .map_err(other)?
            .rows_affected();
        Ok(n == 1)
    }

    async fn insert_client_grant(&self, g: &ClientGrant) -> StoreResult<()> {
        insert_grant_in(&self.writer, g).await
    }

    async fn list_client_grants(&self) -> StoreResult<Vec<ClientGrant>> {
        let rows =
            sqlx::query("SELECT id, client_id, audience, scope FROM client_grants ORDER BY id")
                .fetch_all(&self.reader)
                .await
                .map_err(other)?;
        rows.iter()
            .map(rows::client_grant)
            .collect::<anyhow::Result<_>>()
            .map_err(StoreError::Other)
    }

    async fn get_client_grant(&self, id: &str) -> StoreResult<Option<ClientGrant>> {
        let row =
            sqlx::query("SELECT id, client_id, audience, scope FROM client_grants WHERE id = $1")
                .bind(id.to_owned())
                .fetch_optional(&self.reader)
                .await
                .map_err(other)?;
        row.as_ref()
            .map(rows::client_grant)
            .transpose()
            .map_err(StoreError::Other)
    }

    async fn find_client_grant(
        &self,
        client: &ClientId,
        audience: &str,
    ) -> StoreResult<Option<ClientGrant>> {
        let row = sqlx::query("SELECT id, client_id, audience, scope FROM client_grants WHERE client_id = $1 AND audience = $2")
            .bind(client.as_str().to_owned())
            .bind(audience.to_owned())
            .fetch_optional(&self.reader)
            .await
            .map_err(other)?;
        row.as_ref()
            .map(rows::client_grant)
            .transpose()
            .map_err(StoreError::Other)
    }

    async fn update_client_grant(&self, g: &ClientGrant) -> StoreResult<bool> {
        let n = sqlx::query("UPDATE client_grants SET scope = $1 WHERE id = $2")
            .bind(to_json(&g.scope))
            .bind(g.id.clone())
            .execute(&self.writer)
            .await
            .map_err(other)?
            .rows_affected();
        Ok(n == 1)
    }

    async fn delete_client_grant(&self, id: &str) -> StoreResult<bool> {
        let n = sqlx::query("DELETE FROM client_grants WHERE id = $1")
            .bind(id.to_owned())
            .execute(&self.writer)
            .await
            .map_err(other)?
            .rows_affected();
        Ok(n == 1)
    }
}

#[async_trait]
impl ConnectionStore for SqlStore {
    async fn insert_connection(&self, c: &Connection) -> StoreResult<()> {
        insert_connection_in(&self.writer, c).await
    }

    async fn get_connection(&self, id: &ConnectionId) -> StoreResult<Option<Connection>> {
        let row = sqlx::query("SELECT id, name, strategy, data FROM connections WHERE id = $1")
            .bind(id.as_str().to_owned())
            .fetch_optional(&self.reader)
            .await
            .map_err(other)?;
        row.as_ref()
            .map(rows::connection)
            .transpose()
            .map_err(StoreError::Other)
    }

    async fn find_connection_by_name(&self, name: &str) -> StoreResult<Option<Connection>> {
        let row = sqlx::query("SELECT id, name, strategy, data FROM connections WHERE name = $1")
            .bind(name.to_owned())
            .fetch_optional(&self.reader)
            .await
            .map_err(other)?;
        row.as_ref()
            .map(rows::connection)
            .transpose()
            .map_err(StoreError::Other)
    }

    async fn list_connections(&self) -> StoreResult<Vec<Connection>> {
        let rows = sqlx::query("SELECT id, name, strategy, data FROM connections ORDER BY name")
            .fetch_all(&self.reader)
            .await
            .map_err(other)?;
        rows.iter()
            .map(rows::connection)
            .collect::<anyhow::Result<_>>()
            .map_err(StoreError::Other)
    }

    async fn update_connection(&self, c: &Connection) -> StoreResult<bool> {
        let n = sqlx::query("UPDATE connections SET data = $1 WHERE id = $2")
            .bind(ConnectionData::of(c))
            .bind(c.id.as_str().to_owned())
            .execute(&self.writer)
            .await
            .map_err(other)?
            .rows_affected();
        Ok(n == 1)
    }

    async fn delete_connection(&self, id: &ConnectionId) -> StoreResult<bool> {
        let mut tx = self.writer.begin().await.map_err(other)?;
        let name: Option<String> = sqlx::query_scalar("SELECT name FROM connections WHERE id = $1")
            .bind(id.as_str().to_owned())
            .fetch_optional(&mut *tx)
            .await
            .map_err(other)?;
        let Some(name) = name else {
            return Ok(false);
        };
        sqlx::query("DELETE FROM users WHERE connection = $1")
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(other)?;
        sqlx::query("DELETE FROM connections WHERE id = $1")
            .bind(id.as_str().to_owned())
            .execute(&mut *tx)
            .await
            .map_err(other)?;
        tx.commit().await.map_err(other)?;
        Ok(true)
    }
}

#[async_trait]
impl TenantStore for SqlStore {
    async fn get_tenant(&self) -> StoreResult<Option<TenantSettings>> {
        let s: Option<String> = sqlx::query_scalar("SELECT settings FROM tenant WHERE id = 1")
            .fetch_optional(&self.reader)
            .await
            .map_err(other)?;
        s.map(|s| serde_json::from_str(&s).context("stored tenant settings"))
            .transpose()
            .map_err(StoreError::Other)
    }

    async fn put_tenant(&self, settings: &TenantSettings) -> StoreResult<()> {
        sqlx::query("INSERT INTO tenant (id, settings) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET settings = excluded.settings")
            .bind(to_json(settings))
            .execute(&self.writer)
            .await
            .map_err(other)?;
        Ok(())
    }
}

#[async_trait]
impl RefreshTokenStore for SqlStore {
    async fn insert_refresh_token(&self, t: &RefreshTokenRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO refresh_tokens (id, digest, family, user_id, client_id, audience, scope, credential_epoch, \
             created_at, expires_at, last_used_at, rotated) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(t.id.clone())
        .bind(t.digest.clone())
        .bind(t.family.clone())
        .bind(t.user_id.as_str().to_owned())
        .bind(t.client_id.as_str().to_owned())
        .bind(t.audience.clone())
        .bind(t.scope.clone())
        .bind(t.credential_epoch)
        .bind(t.created_at.millis())
        .bind(t.expires_at.millis())
        .bind(t.last_used_at.map(Timestamp::millis))
        .bind(flag(t.rotated))
        .execute(&self.writer)
        .await
        .map_err(other)?;
        Ok(())
    }

    async fn use_refresh_token(
        &self,
        digest: &str,
        rotate: bool,
        at: Timestamp,
    ) -> StoreResult<RefreshUse> {
        const SQL: &str = concat!(
            "UPDATE refresh_tokens SET rotated = $1, last_used_at = $2 WHERE digest = $3 AND rotated = 0 RETURNING ",
            "id, digest, family, user_id, client_id, audience, scope, credential_epoch, created_at, expires_at, last_used_at, rotated"
        );
        let mut tx = self.writer.begin().await.map_err(other)?;
        let row = sqlx::query(SQL)
            .bind(flag(rotate))
            .bind(at.millis())
            .bind(digest.to_owned())
            .fetch_optional(&mut *tx)
            .await
            .map_err(other)?;
        if let Some(row) = row {
            let record = rows::refresh_token(&row).map_err(StoreError::Other)?;
            tx.commit().await.map_err(other)?;
            return Ok(RefreshUse::Accepted(Box::new(record)));
        }
        let family: Option<String> =
            sqlx::query_scalar("SELECT family FROM refresh_tokens WHERE digest = $1")
                .bind(digest.to_owned())
                .fetch_optional(&mut *tx)
                .await
                .map_err(other)?;
        let outcome = match family {
            Some(family) => {
                // A rotated token came back: someone holds a copy. End the whole family.
                sqlx::query("DELETE FROM refresh_tokens WHERE family = $1")
                    .bind(family)
                    .execute(&mut *tx)
                    .await
                    .map_err(other)?;
                RefreshUse::Reused
            }
            None => RefreshUse::Unknown,
        };
        tx.commit().await.map_err(other)?;
        Ok(outcome)
    }

    async fn list_refresh_tokens(&self, user: &UserId) -> StoreResult<Vec<RefreshTokenRecord>> {
        let sql = format!(
            "SELECT {REFRESH_COLUMNS} FROM refresh_tokens WHERE user_id = $1 AND rotated = 0 ORDER BY created_at, id"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(user.as_str().to_owned())
            .fetch_all(&self.reader)
            .await
            .map_err(other)?;
        rows.iter()
            .map(rows::refresh_token)
            .collect::<anyhow::Result<_>>()
            .map_err(StoreError::Other)
    }

    async fn revoke_refresh_tokens(
        &self,
        user: &UserId,
        client: Option<&ClientId>,
    ) -> StoreResult<u64> {
        let q = match client {
            Some(c) => {
                sqlx::query("DELETE FROM refresh_tokens WHERE user_id = $1 AND client_id = $2")
                    .bind(user.as_str().to_owned())
                    .bind(c.as_str().to_owned())
            }
            None => sqlx::query("DELETE FROM refresh_tokens WHERE user_id = $1")
                .bind(user.as_str().to_owned()),
        };
        Ok(q.execute(&self.writer)
            .await
            .map_err(other)?
            .rows_affected())
    }

    async fn revoke_refresh_token_by_digest(
        &self,
        digest: &str,
        client: &ClientId,
    ) -> StoreResult<bool> {
        // Revoking one token revokes its family: the rotated successors came from it.
        let n = sqlx::query(
            "DELETE FROM refresh_tokens WHERE family IN \
             (SELECT family FROM refresh_tokens WHERE digest = $1 AND client_id = $2)",
        )
        .bind(digest.to_owned())
        .bind(client.as_str().to_owned())
        .execute(&self.writer)
        .await
        .map_err(other)?
        .rows_affected();
        Ok(n > 0)
    }
}

#[async_trait]
impl KeyStore for SqlStore {
    async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        let rows = sqlx::query("SELECT kid, private_pkcs8, created_at, is_current, revoked FROM signing_keys ORDER BY created_at, kid")
            .fetch_all(&self.reader)
            .await
            .map_err(other)?;
        rows.iter()
            .map(rows::signing_key)
            .collect::<anyhow::Result<_>>()
            .map_err(StoreError::Other)
    }

    async fn rotate_in_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(other)?;
        sqlx::query("UPDATE signing_keys SET is_current = 0")
            .execute(&mut *tx)
            .await
            .map_err(other)?;
        insert_key_in(&mut *tx, key).await?;
        tx.commit().await.map_err(other)
    }

    async fn revoke_signing_key(&self, kid: &str) -> StoreResult<bool> {
        let n =
            sqlx::query("UPDATE signing_keys SET revoked = 1 WHERE kid = $1 AND is_current = 0")
                .bind(kid.to_owned())
                .execute(&self.writer)
                .await
                .map_err(other)?
                .rows_affected();
        Ok(n == 1)
    }
}

#[async_trait]
impl LogStore for SqlStore {
    async fn append_logs(&self, entries: &[LogEntry]) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(other)?;
        for e in entries {
            bind_log(sqlx::query(INSERT_LOG), e)
                .execute(&mut *tx)
                .await
                .map_err(other)?;
        }
        tx.commit().await.map_err(other)
    }

    async fn list_logs(&self, query: &LogQuery) -> StoreResult<(Vec<Value>, u64)> {
        let mut clauses = Vec::new();
        let mut binds = Vec::new();
        if let Some(u) = &query.user_id {
            binds.push(Bind::Text(u.clone()));
            clauses.push(format!("user_id = ${}", binds.len()));
        }
        if let Some(t) = &query.type_code {
            binds.push(Bind::Text(t.clone()));
            clauses.push(format!("type = ${}", binds.len()));
        }
        let where_sql = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        let total: i64 = bind_all(
            sqlx::query(AssertSqlSafe(format!(
                "SELECT COUNT(*) AS n FROM logs {where_sql}"
            ))),
            &binds,
        )
        .fetch_one(&self.reader)
        .await
        .map_err(other)?
        .try_get("n")
        .map_err(other)?;
        let per_page = i64::from(query.per_page.clamp(1, 100));
        let offset = i64::from(query.page) * per_page;
        let sql = format!(
            "SELECT data FROM logs {where_sql} ORDER BY log_id DESC LIMIT {per_page} OFFSET {offset}"
        );
        let rows = bind_all(sqlx::query(AssertSqlSafe(sql)), &binds)
            .fetch_all(&self.reader)
            .await
            .map_err(other)?;
        let entries = rows
            .iter()
            .map(|r| -> anyhow::Result<Value> {
                Ok(serde_json::from_str(&r.try_get::<String, _>("data")?)?)
            })
            .collect::<anyhow::Result<_>>()
            .map_err(StoreError::Other)?;
        Ok((entries, u64::try_from(total).unwrap_or(0)))
    }
}

#[async_trait]
impl AdminStore for SqlStore {
    async fn insert_admin(&self, a: &Admin) -> StoreResult<()> {
        insert_admin_in(&self.writer, a).await
    }

    async fn find_admin_by_email(&self, email: &Email) -> StoreResult<Option<Admin>> {
        let row =
            sqlx::query("SELECT id, email, password_hash, created_at FROM admins WHERE email = $1")
                .bind(email.as_str().to_owned())
                .fetch_optional(&self.reader)
                .await
                .map_err(other)?;
        row.as_ref()
            .map(rows::admin)
            .transpose()
            .map_err(StoreError::Other)
    }

    async fn list_admins(&self) -> StoreResult<Vec<Admin>> {
        let rows = sqlx::query(
            "SELECT id, email, password_hash, created_at FROM admins ORDER BY created_at, id",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(other)?;
        rows.iter()
            .map(rows::admin)
            .collect::<anyhow::Result<_>>()
            .map_err(StoreError::Other)
    }
}

async fn insert_admin_in<'e, E>(exec: E, a: &Admin) -> StoreResult<()>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    sqlx::query(
        "INSERT INTO admins (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(a.id.clone())
    .bind(a.email.as_str().to_owned())
    .bind(a.password_hash.as_str().to_owned())
    .bind(a.created_at.millis())
    .execute(exec)
    .await
    .map_err(conflict("An administrator with that email"))?;
    Ok(())
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
        let mut tx = self.writer.begin().await.map_err(other)?;
        // The tenant row is the marker: whoever inserts it first bootstraps.
        let inserted = sqlx::query(
            "INSERT INTO tenant (id, settings) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
        )
        .bind(to_json(&data.tenant))
        .execute(&mut *tx)
        .await
        .map_err(other)?
        .rows_affected();
        if inserted == 0 {
            tx.rollback().await.map_err(other)?;
            return Ok(false);
        }
        for c in &data.clients {
            insert_client_in(&mut *tx, c).await?;
        }
        for g in &data.grants {
            insert_grant_in(&mut *tx, g).await?;
        }
        insert_connection_in(&mut *tx, &data.connection).await?;
        insert_admin_in(&mut *tx, &data.admin).await?;
        insert_key_in(&mut *tx, &data.key).await?;
        tx.commit().await.map_err(other)?;
        Ok(true)
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.reader)
            .await
            .map_err(other)?;
        Ok(())
    }
}
