//! Brute-force protection with Auth0's semantics: 10 consecutive failures for one user from one
//! IP block that pair (429 `too_many_attempts`, even with the right password), a mail with a
//! reset link goes out, a successful reset or an administrator lifts the block.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::{TestApp, encode_id};
use crate::reset::{app_with_sink, open_page, submit};
use reqwest::Method;
use serde_json::Value;
use std::time::Duration;

async fn fail(app: &TestApp, email: &str, times: usize) {
    for _ in 0..times {
        assert_eq!(
            app.login(email, "Wrong-Guess-9", "openid").await.status(),
            403
        );
    }
}

#[tokio::test]
async fn ten_failures_block_the_pair_until_a_reset_or_an_administrator_lifts_it() {
    let (app, sink) = app_with_sink().await;
    let user = app
        .create_user("guessed@example.com", "Right-Password-1")
        .await;
    let id = encode_id(user["user_id"].as_str().unwrap());

    // A success in between starts the count again.
    fail(&app, "guessed@example.com", 9).await;
    assert_eq!(
        app.login("guessed@example.com", "Right-Password-1", "openid")
            .await
            .status(),
        200
    );
    fail(&app, "guessed@example.com", 9).await;
    assert_eq!(
        app.login("guessed@example.com", "Right-Password-1", "openid")
            .await
            .status(),
        200
    );

    // Ten in a row: blocked, even with the right password.
    fail(&app, "guessed@example.com", 10).await;
    let res = app
        .login("guessed@example.com", "Right-Password-1", "openid")
        .await;
    assert_eq!(res.status(), 429);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "too_many_attempts");
    let (_, blocks) = app
        .api(Method::GET, &format!("/user-blocks/{id}"), None)
        .await;
    assert_eq!(blocks["blocked_for"][0]["ip"], "127.0.0.1");
    assert_eq!(
        blocks["blocked_for"][0]["identifier"],
        "guessed@example.com"
    );

    // The mail carries a reset link; resetting lifts the block.
    let mail = &sink.wait_for(1, Duration::from_secs(10)).await[0];
    assert!(mail.header("Subject").unwrap().contains("blocked"));
    assert!(mail.part("text/plain").unwrap().contains("127.0.0.1"));
    let ticket = mail.ticket();
    let visit = open_page(&app, &ticket).await;
    assert_eq!(
        submit(&app, &visit, &ticket, "New-Password-2", "New-Password-2")
            .await
            .status(),
        200
    );
    assert_eq!(
        app.login("guessed@example.com", "New-Password-2", "openid")
            .await
            .status(),
        200
    );

    // Blocked again; an administrator lifts it.
    fail(&app, "guessed@example.com", 10).await;
    assert_eq!(
        app.login("guessed@example.com", "New-Password-2", "openid")
            .await
            .status(),
        429
    );
    let (status, _) = app
        .api(Method::DELETE, &format!("/user-blocks/{id}"), None)
        .await;
    assert_eq!(status, 204);
    let (_, blocks) = app
        .api(Method::GET, &format!("/user-blocks/{id}"), None)
        .await;
    assert_eq!(blocks["blocked_for"].as_array().unwrap().len(), 0);
    assert_eq!(
        app.login("guessed@example.com", "New-Password-2", "openid")
            .await
            .status(),
        200
    );

    tokio::time::sleep(Duration::from_millis(600)).await;
    let (_, logs) = app
        .api(Method::GET, "/logs?q=type:limit_wc&per_page=100", None)
        .await;
    assert!(logs.to_string().contains("limit_wc"), "{logs}");
}
