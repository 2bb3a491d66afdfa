//! Log streams (Auth0's custom webhooks, `/api/v2/log-streams`): filtered, signed deliveries
//! of tenant log entries to a loopback receiver, through the outbox (retried), the
//! deliveries listing (a Latchkey extension), pausing, and input validation.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::{TestApp, encode_id, spawn_app_with, unique};
use crate::loopback_http::{self, Request};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::mpsc;

const CONNECTION: &str = "Username-Password-Authentication";
const PASSWORD: &str = "Correct-Horse-Battery-1";

/// One POST the receiver took, and what it answered.
struct Hit {
    request: Request,
    status: u16,
}

impl Hit {
    fn header(&self, name: &str) -> Option<&str> {
        self.request.header(name)
    }

    /// The raw body, as text.
    fn body(&self) -> String {
        self.request.text()
    }
}

/// A loopback HTTP endpoint answering `statuses` in turn (then 200), reporting every request.
async fn receiver(statuses: Vec<u16>) -> (String, mpsc::UnboundedReceiver<Hit>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let statuses = Mutex::new(statuses.into_iter());
    let base = loopback_http::serve(move |request| {
        let status = statuses.lock().unwrap().next().unwrap_or(200);
        let _ = tx.send(Hit { request, status });
        loopback_http::empty(status)
    })
    .await;
    (format!("{base}/events"), rx)
}

async fn next_hit(rx: &mut mpsc::UnboundedReceiver<Hit>) -> Hit {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("a delivery reached the receiver")
        .unwrap()
}

async fn assert_quiet(rx: &mut mpsc::UnboundedReceiver<Hit>, secs: u64) {
    if let Ok(Some(hit)) = tokio::time::timeout(Duration::from_secs(secs), rx.recv()).await {
        panic!("unexpected delivery: {}", hit.body());
    }
}

/// HMAC-SHA256 written out (RFC 2104) so the test does not share the server's code.
fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| k.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    let outer = Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    outer.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks `Latchkey-Signature: t=…,v1=…` against `secret` and the body as received.
fn assert_signed(hit: &Hit, secret: &str) {
    let header = hit
        .header("latchkey-signature")
        .expect("a Latchkey-Signature header");
    let (t, v1) = header
        .split_once(',')
        .and_then(|(t, v)| Some((t.strip_prefix("t=")?, v.strip_prefix("v1=")?)))
        .expect("t=…,v1=…");
    let t: i64 = t.parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - t).abs() < 120, "a fresh timestamp");
    let expected = hmac_sha256_hex(secret.as_bytes(), format!("{t}.{}", hit.body()).as_bytes());
    assert_eq!(v1, expected, "the signature verifies with the secret");
    let wrong = hmac_sha256_hex(b"another secret", format!("{t}.{}", hit.body()).as_bytes());
    assert_ne!(v1, wrong);
}

async fn create_stream(app: &TestApp, body: Value) -> Value {
    let (status, created) = app.api(Method::POST, "/log-streams", Some(body)).await;
    assert_eq!(status, 200, "{created}");
    created
}

async fn wrong_password(app: &TestApp, email: &str) {
    let res = app.login(email, "Not-The-Password-9", "openid").await;
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn signed_filtered_deliveries_of_login_failures_and_password_changes() {
    let app = spawn_app_with(|s| {
        s.mail.retry_base_secs = 1;
        // The receiver is a loopback HTTP server: the operator's opt-in.
        s.log_streams.allow_loopback = true;
    })
    .await;
    let (url, mut hits) = receiver(vec![]).await;
    let email = format!("{}@example.com", unique("hook"));
    let user = app.create_user(&email, PASSWORD).await;
    let user_id = user["user_id"].as_str().unwrap().to_owned();

    let created = create_stream(
        &app,
        json!({
            "name": "security events",
            "type": "http",
            "sink": {
                "httpEndpoint": url,
                "httpAuthorization": "Bearer stream-credential-7",
                "httpCustomHeaders": [{"header": "X-Team", "value": "identity"}],
            },
            "filters": [
                {"type": "category", "name": "auth.login.fail"},
                {"type": "category", "name": "user.success"},
            ],
        }),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["type"], "http");
    assert_eq!(created["status"], "active");
    assert_eq!(created["sink"]["httpContentType"], "application/json");
    assert_eq!(created["sink"]["httpContentFormat"], "JSONOBJECT");
    assert!(created["sink"].get("httpAuthorization").is_none());
    let secret = created["sink"]["latchkeySigningSecret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(secret.len(), 43, "32 bytes, base64url");

    // The secret and the authorization are never shown again.
    let (status, one) = app
        .api(Method::GET, &format!("/log-streams/{id}"), None)
        .await;
    assert_eq!(status, 200);
    let (_, all) = app.api(Method::GET, "/log-streams", None).await;
    assert_eq!(all.as_array().unwrap().len(), 1);
    for shown in [&one, &all] {
        let text = shown.to_string();
        assert!(!text.contains("stream-credential-7"), "{text}");
        assert!(!text.contains(&secret), "{text}");
        assert!(!text.contains("latchkeySigningSecret"), "{text}");
    }
    assert_eq!(one["sink"]["httpEndpoint"], url);
    assert_eq!(
        one["sink"]["httpCustomHeaders"],
        json!([{"header": "X-Team", "value": "identity"}])
    );
    assert_eq!(one["filters"].as_array().unwrap().len(), 2);

    // A successful login (`s`, and its token exchange) is filtered out; the failure after it
    // is the first thing delivered.
    let ok = app.login(&email, PASSWORD, "openid").await;
    assert_eq!(ok.status(), 200);
    wrong_password(&app, &email).await;
    let hit = next_hit(&mut hits).await;
    assert_eq!(hit.status, 200);
    assert_signed(&hit, &secret);
    assert_eq!(
        hit.header("authorization"),
        Some("Bearer stream-credential-7")
    );
    assert_eq!(hit.header("x-team"), Some("identity"));
    assert_eq!(hit.header("content-type"), Some("application/json"));
    let event: Value = serde_json::from_str(&hit.body()).unwrap();
    assert_eq!(event["type"], "fp", "{event}");
    assert_eq!(event["user_id"], user_id.as_str());
    // The body is the entry exactly as the Management API shows it.
    let log_id = event["log_id"].as_str().unwrap();
    let (status, logged) = app.api(Method::GET, &format!("/logs/{log_id}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(event, logged);

    // A password change through the Management API: its `scp` entry is streamed.
    let (status, body) = app
        .api(
            Method::PATCH,
            &format!("/users/{}", encode_id(&user_id)),
            Some(json!({"password": "Another-Password-42", "connection": CONNECTION})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let hit = next_hit(&mut hits).await;
    assert_signed(&hit, &secret);
    let event: Value = serde_json::from_str(&hit.body()).unwrap();
    assert_eq!(event["type"], "scp", "{event}");
    assert_eq!(event["user_id"], user_id.as_str());
    // Nothing else matched (the API operations, the login's token exchange).
    assert_quiet(&mut hits, 2).await;

    // The deliveries, newest first.
    let (status, list) = app
        .api(Method::GET, &format!("/log-streams/{id}/deliveries"), None)
        .await;
    assert_eq!(status, 200, "{list}");
    let deliveries = list["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 2, "{list}");
    assert!(deliveries.iter().all(|d| d["status"] == "sent"), "{list}");
    assert_eq!(deliveries[1]["log_id"], log_id);
}

#[tokio::test]
async fn failed_deliveries_are_retried_paused_streams_send_nothing_and_bad_input_is_refused() {
    let app = spawn_app_with(|s| {
        s.mail.retry_base_secs = 3;
        s.log_streams.allow_loopback = true;
    })
    .await;
    let (url, mut hits) = receiver(vec![500]).await;
    let email = format!("{}@example.com", unique("retry"));
    app.create_user(&email, PASSWORD).await;
    let created = create_stream(
        &app,
        json!({
            "name": "failures",
            "type": "http",
            "sink": {"httpEndpoint": url, "httpContentFormat": "JSONLINES",
                     "httpContentType": "application/x-ndjson"},
            "filters": [{"type": "category", "name": "auth.login.fail"}],
        }),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let secret = created["sink"]["latchkeySigningSecret"]
        .as_str()
        .unwrap()
        .to_owned();

    // The first attempt is answered 500; the same event comes again.
    wrong_password(&app, &email).await;
    let first = next_hit(&mut hits).await;
    assert_eq!(first.status, 500);
    assert!(first.body().ends_with('\n'), "JSONLINES");
    assert_eq!(first.header("content-type"), Some("application/x-ndjson"));
    let first_event: Value = serde_json::from_str(first.body().trim_end()).unwrap();
    let log_id = first_event["log_id"].as_str().unwrap().to_owned();
    assert_eq!(first_event["type"], "fp");
    // Meanwhile the deliveries show it waiting for its retry (three seconds away), with the error.
    let mut waiting = Value::Null;
    for _ in 0..40 {
        let (_, list) = app
            .api(Method::GET, &format!("/log-streams/{id}/deliveries"), None)
            .await;
        waiting = list["deliveries"][0].clone();
        if waiting["status"] != "pending" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(waiting["status"], "retrying", "{waiting}");
    assert!(
        waiting["last_error"].as_str().unwrap().contains("500"),
        "{waiting}"
    );
    let second = next_hit(&mut hits).await;
    assert_eq!(second.status, 200);
    assert_signed(&second, &secret);
    let second_event: Value = serde_json::from_str(second.body().trim_end()).unwrap();
    assert_eq!(
        second_event["log_id"],
        log_id.as_str(),
        "the same event again"
    );
    let mut delivered = Value::Null;
    for _ in 0..50 {
        let (_, list) = app
            .api(Method::GET, &format!("/log-streams/{id}/deliveries"), None)
            .await;
        delivered = list["deliveries"][0].clone();
        if delivered["status"] == "sent" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(delivered["status"], "sent", "{delivered}");
    assert_eq!(delivered["log_id"], log_id.as_str());
    assert_eq!(delivered["attempts"], 2);
    assert!(delivered["last_attempt_at"].is_string());

    // Paused: nothing is sent.
    let (status, paused) = app
        .api(
            Method::PATCH,
            &format!("/log-streams/{id}"),
            Some(json!({"status": "paused"})),
        )
        .await;
    assert_eq!(status, 200, "{paused}");
    assert_eq!(paused["status"], "paused");
    assert!(paused["sink"].get("latchkeySigningSecret").is_none());
    wrong_password(&app, &email).await;
    assert_quiet(&mut hits, 3).await;
    // Active again: deliveries resume.
    let (status, _) = app
        .api(
            Method::PATCH,
            &format!("/log-streams/{id}"),
            Some(json!({"status": "active"})),
        )
        .await;
    assert_eq!(status, 200);
    wrong_password(&app, &email).await;
    let hit = next_hit(&mut hits).await;
    assert_signed(&hit, &secret);

    // Bad input, in Auth0's error shape.
    let bad = [
        json!({"name": "d", "type": "datadog", "sink": {"datadogApiKey": "x", "datadogRegion": "us"}}),
        json!({"name": "d", "type": "datadog", "sink": {"httpEndpoint": url}}),
        json!({"name": "h", "type": "http", "sink": {"httpEndpoint": "http://example.com/hook"}}),
        json!({"name": "h", "type": "http", "sink": {"httpEndpoint": "ftp://127.0.0.1/hook"}}),
        json!({"name": "h", "type": "http", "sink": {}}),
        json!({"name": "h", "type": "http", "sink": {"httpEndpoint": url}, "colour": "red"}),
        json!({"name": "h", "type": "http", "sink": {"httpEndpoint": url, "httpVerb": "PUT"}}),
        json!({"name": "h", "type": "http", "sink": {"httpEndpoint": url, "httpContentFormat": "XML"}}),
        json!({"name": "h", "type": "http", "sink": {"httpEndpoint": url},
               "filters": [{"type": "category", "name": "auth.everything"}]}),
        json!({"name": "h", "type": "http", "sink": {"httpEndpoint": url,
               "httpCustomHeaders": [{"header": "Authorization", "value": "x"}]}}),
    ];
    for body in bad {
        let (status, error) = app
            .api(Method::POST, "/log-streams", Some(body.clone()))
            .await;
        assert_eq!(status, 400, "{body} → {error}");
        assert_eq!(error["statusCode"], 400, "{error}");
        assert_eq!(error["error"], "Bad Request", "{error}");
        assert!(error["message"].is_string(), "{error}");
    }
    let (status, _) = app
        .api(
            Method::PATCH,
            &format!("/log-streams/{id}"),
            Some(json!({"status": "suspended"})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = app
        .api(
            Method::PATCH,
            &format!("/log-streams/{id}"),
            Some(json!({"sink": {"httpEndpoint": "http://10.0.0.1/x"}})),
        )
        .await;
    assert_eq!(status, 400);
    // https anywhere, http on loopback names.
    for endpoint in [
        "https://hooks.example.com/x",
        "http://localhost:9/x",
        "http://[::1]:9/x",
    ] {
        let (status, body) = app
            .api(
                Method::PATCH,
                &format!("/log-streams/{id}"),
                Some(json!({"sink": {"httpEndpoint": endpoint}})),
            )
            .await;
        assert_eq!(status, 200, "{endpoint}: {body}");
    }

    let (status, _) = app
        .api(Method::DELETE, &format!("/log-streams/{id}"), None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = app
        .api(Method::GET, &format!("/log-streams/{id}"), None)
        .await;
    assert_eq!(status, 404);
}
