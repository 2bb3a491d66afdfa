//! Attacks reproduced from outside: locking administrators out of the console from many
//! addresses, and overloading the login path. Distinct client IPs are real connections from
//! distinct loopback addresses (127.0.0.0/8 is all loopback on Linux).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::admin::{admin_credentials, sign_in};
use crate::helpers::spawn_app_with;
use crate::login::{Browser, hidden};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// One wrong console sign-in from `ip`: the status the form answers.
async fn wrong_sign_in(app: &crate::helpers::TestApp, ip: &str, email: &str) -> u16 {
    let mut b = Browser::from_ip(ip);
    sign_in(&mut b, app, email, "Not-The-Password-1").await.0
}

#[tokio::test]
async fn wrong_passwords_from_many_addresses_do_not_lock_the_administrator_out() {
    let app = spawn_app_with(|_| {}).await;
    let (email, password) = admin_credentials(&app);
    // 310 addresses, one wrong guess each: far more than the old per-account burst of 30,
    // and past the account's new ceiling (300).
    let mut guesses = Vec::new();
    for i in 0..310u32 {
        let ip = format!("127.0.{}.{}", 10 + i / 200, 1 + i % 200);
        guesses.push(wrong_sign_in(&app, &ip, &email).await);
    }
    assert!(
        guesses.iter().all(|s| *s != 200),
        "a wrong password signed in"
    );
    // The administrator, from their own address, with the right password, gets in.
    let mut admin = Browser::from_ip("127.0.2.1");
    let (status, page) = sign_in(&mut admin, &app, &email, &password).await;
    assert_eq!(status, 200, "the administrator was locked out: {page}");
    // A wrong password is still refused once the account is over its ceiling…
    let status = wrong_sign_in(&app, "127.0.2.2", &email).await;
    assert_ne!(status, 200);
    // …and one address still gets only its own few guesses.
    let mut last = 0;
    for _ in 0..12 {
        last = wrong_sign_in(&app, "127.0.3.1", &email).await;
    }
    assert_eq!(last, 429, "one address is limited on its own");
    app.stop().await;
}

async fn forgot(app: &crate::helpers::TestApp, ip: &str, email: &str) -> (u16, Option<String>) {
    let mut b = Browser::from_ip(ip);
    let (_, form, _) = b.get(&app.url("/admin/forgot")).await;
    let (status, _, location) = b
        .post(
            &app.url("/admin/forgot"),
            &[("_csrf", &hidden(&form, "_csrf")), ("email", email)],
        )
        .await;
    (status, location)
}

#[tokio::test]
async fn reset_requests_from_many_addresses_do_not_lock_the_administrator_out() {
    let app = spawn_app_with(|_| {}).await;
    let (email, _) = admin_credentials(&app);
    // 32 addresses: past the account's ceiling (30).
    for i in 0..32 {
        forgot(&app, &format!("127.0.4.{}", i + 1), &email).await;
    }
    let (status, location) = forgot(&app, "127.0.5.1", &email).await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/admin/login?done=sent")),
        "the administrator could not ask for a reset link"
    );
    // One address alone is still limited.
    let mut last = 0;
    for _ in 0..8 {
        last = forgot(&app, "127.0.6.1", &email).await.0;
    }
    assert_eq!(last, 429);
    app.stop().await;
}
#[tokio::test]
async fn login_overload_is_shed_fast_while_other_endpoints_answer() {
    let app = spawn_app_with(|s| {
        // Slow hashes on one thread, and a queue of two: 40 logins at once cannot all wait.
        s.passwords.argon2_memory_kib = 32_768;
        s.passwords.argon2_iterations = 2;
        s.passwords.hashing_concurrency = 1;
        s.passwords.hashing_queue_depth = 2;
    })
    .await;
    app.create_user("flood@example.com", "Flood-Password-1")
        .await;
    let started = Instant::now();
    let logins: Vec<_> = (0..40)
        .map(|_| {
            let http = app.http.clone();
            let url = app.url("/oauth/token");
            let (id, secret) = app.app_client();
            tokio::spawn(async move {
                let t = Instant::now();
                let res = http
                    .post(url)
                    .json(&json!({"grant_type": "http://auth0.com/oauth/grant-type/password-realm",
                        "client_id": id, "client_secret": secret, "username": "flood@example.com",
                        "password": "Flood-Password-1", "realm": "Username-Password-Authentication"}))
                    .send()
                    .await
                    .unwrap();
                let status = res.status().as_u16();
                let retry_after = res
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_owned());
                let body: Value = res.json().await.unwrap();
                (status, retry_after, body, t.elapsed())
            })
        })
        .collect();
    // Discovery meanwhile: it hashes nothing and must not wait for the hashes.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let t = Instant::now();
    let res = app
        .http
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let discovery = t.elapsed();
    let mut served = 0;
    let mut shed = 0;
    for login in logins {
        let (status, retry_after, body, took) = login.await.unwrap();
        match status {
            200 => served += 1,
            503 => {
                shed += 1;
                assert_eq!(body["error"], "temporarily_unavailable", "{body}");
                assert!(body["error_description"].is_string(), "{body}");
                let secs: u64 = retry_after.expect("Retry-After").parse().unwrap();
                assert!(secs >= 1);
                assert!(took < Duration::from_millis(1500), "shed after {took:?}");
            }
            other => panic!("{other}: {body}"),
        }
    }
    eprintln!(
        "served {served}, shed {shed}, discovery {discovery:?}, all in {:?}",
        started.elapsed()
    );
    assert!(shed > 0, "nothing was shed: {served} served");
    assert!(served > 0, "nothing was served");
    assert!(
        discovery < Duration::from_millis(500),
        "discovery took {discovery:?}"
    );
    app.stop().await;
}
