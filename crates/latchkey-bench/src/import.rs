//! The `import` scenario: a bulk-import file of N users with bcrypt hashes, imported by the
//! release `latchkey users import` (a child process, as an operator runs it) into the bench's
//! store; its users/s and peak RSS (the child's VmHWM); then the first
//! logins of imported users (each one bcrypt verification and the argon2id re-hash) against
//! raw bcrypt verifications in the same run.

use anyhow::Context;
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Distinct passwords (and their real cost-10 bcrypt hashes) the generated users take in turn:
/// a hash's value does not change what an import costs, so a handful are computed and reused.
pub struct Credentials {
    pub pairs: Vec<(String, String)>,
}

impl Credentials {
    pub fn new(count: usize) -> anyhow::Result<Self> {
        let pairs = (0..count)
            .map(|k| {
                let password = format!("Import-Passw0rd-{k}");
                let hash = bcrypt::hash(&password, 10)?;
                Ok((password, hash))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self { pairs })
    }

    pub fn password(&self, i: u64) -> &str {
        &self.pairs[(i % self.pairs.len() as u64) as usize].0
    }
}

/// The address of generated user `i` of run `tag`.
pub fn email(tag: &str, i: u64) -> String {
    format!("imp{i}-{tag}@bench.example")
}

/// Writes `n` users in Auth0's bulk-import format to `path`, streamed; answers its size.
pub fn write_file(path: &Path, tag: &str, n: u64, creds: &Credentials) -> anyhow::Result<u64> {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    out.write_all(b"[")?;
    for i in 0..n {
        if i > 0 {
            out.write_all(b",\n")?;
        }
        let hash = &creds.pairs[(i % creds.pairs.len() as u64) as usize].1;
        let user = json!({
            "email": email(tag, i),
            "email_verified": true,
            "given_name": "Imported",
            "family_name": format!("User {i}"),
            "password_hash": hash,
            "user_metadata": {"plan": "basic", "source": "bench"},
        });
        serde_json::to_writer(&mut out, &user)?;
    }
    out.write_all(b"]\n")?;
    out.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

/// One run of the CLI.
pub struct CliRun {
    pub seconds: f64,
    pub peak_rss_kib: u64,
    pub summary: String,
}

/// The release `latchkey` next to this benchmark's binary.
pub fn latchkey_binary() -> anyhow::Result<PathBuf> {
    let path = std::env::current_exe()?.with_file_name("latchkey");
    anyhow::ensure!(
        path.exists(),
        "{} is missing: cargo build --release -p latchkey-bench -p latchkey-server",
        path.display()
    );
    Ok(path)
}

/// Runs `latchkey users import FILE` against `data_dir` (or `database_url`), waiting for it
/// for it while reading its own peak resident set.
pub fn run_cli(
    binary: &Path,
    file: &Path,
    data_dir: &Path,
    database_url: Option<&str>,
) -> anyhow::Result<CliRun> {
    let mut cmd = std::process::Command::new(binary);
    cmd.args(["users", "import"])
        .arg(file)
        .arg("--data-dir")
        .arg(data_dir)
        .stdout(std::process::Stdio::piped());
    match database_url {
        Some(url) => cmd.env("DATABASE_URL", url),
        None => cmd.env_remove("DATABASE_URL"),
    };
    let started = Instant::now();
    let mut child = cmd.spawn().context("starting latchkey users import")?;
    let mut stdout = child.stdout.take().context("the child's stdout")?;
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut s);
        s
    });
    // The child's peak resident set: VmHWM is the kernel's high-water mark for the process,
    // read until it exits (the workspace forbids the unsafe a wait4 call would need).
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_rss_kib = 0u64;
    let status = loop {
        if let Some(hwm) = std::fs::read_to_string(&status_file)
            .ok()
            .and_then(|s| vm_hwm_kib(&s))
        {
            peak_rss_kib = peak_rss_kib.max(hwm);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let seconds = started.elapsed().as_secs_f64();
    let out = reader.join().unwrap_or_default();
    anyhow::ensure!(
        status.success(),
        "latchkey users import failed ({status}): {out}"
    );
    Ok(CliRun {
        seconds,
        peak_rss_kib,
        summary: out.lines().next().unwrap_or_default().to_owned(),
    })
}

/// `VmHWM:    123456 kB` from /proc/<pid>/status.
fn vm_hwm_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Password-grant bodies for imported users `from..to`, each used once: a user's first login
/// verifies bcrypt and re-hashes; a second one would measure argon2id instead.
pub fn login_bodies(
    bootstrap: &Value,
    tag: &str,
    creds: &Credentials,
    from: u64,
    to: u64,
) -> Vec<Value> {
    (from..to)
        .map(|i| {
            json!({"grant_type": "password", "username": email(tag, i),
                "password": creds.password(i), "scope": "openid",
                "client_id": bootstrap["default_client"]["client_id"],
                "client_secret": bootstrap["default_client"]["client_secret"]})
        })
        .collect()
}

/// Raw bcrypt verifications of `hash` on `threads` threads for `duration`.
pub fn bcrypt_verifications(
    password: String,
    hash: String,
    threads: usize,
    duration: Duration,
) -> anyhow::Result<u64> {
    crate::raw::saturate(threads, duration, || {
        anyhow::ensure!(bcrypt::verify(&password, &hash)?, "bcrypt did not verify");
        Ok(())
    })
}
