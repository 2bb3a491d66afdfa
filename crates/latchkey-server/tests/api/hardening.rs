//! Attacks an outside tester reproduced, one test (or table) each: `*:current_user` scopes on
//! other users, world-readable secrets, code exchange without `redirect_uri` and code replay,
//! HSTS and `no-store`, paging overflow, log streams to loopback ports, `change_password`
//! without `client_id`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::{TestApp, encode_id, free_port, spawn_app, spawn_app_with, temp_dir};
use crate::login::{Browser, CALLBACK, VERIFIER, authorize_url, code_of, log_in};
use reqwest::Method;
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

const PASSWORD: &str = "Correct-Horse-1";

/// Auth0's `*:current_user*` scopes: they reach the token's own subject only.
const CURRENT_USER_SCOPES: &[&str] = &[
    "read:current_user",
    "update:current_user",
    "delete:current_user",
    "create:current_user_metadata",
    "update:current_user_metadata",
    "delete:current_user_metadata",
    "update:current_user_identities",
    "create:current_user_device_credentials",
    "delete:current_user_device_credentials",
];

/// Every `(method, path)` the Management router serves, read from its source so that a new
/// route is walked too.
fn management_routes() -> Vec<(Method, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../latchkey-http/src/mgmt");
    let mut routes = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    for file in files {
        let src = std::fs::read_to_string(&file).unwrap();
        let mut rest = src.as_str();
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            let open = rest.find('"').unwrap();
            let close = open + 1 + rest[open + 1..].find('"').unwrap();
            let path = rest[open + 1..close].to_owned();
            // The handlers up to the matching parenthesis.
            let mut depth = 1;
            let mut end = close;
            for (i, c) in rest[close..].char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    end = close + i;
                    break;
                }
            }
            let handlers = &rest[close + 1..end];
            for (name, method) in [
                ("get", Method::GET),
                ("post", Method::POST),
                ("put", Method::PUT),
                ("patch", Method::PATCH),
                ("delete", Method::DELETE),
            ] {
                let call = format!("{name}(");
                let mut from = 0;
                while let Some(i) = handlers[from..].find(&call) {
                    let i = from + i;
                    let before = handlers[..i].chars().last();
                    if !before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                        routes.push((method.clone(), path.clone()));
                    }
                    from = i + call.len();
                }
            }
            rest = &rest[end..];
        }
    }
    routes
}

/// A client-credentials token for a new client granted `scopes` on the Management API.
async fn token_with(app: &TestApp, scopes: &[&str]) -> String {
    let (s, client) = app
        .api(
            Method::POST,
            "/clients",
            Some(json!({"name": "Scoped", "app_type": "non_interactive"})),
        )
        .await;
    assert_eq!(s, 201, "{client}");
    let audience = format!("{}api/v2/", app.issuer());
    let (s, grant) = app
        .api(
            Method::POST,
            "/client-grants",
            Some(json!({"client_id": client["client_id"], "audience": audience, "scope": scopes})),
        )
        .await;
    assert_eq!(s, 201, "{grant}");
    let res = app
        .token(
            json!({"grant_type": "client_credentials", "client_id": client["client_id"],
                      "client_secret": client["client_secret"], "audience": audience}),
        )
        .await;
    assert_eq!(res.status(), 200);
    res.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn hardening_current_user_scopes_never_reach_other_users() {
    let app = spawn_app().await;
    let victim = app.create_user("victim@example.com", PASSWORD).await;
    let victim_id = encode_id(victim["user_id"].as_str().unwrap());
    let routes = management_routes();
    assert!(
        routes.len() > 50
            && routes.contains(&(Method::DELETE, "/users/{id}".to_owned()))
            && routes.contains(&(Method::GET, "/users/{id}".to_owned())),
        "the route table was not read: {routes:?}"
    );
    let mut accepted = Vec::new();
    for scope in CURRENT_USER_SCOPES {
        let token = token_with(&app, &[scope]).await;
        assert!(
            crate::helpers::jwt_part(&token, 1)["sub"]
                .as_str()
                .unwrap()
                .ends_with("@clients")
        );
        for (method, template) in &routes {
            let path = template
                .split('/')
                .map(|seg| {
                    if seg.starts_with('{') {
                        victim_id.clone()
                    } else {
                        seg.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            let body = (*method != Method::GET && *method != Method::DELETE).then(|| json!({}));
            let (status, answer) = app.api_with(&token, method.clone(), &path, body).await;
            let message = answer["message"].as_str().unwrap_or_default();
            let auth0_body = status == 403
                && answer["statusCode"] == 403
                && answer["error"] == "Forbidden"
                && answer["errorCode"] == "insufficient_scope"
                && message.starts_with("Insufficient scope, expected any of: ");
            if !auth0_body {
                accepted.push(format!("{scope}: {method} {path} -> {status} {answer}"));
            }
        }
    }
    let (s, still) = app
        .api(Method::GET, &format!("/users/{victim_id}"), None)
        .await;
    assert!(
        accepted.is_empty(),
        "{} requests were not refused with 403 insufficient_scope:\n{}",
        accepted.len(),
        accepted.join("\n")
    );
    assert_eq!(s, 200, "the victim was touched: {still}");
}

// ---- 2. The data directory and the database are private --------------------------------------

/// `latchkey serve` under `umask 022`, as an operator's shell runs it.
fn serve_command(data_dir: &Path, port: u16, log: &Path, args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg("umask 022 && exec \"$@\"")
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_latchkey"))
        .arg("serve")
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("LATCHKEY_PASSWORDS__ARGON2_MEMORY_KIB", "1024")
        .env("LATCHKEY_PASSWORDS__ARGON2_ITERATIONS", "1")
        .env_remove("DATABASE_URL")
        .env_remove("LATCHKEY_SERVER__ALLOW_INSECURE_PERMISSIONS")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .kill_on_drop(true);
    cmd
}

async fn wait_until_serving(
    child: &mut tokio::process::Child,
    data_dir: &Path,
    port: u16,
    log: &Path,
) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !(data_dir.join("bootstrap.json").exists()
        && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok())
    {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "latchkey exited ({status}): {}",
                std::fs::read_to_string(log).unwrap()
            );
        }
        assert!(
            std::time::Instant::now() < deadline,
            "latchkey did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs until the process ends by itself (it should refuse to start); returns its log.
async fn refused(mut cmd: tokio::process::Command, log: &Path) -> String {
    let mut child = cmd.spawn().unwrap();
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap_or_else(|_| panic!("latchkey started although it should refuse to"))
        .unwrap();
    let text = std::fs::read_to_string(log).unwrap();
    assert!(!status.success(), "exit {status}: {text}");
    text
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[tokio::test]
async fn hardening_the_data_dir_and_database_are_private_whatever_the_umask() {
    let parent = temp_dir();
    let data_dir = parent.join("data");
    let log = parent.join("stderr.log");
    let port = free_port();
    let mut child = serve_command(&data_dir, port, &log, &[]).spawn().unwrap();
    wait_until_serving(&mut child, &data_dir, port, &log).await;
    // A request that writes, so the WAL and shared-memory files exist.
    let res = reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{port}/dbconnections/change_password"
        ))
        .json(
            &json!({"email": "nobody@example.com", "connection": "Username-Password-Authentication",
                      "client_id": "x"}),
        )
        .send()
        .await
        .unwrap();
    assert!(res.status().as_u16() < 500);
    let _ = child.kill().await;

    assert_eq!(mode(&data_dir), 0o700, "{}", data_dir.display());
    for name in [
        "latchkey.db",
        "latchkey.db-wal",
        "latchkey.db-shm",
        "bootstrap.json",
    ] {
        let path = data_dir.join(name);
        if name == "latchkey.db" || path.exists() {
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }
    let mut pending = vec![data_dir.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                assert_eq!(mode(&path), 0o700, "{}", path.display());
                pending.push(path);
            } else {
                assert_eq!(mode(&path), 0o600, "{}", path.display());
            }
        }
    }
}

#[tokio::test]
async fn hardening_a_readable_data_dir_or_database_stops_the_start() {
    let parent = temp_dir();
    let data_dir = parent.join("data");
    let log = parent.join("stderr.log");
    let port = free_port();
    let mut child = serve_command(&data_dir, port, &log, &[]).spawn().unwrap();
    wait_until_serving(&mut child, &data_dir, port, &log).await;
    let _ = child.kill().await;
    let _ = child.wait().await;

    set_mode(&data_dir, 0o755);
    let text = refused(serve_command(&data_dir, port, &log, &[]), &log).await;
    assert!(
        text.contains(&data_dir.display().to_string()) && text.contains("0755"),
        "{text}"
    );
    assert!(text.contains("--allow-insecure-permissions"), "{text}");

    set_mode(&data_dir, 0o700);
    let db = data_dir.join("latchkey.db");
    set_mode(&db, 0o644);
    let text = refused(serve_command(&data_dir, port, &log, &[]), &log).await;
    assert!(
        text.contains(&db.display().to_string()) && text.contains("0644"),
        "{text}"
    );

    // The operator may accept it, by flag or by environment.
    set_mode(&data_dir, 0o750);
    let mut child = serve_command(&data_dir, port, &log, &["--allow-insecure-permissions"])
        .spawn()
        .unwrap();
    wait_until_serving(&mut child, &data_dir, port, &log).await;
    let _ = child.kill().await;
    let _ = child.wait().await;
    let mut cmd = serve_command(&data_dir, port, &log, &[]);
    cmd.env("LATCHKEY_SERVER__ALLOW_INSECURE_PERMISSIONS", "true");
    let mut child = cmd.spawn().unwrap();
    wait_until_serving(&mut child, &data_dir, port, &log).await;
    let _ = child.kill().await;
    // Accepted means left alone.
    assert_eq!(mode(&data_dir), 0o750);
}

// ---- 3. Authorization codes ------------------------------------------------------------------

async fn exchange(app: &TestApp, code: &str, redirect_uri: Option<&str>) -> reqwest::Response {
    let (id, secret) = app.app_client();
    let mut body = json!({"grant_type": "authorization_code", "client_id": id,
                          "client_secret": secret, "code": code, "code_verifier": VERIFIER});
    if let Some(r) = redirect_uri {
        body["redirect_uri"] = json!(r);
    }
    app.token(body).await
}

/// A browser logged in through the hosted page, and the code of that login.
async fn logged_in(app: &TestApp, email: &str) -> (Browser, String) {
    app.create_user(email, PASSWORD).await;
    let mut b = Browser::new();
    let (status, page, _) = b.get(&authorize_url(app, "")).await;
    assert_eq!(status, 200);
    let (status, _, location) = log_in(&mut b, app, &page, email, PASSWORD).await;
    assert_eq!(status, 303);
    let code = code_of(&location.unwrap());
    (b, code)
}

#[tokio::test]
async fn hardening_a_code_sent_with_redirect_uri_needs_it_at_the_exchange() {
    let app = spawn_app().await;
    let (mut b, code) = logged_in(&app, "redirect@example.com").await;
    let res = exchange(&app, &code, None).await;
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant", "{body}");
    assert!(body["error_description"].is_string(), "{body}");

    // With it, the next code works.
    let (status, _, location) = b.get(&authorize_url(&app, "")).await;
    assert_eq!(status, 303);
    let code = code_of(&location.unwrap());
    assert_eq!(exchange(&app, &code, Some(CALLBACK)).await.status(), 200);
}

#[tokio::test]
async fn hardening_a_replayed_code_revokes_the_refresh_token_it_issued() {
    let app = spawn_app().await;
    let (_b, code) = logged_in(&app, "replay@example.com").await;
    let res = exchange(&app, &code, Some(CALLBACK)).await;
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    let res = exchange(&app, &code, Some(CALLBACK)).await;
    assert_eq!(res.status(), 403);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");

    let (id, secret) = app.app_client();
    let res = app
        .token(
            json!({"grant_type": "refresh_token", "client_id": id, "client_secret": secret,
                      "refresh_token": refresh}),
        )
        .await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 403, "the refresh token still works: {body}");
    assert_eq!(body["error"], "invalid_grant");
}

// ---- 4. Headers ------------------------------------------------------------------------------

async fn send(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = app.http.request(method, app.url(path)).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap()
}

fn header(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn hardening_hsts_on_every_answer_under_https_only() {
    let plain = spawn_app().await;
    let res = plain.http.get(plain.url("/health")).send().await.unwrap();
    assert_eq!(header(&res, "strict-transport-security"), None);

    // Behind a TLS-terminating proxy: the public URL is https.
    let proxied =
        spawn_app_with(|s| s.server.public_url = Some("https://id.example.com".into())).await;
    for path in [
        "/health",
        "/api/v2/users",
        "/no-such-page",
        "/.well-known/jwks.json",
    ] {
        let res = proxied.http.get(proxied.url(path)).send().await.unwrap();
        assert_eq!(
            header(&res, "strict-transport-security").as_deref(),
            Some("max-age=31536000"),
            "{path}"
        );
    }

    // Serving TLS itself.
    let tls = spawn_app_with(|s| s.server.tls_self_signed = true).await;
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let https = tls.base.replace("http://", "https://");
    let res = client.get(format!("{https}/health")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        header(&res, "strict-transport-security").as_deref(),
        Some("max-age=31536000")
    );
}

#[tokio::test]
async fn hardening_answers_with_secrets_are_not_stored_by_caches() {
    let app = spawn_app().await;
    let token = app.mgmt_token().await;
    let user = app.create_user("nostore@example.com", PASSWORD).await;
    let mut answers = Vec::new();

    let res = send(
        &app,
        &token,
        Method::POST,
        "/api/v2/clients",
        Some(json!({"name": "Cached", "app_type": "regular_web"})),
    )
    .await;
    assert_eq!(res.status(), 201);
    answers.push(("POST /clients", header(&res, "cache-control")));
    let client: Value = res.json().await.unwrap();
    let id = client["client_id"].as_str().unwrap();
    let res = send(&app, &token, Method::GET, "/api/v2/clients", None).await;
    answers.push(("GET /clients", header(&res, "cache-control")));
    let res = send(
        &app,
        &token,
        Method::GET,
        &format!("/api/v2/clients/{id}"),
        None,
    )
    .await;
    answers.push(("GET /clients/{id}", header(&res, "cache-control")));
    let res = send(
        &app,
        &token,
        Method::POST,
        &format!("/api/v2/clients/{id}/rotate-secret"),
        None,
    )
    .await;
    assert_eq!(res.status(), 200);
    answers.push((
        "POST /clients/{id}/rotate-secret",
        header(&res, "cache-control"),
    ));
    let res = send(
        &app,
        &token,
        Method::POST,
        "/api/v2/tickets/password-change",
        Some(json!({"user_id": user["user_id"]})),
    )
    .await;
    assert_eq!(res.status(), 201);
    answers.push((
        "POST /tickets/password-change",
        header(&res, "cache-control"),
    ));

    let tokens: Value = app
        .login("nostore@example.com", PASSWORD, "openid email")
        .await
        .json()
        .await
        .unwrap();
    let res = send(
        &app,
        tokens["access_token"].as_str().unwrap(),
        Method::GET,
        "/userinfo",
        None,
    )
    .await;
    assert_eq!(res.status(), 200);
    answers.push(("GET /userinfo", header(&res, "cache-control")));

    let cached: Vec<_> = answers
        .iter()
        .filter(|(_, h)| h.as_deref() != Some("no-store"))
        .collect();
    assert!(
        cached.is_empty(),
        "without Cache-Control: no-store: {cached:?}"
    );
}

// ---- 5. Paging -------------------------------------------------------------------------------

#[tokio::test]
async fn hardening_huge_pages_do_not_overflow() {
    let app = spawn_app().await;
    let token = app.mgmt_token().await;
    for list in ["/users", "/logs"] {
        let path = format!("/api/v2{list}?page=42949673&per_page=100&include_totals=true");
        let res = app
            .http
            .get(app.url(&path))
            .bearer_auth(&token)
            .send()
            .await;
        let res = res.unwrap_or_else(|e| panic!("{path}: no answer: {e}"));
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(body["start"], json!(4_294_967_300_u64), "{path}: {body}");
        assert_eq!(body["length"], 0, "{path}: {body}");
        assert_eq!(body["limit"], 100, "{path}: {body}");
    }
}

// ---- 6. Log streams --------------------------------------------------------------------------

#[tokio::test]
async fn hardening_log_streams_refuse_loopback_endpoints_by_default() {
    let app = spawn_app().await;
    for endpoint in [
        "http://127.0.0.1:22/",
        "http://localhost:6379/",
        "http://[::1]:5432/",
        "https://127.0.0.1:22/",
    ] {
        let (status, body) = app
            .api(
                Method::POST,
                "/log-streams",
                Some(json!({"name": "ssh", "type": "http", "sink": {"httpEndpoint": endpoint}})),
            )
            .await;
        assert_eq!(status, 400, "{endpoint}: {body}");
        assert_eq!(body["statusCode"], 400, "{body}");
        assert_eq!(body["error"], "Bad Request", "{body}");
        assert!(
            body["message"].as_str().unwrap().contains("httpEndpoint"),
            "{body}"
        );
    }
}

// ---- 7. change_password without client_id ----------------------------------------------------

#[tokio::test]
async fn hardening_change_password_requires_client_id() {
    let app = spawn_app().await;
    app.create_user("cid@example.com", PASSWORD).await;
    let res = app
        .http
        .post(app.url("/dbconnections/change_password"))
        .json(
            &json!({"email": "cid@example.com", "connection": "Username-Password-Authentication"}),
        )
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body,
        json!({"name": "BadRequestError", "code": "invalid_body",
               "description": "Missing required property: client_id", "statusCode": 400})
    );
}

#[tokio::test]
async fn hardening_log_streams_reach_loopback_only_when_the_operator_opts_in() {
    let app = spawn_app_with(|s| s.log_streams.allow_loopback = true).await;
    let (status, body) = app
        .api(
            Method::POST,
            "/log-streams",
            Some(json!({"name": "local", "type": "http",
                        "sink": {"httpEndpoint": "http://127.0.0.1:9/collector"}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// Concurrent `PATCH`es of one user's password are applied one after the other (the last one
/// wins, each atomically with its revocations); none answers 409, which Auth0 clients do not
/// expect there.
#[tokio::test]
async fn hardening_concurrent_password_patches_all_apply() {
    let app = spawn_app().await;
    let user = app.create_user("racer@example.com", "Old-Password-1").await;
    let path = format!("/users/{}", encode_id(user["user_id"].as_str().unwrap()));
    let passwords: Vec<String> = (0..100).map(|i| format!("Racing-Pass-{i:03}")).collect();
    let token = app.mgmt_token().await;
    let mut tasks = Vec::new();
    for p in &passwords {
        let (http, url, token) = (
            app.http.clone(),
            app.url(&format!("/api/v2{path}")),
            token.clone(),
        );
        let body = json!({"password": p, "connection": "Username-Password-Authentication"});
        tasks.push(tokio::spawn(async move {
            let res = http
                .patch(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    let refused: Vec<_> = answers.iter().filter(|(s, _)| *s != 200).collect();
    assert!(
        refused.is_empty(),
        "{} of 100 concurrent changes were refused, e.g. {:?}",
        refused.len(),
        refused.first()
    );
    // Exactly one of them is the password now: each try comes from its own loopback address,
    // so brute-force protection (per user and address) does not get in the way.
    let (client_id, secret) = app.app_client();
    let mut working = Vec::new();
    for (i, p) in passwords.iter().enumerate() {
        let http = reqwest::Client::builder()
            .local_address(
                format!("127.0.3.{}", i + 1)
                    .parse::<std::net::IpAddr>()
                    .unwrap(),
            )
            .build()
            .unwrap();
        let res = http
            .post(app.url("/oauth/token"))
            .json(
                &json!({"grant_type": "http://auth0.com/oauth/grant-type/password-realm",
                          "client_id": client_id, "client_secret": secret,
                          "username": "racer@example.com", "password": p,
                          "realm": "Username-Password-Authentication", "scope": "openid"}),
            )
            .send()
            .await
            .unwrap();
        if res.status() == 200 {
            working.push(p.clone());
        }
    }
    assert_eq!(working.len(), 1, "passwords that work: {working:?}");
}
