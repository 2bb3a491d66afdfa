//! Group commit for small writes that many tasks make at once (a reset link's ticket per mail
//! being delivered): callers hand their item to one task, which writes whatever has queued up
//! in a single transaction and answers each caller once its item is durable. On SQLite every
//! transaction is a turn of the one writer connection; one per batch instead of one per item
//! leaves that connection free for the requests being served meanwhile.
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
    /// transaction, in order.
    pub(crate) fn start<S: ?Sized + Send + Sync + 'static>(
        store: Arc<S>,
        max_batch: usize,
        write: Write<S, T>,
    ) -> Self {
        let (tx, mut rx) = mpsc::channel::<(T, oneshot::Sender<StoreResult<()>>)>(4096);
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
        let stopped = || StoreError::Other(anyhow::anyhow!("the group-commit writer stopped"));
        let (done, wait) = oneshot::channel();
        self.tx.send((item, done)).await.map_err(|_| stopped())?;
        wait.await.map_err(|_| stopped())?
    }
}
