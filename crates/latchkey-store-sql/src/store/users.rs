use super::{
    AnyQuery, Bind, Filter, SqlStore, conflict, execute, fetch_all, fetch_opt, fetch_page, flag,
    insert_log, other, to_json,
};
use crate::rows::{self, USER_COLUMNS};
use async_trait::async_trait;
use latchkey_core::audit::LogEntry;
use latchkey_core::domain::{Email, User, UserId};
use latchkey_core::store::{
    LoginRecord, PasswordChange, PasswordChangeOutcome, StoreResult, UserQuery, UserSortField,
    UserStore,
};
use latchkey_core::time::Timestamp;

/// Every column of a new user; `bind_user` binds them in this order.
pub(super) const INSERT_USER: &str = "INSERT INTO users (user_id, connection, email, username, email_verified, blocked, password_hash, \
     password_history, credential_epoch, profile, user_metadata, app_metadata, created_at, updated_at, \
     last_login, last_ip, last_password_reset, logins_count) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)";

/// `INSERT_USER` without its `VALUES` rows, for multi-row inserts of `INSERTED_USER_COLUMNS` each.
pub(super) const INSERT_USERS_HEAD: &str = "INSERT INTO users (user_id, connection, email, username, email_verified, blocked, password_hash, \
     password_history, credential_epoch, profile, user_metadata, app_metadata, created_at, updated_at, \
     last_login, last_ip, last_password_reset, logins_count) VALUES ";
pub(super) const INSERTED_USER_COLUMNS: usize = 18;

pub(super) fn bind_user<'q>(q: AnyQuery<'q>, u: &User) -> AnyQuery<'q> {
    q.bind(u.user_id.as_str().to_owned())
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
}

#[async_trait]
impl UserStore for SqlStore {
    async fn insert_user(&self, u: &User, log: Option<&LogEntry>) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(other)?;
        bind_user(sqlx::query(INSERT_USER), u)
            .execute(&mut *tx)
            .await
            .map_err(conflict("The user"))?;
        if let Some(log) = log {
            insert_log(&mut *tx, log).await?;
        }
        tx.commit().await.map_err(other)
    }

    async fn get_user(&self, id: &UserId) -> StoreResult<Option<User>> {
        const SQL: &str = concat!("SELECT ", user_columns!(), " FROM users WHERE user_id = $1");
        fetch_opt(
            sqlx::query(SQL).bind(id.as_str().to_owned()),
            &self.reader,
            rows::user,
        )
        .await
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
        let q = sqlx::query(SQL)
            .bind(connection.to_owned())
            .bind(email.as_str().to_owned());
        fetch_opt(q, &self.reader, rows::user).await
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
        let q = sqlx::query(SQL)
            .bind(connection.to_owned())
            .bind(username.to_owned());
        fetch_opt(q, &self.reader, rows::user).await
    }

    async fn users_by_email(&self, email: &str) -> StoreResult<Vec<User>> {
        const SQL: &str = concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE email = $1 ORDER BY created_at, user_id"
        );
        fetch_all(
            sqlx::query(SQL).bind(email.to_owned()),
            &self.reader,
            rows::user,
        )
        .await
    }

    async fn list_users(&self, query: &UserQuery) -> StoreResult<(Vec<User>, u64)> {
        let mut filter = Filter::default();
        if let Some(c) = &query.connection {
            filter.eq("connection", Bind::Text(c.clone()));
        }
        if let Some(e) = &query.email {
            filter.eq("email", Bind::Text(e.to_lowercase()));
        }
        if let Some(id) = &query.user_id {
            filter.eq("user_id", Bind::Text(id.clone()));
        }
        if let Some(b) = query.blocked {
            filter.eq("blocked", Bind::Int(flag(b)));
        }
        if let Some(t) = &query.text {
            let pattern = format!("%{}%", t.to_lowercase().replace(['%', '_'], ""));
            filter.and(Bind::Text(pattern), |p| {
                format!(
                    "(LOWER(COALESCE(email, '')) LIKE {p} OR LOWER(COALESCE(username, '')) LIKE {p} \
                     OR LOWER(profile) LIKE {p} OR LOWER(user_id) LIKE {p})"
                )
            });
        }
        let order = match query.sort {
            Some(s) => {
                let col = match s.field {
                    UserSortField::CreatedAt => "created_at",
                    UserSortField::UpdatedAt => "updated_at",
                    UserSortField::Email => "email",
                    UserSortField::LastLogin => "last_login",
                    UserSortField::LoginsCount => "logins_count",
                };
                format!(
                    "{col} {}, user_id",
                    if s.ascending { "ASC" } else { "DESC" }
                )
            }
            None => "created_at, user_id".into(),
        };
        fetch_page(
            &self.reader,
            "users",
            USER_COLUMNS,
            &filter,
            &order,
            query.page,
            query.per_page,
            rows::user,
        )
        .await
    }

    async fn update_user(&self, u: &User, log: Option<&LogEntry>) -> StoreResult<bool> {
        let mut tx = self.begin_write().await.map_err(other)?;
        let updated = sqlx::query(
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
        if updated && let Some(log) = log {
            insert_log(&mut *tx, log).await?;
        }
        tx.commit().await.map_err(other)?;
        Ok(updated)
    }

    async fn delete_user(&self, id: &UserId, log: Option<&LogEntry>) -> StoreResult<bool> {
        let mut tx = self.begin_write().await.map_err(other)?;
        let deleted = execute(
            sqlx::query("DELETE FROM users WHERE user_id = $1").bind(id.as_str().to_owned()),
            &mut *tx,
        )
        .await?
            == 1;
        if deleted && let Some(log) = log {
            insert_log(&mut *tx, log).await?;
        }
        tx.commit().await.map_err(other)?;
        Ok(deleted)
    }

    async fn record_login(&self, l: &LoginRecord) -> StoreResult<()> {
        let q = sqlx::query(
            "UPDATE users SET logins_count = logins_count + 1, last_login = $1, last_ip = $2, \
             password_hash = COALESCE($3, password_hash) WHERE user_id = $4",
        )
        .bind(l.at.millis())
        .bind(l.ip.clone())
        .bind(l.upgraded_hash.as_ref().map(|h| h.as_str().to_owned()))
        .bind(l.user_id.as_str().to_owned());
        execute(q, &self.writer).await?;
        // A success ends the run of consecutive failures from this address.
        let q = sqlx::query(
            "DELETE FROM login_failures WHERE user_id = $1 AND ip = $2 AND blocked_at IS NULL",
        )
        .bind(l.user_id.as_str().to_owned())
        .bind(l.ip.clone().unwrap_or_default());
        execute(q, &self.writer).await.map(drop)
    }

    async fn apply_password_change_announcing(
        &self,
        c: &PasswordChange,
        announced_sessions: Option<&[String]>,
    ) -> StoreResult<PasswordChangeOutcome> {
        let mut tx = self.begin_write().await.map_err(other)?;
        if let Some(digest) = &c.ticket_digest {
            // The one atomic conditional update that makes a ticket single-use: of concurrent
            // redemptions exactly one sees a row here.
            let q = sqlx::query(
                "UPDATE password_tickets SET used_at = $1 WHERE digest = $2 AND used_at IS NULL \
                 AND expires_at > $1 AND credential_epoch = $3",
            )
            .bind(c.at.millis())
            .bind(digest.clone())
            .bind(c.expected_epoch);
            if execute(q, &mut *tx).await? != 1 {
                tx.rollback().await.map_err(other)?;
                return Ok(PasswordChangeOutcome::TicketUnusable);
            }
        }
        let q = sqlx::query(
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
        .bind(c.expected_epoch);
        if execute(q, &mut *tx).await? != 1 {
            tx.rollback().await.map_err(other)?;
            return Ok(PasswordChangeOutcome::EpochMoved);
        }
        execute(
            sqlx::query("DELETE FROM refresh_tokens WHERE user_id = $1")
                .bind(c.user_id.as_str().to_owned()),
            &mut *tx,
        )
        .await?;
        // A successful password change lifts brute-force blocks (Auth0 semantics).
        execute(
            sqlx::query("DELETE FROM login_failures WHERE user_id = $1")
                .bind(c.user_id.as_str().to_owned()),
            &mut *tx,
        )
        .await?;
        // Sessions end with the old password, each one announced to
        // back-channel logout clients by `c.outbox`: a live one it does not cover (a login
        // that raced the change) sends the service round again.
        let ended = fetch_all(
            sqlx::query(
                "DELETE FROM sessions WHERE user_id = $1 \
                 RETURNING id, credential_epoch, expires_at",
            )
            .bind(c.user_id.as_str().to_owned()),
            &mut *tx,
            |row| {
                use sqlx::Row;
                Ok((
                    row.try_get::<String, _>("id")?,
                    row.try_get::<i64, _>("credential_epoch")?,
                    row.try_get::<i64, _>("expires_at")?,
                ))
            },
        )
        .await?;
        if let Some(announced) = announced_sessions
            && ended.iter().any(|(id, epoch, expires_at)| {
                *epoch == c.expected_epoch && *expires_at > c.at.millis() && !announced.contains(id)
            })
        {
            tx.rollback().await.map_err(other)?;
            return Ok(PasswordChangeOutcome::SessionsChanged);
        }
        // Pending links die with the old password (their epoch no longer matches either).
        execute(
            sqlx::query("DELETE FROM password_tickets WHERE user_id = $1 AND used_at IS NULL")
                .bind(c.user_id.as_str().to_owned()),
            &mut *tx,
        )
        .await?;
        if !c.outbox.is_empty() {
            super::outbox::insert_mail(&mut tx, &c.outbox).await?;
        }
        insert_log(&mut *tx, &c.log).await?;
        tx.commit().await.map_err(other)?;
        Ok(PasswordChangeOutcome::Applied)
    }
}
