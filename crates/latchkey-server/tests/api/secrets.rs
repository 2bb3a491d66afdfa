//! Security invariant 7: no password, secret or token in any log line, even at `trace`.

#![allow(clippy::unwrap_used)]

use crate::helpers::*;
use serde_json::{Value, json};

#[tokio::test]
async fn no_password_secret_or_token_reaches_the_log_even_at_trace_level() {
    let server = start_binary(
        false,
        &[("RUST_LOG", "trace"), ("LATCHKEY_LOG__FORMAT", "json")],
    )
    .await;
    let b = server.bootstrap();
    let base = format!("http://127.0.0.1:{}", server.port);
    let http = reqwest::Client::new();
    let post = |path: &str, body: Value| http.post(format!("{base}{path}")).json(&body).send();
    let mgmt_id = b["management_api"]["client_id"].as_str().unwrap();
    let mgmt_secret = b["management_api"]["client_secret"].as_str().unwrap();
    let app_id = b["default_client"]["client_id"].as_str().unwrap();
    let app_secret = b["default_client"]["client_secret"].as_str().unwrap();

    let mgmt: Value = post(
        "/oauth/token",
        json!({"grant_type": "client_credentials", "client_id": mgmt_id,
        "client_secret": mgmt_secret, "audience": format!("{base}/api/v2/")}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let mgmt_token = mgmt["access_token"].as_str().unwrap();
    let user: Value = http
        .post(format!("{base}/api/v2/users"))
        .bearer_auth(mgmt_token)
        .json(&json!({"connection": "Username-Password-Authentication", "email": "quiet@example.com", "password": "First-Secret-Pw1"}))
        .send().await.unwrap().json().await.unwrap();
    let login = |password: &'static str| {
        post(
            "/oauth/token",
            json!({"grant_type": "password", "client_id": app_id,
        "client_secret": app_secret, "username": "quiet@example.com", "password": password, "scope": "openid offline_access"}),
        )
    };
    let tokens: Value = login("First-Secret-Pw1")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(login("Wrong-Guess-Pw9").await.unwrap().status(), 403);
    let refreshed: Value = post(
        "/oauth/token",
        json!({"grant_type": "refresh_token", "client_id": app_id,
        "client_secret": app_secret, "refresh_token": tokens["refresh_token"]}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let changed = http
        .patch(format!(
            "{base}/api/v2/users/{}",
            encode_id(user["user_id"].as_str().unwrap())
        ))
        .bearer_auth(mgmt_token)
        .json(&json!({"password": "Second-Secret-Pw2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    let provider = http
        .post(format!("{base}/api/v2/emails/provider"))
        .bearer_auth(mgmt_token)
        .json(&json!({"name": "smtp", "credentials": {"smtp_host": "smtp.example", "smtp_port": 587, "smtp_pass": "Smtp-Relay-Secret"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(provider.status(), 201);
    // A malformed body that carries a password must not be echoed into the log either.
    post(
        "/oauth/token",
        json!({"grant_type": "password", "password": "Third-Secret-Pw3", "username": 7}),
    )
    .await
    .unwrap();

    let log = server.stop_and_read_log().await;
    assert!(
        log.contains("latchkey listening"),
        "the log was captured: {log}"
    );
    let secrets = [
        "First-Secret-Pw1",
        "Smtp-Relay-Secret",
        "Wrong-Guess-Pw9",
        "Second-Secret-Pw2",
        "Third-Secret-Pw3",
        mgmt_secret,
        app_secret,
        b["admin"]["password"].as_str().unwrap(),
        mgmt_token,
        tokens["access_token"].as_str().unwrap(),
        tokens["id_token"].as_str().unwrap(),
        tokens["refresh_token"].as_str().unwrap(),
        refreshed["refresh_token"].as_str().unwrap(),
        "$argon2id$",
    ];
    for secret in secrets {
        assert!(
            !log.contains(secret),
            "the log holds a secret ({} chars)",
            secret.len()
        );
    }
}
