//! The intake: requests hand their jobs to one task that writes whatever has queued up in a
//! single transaction (group commit), so a burst of `change_password` requests costs one
//! commit per batch, and a request is answered only once its job is durable.

use crate::error::{ServiceError, ServiceResult};
use crate::mail::{Lane, OutboxJob};
use crate::store::{QueuedMail, Store};
use crate::time::Timestamp;
use std::sync::Arc;
use tokio::sync::{Notify, mpsc, oneshot};

struct Pending {
    mail: QueuedMail,
    /// The error: whether the store was unreachable (503, retry later), and what it said.
    done: oneshot::Sender<Result<(), (bool, String)>>,
}

#[derive(Clone)]
pub(crate) struct JobIntake {
    tx: mpsc::Sender<Pending>,
    /// The worker's people lane (mail) and machines lane (the rest).
    people: Arc<Notify>,
    machines: Arc<Notify>,
}

impl JobIntake {
    pub(crate) fn start(store: Arc<dyn Store>, people: Arc<Notify>, machines: Arc<Notify>) -> Self {
        let (tx, mut rx) = mpsc::channel::<Pending>(16_384);
        let wakes = (people.clone(), machines.clone());
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(512);
            while rx.recv_many(&mut batch, 512).await > 0 {
                let (mails, waiters): (Vec<_>, Vec<_>) =
                    batch.drain(..).map(|p| (p.mail, p.done)).unzip();
                let result = store.enqueue_mail(&mails).await.map_err(|e| {
                    (
                        matches!(e, crate::store::StoreError::Unavailable(_)),
                        e.to_string(),
                    )
                });
                if result.is_ok() {
                    // Each lane's worker is woken for its own jobs only.
                    for lane in Lane::ALL {
                        if mails.iter().any(|m| m.job.lane() == lane) {
                            match lane {
                                Lane::People => people.notify_one(),
                                Lane::Machines => machines.notify_one(),
                            }
                        }
                    }
                }
                for w in waiters {
                    let _ = w.send(result.clone());
                }
            }
        });
        Self {
            tx,
            people: wakes.0,
            machines: wakes.1,
        }
    }

    /// Wakes this node's worker (after a commit that queued jobs outside the intake).
    pub(crate) fn wake_worker(&self) {
        self.people.notify_one();
        self.machines.notify_one();
    }

    /// What the worker waits on for `lane`.
    pub(crate) fn wake_for(&self, lane: Lane) -> Arc<Notify> {
        match lane {
            Lane::People => self.people.clone(),
            Lane::Machines => self.machines.clone(),
        }
    }

    /// Returns once the mail is committed to the outbox.
    pub(crate) async fn enqueue(&self, job: OutboxJob) -> ServiceResult<()> {
        self.enqueue_all(vec![job]).await
    }

    /// `enqueue` for several jobs, handed over together (usually one batch, one commit);
    /// returns once every one is committed.
    pub(crate) async fn enqueue_all(&self, jobs: Vec<OutboxJob>) -> ServiceResult<()> {
        let mut waits = Vec::with_capacity(jobs.len());
        for job in jobs {
            let (done, wait) = oneshot::channel();
            let mail = QueuedMail {
                id: format!("mail_{}", crate::random::alnum(20)?),
                job,
                at: Timestamp::now(),
            };
            self.tx
                .send(Pending { mail, done })
                .await
                .map_err(|_| anyhow::anyhow!("the mail intake stopped"))?;
            waits.push(wait);
        }
        for wait in waits {
            match wait.await {
                Ok(Ok(())) => {}
                Ok(Err((true, e))) => {
                    return Err(ServiceError::Unavailable(anyhow::anyhow!(
                        "queueing mail: {e}"
                    )));
                }
                Ok(Err((false, e))) => return Err(anyhow::anyhow!("queueing mail: {e}").into()),
                Err(_) => return Err(anyhow::anyhow!("the mail intake stopped").into()),
            }
        }
        Ok(())
    }
}
