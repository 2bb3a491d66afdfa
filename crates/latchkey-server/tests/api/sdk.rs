//! The official Auth0 SDKs, unchanged, against the real `latchkey` binary.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::*;
use std::path::PathBuf;
use std::time::Duration;

pub(crate) fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// How long one SDK or browser script may run. A browser journey takes about 35 s alone on
/// 2 cores; this leaves room for a slow machine running other tests beside it.
const SCRIPT_LIMIT: Duration = Duration::from_secs(300);

/// Runs an SDK or browser script to its end and fails the test unless it exits 0. On a
/// timeout the script is killed and what it printed so far is shown, so the step it hung on
/// is in the failure.
pub(crate) async fn run(mut cmd: tokio::process::Command, what: &str) {
    use tokio::io::AsyncReadExt;
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{what} did not start: {e}"));
    let mut stdout_pipe = child.stdout.take().unwrap();
    let mut stderr_pipe = child.stderr.take().unwrap();
    let stdout_task = tokio::spawn(async move {
        let mut buf = Vec::new();
        let _ = stdout_pipe.read_to_end(&mut buf).await;
        buf
    });
    let stderr_task = tokio::spawn(async move {
        let mut buf = Vec::new();
        let _ = stderr_pipe.read_to_end(&mut buf).await;
        buf
    });
    let status = tokio::time::timeout(SCRIPT_LIMIT, child.wait()).await;
    if status.is_err() {
        let _ = child.kill().await;
    }
    // A grandchild still holding a pipe must not hang the test after the kill.
    let drained = |task: tokio::task::JoinHandle<Vec<u8>>| async move {
        match tokio::time::timeout(Duration::from_secs(5), task).await {
            Ok(Ok(buf)) => String::from_utf8_lossy(&buf).into_owned(),
            _ => "<still open 5 s after the script ended>".to_owned(),
        }
    };
    let stdout = drained(stdout_task).await;
    let stderr = drained(stderr_task).await;
    let Ok(status) = status else {
        panic!(
            "{what} timed out after {} s\nstdout so far:\n{stdout}\nstderr so far:\n{stderr}",
            SCRIPT_LIMIT.as_secs()
        );
    };
    assert!(
        status.unwrap().success(),
        "{what} failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    println!("{stdout}");
}

#[tokio::test]
async fn the_official_python_sdk_manages_users_and_logs_in() {
    let python = std::env::var("LATCHKEY_PYTHON")
        .unwrap_or_else(|_| repo_root().join(".venv/bin/python").display().to_string());
    assert!(
        std::path::Path::new(&python).exists(),
        "auth0-python is not installed: run scripts/test (it creates .venv), or set LATCHKEY_PYTHON"
    );
    let server = start_binary(false, &[]).await;
    let mut cmd = tokio::process::Command::new(python);
    cmd.arg(repo_root().join("tests-sdk/python/management_flow.py"))
        .env(
            "LATCHKEY_BASE_URL",
            format!("http://127.0.0.1:{}", server.port),
        )
        .env("LATCHKEY_BOOTSTRAP", server.data_dir.join("bootstrap.json"));
    run(cmd, "auth0-python management flow").await;
}

#[tokio::test]
async fn the_official_node_sdk_manages_users_over_tls() {
    let dir = std::env::var("LATCHKEY_NODE_SDK_DIR")
        .map_or_else(|_| repo_root().join("tests-sdk/node"), PathBuf::from);
    assert!(
        dir.join("node_modules/auth0").exists(),
        "npm auth0 is not installed: run scripts/test (it runs npm ci in tests-sdk/node)"
    );
    let server = start_binary(true, &[]).await;
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(dir.join("management_flow.mjs"))
        .env("LATCHKEY_DOMAIN", format!("127.0.0.1:{}", server.port))
        .env("LATCHKEY_BOOTSTRAP", server.data_dir.join("bootstrap.json"))
        .env("NODE_EXTRA_CA_CERTS", server.data_dir.join("tls/cert.pem"));
    run(cmd, "node auth0 management flow").await;
}

#[tokio::test]
async fn the_official_python_sdk_imports_users_through_its_job_methods() {
    let python = std::env::var("LATCHKEY_PYTHON")
        .unwrap_or_else(|_| repo_root().join(".venv/bin/python").display().to_string());
    let server = start_binary(false, &[]).await;
    let mut cmd = tokio::process::Command::new(python);
    cmd.arg(repo_root().join("tests-sdk/python/import_flow.py"))
        .env(
            "LATCHKEY_BASE_URL",
            format!("http://127.0.0.1:{}", server.port),
        )
        .env("LATCHKEY_BOOTSTRAP", server.data_dir.join("bootstrap.json"));
    run(cmd, "auth0-python import flow").await;
}

#[tokio::test]
async fn the_official_node_sdk_imports_users_through_its_job_methods() {
    let dir = std::env::var("LATCHKEY_NODE_SDK_DIR")
        .map_or_else(|_| repo_root().join("tests-sdk/node"), PathBuf::from);
    let server = start_binary(true, &[]).await;
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(dir.join("import_flow.mjs"))
        .env("LATCHKEY_DOMAIN", format!("127.0.0.1:{}", server.port))
        .env("LATCHKEY_BOOTSTRAP", server.data_dir.join("bootstrap.json"))
        .env("NODE_EXTRA_CA_CERTS", server.data_dir.join("tls/cert.pem"));
    run(cmd, "node auth0 import flow").await;
}

#[tokio::test]
async fn the_official_python_sdk_exports_users_through_its_job_methods() {
    let python = std::env::var("LATCHKEY_PYTHON")
        .unwrap_or_else(|_| repo_root().join(".venv/bin/python").display().to_string());
    let server = start_binary(false, &[]).await;
    let mut cmd = tokio::process::Command::new(python);
    cmd.arg(repo_root().join("tests-sdk/python/export_flow.py"))
        .env(
            "LATCHKEY_BASE_URL",
            format!("http://127.0.0.1:{}", server.port),
        )
        .env("LATCHKEY_BOOTSTRAP", server.data_dir.join("bootstrap.json"));
    run(cmd, "auth0-python export flow").await;
}

#[tokio::test]
async fn the_official_node_sdk_exports_users_through_its_job_methods() {
    let dir = std::env::var("LATCHKEY_NODE_SDK_DIR")
        .map_or_else(|_| repo_root().join("tests-sdk/node"), PathBuf::from);
    let server = start_binary(true, &[]).await;
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(dir.join("export_flow.mjs"))
        .env("LATCHKEY_DOMAIN", format!("127.0.0.1:{}", server.port))
        .env("LATCHKEY_BOOTSTRAP", server.data_dir.join("bootstrap.json"))
        .env("NODE_EXTRA_CA_CERTS", server.data_dir.join("tls/cert.pem"));
    run(cmd, "node auth0 export flow").await;
}
