//! The `oidc-provider` scenario's peer: node-oidc-provider (installed from npm into
//! `peers/oidc-provider`, `npm ci` there), one worker per core, issuing client-credentials
//! RS256 JWT access tokens. The benchmark alternates windows of the same load generator
//! against Latchkey and against it.

use anyhow::Context;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The peer's directory in the repository.
fn peer_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/peers/oidc-provider"))
}

/// A running peer; stopped when dropped.
pub struct OidcProvider {
    child: Child,
    pub addr: SocketAddr,
}

impl OidcProvider {
    /// Starts the peer on a free loopback port and waits until every worker listens.
    pub fn start() -> anyhow::Result<Self> {
        let dir = peer_dir();
        anyhow::ensure!(
            dir.join("node_modules/oidc-provider").exists(),
            "the oidc-provider peer is not installed: npm ci --prefix {}",
            dir.display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut child = Command::new("node")
            .arg("server.mjs")
            .arg(port.to_string())
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting node (the oidc-provider peer)")?;
        let stdout = child.stdout.take().context("the peer's stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.trim() == "ready" {
                    let _ = tx.send(());
                }
            }
        });
        let started = Instant::now();
        let mut peer = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        loop {
            if rx.recv_timeout(Duration::from_millis(100)).is_ok() {
                return Ok(peer);
            }
            if let Some(status) = peer.child.try_wait()? {
                anyhow::bail!("the oidc-provider peer exited: {status}");
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(30),
                "the oidc-provider peer did not start within 30 s"
            );
        }
    }

    /// Its token request: the same grant Latchkey answers in the `tokens` scenario.
    pub fn token_request(&self) -> crate::load::Requests {
        crate::load::form_post(
            self.addr,
            "/token",
            "grant_type=client_credentials&client_id=bench\
             &client_secret=bench-secret-0123456789-0123456789-0123456789&scope=read:things",
            &[],
        )
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
