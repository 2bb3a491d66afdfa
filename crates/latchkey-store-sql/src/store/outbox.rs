use super::placeholders::{Placeholders, rows_per_statement};
use super::{SqlStore, execute, other};
use crate::Dialect;
use async_trait::async_trait;
use latchkey_core::mail::Lane;
use latchkey_core::store::{LeasedMail, MailDisposition, OutboxStore, QueuedMail, StoreResult};
use latchkey_core::time::Timestamp;
use sqlx::Row;

/// Inserts `mails` in the caller's transaction, many to a statement.
pub(super) async fn insert_mail(
    conn: &mut sqlx::AnyConnection,
    mails: &[QueuedMail],
) -> StoreResult<()> {
    // 7 parameters per mail keeps 1,000 well under SQLite's cap; a job (a log stream's
    // delivery carries its entry) is up to a few KiB: PostgreSQL takes fewer per statement.
    for chunk in mails.chunks(rows_per_statement(conn, 1000, 16)) {
        insert_mail_rows(conn, chunk).await?;
    }
    Ok(())
}

async fn insert_mail_rows(conn: &mut sqlx::AnyConnection, mails: &[QueuedMail]) -> StoreResult<()> {
    if mails.is_empty() {
        return Ok(());
    }
    let mut sql = String::from(
        "INSERT INTO mail_outbox (id, job, status, next_attempt_at, created_at, updated_at, stream_id, lane) VALUES ",
    );
    let mut p = Placeholders::for_connection(conn);
    for i in 0..mails.len() {
        if i > 0 {
            sql.push_str(", ");
        }
        // The queueing time is due time, created and updated at once: bound three times.
        sql.push_str(&format!(
            "({}, {}, 'pending', {}, {}, {}, {}, {})",
            p.next(),
            p.next(),
            p.next(),
            p.next(),
            p.next(),
            p.next(),
            p.next()
        ));
    }
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for m in mails {
        let job = serde_json::to_string(&m.job).map_err(other)?;
        let at = m.at.millis();
        q = q
            .bind(m.id.clone())
            .bind(job)
            .bind(at)
            .bind(at)
            .bind(at)
            .bind(m.job.log_stream().map(str::to_owned))
            .bind(m.job.lane().as_str());
    }
    execute(q, conn).await.map(drop)
}

/// Settles one leased job in the caller's transaction.
async fn settle_one(
    conn: &mut sqlx::AnyConnection,
    id: &str,
    disposition: &MailDisposition,
    at: Timestamp,
) -> StoreResult<()> {
    if let MailDisposition::Postpone { at: next } = disposition {
        let q = sqlx::query(
            "UPDATE mail_outbox SET next_attempt_at = $1, locked_until = 0, \
             attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END WHERE id = $2",
        )
        .bind(next.millis())
        .bind(id.to_owned());
        return execute(q, conn).await.map(drop);
    }
    let (status, next, error) = match disposition {
        MailDisposition::Sent => ("sent", at, None),
        MailDisposition::Dropped(reason) => ("dropped", at, Some(reason.clone())),
        MailDisposition::Retry { at: next, error } => ("pending", *next, Some(error.clone())),
        MailDisposition::Failed(error) => ("failed", at, Some(error.clone())),
        // Handled above.
        MailDisposition::Postpone { at: next } => ("pending", *next, None),
    };
    let q = sqlx::query(
        "UPDATE mail_outbox SET status = $1, next_attempt_at = $2, last_error = $3, locked_until = 0, \
         updated_at = $4 WHERE id = $5",
    )
    .bind(status)
    .bind(next.millis())
    .bind(error)
    .bind(at.millis())
    .bind(id.to_owned());
    execute(q, conn).await.map(drop)
}

/// Rows marked sent by one statement (one bound id each).
const SENT_PER_STATEMENT: usize = 256;

/// Marks `ids` sent in the caller's transaction, as `settle_one` does one row.
async fn settle_sent(
    conn: &mut sqlx::AnyConnection,
    ids: &[&str],
    at: Timestamp,
) -> StoreResult<()> {
    let mut p = Placeholders::for_connection(conn);
    let (next, updated) = (p.next(), p.next());
    let list = (0..ids.len())
        .map(|_| p.next())
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "UPDATE mail_outbox SET status = 'sent', next_attempt_at = {next}, last_error = NULL, \
         locked_until = 0, updated_at = {updated} WHERE id IN ({list})"
    );
    let q = ids.iter().fold(
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(at.millis())
            .bind(at.millis()),
        |q, id| q.bind((*id).to_owned()),
    );
    execute(q, conn).await.map(drop)
}

#[async_trait]
impl OutboxStore for SqlStore {
    async fn enqueue_mail(&self, mails: &[QueuedMail]) -> StoreResult<()> {
        let mut conn = self.writer().acquire().await.map_err(other)?;
        if mails.len() <= rows_per_statement(&conn, 1000, 16) {
            // One statement is atomic by itself: no BEGIN and COMMIT, which on SQLite are two
            // more hops to the connection's thread, holding the one writer, per batch.
            return insert_mail_rows(&mut conn, mails).await;
        }
        drop(conn);
        let mut tx = self.begin_write().await.map_err(other)?;
        insert_mail(&mut tx, mails).await?;
        tx.commit().await.map_err(other)
    }

    async fn lease_mail(
        &self,
        lane: Lane,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<LeasedMail>> {
        // PostgreSQL: SKIP LOCKED lets several nodes lease disjoint rows without waiting on each
        // other. SQLite has one writer, so the plain conditional update is already exclusive.
        let lock = match self.dialect {
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        // The limit is written into the statement: SQLite reads a bound LIMIT while planning,
        // so every new binding would make it parse and plan the statement again (perf showed
        // that re-preparation as 12% of the SQLite threads' time). A lane asks for at most its
        // slot count, so there are few such statements to cache.
        let sql = format!(
            "UPDATE mail_outbox SET locked_until = $1, attempts = attempts + 1, updated_at = $2 \
             WHERE id IN (SELECT id FROM mail_outbox WHERE lane = $3 AND status = 'pending' \
             AND next_attempt_at <= $2 AND locked_until <= $2 ORDER BY next_attempt_at LIMIT {limit}{lock}) \
             RETURNING id, job, attempts"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(lease_until.millis())
            .bind(now.millis())
            .bind(lane.as_str())
            .fetch_all(&self.writer)
            .await
            .map_err(other)?;
        rows.iter()
            .map(|row| {
                let text: String = row.try_get("job").map_err(other)?;
                Ok(LeasedMail {
                    id: row.try_get("id").map_err(other)?,
                    // The error, not the row: a flow-v1 row holds a password hash.
                    job: serde_json::from_str(&text).map_err(|e| e.to_string()),
                    attempts: row.try_get("attempts").map_err(other)?,
                })
            })
            .collect()
    }

    async fn settle_mails(
        &self,
        settled: &[(String, MailDisposition)],
        at: Timestamp,
    ) -> StoreResult<()> {
        if settled.is_empty() {
            return Ok(());
        }
        // Sent is nearly every settlement and writes the same values to each row: one
        // statement for all of them. On SQLite each statement is a hop to the connection's
        // thread: a statement a row held the one writer for a hop per mail.
        let sent: Vec<&str> = settled
            .iter()
            .filter(|(_, d)| matches!(d, MailDisposition::Sent))
            .map(|(id, _)| id.as_str())
            .collect();
        if sent.len() == settled.len() && sent.len() <= SENT_PER_STATEMENT {
            // One statement is atomic by itself: no BEGIN and COMMIT hops.
            let mut conn = self.writer().acquire().await.map_err(other)?;
            return settle_sent(&mut conn, &sent, at).await;
        }
        let mut tx = self.begin_write().await.map_err(other)?;
        for chunk in sent.chunks(SENT_PER_STATEMENT) {
            settle_sent(&mut tx, chunk, at).await?;
        }
        for (id, disposition) in settled {
            if !matches!(disposition, MailDisposition::Sent) {
                settle_one(&mut tx, id, disposition, at).await?;
            }
        }
        tx.commit().await.map_err(other)
    }

    async fn park_stream_deliveries(
        &self,
        stream_id: &str,
        until: Timestamp,
        now: Timestamp,
    ) -> StoreResult<u64> {
        let q = sqlx::query(
            "UPDATE mail_outbox SET next_attempt_at = $1 WHERE stream_id = $3 \
             AND status = 'pending' AND locked_until <= $2 AND next_attempt_at < $1",
        )
        .bind(until.millis())
        .bind(now.millis())
        .bind(stream_id.to_owned());
        execute(q, &self.writer).await
    }

    async fn trim_stream_backlogs(
        &self,
        max_pending: u64,
        now: Timestamp,
    ) -> StoreResult<Vec<(String, u64)>> {
        let max = i64::try_from(max_pending).unwrap_or(i64::MAX);
        // Streams over the bound (rows a worker holds count, but are never deleted here),
        // read first on the read pool: usually none, and no write transaction is opened.
        let over = sqlx::query(
            "SELECT stream_id, COUNT(*) AS n FROM mail_outbox WHERE stream_id IS NOT NULL \
             AND status = 'pending' GROUP BY stream_id HAVING COUNT(*) > $1",
        )
        .bind(max)
        .fetch_all(&self.reader)
        .await
        .map_err(other)?;
        if over.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_write().await.map_err(other)?;
        let mut trimmed = Vec::new();
        for row in &over {
            let stream: String = row.try_get("stream_id").map_err(other)?;
            // Counted again in the transaction (another node may have trimmed meanwhile).
            let n: i64 = sqlx::query(
                "SELECT COUNT(*) AS n FROM mail_outbox WHERE stream_id = $1 AND status = 'pending'",
            )
            .bind(stream.clone())
            .fetch_one(&mut *tx)
            .await
            .map_err(other)?
            .try_get("n")
            .map_err(other)?;
            if n <= max {
                continue;
            }
            // The oldest go: the newest `max` stay.
            let q = sqlx::query(
                "DELETE FROM mail_outbox WHERE id IN (SELECT id FROM mail_outbox \
                 WHERE stream_id = $1 AND status = 'pending' AND locked_until <= $2 \
                 ORDER BY created_at, id LIMIT $3)",
            )
            .bind(stream.clone())
            .bind(now.millis())
            .bind(n - max);
            let dropped = execute(q, &mut *tx).await?;
            if dropped == 0 {
                continue;
            }
            let q = sqlx::query("UPDATE log_streams SET dropped = dropped + $1 WHERE id = $2")
                .bind(i64::try_from(dropped).unwrap_or(i64::MAX))
                .bind(stream.clone());
            execute(q, &mut *tx).await?;
            trimmed.push((stream, dropped));
        }
        tx.commit().await.map_err(other)?;
        Ok(trimmed)
    }

    async fn prune_mail(&self, before: Timestamp) -> StoreResult<u64> {
        let q =
            sqlx::query("DELETE FROM mail_outbox WHERE status <> 'pending' AND updated_at < $1")
                .bind(before.millis());
        execute(q, &self.writer).await
    }

    async fn pending_by_lane(&self) -> StoreResult<Vec<(String, u64, Timestamp)>> {
        let rows = sqlx::query(
            "SELECT lane, COUNT(*) AS n, MIN(created_at) AS oldest FROM mail_outbox \
             WHERE status = 'pending' GROUP BY lane ORDER BY lane",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(other)?;
        rows.iter()
            .map(|r| {
                let n: i64 = r.try_get("n").map_err(other)?;
                let oldest: i64 = r.try_get("oldest").map_err(other)?;
                Ok((
                    r.try_get("lane").map_err(other)?,
                    u64::try_from(n).unwrap_or(0),
                    Timestamp::from_millis(oldest),
                ))
            })
            .collect()
    }

    async fn mail_counts(&self) -> StoreResult<Vec<(String, u64)>> {
        let rows = sqlx::query(
            "SELECT status, COUNT(*) AS n FROM mail_outbox GROUP BY status ORDER BY status",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(other)?;
        rows.iter()
            .map(|r| {
                let n: i64 = r.try_get("n").map_err(other)?;
                Ok((
                    r.try_get("status").map_err(other)?,
                    u64::try_from(n).unwrap_or(0),
                ))
            })
            .collect()
    }
}
