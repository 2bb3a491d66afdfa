//! The `change_password` scenario: requests/s and latency of `POST /dbconnections/change_password`
//! with many users in the store, then how fast the outbox worker turns the queued requests into
//! mails on a loopback SMTP server. Users are seeded straight into the store (hashing a million
//! passwords would take hours and measures nothing here).

use crate::load::{self, Stats};
use anyhow::Context;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Users are `reset-{i}@bench.example`; a tenth of the requests name addresses nobody has.
pub fn email(i: u64) -> String {
    format!("reset-{i}@bench.example")
}

/// Inserts users `from..to` in batches, outside the server (its store is idle meanwhile).
pub async fn seed_users(database_url: &str, from: u64, to: u64) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let store = latchkey_store_sql::connect(database_url).await?;
    let pool = latchkey_store_sql::writer_pool(&store);
    // A real argon2id PHC string; nobody logs in with it.
    let hash = "$argon2id$v=19$m=19456,t=2,p=1$YmVuY2hzYWx0YmVuY2g$2M2ivMhMQmDBmChz6XhWGbJm2Pd5L0r8mX0lGLb1gZk";
    let now = latchkey_core::time::Timestamp::now().millis();
    const BATCH: u64 = 500;
    let mut i = from;
    while i < to {
        let end = (i + BATCH).min(to);
        let mut sql = String::from(
            "INSERT INTO users (user_id, connection, email, password_hash, profile, user_metadata, app_metadata, \
             created_at, updated_at) VALUES ",
        );
        for (n, k) in (i..end).enumerate() {
            if n > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "('auth0|b{k:023}', 'Username-Password-Authentication', '{}', '{hash}', '{{}}', '{{}}', '{{}}', {now}, {now})",
                email(k)
            ));
        }
        let mut tx = pool.begin().await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await
            .context("seeding users")?;
        tx.commit().await?;
        i = end;
    }
    store.close().await;
    Ok(started.elapsed())
}

/// The request bodies: 10,000 addresses spread over the seeded users, every tenth unknown.
pub fn bodies(client_id: &Value, users: u64) -> Vec<Value> {
    (0..10_000u64)
        .map(|n| {
            let address = if n % 10 == 9 {
                format!("nobody-{n}@bench.example")
            } else {
                // Spread over the whole table, not just its first rows.
                email(n.wrapping_mul(2_654_435_761) % users.max(1))
            };
            json!({"client_id": client_id, "email": address, "connection": "Username-Password-Authentication"})
        })
        .collect()
}

/// A loopback SMTP server that accepts everything and counts messages.
pub struct CountingSink {
    pub addr: SocketAddr,
    pub received: Arc<AtomicU64>,
}

impl CountingSink {
    pub async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let received = Arc::new(AtomicU64::new(0));
        let counter = received.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    let _ = session(socket, counter).await;
                });
            }
        });
        Ok(Self { addr, received })
    }
}

async fn session(socket: tokio::net::TcpStream, counter: Arc<AtomicU64>) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut reader = BufReader::new(read);
    write.write_all(b"220 bench ESMTP\r\n").await?;
    let mut line = String::new();
    let mut in_data = false;
    loop {
        line.clear();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        if in_data {
            if line == ".\r\n" {
                in_data = false;
                counter.fetch_add(1, Ordering::Relaxed);
                write.write_all(b"250 OK\r\n").await?;
            }
            continue;
        }
        let upper = line.trim_end().to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            write.write_all(b"250-bench\r\n250 8BITMIME\r\n").await?;
        } else if upper == "DATA" {
            in_data = true;
            write.write_all(b"354 go on\r\n").await?;
        } else if upper == "QUIT" {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            write.write_all(b"250 OK\r\n").await?;
        }
    }
}

/// How much load: `windows` windows of `window`, `concurrency` connections.
pub struct LoadPlan {
    pub concurrency: usize,
    pub windows: u32,
    pub window: Duration,
}

/// Load windows of change_password; the stats and the seconds they took.
pub async fn intake(addr: SocketAddr, requests: &load::Requests, plan: &LoadPlan) -> (Stats, f64) {
    let mut stats = Stats::default();
    let mut seconds = 0.0;
    for _ in 0..plan.windows.max(1) {
        seconds += load::window(addr, requests, plan.concurrency, plan.window, &mut stats)
            .await
            .as_secs_f64();
    }
    (stats, seconds)
}

/// Waits until nothing is pending in the outbox (at most ten minutes); the mails the sink
/// received meanwhile and the seconds it took.
pub async fn drain(
    services: &latchkey_core::Services,
    sink: &CountingSink,
) -> anyhow::Result<(u64, f64)> {
    let before = sink.received.load(Ordering::Relaxed);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(600);
    loop {
        let counts = services.jobs.mail_queue().await?;
        let pending = counts
            .iter()
            .find(|(s, _)| s == "pending")
            .map_or(0, |(_, n)| *n);
        if pending == 0 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok((
        sink.received.load(Ordering::Relaxed) - before,
        started.elapsed().as_secs_f64(),
    ))
}

/// The install most people run: one node on the store that serves requests and delivers its
/// own mail. The bench's main server (which never delivers) measures intake alone; this node is
/// started on the same store once requests are queued and stopped before the next run, so one
/// process writes the store at a time, as on a single-node install (two SQLite writers on one
/// file would wait for each other's locks, which no real install does).
pub struct SingleNode {
    pub addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl SingleNode {
    pub async fn start(settings: &latchkey_server::Settings) -> anyhow::Result<Self> {
        let mut settings = settings.clone();
        settings.mail.deliver = true;
        settings.server.listen = "127.0.0.1:0".into();
        let app = latchkey_server::Application::build(&settings, &Default::default()).await?;
        let addr = app.address();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        Ok(Self { addr, stop, task })
    }
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.task.await?
    }
}
