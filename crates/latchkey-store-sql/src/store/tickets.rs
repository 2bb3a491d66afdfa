use super::placeholders::Placeholders;
use super::{Bind, SqlStore, WriteBatch, execute, fetch_opt, flag, insert_log, other};
use crate::rows;
use async_trait::async_trait;
use latchkey_core::audit::LogEntry;
use latchkey_core::store::{PasswordTicket, StoreResult, TicketStore, VerificationTicket};
use latchkey_core::time::Timestamp;

macro_rules! ticket_columns {
    () => {
        "id, digest, user_id, credential_epoch, kind, client_id, result_url, include_email, \
         mark_email_verified, pending_hash, created_at, expires_at, used_at"
    };
}

macro_rules! verification_columns {
    () => {
        "id, digest, user_id, email, client_id, result_url, include_email, created_at, \
         expires_at, used_at"
    };
}

/// Tickets per multi-row statement (13 parameters each).
const TICKETS_PER_STATEMENT: usize = 64;

/// The batch's tickets that storing them one by one would leave: a ticket is voided by a
/// later unused-ticket sweep for its user, that is by any later ticket of the same user in the
/// batch, unless it is already used.
fn surviving(tickets: &[(PasswordTicket, Option<LogEntry>)]) -> Vec<&PasswordTicket> {
    let mut later_users = std::collections::HashSet::new();
    let mut kept: Vec<&PasswordTicket> = tickets
        .iter()
        .rev()
        .filter(|(t, _)| later_users.insert(t.user_id.as_str()) || t.used_at.is_some())
        .map(|(t, _)| t)
        .collect();
    kept.reverse();
    kept
}

/// Deletes the unused tickets of `users`.
fn void_unused(p: &mut Placeholders, users: &[&str], batch: &mut WriteBatch) {
    let list = (0..users.len())
        .map(|_| p.next())
        .collect::<Vec<_>>()
        .join(", ");
    batch.push(
        format!("DELETE FROM password_tickets WHERE used_at IS NULL AND user_id IN ({list})"),
        users.iter().map(|u| Bind::Text((*u).to_owned())).collect(),
    );
}

/// Inserts `tickets` in one statement.
fn insert_ticket_rows(p: &mut Placeholders, tickets: &[&PasswordTicket], batch: &mut WriteBatch) {
    let mut rows = String::new();
    p.push_rows(&mut rows, tickets.len(), 13);
    let binds = tickets
        .iter()
        .flat_map(|t| {
            [
                Bind::Text(t.id.clone()),
                Bind::Text(t.digest.clone()),
                Bind::Text(t.user_id.as_str().to_owned()),
                Bind::Int(t.credential_epoch),
                Bind::Text(t.kind.as_str().to_owned()),
                Bind::OptText(t.client_id.clone()),
                Bind::OptText(t.result_url.clone()),
                Bind::Int(flag(t.include_email)),
                Bind::Int(flag(t.mark_email_verified)),
                Bind::OptText(t.pending_hash.as_ref().map(|h| h.as_str().to_owned())),
                Bind::Int(t.created_at.millis()),
                Bind::Int(t.expires_at.millis()),
                Bind::OptInt(t.used_at.map(|u| u.millis())),
            ]
        })
        .collect();
    batch.push(
        format!(
            concat!(
                "INSERT INTO password_tickets (",
                ticket_columns!(),
                ") VALUES {}"
            ),
            rows
        ),
        binds,
    );
}

#[async_trait]
impl TicketStore for SqlStore {
    async fn insert_tickets(
        &self,
        tickets: &[(PasswordTicket, Option<LogEntry>)],
    ) -> StoreResult<()> {
        // Latest only: a new link voids the user's unused ones. Used ones stay until pruned, so
        // their page can say "already used" rather than "unknown". A batch is a few
        // statements, not three a ticket, committed in one hop on SQLite (`write_batch`): a
        // delivering node issues a ticket a mail.
        let mut batch = WriteBatch::default();
        let users: Vec<&str> = tickets.iter().map(|(t, _)| t.user_id.as_str()).collect();
        for chunk in users.chunks(TICKETS_PER_STATEMENT) {
            void_unused(&mut self.placeholders(), chunk, &mut batch);
        }
        let kept = surviving(tickets);
        for chunk in kept.chunks(TICKETS_PER_STATEMENT) {
            insert_ticket_rows(&mut self.placeholders(), chunk, &mut batch);
        }
        let logs: Vec<&LogEntry> = tickets.iter().filter_map(|(_, l)| l.as_ref()).collect();
        for chunk in logs.chunks(super::logs::logs_per_statement(self.dialect)) {
            super::logs::push_log_rows(&mut self.placeholders(), chunk, &mut batch);
        }
        self.write_batch(batch).await
    }

    async fn find_ticket(&self, digest: &str) -> StoreResult<Option<PasswordTicket>> {
        let q = sqlx::query(concat!(
            "SELECT ",
            ticket_columns!(),
            " FROM password_tickets WHERE digest = $1"
        ))
        .bind(digest.to_owned());
        fetch_opt(q, &self.reader, rows::password_ticket).await
    }

    async fn insert_verification_ticket(
        &self,
        t: &VerificationTicket,
        log: Option<&LogEntry>,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(other)?;
        let q = sqlx::query(concat!(
            "INSERT INTO email_verification_tickets (",
            verification_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(t.id.clone())
        .bind(t.digest.clone())
        .bind(t.user_id.as_str().to_owned())
        .bind(t.email.clone())
        .bind(t.client_id.clone())
        .bind(t.result_url.clone())
        .bind(flag(t.include_email))
        .bind(t.created_at.millis())
        .bind(t.expires_at.millis())
        .bind(t.used_at.map(|u| u.millis()));
        execute(q, &mut *tx).await?;
        if let Some(log) = log {
            insert_log(&mut *tx, log).await?;
        }
        tx.commit().await.map_err(other)
    }

    async fn find_verification_ticket(
        &self,
        digest: &str,
    ) -> StoreResult<Option<VerificationTicket>> {
        let q = sqlx::query(concat!(
            "SELECT ",
            verification_columns!(),
            " FROM email_verification_tickets WHERE digest = $1"
        ))
        .bind(digest.to_owned());
        fetch_opt(q, &self.reader, rows::verification_ticket).await
    }

    async fn redeem_verification_ticket(
        &self,
        digest: &str,
        at: Timestamp,
        log: &LogEntry,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await.map_err(other)?;
        let claimed = execute(
            sqlx::query(
                "UPDATE email_verification_tickets SET used_at = $1 \
                 WHERE digest = $2 AND used_at IS NULL AND expires_at > $1",
            )
            .bind(at.millis())
            .bind(digest.to_owned()),
            &mut *tx,
        )
        .await?;
        if claimed != 1 {
            return Ok(false);
        }
        let verified = execute(
            sqlx::query(
                "UPDATE users SET email_verified = 1, updated_at = $1 WHERE user_id = \
                 (SELECT user_id FROM email_verification_tickets WHERE digest = $2) \
                 AND email = (SELECT email FROM email_verification_tickets WHERE digest = $2)",
            )
            .bind(at.millis())
            .bind(digest.to_owned()),
            &mut *tx,
        )
        .await?;
        if verified != 1 {
            return Ok(false);
        }
        insert_log(&mut *tx, log).await?;
        tx.commit().await.map_err(other)?;
        Ok(true)
    }
}
