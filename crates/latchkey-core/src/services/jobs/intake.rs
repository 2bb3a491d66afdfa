//! The intake: requests queue their jobs through a group commit, so a burst of
//! `change_password` requests costs one commit per batch, and a request is answered only once
//! its job is durable. Each commit wakes the worker's lanes that have new jobs.

use crate::error::ServiceResult;
use crate::group_commit::GroupCommit;
use crate::mail::{Lane, OutboxJob};
use crate::store::{QueuedMail, Store};
use crate::time::Timestamp;
use std::sync::Arc;
use tokio::sync::Notify;

/// Most jobs queued in one transaction.
const BATCH: usize = 512;

#[derive(Clone)]
pub(crate) struct JobIntake {
    commit: GroupCommit<QueuedMail>,
    /// The worker's people lane (mail) and machines lane (the rest).
    people: Arc<Notify>,
    machines: Arc<Notify>,
}

impl JobIntake {
    pub(crate) fn start(store: Arc<dyn Store>, people: Arc<Notify>, machines: Arc<Notify>) -> Self {
        Self {
            commit: GroupCommit::start(store, BATCH, |store, mails| store.enqueue_mail(mails)),
            people,
            machines,
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
        let at = Timestamp::now();
        let mut mails = Vec::with_capacity(jobs.len());
        for job in jobs {
            let id = format!("mail_{}", crate::random::alnum(20)?);
            mails.push(QueuedMail { id, job, at });
        }
        // Each lane's worker is woken for its own jobs only.
        let lanes: Vec<Lane> = Lane::ALL
            .into_iter()
            .filter(|lane| mails.iter().any(|m| m.job.lane() == *lane))
            .collect();
        self.commit.write_all(mails).await?;
        for lane in lanes {
            self.wake_for(lane).notify_one();
        }
        Ok(())
    }
}
