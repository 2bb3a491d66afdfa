//! Group commit for small writes that many tasks make at once (a reset link's ticket per mail
//! being delivered, a queued mail per `change_password` request): callers hand their item to
//! one task, which writes whatever has queued up in a single transaction and answers each
//! caller once its item is durable. On SQLite every transaction is a turn of the one writer
//! connection; one per batch instead of one per item leaves that connection free for the
//! requests being served meanwhile.
//!
//! A batch that fails is written again item by item, so one bad item gets its own error and
//! never holds the others back.

use crate::store::{StoreError, StoreResult};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

type Write<S, T> =
    for<'a> fn(&'a S, &'a [T]) -> Pin<Box<dyn Future<Output = StoreResult<()>> + Send + 'a>>;

pub(crate) struct GroupCommit<T> {
    tx: mpsc::Sender<(T, oneshot::Sender<StoreResult<()>>)>,
}

impl<T> Clone for GroupCommit<T> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
        }
    }
}

impl<T: Send + Sync + 'static> GroupCommit<T> {
    /// Starts the writing task: `write` stores a batch of at most `max_batch` items in one
    /// transaction, in order. Up to 32 batches' worth of callers queue before a caller waits
    /// for room.
    pub(crate) fn start<S: ?Sized + Send + Sync + 'static>(
        store: Arc<S>,
        max_batch: usize,
        write: Write<S, T>,
    ) -> Self {
        let (tx, mut rx) = mpsc::channel::<(T, oneshot::Sender<StoreResult<()>>)>(max_batch * 32);
        tokio::spawn(async move {
            let mut queued = Vec::with_capacity(max_batch);
            while rx.recv_many(&mut queued, max_batch).await > 0 {
                let (items, waiters): (Vec<T>, Vec<_>) = queued.drain(..).unzip();
                match write(&store, &items).await {
                    Ok(()) => {
                        for w in waiters {
                            let _ = w.send(Ok(()));
                        }
                    }
                    Err(e) if items.len() == 1 => {
                        if let Some(w) = waiters.into_iter().next() {
                            let _ = w.send(Err(e));
                        }
                    }
                    // The store is down: item by item would wait out the pool's acquire
                    // timeout once per item. Every caller gets the outage (a 503) at once.
                    Err(StoreError::Unavailable(e)) => {
                        for w in waiters {
                            let _ = w.send(Err(StoreError::Unavailable(anyhow::anyhow!("{e}"))));
                        }
                    }
                    Err(_) => {
                        for (item, w) in items.iter().zip(waiters) {
                            let _ = w.send(write(&store, std::slice::from_ref(item)).await);
                        }
                    }
                }
            }
        });
        Self { tx }
    }

    /// Returns once `item` is committed.
    pub(crate) async fn write(&self, item: T) -> StoreResult<()> {
        self.write_all(vec![item]).await
    }

    /// `write` for several items, all handed over before any is awaited (so usually one
    /// batch); returns once every one is committed, or the first error.
    pub(crate) async fn write_all(&self, items: Vec<T>) -> StoreResult<()> {
        let stopped = || StoreError::Other(anyhow::anyhow!("the group-commit writer stopped"));
        let mut waits = Vec::with_capacity(items.len());
        for item in items {
            let (done, wait) = oneshot::channel();
            self.tx.send((item, done)).await.map_err(|_| stopped())?;
            waits.push(wait);
        }
        for wait in waits {
            wait.await.map_err(|_| stopped())??;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::Mutex;

    /// Commits batches into `committed`; a batch holding a negative number fails whole, and
    /// `down` makes every write an outage.
    #[derive(Default)]
    struct Ledger {
        committed: Mutex<Vec<i64>>,
        writes: Mutex<usize>,
        down: bool,
    }

    fn write_batch<'a>(
        ledger: &'a Ledger,
        items: &'a [i64],
    ) -> Pin<Box<dyn Future<Output = StoreResult<()>> + Send + 'a>> {
        Box::pin(async move {
            *ledger.writes.lock().unwrap() += 1;
            if ledger.down {
                return Err(StoreError::Unavailable(anyhow::anyhow!("refused")));
            }
            if items.iter().any(|i| *i < 0) {
                return Err(StoreError::Conflict("The item"));
            }
            ledger.committed.lock().unwrap().extend_from_slice(items);
            Ok(())
        })
    }

    async fn write_all(commit: &GroupCommit<i64>, items: &[i64]) -> Vec<StoreResult<()>> {
        // All handed over before any is awaited, as concurrent deliveries do.
        let calls: Vec<_> = items
            .iter()
            .map(|i| {
                let commit = commit.clone();
                let i = *i;
                tokio::spawn(async move { commit.write(i).await })
            })
            .collect();
        let mut results = Vec::new();
        for call in calls {
            results.push(call.await.unwrap());
        }
        results
    }

    #[tokio::test]
    async fn one_bad_item_gets_its_own_error_and_the_others_commit() {
        let ledger = Arc::new(Ledger::default());
        let commit = GroupCommit::start(ledger.clone(), 64, write_batch);
        let results = write_all(&commit, &[1, 2, -3, 4]).await;
        assert!(results[0].is_ok() && results[1].is_ok() && results[3].is_ok());
        assert!(matches!(results[2], Err(StoreError::Conflict(_))));
        let mut committed = ledger.committed.lock().unwrap().clone();
        committed.sort_unstable();
        assert_eq!(committed, vec![1, 2, 4]);
    }

    #[tokio::test]
    async fn an_outage_reaches_every_caller_without_a_write_per_item() {
        let ledger = Arc::new(Ledger {
            down: true,
            ..Ledger::default()
        });
        let commit = GroupCommit::start(ledger.clone(), 64, write_batch);
        let results = write_all(&commit, &[1, 2, 3, 4, 5, 6, 7, 8]).await;
        assert!(
            results
                .iter()
                .all(|r| matches!(r, Err(StoreError::Unavailable(_))))
        );
        // Batches, not items: a write per caller would be 8.
        assert!(*ledger.writes.lock().unwrap() < 8);
    }
}
