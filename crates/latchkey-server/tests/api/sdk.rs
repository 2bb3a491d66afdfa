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

pub(crate) async fn run(mut cmd: tokio::process::Command, what: &str) {
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("SDK script timed out")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
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
