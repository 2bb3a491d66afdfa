//! Settles a lane's deliveries in batches. A finished delivery hands its outcome here and frees
//! its slot at once; one task writes whatever has queued up meanwhile in one transaction
//! (group commit), so a busy lane costs one commit per batch instead of one per mail.
//!
//! Nothing is lost by not waiting: until its settlement commits, a row stays leased, so no
//! worker takes it again; if the node dies first, the lease runs out and the job is delivered
//! again, the same at-least-once a crash between sending and settling always gave.

use crate::store::{MailDisposition, Store};
use crate::time::Timestamp;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Most settlements written in one transaction.
const BATCH: usize = 256;
/// Tries per batch while the store is unreachable, a second apart, before its rows are left
/// to their leases.
const TRIES: u32 = 3;
/// How long a batch waits for more settlements once its first arrived. Nobody waits on a
/// settlement, and each commit rewrites the outbox's hot pages: at a thousand mails a second,
/// settling as soon as anything was queued cost a commit every two or three mails, and those
/// commits queued on SQLite's one writer ahead of the requests being served.
const LINGER: Duration = Duration::from_millis(20);

pub(super) struct Settler {
    tx: mpsc::UnboundedSender<(String, MailDisposition)>,
    task: tokio::task::JoinHandle<()>,
}

impl Settler {
    pub(super) fn start(store: Arc<dyn Store>) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<(String, MailDisposition)>();
        let task = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while rx.recv_many(&mut batch, BATCH).await > 0 {
                let deadline = tokio::time::Instant::now() + LINGER;
                while batch.len() < BATCH {
                    let room = BATCH - batch.len();
                    match tokio::time::timeout_at(deadline, rx.recv_many(&mut batch, room)).await {
                        // Every handle is gone (stopping): write what there is.
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
                write(store.as_ref(), &batch).await;
                batch.clear();
            }
        });
        Self { tx, task }
    }

    /// A handle for deliveries to settle through.
    pub(super) fn handle(&self) -> SettleHandle {
        SettleHandle(self.tx.clone())
    }

    /// Writes what is queued and stops (every handle must be dropped first).
    pub(super) async fn finish(self) {
        drop(self.tx);
        if let Err(e) = self.task.await {
            tracing::warn!(error = %e, "the delivery settler stopped abnormally");
        }
    }
}

#[derive(Clone)]
pub(super) struct SettleHandle(mpsc::UnboundedSender<(String, MailDisposition)>);

impl SettleHandle {
    /// Queues a leased job's outcome for the next batch.
    pub(super) fn settle(&self, id: String, disposition: MailDisposition) {
        if self.0.send((id.clone(), disposition)).is_err() {
            // Only while stopping after the settler ended: the lease runs out instead.
            tracing::warn!(mail = %id, "delivery settled after the settler stopped; its lease will run out");
        }
    }
}

async fn write(store: &dyn Store, batch: &[(String, MailDisposition)]) {
    for attempt in 1..=TRIES {
        match store.settle_mails(batch, Timestamp::now()).await {
            Ok(()) => return,
            Err(e) if attempt < TRIES => {
                tracing::warn!(error = %e, settlements = batch.len(), "could not record deliveries; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => {
                // The leases run out and the jobs are tried again: at least once, never lost.
                tracing::warn!(error = %e, settlements = batch.len(), "could not record deliveries; their leases will run out");
            }
        }
    }
}
