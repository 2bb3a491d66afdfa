//! Brute-force protection with Auth0's semantics: 10 consecutive failures (or the tenant's
//! `max_attempts`) for one user from one IP block that pair (429 `too_many_attempts`, even with
//! the right password), a mail with an unblock link goes out; that link (once), a successful
//! reset or an administrator lifts the block. Its allowlist, switch and shields take effect;
//! suspicious IP throttling answers 429 `too_many_attempts` past its per-IP rates.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::{TestApp, encode_id};
use crate::reset::{app_with_sink, open_page, submit};
use reqwest::Method;
use serde_json::{Value, json};
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

    // The mail carries an unblock link. Opening it changes nothing; its button lifts the block.
    let mail = &sink.wait_for(1, Duration::from_secs(10)).await[0];
    assert!(mail.header("Subject").unwrap().contains("blocked"));
    let text = mail.part("text/plain").unwrap();
    assert!(text.contains("127.0.0.1"));
    let at = text.find("/lo/unblock?ticket=").expect("an unblock link") + 19;
    let token: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
        .collect();
    let open = || {
        app.http
            .get(app.url(&format!("/lo/unblock?ticket={token}")))
            .send()
    };
    let page = open().await.unwrap();
    assert_eq!(page.status(), 200);
    let cookie = page.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = page.text().await.unwrap();
    assert!(html.contains("Unblock your account") && html.contains("127.0.0.1"));
    assert_eq!(
        app.login("guessed@example.com", "Right-Password-1", "openid")
            .await
            .status(),
        429,
        "opening the link lifts nothing"
    );
    let csrf = crate::login::hidden(&html, "_csrf");
    let press = |csrf: String| {
        app.http
            .post(app.url("/lo/unblock"))
            .header("cookie", &cookie)
            .form(&[("_csrf", csrf), ("ticket", token.clone())])
            .send()
    };
    assert_eq!(press("forged".into()).await.unwrap().status(), 403);
    let done = press(csrf.clone()).await.unwrap();
    assert_eq!(done.status(), 200);
    assert!(
        done.text()
            .await
            .unwrap()
            .contains("Your account is unblocked")
    );
    assert_eq!(
        app.login("guessed@example.com", "Right-Password-1", "openid")
            .await
            .status(),
        200
    );
    // The link worked once, and does not lift a later block either.
    assert_eq!(press(csrf.clone()).await.unwrap().status(), 400);
    fail(&app, "guessed@example.com", 10).await;
    assert_eq!(open().await.unwrap().status(), 400);
    assert_eq!(press(csrf).await.unwrap().status(), 400);

    // A successful reset lifts the block too.
    let ticket =
        crate::reset::ticket_token(&app, serde_json::json!({"user_id": user["user_id"]})).await;
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

/// `max_attempts` from `/api/v2/attack-protection/brute-force-protection` is the threshold the
/// login applies; values outside Auth0's range are refused and change nothing.
#[tokio::test]
async fn the_brute_force_setting_sets_how_many_failures_block() {
    let (app, _sink) = app_with_sink().await;
    app.create_user("three@example.com", "Right-Password-1")
        .await;
    for bad in [json!({"max_attempts": 0}), json!({"max_attempts": 101})] {
        let (status, body) = app
            .api(
                Method::PATCH,
                "/attack-protection/brute-force-protection",
                Some(bad.clone()),
            )
            .await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let (status, body) = app
        .api(
            Method::PATCH,
            "/attack-protection/brute-force-protection",
            Some(json!({"max_attempts": 3})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["max_attempts"], 3);
    fail(&app, "three@example.com", 3).await;
    let res = app
        .login("three@example.com", "Right-Password-1", "openid")
        .await;
    assert_eq!(res.status(), 429);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "too_many_attempts");

    // The allowlist, the switch and the block shield take effect for the pair at once.
    let app = &app;
    let patch = move |body: Value| async move {
        let (status, answer) = app
            .api(
                Method::PATCH,
                "/attack-protection/brute-force-protection",
                Some(body),
            )
            .await;
        assert_eq!(status, 200, "{answer}");
    };
    // (The pair is blocked now; a block stays until lifted, whatever the settings meanwhile.)
    let right = || app.login("three@example.com", "Right-Password-1", "openid");
    patch(json!({"allowlist": ["10.0.0.0/8", "127.0.0.0/24"]})).await;
    assert_eq!(
        right().await.status(),
        200,
        "an allowlisted address is not refused"
    );
    fail(app, "three@example.com", 5).await;
    patch(json!({"allowlist": []})).await;
    assert_eq!(right().await.status(), 429, "the block holds again");
    patch(json!({"shields": ["user_notification"]})).await;
    assert_eq!(right().await.status(), 200, "without the block shield");
    patch(json!({"shields": ["block", "user_notification"], "enabled": false})).await;
    assert_eq!(right().await.status(), 200, "turned off");
    fail(app, "three@example.com", 5).await;
    patch(json!({"enabled": true})).await;
    assert_eq!(right().await.status(), 429);
    for bad in [
        json!({"allowlist": ["10.0.0.0/33"]}),
        json!({"allowlist": ["example.com"]}),
        json!({"shields": ["block", "shout"]}),
    ] {
        let (status, body) = app
            .api(
                Method::PATCH,
                "/attack-protection/brute-force-protection",
                Some(bad.clone()),
            )
            .await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["errorCode"], "invalid_body", "{body}");
    }
}

#[tokio::test]
async fn suspicious_ip_throttling_answers_auth0s_429_past_the_stage_rates() {
    let app = crate::helpers::spawn_app().await;
    app.create_user("someone@example.com", "Right-Password-1")
        .await;
    let path = "/attack-protection/suspicious-ip-throttling";
    let (_, before) = app.api(Method::GET, path, None).await;
    for bad in [
        json!({"stage": {"pre-login": {"max_attempts": -1, "rate": 1000}}}),
        json!({"stage": {"pre-login": {"max_attempts": 5, "rate": 0}}}),
        json!({"allowlist": ["10.0.0.0/40"]}),
        json!({"shields": ["block", "shout"]}),
    ] {
        let (status, body) = app.api(Method::PATCH, path, Some(bad.clone())).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["errorCode"], "invalid_body", "{body}");
    }
    assert_eq!(app.api(Method::GET, path, None).await.1, before);
    let (status, body) = app
        .api(
            Method::PATCH,
            path,
            Some(json!({"enabled": true,
                "stage": {"pre-login": {"max_attempts": 2, "rate": 3_600_000},
                          "pre-user-registration": {"max_attempts": 1, "rate": 3_600_000}}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // Failed logins across accounts spend the address's budget; then even a right password
    // is refused before any password work.
    assert_eq!(
        app.login("someone@example.com", "Wrong-Guess-9", "openid")
            .await
            .status(),
        403
    );
    assert_eq!(
        app.login("nobody@example.com", "Wrong-Guess-9", "openid")
            .await
            .status(),
        403
    );
    let res = app
        .login("someone@example.com", "Right-Password-1", "openid")
        .await;
    assert_eq!(res.status(), 429);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "too_many_attempts");
    assert_eq!(
        body["error_description"],
        "We have detected suspicious login behavior and further attempts will be blocked. Please contact the administrator."
    );

    // Sign-ups have their own budget.
    let (client_id, _) = app.app_client();
    let signup = |email: &'static str| {
        app.http
            .post(app.url("/dbconnections/signup"))
            .json(&json!({"client_id": client_id, "email": email,
                          "password": "Sign-Up-Password-7",
                          "connection": "Username-Password-Authentication"}))
            .send()
    };
    assert_eq!(signup("first@example.com").await.unwrap().status(), 200);
    let res = signup("second@example.com").await.unwrap();
    assert_eq!(res.status(), 429);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "too_many_attempts", "{body}");

    // An allowlisted address is not throttled.
    let (status, _) = app
        .api(
            Method::PATCH,
            path,
            Some(json!({"allowlist": ["127.0.0.1"]})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        app.login("someone@example.com", "Right-Password-1", "openid")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn suspicious_ip_throttling_notifies_administrators_once_an_hour() {
    let (app, sink) = app_with_sink().await;
    let admin = app.bootstrap["admin"]["email"].as_str().unwrap().to_owned();
    let path = "/attack-protection/suspicious-ip-throttling";
    // Notify without blocking: the address keeps its answers, the administrators learn of it.
    let (status, body) = app
        .api(
            Method::PATCH,
            path,
            Some(json!({"enabled": true, "shields": ["admin_notification"],
                "stage": {"pre-login": {"max_attempts": 2, "rate": 3_600_000},
                          "pre-user-registration": {"max_attempts": 50, "rate": 1200}}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    fail(&app, "nobody@example.com", 6).await;
    let mails = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(mails[0].to, vec![admin]);
    assert!(
        mails[0].data.contains("Suspicious IP throttling"),
        "{}",
        mails[0].data
    );
    assert!(mails[0].data.contains("127.0.0.1"));
    // More failures within the hour: no second mail.
    fail(&app, "nobody@example.com", 3).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sink.mails().len(), 1);
}
