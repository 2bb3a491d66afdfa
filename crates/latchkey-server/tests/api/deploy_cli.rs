//! auth0-deploy-cli 8 (`a0deploy`), unchanged, against the real binary over TLS: export a
//! tenant, import the same directory, export again, and nothing changed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::*;
use crate::sdk::repo_root;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn deploy_cli_dir() -> PathBuf {
    let dir = std::env::var("LATCHKEY_DEPLOY_CLI_DIR")
        .map_or_else(|_| repo_root().join("tests-sdk/deploy-cli"), PathBuf::from);
    assert!(
        dir.join("node_modules/auth0-deploy-cli/lib/index.js")
            .exists(),
        "auth0-deploy-cli is not installed: run scripts/test (it runs npm ci in tests-sdk/deploy-cli)"
    );
    dir
}

/// Runs `a0deploy <args>` with the Management API client's credentials; returns its output.
async fn a0deploy(server: &Server, args: &[&str]) -> String {
    let boot = server.bootstrap();
    let m = &boot["management_api"];
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(deploy_cli_dir().join("node_modules/auth0-deploy-cli/lib/index.js"))
        .args(args)
        .env("AUTH0_DOMAIN", format!("127.0.0.1:{}", server.port))
        .env("AUTH0_CLIENT_ID", m["client_id"].as_str().unwrap())
        .env("AUTH0_CLIENT_SECRET", m["client_secret"].as_str().unwrap())
        .env("NODE_EXTRA_CA_CERTS", server.data_dir.join("tls/cert.pem"))
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(180), cmd.output())
        .await
        .expect("a0deploy timed out")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "a0deploy {args:?} failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    stdout
}

/// Every file under `dir`, by relative path.
fn read_tree(dir: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().display().to_string();
                files.insert(rel, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    files
}

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn new(server: &Server) -> Self {
        let http = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .build()
            .unwrap();
        let base = format!("https://127.0.0.1:{}", server.port);
        let boot = server.bootstrap();
        let m = &boot["management_api"];
        let t: Value = http
            .post(format!("{base}/oauth/token"))
            .json(
                &json!({"grant_type": "client_credentials", "client_id": m["client_id"],
                          "client_secret": m["client_secret"], "audience": m["audience"]}),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = t["access_token"].as_str().unwrap().to_owned();
        Self { http, base, token }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}/api/v2{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// What the tenant holds, read straight from the API, for a before/after comparison.
    async fn state(&self) -> Value {
        let mut out = serde_json::Map::new();
        for path in [
            "/clients",
            "/client-grants",
            "/connections",
            "/resource-servers",
            "/tenants/settings",
            "/prompts",
            "/branding",
            "/attack-protection/breached-password-detection",
            "/attack-protection/brute-force-protection",
            "/attack-protection/suspicious-ip-throttling",
            "/guardian/factors",
            "/guardian/policies",
            "/actions/actions",
            "/log-streams",
        ] {
            let (status, body) = self.call(reqwest::Method::GET, path, None).await;
            assert_eq!(status, 200, "GET {path}: {body}");
            out.insert(path.into(), body);
        }
        Value::Object(out)
    }
}

#[tokio::test]
async fn a0deploy_export_then_import_changes_nothing() {
    let server = start_binary(true, &[]).await;
    let api = Api::new(&server).await;
    // Something of each kind deploy-cli carries: an API with scopes, an application allowed to
    // call it, and a prompt setting.
    let (s, rs) = api
        .call(
            reqwest::Method::POST,
            "/resource-servers",
            Some(
                json!({"name": "Orders", "identifier": "https://orders.example.test/",
                        "scopes": [{"value": "read:orders", "description": "Read orders"}],
                        "token_lifetime": 3600, "allow_offline_access": true}),
            ),
        )
        .await;
    assert_eq!(s, 201, "{rs}");
    let (s, client) = api
        .call(
            reqwest::Method::POST,
            "/clients",
            Some(
                json!({"name": "Orders worker", "app_type": "non_interactive",
                        "grant_types": ["client_credentials"]}),
            ),
        )
        .await;
    assert_eq!(s, 201, "{client}");
    let (s, grant) = api
        .call(
            reqwest::Method::POST,
            "/client-grants",
            Some(
                json!({"client_id": client["client_id"], "audience": "https://orders.example.test/",
                        "scope": ["read:orders"]}),
            ),
        )
        .await;
    assert_eq!(s, 201, "{grant}");
    let (s, body) = api
        .call(
            reqwest::Method::PATCH,
            "/prompts",
            Some(json!({"universal_login_experience": "classic"})),
        )
        .await;
    assert_eq!(s, 200, "{body}");

    let work = temp_dir();
    let first = work.join("first");
    let second = work.join("second");
    let started = std::time::Instant::now();
    a0deploy(
        &server,
        &[
            "export",
            "--format",
            "directory",
            "--output_folder",
            first.to_str().unwrap(),
        ],
    )
    .await;
    let export_took = started.elapsed();
    let exported = read_tree(&first);
    let api_file = exported
        .iter()
        .find(|(k, _)| k.starts_with("resource-servers/"))
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("no resource server exported: {:?}", exported.keys()));
    assert!(
        api_file.contains("https://orders.example.test/"),
        "{api_file}"
    );
    assert!(
        !exported.keys().any(|k| k.contains("Auth0 Management API")),
        "deploy-cli must recognise the Management API: {:?}",
        exported.keys()
    );
    let prompts = exported
        .get("prompts/prompts.json")
        .unwrap_or_else(|| panic!("no prompts: {:?}", exported.keys()));
    assert!(prompts.contains("classic"), "{prompts}");

    let before = api.state().await;
    let started = std::time::Instant::now();
    a0deploy(
        &server,
        &["import", "--input_file", first.to_str().unwrap()],
    )
    .await;
    let import_took = started.elapsed();
    let after = api.state().await;
    let changed: Vec<String> = before
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, v)| after[k.as_str()] != **v)
        .map(|(k, v)| format!("{k}:\n before {v}\n after  {}", after[k.as_str()]))
        .collect();
    assert!(
        changed.is_empty(),
        "the import of an unchanged export changed the tenant:\n{}",
        changed.join("\n")
    );

    a0deploy(
        &server,
        &[
            "export",
            "--format",
            "directory",
            "--output_folder",
            second.to_str().unwrap(),
        ],
    )
    .await;
    let again = read_tree(&second);
    let differing: Vec<&String> = exported
        .keys()
        .chain(again.keys())
        .filter(|k| exported.get(*k) != again.get(*k))
        .collect();
    assert!(
        differing.is_empty(),
        "a second export differs from the first in {differing:?}"
    );
    println!("a0deploy export {export_took:?}, import {import_took:?}");
}
