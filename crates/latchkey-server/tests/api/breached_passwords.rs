//! Breached-password detection against a generated corpus (no network): the settings round-trip
//! and refuse bad values; per the stage settings, sign-up, the Management API, the reset page and
//! the console refuse a breached password with `password_leaked`; a login with the right but
//! breached password is refused and mails a reset link that then works, while a breached but
//! wrong password is only a wrong password; administrators are notified at most daily; Auth0's
//! log codes are written. A missing or damaged corpus stops the start.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::{TestApp, encode_id, spawn_app_with, temp_dir};
use crate::login::hidden;
use crate::reset::{open_page, submit};
use crate::smtp_sink::SmtpSink;
use latchkey_core::password::breach::{build_index, sha1};
use latchkey_core::random::upper_hex;
use reqwest::Method;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

const CONNECTION: &str = "Username-Password-Authentication";
const SETTINGS: &str = "/attack-protection/breached-password-detection";
/// In the generated corpus, and strong enough for any policy.
const LEAKED: &str = "Leaked-Corpus-Password-1";
const ALSO_LEAKED: &str = "Another-Leaked-Password-2";

/// A sorted `HASH:COUNT` file as the Have I Been Pwned downloader writes it: the two leaked
/// passwords among some thousands of other hashes.
fn corpus_file(dir: &Path) -> PathBuf {
    let mut hashes: Vec<[u8; 20]> = (0..5000).map(|i| sha1(&format!("filler-{i}"))).collect();
    hashes.push(sha1(LEAKED));
    hashes.push(sha1(ALSO_LEAKED));
    hashes.sort();
    let text: String = hashes
        .iter()
        .enumerate()
        .map(|(i, h)| format!("{}:{}\r\n", upper_hex(h), i + 1))
        .collect();
    let path = dir.join("pwned-passwords.txt");
    std::fs::write(&path, text).unwrap();
    path
}

async fn app_with(corpus: PathBuf) -> (TestApp, SmtpSink) {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let app = spawn_app_with(move |s| {
        s.mail.smtp_url = Some(url.into());
        s.mail.retry_base_secs = 1;
        s.passwords.breached_corpus = Some(corpus);
    })
    .await;
    (app, sink)
}

async fn signup(app: &TestApp, email: &str, password: &str) -> (u16, Value) {
    let (client_id, _) = app.app_client();
    let res = app
        .http
        .post(app.url("/dbconnections/signup"))
        .json(
            &json!({"client_id": client_id, "email": email, "password": password,
                      "connection": CONNECTION}),
        )
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

/// Waits for a tenant log entry of `type_code` (entries are written in batches).
async fn log_of_type(app: &TestApp, type_code: &str) -> Value {
    for _ in 0..100 {
        let (_, logs) = app.api(Method::GET, "/logs?per_page=100", None).await;
        if let Some(e) = logs
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["type"] == type_code)
        {
            return e.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no {type_code} log entry");
}

#[tokio::test]
async fn a_breached_password_is_refused_per_stage_and_a_breached_login_gets_a_reset_link() {
    let dir = temp_dir();
    let (app, sink) = app_with(corpus_file(&dir)).await;
    let admin_email = app.bootstrap["admin"]["email"].as_str().unwrap().to_owned();

    // Off (the default): nothing is checked.
    let user = app.create_user("leaky@example.com", LEAKED).await;
    let id = encode_id(user["user_id"].as_str().unwrap());
    assert_eq!(
        app.login("leaky@example.com", LEAKED, "openid")
            .await
            .status(),
        200
    );

    // Bad settings are 400s in the Management API's shape, and change nothing.
    let (_, before) = app.api(Method::GET, SETTINGS, None).await;
    for (body, code) in [
        (json!({"shields": ["block", "shout"]}), "invalid_body"),
        (json!({"enabled": "yes"}), "invalid_body"),
        (
            json!({"stage": {"pre-login": {"shields": ["block"]}}}),
            "invalid_body",
        ),
        (
            json!({"stage": {"pre-user-registration": {"shields": ["user_notification"]}}}),
            "invalid_body",
        ),
        (
            json!({"admin_notification_frequency": ["hourly"]}),
            "invalid_body",
        ),
        (json!({"method": "enhanced"}), "operation_not_supported"),
    ] {
        let (status, answer) = app.api(Method::PATCH, SETTINGS, Some(body.clone())).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["statusCode"], 400);
        assert_eq!(answer["errorCode"], code, "{body}: {answer}");
    }
    assert_eq!(app.api(Method::GET, SETTINGS, None).await.1, before);

    // On, with every shield; administrators at most daily. The settings round-trip.
    let on = json!({"enabled": true,
        "shields": ["block", "user_notification", "admin_notification"],
        "admin_notification_frequency": ["daily"], "method": "standard",
        "stage": {"pre-user-registration": {"shields": ["block", "admin_notification"]},
                  "pre-change-password": {"shields": ["block"]}}});
    let (status, saved) = app.api(Method::PATCH, SETTINGS, Some(on.clone())).await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved, on);
    assert_eq!(app.api(Method::GET, SETTINGS, None).await.1, on);

    // Sign-up: the corpus file, the bundled list and Auth0's test prefix are all breached.
    for password in [LEAKED, "AUTH0-TEST-Strong-Enough-1", "Password1"] {
        let (status, body) = signup(&app, "newcomer@example.com", password).await;
        assert_eq!(status, 400, "{password}: {body}");
        assert_eq!(body["code"], "password_leaked", "{body}");
        assert_eq!(body["statusCode"], 400);
    }
    let (status, body) = signup(&app, "newcomer@example.com", "Not-In-Any-Corpus-77").await;
    assert_eq!(status, 200, "{body}");
    let entry = log_of_type(&app, "signup_pwd_leak").await;
    assert_eq!(entry["description"], "Breached password: refused");

    // The Management API: a new user, a new password.
    let (status, body) = app
        .api(
            Method::POST,
            "/users",
            Some(json!({"connection": CONNECTION, "email": "api@example.com", "password": ALSO_LEAKED})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errorCode"], "password_leaked");
    let (status, body) = app
        .api(
            Method::PATCH,
            &format!("/users/{id}"),
            Some(json!({"password": ALSO_LEAKED})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errorCode"], "password_leaked");
    log_of_type(&app, "reset_pwd_leak").await;

    // A breached but wrong password is just a wrong password: no mail, no hint.
    let res = app.login("leaky@example.com", ALSO_LEAKED, "openid").await;
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(body["error_description"], "Wrong email or password.");

    // The right but breached password: refused, and a reset link is mailed (once an hour).
    for _ in 0..2 {
        let res = app.login("leaky@example.com", LEAKED, "openid").await;
        assert_eq!(res.status(), 403);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "password_leaked", "{body}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("We’ve sent you an email"),
            "{body}"
        );
    }
    let entry = log_of_type(&app, "pwd_leak").await;
    assert_eq!(entry["user_id"], user["user_id"]);

    // Mail: one notice to the administrator (daily at most, though sign-up met two breaches
    // and the login one), one reset link to the user (hourly at most, though two logins).
    sink.wait_for(2, Duration::from_secs(10)).await;
    // Nothing more comes (the throttles hold): give a third mail time to arrive, if any.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mails = sink.mails();
    let to_admin: Vec<_> = mails
        .iter()
        .filter(|m| m.to == vec![admin_email.clone()])
        .collect();
    let to_user: Vec<_> = mails
        .iter()
        .filter(|m| m.to == vec!["leaky@example.com".to_owned()])
        .collect();
    assert_eq!(to_admin.len(), 1, "{mails:?}");
    assert!(
        to_admin[0]
            .header("Subject")
            .unwrap()
            .contains("breached password")
    );
    assert!(
        !to_admin[0].data.contains(LEAKED),
        "the password never travels"
    );
    assert_eq!(to_user.len(), 1, "{mails:?}");

    // The link opens the reset page, which refuses another breached password and takes a
    // good one; then the login works.
    let ticket = to_user[0].ticket();
    let visit = open_page(&app, &ticket).await;
    assert_eq!(visit.status, 200);
    let res = submit(&app, &visit, &ticket, ALSO_LEAKED, ALSO_LEAKED).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("public data breach"));
    let visit = open_page(&app, &ticket).await;
    let res = submit(
        &app,
        &visit,
        &ticket,
        "Fresh-Unleaked-Pass-3",
        "Fresh-Unleaked-Pass-3",
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.login("leaky@example.com", "Fresh-Unleaked-Pass-3", "openid")
            .await
            .status(),
        200
    );

    // Per stage: without the change-password block, the Management API lets it through
    // (logged as allowed); without the login block, the login succeeds.
    let (status, _) = app
        .api(
            Method::PATCH,
            SETTINGS,
            Some(json!({"shields": [], "stage": {"pre-change-password": {"shields": []}}})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = app
        .api(
            Method::PATCH,
            &format!("/users/{id}"),
            Some(json!({"password": ALSO_LEAKED})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        app.login("leaky@example.com", ALSO_LEAKED, "openid")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn the_console_sets_detection_and_brute_force_and_refuses_breached_passwords() {
    let dir = temp_dir();
    // The compact index, built from the same kind of file.
    let index = dir.join("pwned.lkidx");
    build_index(&corpus_file(&dir), &index, &mut |_, _| {}).unwrap();
    let (app, _sink) = app_with(index).await;
    let user = app
        .create_user("console@example.com", "Quite-Fine-Pass-4")
        .await;
    let id = user["user_id"].as_str().unwrap().to_owned();
    let mut b = crate::admin::signed_in_admin(&app).await;

    let (status, page, _) = b.get(&app.url("/admin/attack-protection")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Breached-password detection") && page.contains("Off"));
    let csrf = hidden(&page, "_csrf");

    // Breached-password detection on, blocking at every stage, from the console.
    let (status, _, location) = b
        .post(
            &app.url("/admin/attack-protection/breached-passwords"),
            &[
                ("_csrf", csrf.as_str()),
                ("enabled", "on"),
                ("block", "on"),
                ("frequency", "weekly"),
                ("signup_block", "on"),
                ("change_block", "on"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (_, saved, _) = b.get(&app.url(&location.unwrap())).await;
    assert!(
        saved.contains("Breached-password detection saved."),
        "{saved}"
    );
    let (_, api) = app.api(Method::GET, SETTINGS, None).await;
    assert_eq!(
        api,
        json!({"enabled": true, "shields": ["block"], "admin_notification_frequency": ["weekly"],
               "method": "standard",
               "stage": {"pre-user-registration": {"shields": ["block"]},
                         "pre-change-password": {"shields": ["block"]}}})
    );
    // A value the service refuses: a 400 page with its message, nothing saved.
    let (status, refused, _) = b
        .post(
            &app.url("/admin/attack-protection/breached-passwords"),
            &[
                ("_csrf", csrf.as_str()),
                ("enabled", "on"),
                ("frequency", "hourly"),
            ],
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(app.api(Method::GET, SETTINGS, None).await.1, api);

    // The console's password change is one more change path.
    let (status, page, _) = b
        .get(&app.url(&format!("/admin/users/{}", encode_id(&id))))
        .await;
    assert_eq!(status, 200);
    let csrf_user = hidden(&page, "_csrf");
    let (status, refused, _) = b
        .post(
            &app.url(&format!("/admin/users/{}/password", encode_id(&id))),
            &[
                ("_csrf", csrf_user.as_str()),
                ("newPassword", LEAKED),
                ("confirmNewPassword", LEAKED),
            ],
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused.contains("public data breach"), "{refused}");

    // Brute force: max_attempts from the console; a bad value is refused and changes nothing.
    let brute = "/admin/attack-protection/brute-force";
    let (status, refused, _) = b
        .post(
            &app.url(brute),
            &[("_csrf", csrf.as_str()), ("max_attempts", "0")],
        )
        .await;
    assert_eq!(status, 400);
    assert!(refused.contains("max_attempts must be between 1 and 100"));
    let (status, _, _) = b
        .post(
            &app.url(brute),
            &[("_csrf", csrf.as_str()), ("max_attempts", "3")],
        )
        .await;
    assert_eq!(status, 303);
    let (_, api) = app
        .api(
            Method::GET,
            "/attack-protection/brute-force-protection",
            None,
        )
        .await;
    assert_eq!(api["max_attempts"], 3);
    for _ in 0..3 {
        assert_eq!(
            app.login("console@example.com", "Wrong-Guess-9", "openid")
                .await
                .status(),
            403
        );
    }
    assert_eq!(
        app.login("console@example.com", "Quite-Fine-Pass-4", "openid")
            .await
            .status(),
        429,
        "blocked after max_attempts failures"
    );
}

#[tokio::test]
async fn a_missing_or_damaged_corpus_stops_the_start() {
    let dir = temp_dir();
    let damaged = dir.join("damaged.txt");
    std::fs::write(&damaged, "this is not a corpus\n").unwrap();
    let unsorted = dir.join("unsorted.txt");
    let (a, b) = (upper_hex(&sha1("a")), upper_hex(&sha1("b")));
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    std::fs::write(&unsorted, format!("{hi}:1\n{lo}:2\n")).unwrap();
    for (path, expected) in [
        (dir.join("absent.txt"), "breached-password corpus"),
        (damaged, "not a file of HASH:COUNT lines"),
        (unsorted, "is not sorted"),
    ] {
        let mut settings = crate::helpers::settings(&temp_dir(), None);
        settings.passwords.breached_corpus = Some(path.clone());
        let err = match latchkey_server::Application::build(&settings, &Default::default()).await {
            Ok(_) => panic!("{} was accepted", path.display()),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains("passwords.breached_corpus"), "{err}");
        assert!(err.contains(expected), "{expected} in {err}");
    }
}

/// A Have I Been Pwned compatible range mirror on loopback: it lists `RANGE_ONLY` (and padding)
/// under its prefix, and records what it was asked.
const RANGE_ONLY: &str = "Only-The-Mirror-Knows-This-1";

#[tokio::test]
async fn a_range_service_is_asked_with_five_hex_digits_only_while_detection_is_on() {
    use crate::loopback_http::{Request, serve};
    use std::sync::{Arc, Mutex};
    let asked: Arc<Mutex<Vec<Request>>> = Arc::default();
    let seen = asked.clone();
    let listed = upper_hex(&sha1(RANGE_ONLY));
    let mirror = serve(move |req| {
        seen.lock().unwrap().push(req.clone());
        let prefix = req.path.trim_start_matches("/range/");
        let mut body = format!("{}:0\r\n", "0".repeat(35));
        if listed.starts_with(prefix) {
            body.push_str(&format!("{}:42\r\n", &listed[5..]));
        }
        (200, "text/plain".into(), body.into_bytes())
    })
    .await;
    let app = spawn_app_with(move |s| {
        s.passwords.breached_range_url = Some(format!("{mirror}/range"));
    })
    .await;

    // Off: the mirror is never asked.
    let (status, body) = signup(&app, "first@example.com", RANGE_ONLY).await;
    assert_eq!(status, 200, "{body}");
    assert!(asked.lock().unwrap().is_empty());

    let (status, _) = app
        .api(
            Method::PATCH,
            SETTINGS,
            Some(json!({"enabled": true, "shields": ["block"],
                "stage": {"pre-user-registration": {"shields": ["block"]}}})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = signup(&app, "second@example.com", RANGE_ONLY).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "password_leaked", "{body}");
    let (status, body) = signup(&app, "third@example.com", "Not-Known-Anywhere-93").await;
    assert_eq!(status, 200, "{body}");
    // Known to the mirror, at login too (the first user's password was accepted while off).
    let res = app.login("first@example.com", RANGE_ONLY, "openid").await;
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "password_leaked", "{body}");

    let asked = asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 3);
    for req in &asked {
        assert_eq!(req.method, "GET");
        let prefix = req.path.strip_prefix("/range/").unwrap();
        assert_eq!(prefix.len(), 5, "{}", req.path);
        assert!(prefix.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(req.query, "");
        assert!(req.body.is_empty());
        assert_eq!(req.header("add-padding"), Some("true"));
    }
    assert_eq!(
        asked[0].path,
        format!("/range/{}", &upper_hex(&sha1(RANGE_ONLY))[..5])
    );
}

#[tokio::test]
async fn a_range_service_that_fails_closed_holds_new_passwords_but_not_logins() {
    use crate::loopback_http::{empty, serve};
    let mirror = serve(|_| empty(502)).await;
    let app = spawn_app_with(move |s| {
        s.passwords.breached_range_url = Some(format!("{mirror}/range/"));
        s.passwords.breached_range_on_failure = "closed".into();
        s.metrics.allow_from = vec!["127.0.0.1/32".into(), "::1/128".into()];
    })
    .await;
    app.create_user("kept@example.com", "Set-While-Detection-Off-5")
        .await;
    let (status, _) = app
        .api(Method::PATCH, SETTINGS, Some(json!({"enabled": true})))
        .await;
    assert_eq!(status, 200);
    // A new password waits for the service: 503 with Retry-After, in the surface's shape.
    let (client_id, _) = app.app_client();
    let res = app
        .http
        .post(app.url("/dbconnections/signup"))
        .json(&json!({"client_id": client_id, "email": "held@example.com",
                      "password": "Unchecked-For-Now-8", "connection": CONNECTION}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.headers().get("retry-after").is_some());
    let (status, body) = app
        .api(
            Method::POST,
            "/users",
            Some(
                json!({"connection": CONNECTION, "email": "held2@example.com",
                        "password": "Unchecked-For-Now-8"}),
            ),
        )
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["statusCode"], 503);
    // A login goes on.
    let res = app
        .login("kept@example.com", "Set-While-Detection-Off-5", "openid")
        .await;
    assert_eq!(res.status(), 200);
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let failures: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("latchkey_breach_range_failures_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(failures >= 3, "{failures}");
}

#[tokio::test]
async fn a_bad_range_setting_stops_the_start() {
    for (url, on_failure, expected) in [
        ("ftp://mirror.example/range/", "open", "http(s) URL"),
        ("not a url", "open", "is not a URL"),
        (
            "https://mirror.example/range/",
            "sometimes",
            "\"open\" or \"closed\"",
        ),
    ] {
        let mut settings = crate::helpers::settings(&temp_dir(), None);
        settings.passwords.breached_range_url = Some(url.into());
        settings.passwords.breached_range_on_failure = on_failure.into();
        let err = match latchkey_server::Application::build(&settings, &Default::default()).await {
            Ok(_) => panic!("{url} / {on_failure} was accepted"),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains(expected), "{expected} in {err}");
    }
}
