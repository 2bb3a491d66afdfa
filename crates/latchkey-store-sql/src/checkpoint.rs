//! SQLite checkpoints off the writer's path. By default the connection whose commit pushes
//! the write-ahead log past a thousand pages copies the log into the database file and waits
//! for both to reach the disk, inside that commit. Our one writer connection carries every
//! request's queued mail and every delivery's ticket and settlement, so each checkpoint
//! stalled them all behind an fsync (the writer thread used a third of a core while requests
//! waited on it). Here a connection of its own checkpoints a few times a second, concurrently
//! with the writer, in the same PASSIVE mode the automatic checkpoint uses, so durability and
//! the log's size stay what they were. The writer still checkpoints by itself, but only past
//! `WRITER_BACKSTOP_PAGES`: if this task ever fell behind, the log could not grow without bound.

use sqlx::Executor;
use sqlx::any::AnyPoolOptions;
use std::time::Duration;

/// How often the log is copied into the database.
const EVERY: Duration = Duration::from_millis(250);
/// Pages (64 MiB) past which the writer checkpoints in its own commit again.
pub(crate) const WRITER_BACKSTOP_PAGES: u32 = 16_384;

/// The checkpointing task and its connection; stops when the last copy of the store goes.
pub(crate) struct Checkpointer {
    task: tokio::task::JoinHandle<()>,
    pool: sqlx::AnyPool,
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Checkpointer {
    pub(crate) async fn start(url: &str) -> anyhow::Result<Self> {
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA busy_timeout = 5000;").await?;
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        let checkpoints = pool.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing = false;
            loop {
                tick.tick().await;
                // Returns (busy, frames in the log, frames copied); nothing to copy is cheap.
                match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .fetch_all(&checkpoints)
                    .await
                {
                    Ok(_) => failing = false,
                    Err(e) if !failing => {
                        failing = true;
                        tracing::warn!(error = %e, "could not checkpoint the SQLite log; the writer will once it is long");
                    }
                    Err(_) => {}
                }
            }
        });
        Ok(Self { task, pool })
    }

    /// Stops checkpointing and closes its connection (the store is closing).
    pub(crate) async fn stop(&self) {
        self.task.abort();
        self.pool.close().await;
    }
}
