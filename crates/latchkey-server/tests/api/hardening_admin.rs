//! Attacks reproduced from outside: locking administrators out of the console from many
//! addresses, and overloading the login path. Distinct client IPs are real connections from
//! distinct loopback addresses (127.0.0.0/8 is all loopback on Linux).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::admin::{admin_credentials, sign_in};
use crate::helpers::spawn_app_with;
use crate::login::{Browser, hidden};

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
