//! The worker: leases due rows, hands each to its handler (`registry.rs`) and records the
//! outcome; failures retry with exponential backoff, and a crashed node's leases run out so
//! another node (or the restarted one) delivers. One per node; nodes share the queue.
//!
//! Rows wait in lanes (`OutboxJob::lane`): mail to people and deliveries to machines are
//! leased separately, each lane with its own slots, so a hung endpoint never delays a reset
//! mail. A failing log stream parks its own pending deliveries, and the machines lane keeps
//! each stream's backlog within `log_streams.max_pending` (the oldest dropped and counted).

use super::Attempt;
use super::settler::{SettleHandle, Settler};
use crate::error::ServiceResult;
use crate::mail::{Lane, MailError, OutboxJob};
use crate::services::JobRunner;
use crate::store::{LeasedMail, MailDisposition};
use crate::time::Timestamp;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a stopping worker lets deliveries in progress finish before it hands their leases
/// back (a mail cut off here goes out from the next node at once, not after its lease).
const STOP_GRACE: Duration = Duration::from_secs(5);

impl JobRunner {
    /// Runs queued jobs until `stop` turns true (or the task is aborted): one lane for mail to
    /// people, one for deliveries to machines, each with its own slots, so a hung endpoint
    /// only ever holds machine slots. On stop, each lane leases nothing more, lets its
    /// deliveries in progress finish for `STOP_GRACE`, then hands the rest back.
    pub async fn run_job_worker(self: Arc<Self>, stop: tokio::sync::watch::Receiver<bool>) {
        let people = tokio::spawn(self.clone().run_lane(Lane::People, stop.clone()));
        let machines = tokio::spawn(self.clone().run_lane(Lane::Machines, stop.clone()));
        // Aborting this task must stop both lanes.
        struct AbortOnDrop(Vec<tokio::task::JoinHandle<()>>);
        impl Drop for AbortOnDrop {
            fn drop(&mut self) {
                for h in &self.0 {
                    h.abort();
                }
            }
        }
        let mut lanes = AbortOnDrop(vec![people, machines]);
        let mut last_prune: Option<Instant> = None;
        let mut stop = stop;
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
                if let Err(e) = self.store.prune_exports(Timestamp::now()).await {
                    tracing::warn!(error = %e, "could not delete expired user exports");
                }
            }
            if lanes.0.iter().all(tokio::task::JoinHandle::is_finished) || *stop.borrow() {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(60)) => {}
                _ = stop.changed() => {}
            }
        }
        // Stopping: the lanes end on their own once their deliveries are settled or handed back.
        for lane in std::mem::take(&mut lanes.0) {
            let _ = lane.await;
        }
    }

    /// One lane: keeps up to its concurrency of jobs in flight, starting the next as each ends
    /// (a slow job holds one slot, not the batch). Rows are leased ahead, up to as many again
    /// as there are slots, and wait here for a slot: a busy lane leases about once per `slots`
    /// deliveries instead of once per few (each lease is a commit on SQLite's one writer).
    async fn run_lane(self: Arc<Self>, lane: Lane, mut stop: tokio::sync::watch::Receiver<bool>) {
        let cfg = self.config.mail.clone();
        let slots = match lane {
            Lane::People => cfg.concurrency,
            Lane::Machines => cfg.machine_concurrency,
        }
        .max(1);
        let lease_at_least = slots.div_ceil(4);
        let wake = self.job_intake.wake_for(lane);
        let settler = Settler::start(self.store.clone());
        let mut in_flight = tokio::task::JoinSet::new();
        // The row behind each delivery in progress, to hand back if it is cut off.
        let mut leased_rows: std::collections::HashMap<tokio::task::Id, String> =
            std::collections::HashMap::new();
        // Leased rows waiting for a slot, and when each was leased.
        let mut ready: std::collections::VecDeque<(LeasedMail, Instant)> =
            std::collections::VecDeque::new();
        let half_lease = cfg.lease / 2;
        // A delivery still running this long after its lease began is cut off and retried
        // later: the rest of the lease is for its settlement to commit before another node may
        // lease the row (a mail server that accepts and never answers holds a slot this long).
        let cut_off_after = cfg.lease - cfg.lease / 10;
        let mut last_trim: Option<Instant> = None;
        while !*stop.borrow() {
            if lane == Lane::Machines
                && last_trim.is_none_or(|t| t.elapsed() >= Duration::from_millis(500))
            {
                last_trim = Some(Instant::now());
                self.trim_stream_backlogs().await;
            }
            let mut leased_any = false;
            if ready.len() < lease_at_least {
                let room = (2 * slots).saturating_sub(in_flight.len() + ready.len());
                let now = Timestamp::now();
                let limit = u32::try_from(room).unwrap_or(8);
                match self
                    .store
                    .lease_mail(lane, now, now.plus(cfg.lease), limit)
                    .await
                {
                    Ok(leased) => {
                        leased_any = !leased.is_empty();
                        let at = Instant::now();
                        ready.extend(leased.into_iter().map(|mail| (mail, at)));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, lane = lane.as_str(), "could not read the outbox");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                }
            }
            // Only when every slot hung for a long while: a row that waited half its lease goes
            // back to the queue (due now, its attempt not counted) rather than wait on a lease
            // that runs out, when a second node could send it while this one still means to.
            // `ready` is in lease order, so the oldest rows are at the front.
            while ready
                .front()
                .is_some_and(|(_, leased_at)| leased_at.elapsed() > half_lease)
            {
                if let Some((mail, _)) = ready.pop_front() {
                    settler.handle().settle(
                        mail.id,
                        MailDisposition::Postpone {
                            at: Timestamp::now(),
                        },
                    );
                }
            }
            while in_flight.len() < slots {
                let Some((mail, leased_at)) = ready.pop_front() else {
                    break;
                };
                let services = self.clone();
                let id = mail.id.clone();
                let settle = settler.handle();
                let cut_off = leased_at + cut_off_after;
                let task =
                    in_flight.spawn(async move { services.deliver(mail, cut_off, settle).await });
                leased_rows.insert(task.id(), id);
            }
            if leased_any && ready.len() < lease_at_least {
                // There may be more due right now.
                continue;
            }
            // Wait for a slot to free up, the intake's wake-up, the poll that catches other
            // nodes' jobs and retries, or the stop.
            tokio::select! {
                Some(done) = in_flight.join_next_with_id(), if !in_flight.is_empty() => {
                    forget_row(&mut leased_rows, done);
                }
                () = wake.notified(), if ready.is_empty() => {}
                // Back in time to hand back the oldest waiting row before half its lease.
                () = tokio::time::sleep(ready.front().map_or(Duration::from_secs(1), |(_, at)| {
                    half_lease.saturating_sub(at.elapsed()).min(Duration::from_secs(1))
                        + Duration::from_millis(10)
                })) => {}
                _ = stop.changed() => {}
            }
        }
        let settle = settler.handle();
        // Rows that never started go back at once, due now and their attempt not counted.
        let now = Timestamp::now();
        for (mail, _) in ready {
            tracing::info!(mail = %mail.id, lane = lane.as_str(), "stopping: leased mail not started, handed back to the queue");
            settle.settle(mail.id, MailDisposition::Postpone { at: now });
        }
        self.hand_back(lane, in_flight, leased_rows, settle).await;
        settler.finish().await;
    }

    /// Lets the deliveries in progress finish for `STOP_GRACE`, then cuts the rest off and
    /// returns their rows to the queue, due now and their attempt not counted.
    async fn hand_back(
        &self,
        lane: Lane,
        mut in_flight: tokio::task::JoinSet<()>,
        mut leased_rows: std::collections::HashMap<tokio::task::Id, String>,
        settle: SettleHandle,
    ) {
        let deadline = tokio::time::Instant::now() + STOP_GRACE;
        while !in_flight.is_empty() {
            match tokio::time::timeout_at(deadline, in_flight.join_next_with_id()).await {
                Ok(Some(done)) => forget_row(&mut leased_rows, done),
                Ok(None) | Err(_) => break,
            }
        }
        in_flight.abort_all();
        // A delivery that ended before its abort took effect has settled itself: only the
        // ones cut off go back.
        while let Some(done) = in_flight.join_next_with_id().await {
            if !done
                .as_ref()
                .is_err_and(tokio::task::JoinError::is_cancelled)
            {
                forget_row(&mut leased_rows, done);
            }
        }
        let now = Timestamp::now();
        for id in leased_rows.into_values() {
            tracing::info!(mail = %id, lane = lane.as_str(), "stopping: delivery handed back to the queue");
            settle.settle(id, MailDisposition::Postpone { at: now });
        }
    }

    /// Keeps every log stream within `log_streams.max_pending`: the oldest beyond it are dropped
    /// and counted on the stream.
    async fn trim_stream_backlogs(&self) {
        let max = self.config.log_streams_max_pending.max(1);
        match self.store.trim_stream_backlogs(max, Timestamp::now()).await {
            Ok(trimmed) => {
                for (stream, dropped) in trimmed {
                    tracing::warn!(stream = %stream, dropped, max_pending = max, "log stream backlog over its bound; oldest deliveries dropped");
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not bound the log streams' backlogs"),
        }
    }

    /// Delivers one leased row and queues its settlement; an attempt still running at
    /// `cut_off` is abandoned as a transient failure.
    async fn deliver(&self, mail: LeasedMail, cut_off: Instant, settle: SettleHandle) {
        // A delivery queued for a stream parked meanwhile (a new log entry) waits with the
        // stream's others instead of taking a slot to time out again; not counted as an attempt.
        if let Ok(OutboxJob::LogStreamDelivery { stream_id, .. }) = &mail.job {
            let now = Timestamp::now();
            if let Some(until) = self.stream_parked_until(stream_id, now) {
                if let Err(e) = self
                    .store
                    .park_stream_deliveries(stream_id, until, now)
                    .await
                {
                    tracing::warn!(error = %e, "could not park a log stream's deliveries");
                }
                settle.settle(mail.id, MailDisposition::Postpone { at: until });
                return;
            }
        }
        let attempt = match &mail.job {
            Ok(job) => {
                let cut_off = tokio::time::Instant::from_std(cut_off);
                match tokio::time::timeout_at(cut_off, self.attempt(job)).await {
                    Ok(Ok(a)) => a,
                    Ok(Err(e)) => Attempt::Failed(MailError::Transient(e.to_string())),
                    Err(_) => Attempt::Failed(MailError::Transient(
                        "no outcome before its lease ran out; cut off".into(),
                    )),
                }
            }
            Err(error) => Attempt::Dropped {
                reason: format!("unreadable outbox row: {error}"),
                log: None,
            },
        };
        let now = Timestamp::now();
        let stream = match &mail.job {
            Ok(OutboxJob::LogStreamDelivery { stream_id, .. }) => Some(stream_id.as_str()),
            _ => None,
        };
        // Per destination: consecutive transient failures of one log stream push its other
        // pending deliveries out (doubling like a job's own retries), so a dead endpoint does
        // not keep taking the machines lane's slots; a success brings it back at once.
        let stream_failed = match (stream, &attempt) {
            (Some(stream), Attempt::Failed(MailError::Transient(_))) => {
                let park = self.note_stream_result(stream, false, now);
                match self
                    .store
                    .park_stream_deliveries(stream, now.plus(park), now)
                    .await
                {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::warn!(stream = %stream, parked = n, retry_in_secs = park.as_secs(), "log stream failing; its deliveries wait");
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "could not park a log stream's deliveries")
                    }
                }
                Some(park)
            }
            (Some(stream), Attempt::Sent { .. }) => {
                self.note_stream_result(stream, true, now);
                None
            }
            _ => None,
        };
        let disposition = match attempt {
            Attempt::Sent { log } => {
                self.audit.record_some(log);
                MailDisposition::Sent
            }
            Attempt::Dropped { reason, log } => {
                self.audit.record_some(log);
                MailDisposition::Dropped(reason)
            }
            Attempt::Failed(MailError::Permanent(e)) => MailDisposition::Failed(e),
            Attempt::Failed(MailError::Transient(e)) => {
                let attempts = u32::try_from(mail.attempts.max(1)).unwrap_or(u32::MAX);
                if attempts >= self.config.mail.max_attempts {
                    MailDisposition::Failed(e)
                } else {
                    let mut backoff = self.backoff(attempts);
                    // A failing stream parks its other deliveries with this one.
                    if let Some(parked) = stream_failed {
                        backoff = backoff.max(parked);
                    }
                    tracing::warn!(mail = %mail.id, attempt = attempts, retry_in_secs = backoff.as_secs(), error = %e, "delivery failed; will retry");
                    MailDisposition::Retry {
                        at: now.plus(backoff),
                        error: e,
                    }
                }
            }
        };
        count_delivery(&mail, &disposition);
        if let MailDisposition::Failed(e) = &disposition {
            tracing::error!(mail = %mail.id, error = %e, "mail delivery failed for good");
        }
        settle.settle(mail.id, disposition);
    }

    /// The delay before retry number `attempts` (1-based): `retry_base`, doubling, at most an
    /// hour.
    fn backoff(&self, attempts: u32) -> Duration {
        self.config
            .mail
            .retry_base
            .saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1).min(20)))
            .min(Duration::from_secs(3600))
    }

    /// Records a delivery's outcome for `stream`. A failure returns how long the stream's
    /// deliveries now wait (doubling with its consecutive failures); a success clears it.
    fn note_stream_result(&self, stream: &str, ok: bool, now: Timestamp) -> Duration {
        let Ok(mut failures) = self.stream_failures.lock() else {
            return self.backoff(1);
        };
        if ok {
            failures.remove(stream);
            return Duration::ZERO;
        }
        if failures.len() > 10_000 {
            // Streams come and go; never let the map grow without bound.
            failures.clear();
        }
        let entry = failures.entry(stream.to_owned()).or_insert((0, now));
        entry.0 = entry.0.saturating_add(1);
        let park = self.backoff(entry.0);
        entry.1 = now.plus(park);
        park
    }

    /// Until when `stream`'s deliveries wait, if it is parked now.
    fn stream_parked_until(&self, stream: &str, now: Timestamp) -> Option<Timestamp> {
        let failures = self.stream_failures.lock().ok()?;
        failures
            .get(stream)
            .map(|(_, until)| *until)
            .filter(|until| *until > now)
    }

    /// Outbox rows by status (`pending`, `sent`, `dropped`, `failed`): for operators and the
    /// benchmark, which waits for the queue to drain.
    pub async fn mail_queue(&self) -> ServiceResult<Vec<(String, u64)>> {
        Ok(self.store.mail_counts().await?)
    }
}

/// `/metrics`: the attempt's outcome by job kind, and a reset mail's delivery in the funnel.
fn count_delivery(mail: &LeasedMail, disposition: &MailDisposition) {
    use crate::metrics::{DeliveryOutcome, METRICS, ResetStage};
    let outcome = match disposition {
        MailDisposition::Sent => DeliveryOutcome::Delivered,
        MailDisposition::Retry { .. } => DeliveryOutcome::Retried,
        MailDisposition::Dropped(_) => DeliveryOutcome::Dropped,
        MailDisposition::Failed(_) => DeliveryOutcome::Failed,
        MailDisposition::Postpone { .. } => return,
    };
    let Ok(job) = &mail.job else {
        METRICS.job_delivery("unreadable", outcome);
        return;
    };
    METRICS.job_delivery(job.kind(), outcome);
    if let (OutboxJob::PasswordResetRequest { connection, .. }, DeliveryOutcome::Delivered) =
        (job, outcome)
    {
        METRICS.password_reset(connection, ResetStage::Delivered);
    }
}

/// A delivery that ended (settled, or panicked): its row is no longer this lane's to hand back.
fn forget_row(
    rows: &mut std::collections::HashMap<tokio::task::Id, String>,
    done: Result<(tokio::task::Id, ()), tokio::task::JoinError>,
) {
    let id = match done {
        Ok((id, ())) => id,
        Err(e) => e.id(),
    };
    rows.remove(&id);
}
