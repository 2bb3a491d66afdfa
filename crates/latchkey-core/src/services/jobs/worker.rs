//! The worker: leases due rows, hands each to its handler (`registry.rs`) and records the
//! outcome; failures retry with exponential backoff, and a crashed node's leases run out so
//! another node (or the restarted one) delivers. One per node; nodes share the queue.

use super::Attempt;
use crate::error::ServiceResult;
use crate::mail::MailError;
use crate::services::Services;
use crate::store::{LeasedMail, MailDisposition};
use crate::time::Timestamp;
use std::sync::Arc;
use std::time::{Duration, Instant};

impl Services {
    /// Runs queued jobs until the task is aborted.
    pub async fn run_job_worker(self: Arc<Self>) {
        let cfg = self.config.mail.clone();
        let mut last_prune: Option<Instant> = None;
        loop {
            if last_prune.is_none_or(|t| t.elapsed() > Duration::from_secs(3600)) {
                last_prune = Some(Instant::now());
                let week_ago = Timestamp::now().plus_seconds(-7 * 86_400);
                if let Err(e) = self.store.prune_mail(week_ago).await {
                    tracing::warn!(error = %e, "could not prune the mail outbox");
                }
                if let Err(e) = self.store.prune_executions(week_ago).await {
                    tracing::warn!(error = %e, "could not prune action executions");
                }
            }
            let now = Timestamp::now();
            let limit = u32::try_from(cfg.concurrency.max(1)).unwrap_or(8);
            let leased = match self.store.lease_mail(now, now.plus(cfg.lease), limit).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the mail outbox");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if leased.is_empty() {
                // Woken by the intake at once; the poll catches other nodes' mail and retries.
                tokio::select! {
                    () = self.mail_wake.notified() => {}
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                continue;
            }
            let mut set = tokio::task::JoinSet::new();
            for mail in leased {
                let services = self.clone();
                set.spawn(async move { services.deliver(mail).await });
            }
            while set.join_next().await.is_some() {}
        }
    }

    async fn deliver(&self, mail: LeasedMail) {
        let attempt = match &mail.job {
            Ok(job) => match self.attempt(job).await {
                Ok(a) => a,
                Err(e) => Attempt::Failed(MailError::Transient(e.to_string())),
            },
            Err(error) => Attempt::Dropped {
                reason: format!("unreadable outbox row: {error}"),
                log: None,
            },
        };
        let now = Timestamp::now();
        let disposition = match attempt {
            Attempt::Sent { log } => {
                self.record(log);
                MailDisposition::Sent
            }
            Attempt::Dropped { reason, log } => {
                self.record(log);
                MailDisposition::Dropped(reason)
            }
            Attempt::Failed(MailError::Permanent(e)) => MailDisposition::Failed(e),
            Attempt::Failed(MailError::Transient(e)) => {
                let attempts = u32::try_from(mail.attempts.max(1)).unwrap_or(u32::MAX);
                if attempts >= self.config.mail.max_attempts {
                    MailDisposition::Failed(e)
                } else {
                    let backoff = self
                        .config
                        .mail
                        .retry_base
                        .saturating_mul(2u32.saturating_pow(attempts - 1))
                        .min(Duration::from_secs(3600));
                    tracing::warn!(mail = %mail.id, attempt = attempts, retry_in_secs = backoff.as_secs(), error = %e, "mail delivery failed; will retry");
                    MailDisposition::Retry {
                        at: now.plus(backoff),
                        error: e,
                    }
                }
            }
        };
        if let MailDisposition::Failed(e) = &disposition {
            tracing::error!(mail = %mail.id, error = %e, "mail delivery failed for good");
        }
        if let Err(e) = self.store.settle_mail(&mail.id, &disposition, now).await {
            // The lease runs out and the mail is tried again: at least once, never lost.
            tracing::warn!(mail = %mail.id, error = %e, "could not record a mail's delivery");
        }
    }

    /// Outbox rows by status (`pending`, `sent`, `dropped`, `failed`): for operators and the
    /// benchmark, which waits for the queue to drain.
    pub async fn mail_queue(&self) -> ServiceResult<Vec<(String, u64)>> {
        Ok(self.store.mail_counts().await?)
    }

    /// Wakes this node's worker (after a commit that queued mail outside the intake).
    pub(crate) fn wake_job_worker(&self) {
        self.mail_wake.notify_one();
    }
}
