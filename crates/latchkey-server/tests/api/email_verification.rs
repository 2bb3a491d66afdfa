//! Email verification end to end: `POST /api/v2/tickets/email-verification`, `POST
//! /api/v2/jobs/verification-email` (a job whose mail goes over real SMTP to a loopback sink),
//! the `verify_email` mail on `POST /api/v2/users` and sign-up, and the link's page: verified
//! once, Auth0's redirect query, used / expired / invalid links, a restart in between, and
//! headless Chromium following a link.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::{TestApp, encode_id, start, temp_dir};
use crate::reset::{CONNECTION, app_with_sink};
use crate::smtp_sink::SmtpSink;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

const VERIFIED: &str = "Your email was verified. You can continue using the application.";

/// A user whose creation sends no mail.
async fn quiet_user(app: &TestApp, email: &str) -> Value {
    let (status, user) = app
        .api(
            Method::POST,
            "/users",
            Some(json!({"connection": CONNECTION, "email": email,
                        "password": "Old-Password-1", "verify_email": false})),
        )
        .await;
    assert_eq!(status, 201, "{user}");
    user
}

async fn ticket(app: &TestApp, body: Value) -> String {
    let (status, answer) = app
        .api(Method::POST, "/tickets/email-verification", Some(body))
        .await;
    assert_eq!(status, 201, "{answer}");
    let url = answer["ticket"].as_str().unwrap().to_owned();
    let prefix = format!("{}lo/email-verification?ticket=", app.issuer());
    assert!(url.starts_with(&prefix) && url.ends_with('#'), "{url}");
    url
}

/// Follows a link the way a mail client does (the fragment stays in the browser).
async fn follow(app: &TestApp, link: &str) -> reqwest::Response {
    let link = link.trim_end_matches('#');
    app.http.get(link).send().await.unwrap()
}

fn location(res: &reqwest::Response) -> url::Url {
    let loc = res.headers()["location"].to_str().unwrap();
    url::Url::parse(loc).unwrap()
}

fn query(url: &url::Url) -> Vec<(String, String)> {
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

async fn email_verified(app: &TestApp, user_id: &str) -> bool {
    let (status, user) = app
        .api(Method::GET, &format!("/users/{}", encode_id(user_id)), None)
        .await;
    assert_eq!(status, 200, "{user}");
    user["email_verified"].as_bool().unwrap()
}

async fn log_types(app: &TestApp) -> Vec<String> {
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (_, logs) = app.api(Method::GET, "/logs?per_page=100", None).await;
    logs.as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["type"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_ticket_verifies_once_and_redirects_with_auth0s_query() {
    let app = crate::helpers::spawn_app().await;
    let user = quiet_user(&app, "tia@example.com").await;
    let id = user["user_id"].as_str().unwrap();
    assert!(!email_verified(&app, id).await);
    let link = ticket(
        &app,
        json!({"user_id": id, "result_url": "https://app.example/verified?from=mail",
               "includeEmailInRedirect": true, "ttl_sec": 0}),
    )
    .await;

    let res = follow(&app, &link).await;
    assert!(res.status().is_redirection(), "{}", res.status());
    let to = location(&res);
    assert_eq!(to.host_str(), Some("app.example"));
    assert_eq!(to.path(), "/verified");
    assert_eq!(
        query(&to),
        vec![
            ("from".into(), "mail".into()),
            ("success".into(), "true".into()),
            ("message".into(), VERIFIED.into()),
            ("code".into(), "success".into()),
            ("email".into(), "tia@example.com".into()),
        ]
    );
    assert!(email_verified(&app, id).await);

    // Single use: the second visit is told so, on the same result URL.
    let again = location(&follow(&app, &link).await);
    let q = query(&again);
    assert!(q.contains(&("success".into(), "false".into())), "{q:?}");
    assert!(q.contains(&("code".into(), "already-used".into())), "{q:?}");

    let types = log_types(&app).await;
    assert!(
        types.iter().any(|t| t == "sv") && types.iter().any(|t| t == "fv"),
        "{types:?}"
    );
    assert!(!types.is_empty());
}

#[tokio::test]
async fn without_a_result_url_the_page_says_what_happened() {
    let app = crate::helpers::spawn_app().await;
    let user = quiet_user(&app, "page@example.com").await;
    let id = user["user_id"].as_str().unwrap();
    // Without includeEmailInRedirect the address stays out of any redirect.
    let link = ticket(&app, json!({"user_id": id})).await;
    let res = follow(&app, &link).await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("Email verified") && html.contains(VERIFIED),
        "{html}"
    );
    assert!(email_verified(&app, id).await);

    let res = follow(&app, &link).await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("This link was already used")
    );

    // A token that was never issued, or is not even a token.
    for bad in ["A".repeat(43), "short".to_owned(), String::new()] {
        let res = app
            .http
            .get(app.url(&format!("/lo/email-verification?ticket={bad}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400);
        assert!(res.text().await.unwrap().contains("This link is not valid"));
    }

    // In French for a French browser.
    let other = quiet_user(&app, "fr@example.com").await;
    let link = ticket(&app, json!({"user_id": other["user_id"]})).await;
    let res = app
        .http
        .get(link.trim_end_matches('#'))
        .header("accept-language", "fr-FR,fr;q=0.9")
        .send()
        .await
        .unwrap();
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Adresse e-mail vérifiée")
    );
}

#[tokio::test]
async fn an_expired_ticket_fails_and_a_changed_address_voids_it() {
    let app = crate::helpers::spawn_app().await;
    let user = quiet_user(&app, "late@example.com").await;
    let id = user["user_id"].as_str().unwrap();
    let link = ticket(
        &app,
        json!({"user_id": id, "ttl_sec": 1, "result_url": "https://app.example/done",
               "includeEmailInRedirect": false}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let to = location(&follow(&app, &link).await);
    let q = query(&to);
    assert!(q.contains(&("success".into(), "false".into())), "{q:?}");
    assert!(q.contains(&("code".into(), "expired".into())), "{q:?}");
    assert!(!q.iter().any(|(k, _)| k == "email"), "{q:?}");
    assert!(!email_verified(&app, id).await);

    // A link for the old address does not verify the new one.
    let link = ticket(&app, json!({"user_id": id})).await;
    let (status, _) = app
        .api(
            Method::PATCH,
            &format!("/users/{}", encode_id(id)),
            Some(json!({"email": "moved@example.com"})),
        )
        .await;
    assert_eq!(status, 200);
    let res = follow(&app, &link).await;
    assert_eq!(res.status(), 400);
    assert!(!email_verified(&app, id).await);
}

#[tokio::test]
async fn a_ticket_survives_a_restart() {
    let app = crate::helpers::spawn_app().await;
    let user = quiet_user(&app, "durable@example.com").await;
    let id = user["user_id"].as_str().unwrap().to_owned();
    let link = ticket(&app, json!({"user_id": id})).await;
    let listen = app.base.trim_start_matches("http://").to_owned();
    let (data_dir, database_url, _) = app.stop().await;
    let app = start(data_dir, database_url, Some(listen)).await;
    assert_eq!(follow(&app, &link).await.status(), 200);
    assert!(email_verified(&app, &id).await);
}

#[tokio::test]
async fn bad_ticket_requests_get_auth0s_errors() {
    let app = crate::helpers::spawn_app().await;
    let user = quiet_user(&app, "bad@example.com").await;
    let id = user["user_id"].as_str().unwrap();
    let (app_client, _) = app.app_client();
    let cases = [
        (json!({}), 400),
        (json!({"user_id": id, "colour": "red"}), 400),
        (json!({"user_id": id, "organization_id": "org_123"}), 400),
        (
            json!({"user_id": id, "result_url": "javascript:alert(1)"}),
            400,
        ),
        (json!({"user_id": id, "ttl_sec": -1}), 400),
        (json!({"user_id": id, "ttl_sec": "soon"}), 400),
        (
            json!({"user_id": id, "result_url": "https://a.example/", "client_id": app_client}),
            400,
        ),
        (json!({"user_id": id, "client_id": "no-such-client"}), 400),
        (
            json!({"user_id": id, "identity": {"user_id": "other", "provider": "auth0"}}),
            400,
        ),
        (json!({"user_id": id, "identity": {"user_id": "x"}}), 400),
        (json!({"user_id": "not an id"}), 404),
        (json!({"user_id": "auth0|nobody"}), 404),
    ];
    for (body, expected) in cases {
        let (status, answer) = app
            .api(
                Method::POST,
                "/tickets/email-verification",
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, expected, "{body} → {answer}");
        assert_eq!(answer["statusCode"], expected, "{answer}");
        assert!(answer["message"].is_string(), "{answer}");
    }
    let (status, answer) = app
        .api(
            Method::POST,
            "/tickets/email-verification",
            Some(json!({"user_id": "auth0|nobody"})),
        )
        .await;
    assert_eq!(
        (status, answer["errorCode"].as_str()),
        (404, Some("inexistent_user"))
    );
    // The identity, when given and right, is accepted (bare id or full id).
    let bare = id.trim_start_matches("auth0|");
    ticket(
        &app,
        json!({"user_id": id, "identity": {"user_id": bare, "provider": "auth0"},
               "client_id": app_client}),
    )
    .await;
}

async fn verification_mail(sink: &SmtpSink, n: usize, to: &str) -> crate::smtp_sink::ReceivedMail {
    let mails = sink.wait_for(n, Duration::from_secs(15)).await;
    assert!(mails.len() >= n, "expected {n} mails, got {}", mails.len());
    let mail = mails[n - 1].clone();
    assert_eq!(mail.to, vec![to.to_owned()]);
    mail
}

async fn wait_job(app: &TestApp, id: &str) -> Value {
    for _ in 0..100 {
        let (status, job) = app.api(Method::GET, &format!("/jobs/{id}"), None).await;
        assert_eq!(status, 200, "{job}");
        if job["status"] != "pending" {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("job {id} stayed pending");
}

#[tokio::test]
async fn the_job_mails_a_link_that_verifies_with_the_templates_settings() {
    let (app, sink) = app_with_sink().await;
    let user = quiet_user(&app, "job@example.com").await;
    let id = user["user_id"].as_str().unwrap();
    let (status, _) = app
        .api(
            Method::PUT,
            "/email-templates/verify_email",
            Some(json!({"template": "verify_email", "syntax": "liquid", "enabled": true,
                        "from": "Verify Desk <verify@example.com>",
                        "subject": "Confirm {{ user.email }} for {{ application.name }}",
                        "body": "<p>Hi {{ user.email }} ({{ friendly_name }}): <a href=\"{{ url }}\">verify</a></p>",
                        "resultUrl": "https://app.example/welcome",
                        "urlLifetimeInSeconds": 3600,
                        "includeEmailInRedirect": true})),
        )
        .await;
    assert_eq!(status, 200);
    let (app_client, _) = app.app_client();
    let (status, job) = app
        .api(
            Method::POST,
            "/jobs/verification-email",
            Some(json!({"user_id": id, "client_id": app_client,
                        "identity": {"user_id": id.trim_start_matches("auth0|"), "provider": "auth0"}})),
        )
        .await;
    assert_eq!(status, 201, "{job}");
    assert_eq!(job["type"], "verification_email");
    assert!(
        job["status"] == "pending" || job["status"] == "completed",
        "{job}"
    );
    assert!(job["created_at"].is_string() && job["id"].as_str().unwrap().starts_with("job_"));
    let mut keys: Vec<&String> = job.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["created_at", "id", "status", "type"]);

    let mail = verification_mail(&sink, 1, "job@example.com").await;
    assert!(mail.header("from").unwrap().contains("verify@example.com"));
    let subject = mail.header("subject").unwrap();
    assert!(subject.contains("job@example.com"), "{subject}");
    let done = wait_job(&app, job["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["type"], "verification_email");

    let link = mail.link();
    assert!(
        link.starts_with(&format!("{}lo/email-verification?ticket=", app.issuer())),
        "{link}"
    );
    let to = location(&follow(&app, &link).await);
    assert_eq!(
        to.as_str().split('?').next(),
        Some("https://app.example/welcome")
    );
    let q = query(&to);
    assert!(q.contains(&("success".into(), "true".into())), "{q:?}");
    assert!(
        q.contains(&("email".into(), "job@example.com".into())),
        "{q:?}"
    );
    assert!(email_verified(&app, id).await);
    let types = log_types(&app).await;
    assert!(
        types.iter().any(|t| t == "svr") && types.iter().any(|t| t == "sv"),
        "{types:?}"
    );
}

#[tokio::test]
async fn bad_job_requests_get_auth0s_errors() {
    let app = crate::helpers::spawn_app().await;
    let user = quiet_user(&app, "jobbad@example.com").await;
    let id = user["user_id"].as_str().unwrap();
    for (body, expected) in [
        (json!({}), 400),
        (json!({"user_id": id, "organization_id": "org_1"}), 400),
        (json!({"user_id": id, "extra": 1}), 400),
        (json!({"user_id": id, "client_id": "nope"}), 400),
        (
            json!({"user_id": id, "identity": {"user_id": "someone-else", "provider": "auth0"}}),
            400,
        ),
        (json!({"user_id": "auth0|nobody"}), 404),
    ] {
        let (status, answer) = app
            .api(Method::POST, "/jobs/verification-email", Some(body.clone()))
            .await;
        assert_eq!(status, expected, "{body} → {answer}");
        assert_eq!(answer["statusCode"], expected, "{answer}");
    }
    let (status, answer) = app.api(Method::GET, "/jobs/job_doesnotexist", None).await;
    assert_eq!(status, 404, "{answer}");
}

#[tokio::test]
async fn a_disabled_template_sends_nothing_and_fails_the_job() {
    let (app, sink) = app_with_sink().await;
    let user = quiet_user(&app, "off@example.com").await;
    let (status, _) = app
        .api(
            Method::PUT,
            "/email-templates/verify_email",
            Some(
                json!({"template": "verify_email", "syntax": "liquid", "enabled": false,
                        "from": "a@example.com", "subject": "s", "body": "<p>{{ url }}</p>"}),
            ),
        )
        .await;
    assert_eq!(status, 200);
    let (status, job) = app
        .api(
            Method::POST,
            "/jobs/verification-email",
            Some(json!({"user_id": user["user_id"]})),
        )
        .await;
    assert_eq!(status, 201, "{job}");
    let done = wait_job(&app, job["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert!(sink.mails().is_empty());
}

#[tokio::test]
async fn creating_users_and_signing_up_send_the_mail_as_auth0_does() {
    let (app, sink) = app_with_sink().await;
    let create = |email: &str, extra: Value| {
        let mut body =
            json!({"connection": CONNECTION, "email": email, "password": "Old-Password-1"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    // No mail: verify_email false, or an address already verified (verify_email absent).
    for (email, extra) in [
        ("no1@example.com", json!({"verify_email": false})),
        ("no2@example.com", json!({"email_verified": true})),
    ] {
        let (status, user) = app
            .api(Method::POST, "/users", Some(create(email, extra)))
            .await;
        assert_eq!(status, 201, "{user}");
    }
    // A mail: verify_email true (even with email_verified false), or absent on an unverified
    // address (Auth0's default), or a sign-up.
    let (status, _) = app
        .api(
            Method::POST,
            "/users",
            Some(create("yes1@example.com", json!({"verify_email": true}))),
        )
        .await;
    assert_eq!(status, 201);
    verification_mail(&sink, 1, "yes1@example.com").await;
    let (status, _) = app
        .api(
            Method::POST,
            "/users",
            Some(create("yes2@example.com", json!({}))),
        )
        .await;
    assert_eq!(status, 201);
    verification_mail(&sink, 2, "yes2@example.com").await;
    let (client_id, _) = app.app_client();
    let res = app
        .http
        .post(app.url("/dbconnections/signup"))
        .json(
            &json!({"client_id": client_id, "email": "signup@example.com",
                      "password": "Old-Password-1", "connection": CONNECTION}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mail = verification_mail(&sink, 3, "signup@example.com").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.mails().len(), 3, "no mail for the two quiet users");

    // The sign-up's link verifies that user.
    assert_eq!(follow(&app, &mail.link()).await.status(), 200);
    let (_, found) = app
        .api(
            Method::GET,
            "/users-by-email?email=signup@example.com",
            None,
        )
        .await;
    assert_eq!(found[0]["email_verified"], true, "{found}");
}

/// A one-request HTTP server standing for the application's result URL: answers the first
/// request and hands over its request target.
async fn landing_page() -> (String, tokio::sync::oneshot::Receiver<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut tx = Some(tx);
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut buf = vec![0u8; 8192];
            let n = socket.read(&mut buf).await.unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).into_owned();
            let target = head
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_owned();
            let body = "<!doctype html><title>landed</title><p id=landed>landed</p>";
            let _ = socket
                .write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                )
                .await;
            if target.starts_with("/done")
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(target);
            }
        }
    });
    (format!("http://{addr}/done"), rx)
}

#[tokio::test]
async fn headless_chromium_follows_the_link_to_the_result_url() {
    let chromium =
        std::env::var("LATCHKEY_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "no Chromium at {chromium}"
    );
    let app = crate::helpers::spawn_app().await;
    let user = quiet_user(&app, "chromium@example.com").await;
    let id = user["user_id"].as_str().unwrap();
    let (result_url, landed) = landing_page().await;
    let link = ticket(
        &app,
        json!({"user_id": id, "result_url": result_url, "includeEmailInRedirect": true}),
    )
    .await;
    let profile = temp_dir();
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                &format!("--user-data-dir={}", profile.display()),
                "--dump-dom",
                &link,
            ])
            .output(),
    )
    .await
    .expect("Chromium timed out")
    .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("landed"),
        "{dom}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let target = tokio::time::timeout(Duration::from_secs(5), landed)
        .await
        .unwrap()
        .unwrap();
    let url = url::Url::parse(&format!("http://x{target}")).unwrap();
    let q = query(&url);
    assert!(q.contains(&("success".into(), "true".into())), "{q:?}");
    assert!(q.contains(&("code".into(), "success".into())), "{q:?}");
    assert!(
        q.contains(&("email".into(), "chromium@example.com".into())),
        "{q:?}"
    );
    assert!(email_verified(&app, id).await);
}

/// The mail the SDK script's job sent: one, to its `job-…` user, with a verification link.
async fn assert_one_job_mail(sink: &SmtpSink, prefix: &str) {
    let mails = sink.wait_for(1, Duration::from_secs(15)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mails = if mails.len() == sink.mails().len() {
        mails
    } else {
        sink.mails()
    };
    assert_eq!(mails.len(), 1, "{mails:#?}");
    let to = &mails[0].to[0];
    assert!(
        to.starts_with(prefix) && to.ends_with("@example.com"),
        "{to}"
    );
    assert!(
        mails[0].link().contains("/lo/email-verification?ticket="),
        "{}",
        mails[0].link()
    );
}

#[tokio::test]
async fn the_official_python_sdk_creates_tickets_and_verification_jobs() {
    let python = std::env::var("LATCHKEY_PYTHON").unwrap_or_else(|_| {
        crate::sdk::repo_root()
            .join(".venv/bin/python")
            .display()
            .to_string()
    });
    let sink = SmtpSink::start().await;
    let server = crate::helpers::start_binary(false, &[("LATCHKEY_SMTP_URL", &sink.url())]).await;
    let mut cmd = tokio::process::Command::new(python);
    cmd.arg(crate::sdk::repo_root().join("tests-sdk/python/verification_flow.py"))
        .env(
            "LATCHKEY_BASE_URL",
            format!("http://127.0.0.1:{}", server.port),
        )
        .env("LATCHKEY_BOOTSTRAP", server.data_dir.join("bootstrap.json"));
    crate::sdk::run(cmd, "auth0-python verification flow").await;
    assert_one_job_mail(&sink, "job-").await;
}

#[tokio::test]
async fn the_official_node_sdk_creates_tickets_and_verification_jobs() {
    let dir = std::env::var("LATCHKEY_NODE_SDK_DIR").map_or_else(
        |_| crate::sdk::repo_root().join("tests-sdk/node"),
        std::path::PathBuf::from,
    );
    let sink = SmtpSink::start().await;
    let server = crate::helpers::start_binary(true, &[("LATCHKEY_SMTP_URL", &sink.url())]).await;
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(dir.join("verification_flow.mjs"))
        .env("LATCHKEY_DOMAIN", format!("127.0.0.1:{}", server.port))
        .env("LATCHKEY_BOOTSTRAP", server.data_dir.join("bootstrap.json"))
        .env("NODE_EXTRA_CA_CERTS", server.data_dir.join("tls/cert.pem"));
    crate::sdk::run(cmd, "node auth0 verification flow").await;
    assert_one_job_mail(&sink, "node-job-").await;
}

#[tokio::test]
async fn the_console_sends_the_verification_mail_from_the_users_page() {
    let (app, sink) = app_with_sink().await;
    let user = quiet_user(&app, "console@example.com").await;
    let id = user["user_id"].as_str().unwrap();
    let mut b = crate::admin::signed_in_admin(&app).await;
    let path: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
    let user_path = format!("/admin/users/{path}");
    let (status, page, _) = b.get(&app.url(&user_path)).await;
    assert_eq!(status, 200);
    assert!(page.contains("Send verification email"), "{page}");
    let csrf = crate::login::hidden(&page, "_csrf");
    let (status, _, location) = b
        .post(
            &app.url(&format!("{user_path}/send-verification")),
            &[("_csrf", &csrf)],
        )
        .await;
    assert_eq!(status, 303);
    assert!(location.unwrap().ends_with("done=verification-sent"));
    let mail = verification_mail(&sink, 1, "console@example.com").await;
    assert_eq!(follow(&app, &mail.link()).await.status(), 200);
    assert!(email_verified(&app, id).await);
    // A verified address is not offered the action any more.
    let (_, page, _) = b.get(&app.url(&user_path)).await;
    assert!(!page.contains("Send verification email"));
}
