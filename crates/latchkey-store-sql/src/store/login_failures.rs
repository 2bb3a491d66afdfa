use super::{SqlStore, execute, other};
use async_trait::async_trait;
use latchkey_core::domain::UserId;
use latchkey_core::store::{FailureCount, LoginBlock, LoginGuardStore, StoreResult};
use latchkey_core::time::Timestamp;
use sqlx::Row;

#[async_trait]
impl LoginGuardStore for SqlStore {
    async fn login_failures(&self, user: &UserId, ip: &str) -> StoreResult<Option<(i64, bool)>> {
        let row = sqlx::query(
            "SELECT failures, blocked_at FROM login_failures WHERE user_id = $1 AND ip = $2",
        )
        .bind(user.as_str().to_owned())
        .bind(ip.to_owned())
        .fetch_optional(&self.reader)
        .await
        .map_err(other)?;
        row.map(|r| -> StoreResult<(i64, bool)> {
            let failures: i64 = r.try_get("failures").map_err(other)?;
            let blocked: Option<i64> = r.try_get("blocked_at").map_err(other)?;
            Ok((failures, blocked.is_some()))
        })
        .transpose()
    }

    async fn record_login_failure(
        &self,
        user: &UserId,
        ip: &str,
        at: Timestamp,
        threshold: i64,
    ) -> StoreResult<FailureCount> {
        let mut tx = self.begin_write().await.map_err(other)?;
        let row = sqlx::query(
            "INSERT INTO login_failures (user_id, ip, failures, updated_at) VALUES ($1, $2, 1, $3) \
             ON CONFLICT (user_id, ip) DO UPDATE SET failures = login_failures.failures + 1, updated_at = $3 \
             RETURNING failures, blocked_at",
        )
        .bind(user.as_str().to_owned())
        .bind(ip.to_owned())
        .bind(at.millis())
        .fetch_one(&mut *tx)
        .await
        .map_err(other)?;
        let failures: i64 = row.try_get("failures").map_err(other)?;
        let blocked_at: Option<i64> = row.try_get("blocked_at").map_err(other)?;
        let newly_blocked = failures >= threshold && blocked_at.is_none();
        if newly_blocked {
            execute(
                sqlx::query(
                    "UPDATE login_failures SET blocked_at = $1 WHERE user_id = $2 AND ip = $3",
                )
                .bind(at.millis())
                .bind(user.as_str().to_owned())
                .bind(ip.to_owned()),
                &mut *tx,
            )
            .await?;
        }
        tx.commit().await.map_err(other)?;
        Ok(FailureCount {
            failures,
            newly_blocked,
        })
    }

    async fn login_blocks(&self, user: &UserId) -> StoreResult<Vec<LoginBlock>> {
        let rows = sqlx::query(
            "SELECT ip, blocked_at FROM login_failures WHERE user_id = $1 AND blocked_at IS NOT NULL ORDER BY ip",
        )
        .bind(user.as_str().to_owned())
        .fetch_all(&self.reader)
        .await
        .map_err(other)?;
        rows.iter()
            .map(|r| {
                Ok(LoginBlock {
                    ip: r.try_get("ip").map_err(other)?,
                    blocked_at: Timestamp::from_millis(r.try_get("blocked_at").map_err(other)?),
                })
            })
            .collect()
    }

    async fn clear_login_failures(&self, user: &UserId) -> StoreResult<u64> {
        execute(
            sqlx::query("DELETE FROM login_failures WHERE user_id = $1")
                .bind(user.as_str().to_owned()),
            &self.writer,
        )
        .await
    }

    async fn lift_login_block(
        &self,
        user: &UserId,
        ip: &str,
        blocked_at: Timestamp,
    ) -> StoreResult<bool> {
        let q = sqlx::query(
            "DELETE FROM login_failures WHERE user_id = $1 AND ip = $2 AND blocked_at = $3",
        )
        .bind(user.as_str().to_owned())
        .bind(ip.to_owned())
        .bind(blocked_at.millis());
        Ok(execute(q, &self.writer).await? == 1)
    }
}
