//! The admin console over real HTTP: every route refuses visitors without a session and forms
//! without their CSRF token; sign-in (with and without TOTP), Change Password and the other
//! user actions through the same services as the Management API; "Don't remember your
//! password?" end to end over SMTP; the `latchkey admin` commands.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::{TestApp, totp_code};
use crate::login::{Browser, hidden};
use crate::reset::app_with_sink;
use crate::smtp_sink::SmtpSink;
use reqwest::Method;
use serde_json::Value;
use std::time::Duration;

pub(crate) fn admin_credentials(app: &TestApp) -> (String, String) {
    (
        app.bootstrap["admin"]["email"].as_str().unwrap().to_owned(),
        app.bootstrap["admin"]["password"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

/// Signs in through the form; returns the page the browser lands on.
pub(crate) async fn sign_in(
    b: &mut Browser,
    app: &TestApp,
    email: &str,
    password: &str,
) -> (u16, String) {
    let (_, page, _) = b.get(&app.url("/admin/login")).await;
    let (status, body, location) = b
        .post(
            &app.url("/admin/login"),
            &[
                ("_csrf", &hidden(&page, "_csrf")),
                ("next", "/admin/users"),
                ("email", email),
                ("password", password),
            ],
        )
        .await;
    if status == 303 {
        let (status, body, _) = b.get(&app.url(&location.unwrap())).await;
        return (status, body);
    }
    (status, body)
}

/// A browser with the bootstrap administrator signed in.
pub(crate) async fn signed_in_admin(app: &TestApp) -> Browser {
    let (email, password) = admin_credentials(app);
    let mut b = Browser::new();
    let (status, page) = sign_in(&mut b, app, &email, &password).await;
    assert_eq!(status, 200, "{page}");
    b
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn every_console_route_refuses_visitors_and_forms_without_their_token() {
    let app = crate::helpers::spawn_app().await;
    let user = app
        .create_user("someone@example.com", "Old-Password-1")
        .await;
    let user_path = format!("/admin/users/{}", encode(user["user_id"].as_str().unwrap()));
    let gets = [
        "/admin".to_owned(),
        "/admin/users".to_owned(),
        "/admin/users?q=someone".to_owned(),
        user_path.clone(),
        "/admin/security".to_owned(),
    ];
    let posts = [
        "/admin/logout".to_owned(),
        format!("{user_path}/password"),
        format!("{user_path}/send-reset"),
        format!("{user_path}/send-verification"),
        format!("{user_path}/ticket"),
        format!("{user_path}/reset-mfa"),
        format!("{user_path}/block"),
        format!("{user_path}/unblock"),
        format!("{user_path}/lift-blocks"),
        format!("{user_path}/revoke-sessions"),
        format!("{user_path}/delete"),
        "/admin/security/totp".to_owned(),
        "/admin/security/totp/confirm".to_owned(),
        "/admin/security/totp/remove".to_owned(),
    ];
    // Logged out: GETs go to sign-in, forms are refused, nothing is shown.
    for path in &gets {
        let res = app.http.get(app.url(path)).send().await.unwrap();
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        if path == "/admin" {
            assert_eq!(status, 303);
            continue;
        }
        assert_eq!(status, 303, "{path}");
        assert!(
            location.starts_with("/admin/login?next="),
            "{path} → {location}"
        );
    }
    for path in &posts {
        let res = app
            .http
            .post(app.url(path))
            .form(&[("_csrf", "x"), ("confirm", "someone@example.com")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{path}");
    }
    // An end user's hosted-login session is not a console session.
    let mut b = Browser::new();
    b.cookies
        .insert("lk_session".into(), "not-a-console-session".into());
    let (status, _, _) = b.get(&app.url("/admin/users")).await;
    assert_eq!(status, 303);

    // Signed in: every form still needs its token, and the bound one.
    let (email, password) = admin_credentials(&app);
    let (status, page) = sign_in(&mut b, &app, &email, &password).await;
    assert_eq!(status, 200, "{page}");
    for path in &posts {
        for token in ["", "forged-token"] {
            let (status, _, _) = b
                .post(
                    &app.url(path),
                    &[("_csrf", token), ("confirm", "someone@example.com")],
                )
                .await;
            assert_eq!(status, 403, "{path} with {token:?}");
        }
    }
    // The user is still there: no refused form did anything.
    let (status, _) = app
        .api(
            Method::GET,
            &format!(
                "/users/{}",
                crate::helpers::encode_id(user["user_id"].as_str().unwrap())
            ),
            None,
        )
        .await;
    assert_eq!(status, 200);
    // The sign-in form itself checks its token.
    let res = app
        .http
        .post(app.url("/admin/login"))
        .form(&[("email", email.as_str()), ("password", password.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn an_administrator_changes_a_users_password_and_the_user_logs_in_with_it() {
    let app = crate::helpers::spawn_app().await;
    let user = app.create_user("carol@example.com", "Old-Password-1").await;
    let before = app
        .login(
            "carol@example.com",
            "Old-Password-1",
            "openid offline_access",
        )
        .await
        .json::<Value>()
        .await
        .unwrap();
    let mut b = Browser::new();
    let (email, password) = admin_credentials(&app);
    let (status, page) = sign_in(&mut b, &app, &email, "Wrong-Password-1").await;
    assert_eq!(status, 400);
    assert!(page.contains("Wrong email or password."));
    let (status, _) = sign_in(&mut b, &app, &email, &password).await;
    assert_eq!(status, 200);

    // `next` only leads inside the console, and never to a malformed address.
    let mut n = Browser::new();
    let (_, page, _) = n.get(&app.url("/admin/login")).await;
    for (next, lands) in [
        ("/admin/logs", "/admin/logs"),
        ("https://evil.example/", "/admin/users"),
        ("//evil.example/admin/", "/admin/users"),
        ("/admin/\n", "/admin/users"),
    ] {
        let next = next.replace("\\n", "\n");
        let (status, _, location) = n
            .post(
                &app.url("/admin/login"),
                &[
                    ("_csrf", hidden(&page, "_csrf").as_str()),
                    ("next", next.as_str()),
                    ("email", email.as_str()),
                    ("password", password.as_str()),
                ],
            )
            .await;
        assert_eq!(
            (status, location.as_deref()),
            (303, Some(lands)),
            "{next:?}"
        );
    }
    // A user id with a space links to its own page.
    let (status, _) = app
        .api(
            Method::POST,
            "/users",
            Some(serde_json::json!({"connection": "Username-Password-Authentication",
                "user_id": "with space", "email": "spaced@example.com", "password": "Old-Password-1"})),
        )
        .await;
    assert_eq!(status, 201);
    let (_, spaced, _) = b.get(&app.url("/admin/users?q=spaced")).await;
    assert!(
        spaced.contains("/admin/users/auth0%7Cwith%20space"),
        "{spaced}"
    );
    let (status, _, _) = b.get(&app.url("/admin/users/auth0%7Cwith%20space")).await;
    assert_eq!(status, 200);

    // Find the user by address, open their page.
    let (status, list, _) = b.get(&app.url("/admin/users?q=carol")).await;
    assert_eq!(status, 200);
    assert!(list.contains("carol@example.com"));
    let user_path = format!("/admin/users/{}", encode(user["user_id"].as_str().unwrap()));
    assert!(list.contains(&user_path.replace('&', "&amp;")), "{list}");
    let (status, detail, _) = b.get(&app.url(&user_path)).await;
    assert_eq!(status, 200);
    assert!(detail.contains("Change Password") && detail.contains("The user is not told"));
    let csrf = hidden(&detail, "_csrf");

    // A weak password is refused with the rules; mismatched confirmation too.
    let (status, refused, _) = b
        .post(
            &app.url(&format!("{user_path}/password")),
            &[
                ("_csrf", &csrf),
                ("newPassword", "short"),
                ("confirmNewPassword", "short"),
            ],
        )
        .await;
    assert_eq!(status, 400);
    assert!(refused.contains("Password is too weak") && refused.contains(r#"class="bad""#));
    let (status, _, _) = b
        .post(
            &app.url(&format!("{user_path}/password")),
            &[
                ("_csrf", &csrf),
                ("newPassword", "Set-By-Admin-9"),
                ("confirmNewPassword", "Set-By-Admin-8"),
            ],
        )
        .await;
    assert_eq!(status, 400);
    let (status, _, location) = b
        .post(
            &app.url(&format!("{user_path}/password")),
            &[
                ("_csrf", &csrf),
                ("newPassword", "Set-By-Admin-9"),
                ("confirmNewPassword", "Set-By-Admin-9"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (_, after, _) = b.get(&app.url(&location.unwrap())).await;
    assert!(after.contains("Password changed. The user was not told"));

    // The user logs in with it; the old password and the old refresh token are dead.
    assert_eq!(
        app.login("carol@example.com", "Set-By-Admin-9", "openid")
            .await
            .status(),
        200
    );
    assert_eq!(
        app.login("carol@example.com", "Old-Password-1", "openid")
            .await
            .status(),
        403
    );
    let (client_id, secret) = app.app_client();
    let res = app
        .token(
            serde_json::json!({"grant_type": "refresh_token", "client_id": client_id,
            "client_secret": secret, "refresh_token": before["refresh_token"]}),
        )
        .await;
    assert_eq!(res.status(), 403);

    // Reset MFA and lift brute-force blocks go through the Management API's services.
    let api_id = crate::helpers::encode_id(user["user_id"].as_str().unwrap());
    let (status, _) = app
        .api(
            Method::POST,
            &format!("/users/{api_id}/authentication-methods"),
            Some(serde_json::json!({"type": "totp", "totp_secret": "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"})),
        )
        .await;
    assert_eq!(status, 201);
    for _ in 0..10 {
        app.login("carol@example.com", "Wrong-Password-0", "openid")
            .await;
    }
    let (_, blocks) = app
        .api(Method::GET, &format!("/user-blocks/{api_id}"), None)
        .await;
    assert_eq!(blocks["blocked_for"].as_array().unwrap().len(), 1);
    let (_, page, _) = b.get(&app.url(&user_path)).await;
    assert!(page.contains("Reset MFA") && page.contains("Lift brute-force blocks"));
    for (action, done) in [("reset-mfa", "done=mfa"), ("lift-blocks", "done=lifted")] {
        let (status, _, location) = b
            .post(
                &app.url(&format!("{user_path}/{action}")),
                &[("_csrf", &csrf)],
            )
            .await;
        assert_eq!(status, 303, "{action}");
        assert!(location.unwrap().ends_with(done), "{action}");
    }
    let (_, enrollments) = app
        .api(Method::GET, &format!("/users/{api_id}/enrollments"), None)
        .await;
    assert_eq!(enrollments, serde_json::json!([]));
    let (_, blocks) = app
        .api(Method::GET, &format!("/user-blocks/{api_id}"), None)
        .await;
    assert_eq!(blocks["blocked_for"], serde_json::json!([]));

    // "Send reset email" queues the same mail as /dbconnections/change_password.
    let (status, _, location) = b
        .post(
            &app.url(&format!("{user_path}/send-reset")),
            &[("_csrf", &csrf)],
        )
        .await;
    assert_eq!(status, 303);
    assert!(location.unwrap().ends_with("done=reset-sent"));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    // The outbox also holds the "account blocked" mail from above.
    while !std::fs::read_dir(app.data_dir.join("outbox"))
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .any(|f| std::fs::read_to_string(f.path()).is_ok_and(|m| m.contains("Subject: Reset your")))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no reset mail in the outbox"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A password-change link to copy; block and unblock; the log names the administrator.
    let (status, with_link, _) = b
        .post(
            &app.url(&format!("{user_path}/ticket")),
            &[("_csrf", &csrf)],
        )
        .await;
    assert_eq!(status, 200);
    assert!(with_link.contains(&format!("{}lo/reset?ticket=", app.issuer())));
    let (status, _, _) = b
        .post(&app.url(&format!("{user_path}/block")), &[("_csrf", &csrf)])
        .await;
    assert_eq!(status, 303);
    assert_eq!(
        app.login("carol@example.com", "Set-By-Admin-9", "openid")
            .await
            .status(),
        401
    );
    b.post(
        &app.url(&format!("{user_path}/unblock")),
        &[("_csrf", &csrf)],
    )
    .await;
    assert_eq!(
        app.login("carol@example.com", "Set-By-Admin-9", "openid")
            .await
            .status(),
        200
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (_, logs) = app.api(Method::GET, "/logs?per_page=100", None).await;
    let by_admin = logs
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["type"] == "scp" && l["description"] == "Password changed by an administrator")
        .unwrap_or_else(|| panic!("no scp entry in {logs}"))
        .clone();
    assert_eq!(by_admin["details"]["admin"], email.as_str(), "{by_admin}");

    // Delete needs the address typed; then the user is gone.
    let (status, _, _) = b
        .post(
            &app.url(&format!("{user_path}/delete")),
            &[("_csrf", &csrf), ("confirm", "someone-else@example.com")],
        )
        .await;
    assert_eq!(status, 400);
    let (status, _, location) = b
        .post(
            &app.url(&format!("{user_path}/delete")),
            &[("_csrf", &csrf), ("confirm", "carol@example.com")],
        )
        .await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/admin/users?done=deleted"))
    );
    let (status, _, _) = b.get(&app.url(&user_path)).await;
    assert_eq!(status, 404);

    // Signing out ends the session.
    let (_, page, _) = b.get(&app.url("/admin/users")).await;
    let (status, _, _) = b
        .post(
            &app.url("/admin/logout"),
            &[("_csrf", &hidden(&page, "_csrf"))],
        )
        .await;
    assert_eq!(status, 303);
    let (status, _, _) = b.get(&app.url("/admin/users")).await;
    assert_eq!(status, 303);
}

/// A store outage in the console is a 503 with `Retry-After`, not the generic 500: PostgreSQL
/// cut off (a TCP proxy switched down) for a page that reads the store; SQLite's file held by
/// an exclusive lock (a backup) for a form that writes (readers are not blocked under WAL).
#[tokio::test]
async fn a_store_outage_in_the_console_answers_503_with_retry_after() {
    if crate::helpers::backend_is_postgres() {
        let direct = crate::helpers::fresh_postgres().await;
        let proxy = crate::hardening_conn::DbProxy::start("127.0.0.1:5432").await;
        let via_proxy = direct.replace("127.0.0.1:5432", &format!("127.0.0.1:{}", proxy.port));
        let app = crate::helpers::start(crate::helpers::temp_dir(), Some(via_proxy), None).await;
        let mut b = signed_in_admin(&app).await;
        proxy.set_down(true);
        let (status, headers, body) = b.get_with_headers(&app.url("/admin/users")).await;
        assert_eq!(status, 503, "{body}");
        assert!(headers.get("retry-after").is_some(), "{headers:?}");
        proxy.set_down(false);
    } else {
        use sqlx::Connection;
        let app = crate::helpers::spawn_app().await;
        let mut b = signed_in_admin(&app).await;
        let (_, page, _) = b.get(&app.url("/admin/users")).await;
        let path = app.data_dir.join("latchkey.db");
        let mut backup = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        sqlx::raw_sql("BEGIN EXCLUSIVE")
            .execute(&mut backup)
            .await
            .unwrap();
        let (status, headers, body) = b
            .post_with_headers(
                &app.url("/admin/logout"),
                &[("_csrf", &hidden(&page, "_csrf"))],
            )
            .await;
        assert_eq!(status, 503, "{body}");
        assert!(headers.get("retry-after").is_some(), "{headers:?}");
        sqlx::raw_sql("ROLLBACK")
            .execute(&mut backup)
            .await
            .unwrap();
    }
}

/// Submits the console's Create user form (default connection, address marked verified).
async fn create_user_form(
    app: &TestApp,
    b: &mut Browser,
    token: &str,
    email: &str,
    password: &str,
) -> (u16, String, Option<String>) {
    b.post(
        &app.url("/admin/users/new"),
        &[
            ("_csrf", token),
            ("connection", "Username-Password-Authentication"),
            ("email", email),
            ("password", password),
            ("email_verified", "true"),
        ],
    )
    .await
}

#[tokio::test]
async fn an_administrator_creates_a_user_through_the_same_service_as_the_management_api() {
    let app = crate::helpers::spawn_app().await;
    // Without a session: the form goes to sign-in, a submission is refused.
    let res = app
        .http
        .get(app.url("/admin/users/new"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let res = app
        .http
        .post(app.url("/admin/users/new"))
        .form(&[("_csrf", "x"), ("email", "nobody@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    let (admin_email, _) = admin_credentials(&app);
    let mut b = signed_in_admin(&app).await;
    let (_, list, _) = b.get(&app.url("/admin/users")).await;
    assert!(list.contains(r#"href="/admin/users/new""#), "{list}");
    let (status, form, _) = b.get(&app.url("/admin/users/new")).await;
    assert_eq!(status, 200);
    assert!(
        form.contains("Username-Password-Authentication")
            && form.contains(r#"<div id="new-user-rules"><ul class="rules"><li"#)
            && form.contains(r#"name="email_verified""#),
        "{form}"
    );
    let csrf = hidden(&form, "_csrf");
    // No token, or a forged one: refused, nothing created.
    for token in ["", "forged-token"] {
        let (status, _, _) =
            create_user_form(&app, &mut b, token, "made@example.com", "Made-By-Admin-1").await;
        assert_eq!(status, 403, "{token:?}");
    }
    let (_, found) = app
        .api(
            Method::GET,
            "/users-by-email?email=made%40example.com",
            None,
        )
        .await;
    assert_eq!(found, serde_json::json!([]));

    // A weak password: refused next to the field, with the rules marked; the address stays.
    let (status, weak, _) =
        create_user_form(&app, &mut b, &csrf, "made@example.com", "short").await;
    assert_eq!(status, 400);
    assert!(
        weak.contains(r#"<p id="password-error" class="field-error">Password is too weak"#)
            && weak.contains(r#"class="bad""#)
            && weak.contains(r#"value="made@example.com""#),
        "{weak}"
    );
    let (status, bad_email, _) =
        create_user_form(&app, &mut b, &csrf, "not-an-address", "Made-By-Admin-1").await;
    assert_eq!(status, 400);
    assert!(bad_email.contains(r#"id="email-error""#), "{bad_email}");

    // A strong one: the user exists, verified, and their page says so.
    let (status, _, location) =
        create_user_form(&app, &mut b, &csrf, "made@example.com", "Made-By-Admin-1").await;
    assert_eq!(status, 303);
    let location = location.unwrap();
    assert!(
        location.starts_with("/admin/users/auth0%7C") && location.ends_with("?done=created"),
        "{location}"
    );
    let (status, page, _) = b.get(&app.url(&location)).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("User created.")
            && page.contains("made@example.com")
            && page.contains(r#"<span class="badge ok">verified</span>"#),
        "{page}"
    );
    let (_, found) = app
        .api(
            Method::GET,
            "/users-by-email?email=made%40example.com",
            None,
        )
        .await;
    assert_eq!(found[0]["email_verified"], true, "{found}");
    assert_eq!(
        app.login("made@example.com", "Made-By-Admin-1", "openid")
            .await
            .status(),
        200
    );

    // The same address again: a form error, no second user.
    let (status, duplicate, _) =
        create_user_form(&app, &mut b, &csrf, "made@example.com", "Made-By-Admin-2").await;
    assert_eq!(status, 400);
    assert!(
        duplicate.contains(r#"<div id="form-error" class="alert error" role="alert">The user already exists.</div>"#),
        "{duplicate}"
    );
    let (_, found) = app
        .api(
            Method::GET,
            "/users-by-email?email=made%40example.com",
            None,
        )
        .await;
    assert_eq!(found.as_array().map(Vec::len), Some(1));

    // The log names the administrator, as for every console action.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (_, logs) = app.api(Method::GET, "/logs?per_page=100", None).await;
    let created = logs
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["type"] == "sapi" && l["description"] == "Create a User")
        .unwrap_or_else(|| panic!("no sapi entry in {logs}"))
        .clone();
    assert_eq!(
        created["details"]["admin"],
        admin_email.as_str(),
        "{created}"
    );
}

/// The reset link in the newest mail to `to`.
async fn admin_reset_link(sink: &SmtpSink, n: usize, to: &str) -> String {
    let mails = sink.wait_for(n, Duration::from_secs(10)).await;
    let mail = &mails[n - 1];
    assert_eq!(mail.to, vec![to.to_owned()]);
    let text = mail.part("text/plain").unwrap();
    let at = text.find("/admin/reset?ticket=").expect("a reset link");
    text[at..at + 20 + 43].to_owned()
}

/// Posts the console reset form from a copy of `b`'s cookies.
async fn submit_reset(
    app: &TestApp,
    b: &Browser,
    password: &str,
    csrf: &str,
    ticket: &str,
) -> (u16, String, Option<String>) {
    let mut copy = Browser::new();
    copy.cookies = b.cookies.clone();
    copy.post(
        &app.url("/admin/reset"),
        &[
            ("_csrf", csrf),
            ("ticket", ticket),
            ("newPassword", password),
            ("confirmNewPassword", password),
        ],
    )
    .await
}

#[tokio::test]
async fn an_administrator_who_forgot_the_password_resets_it_by_mail_with_mfa_if_enrolled() {
    let (app, sink) = app_with_sink().await;
    let (email, password) = admin_credentials(&app);
    app.api(
        Method::PATCH,
        "/tenants/settings",
        Some(serde_json::json!({"support_email": "help@example.com"})),
    )
    .await;

    // An administrator with a session now, to see it end with the reset.
    let mut before = Browser::new();
    assert_eq!(sign_in(&mut before, &app, &email, &password).await.0, 200);

    // "Don't remember your password?": the same answer for a stranger, one mail for the admin.
    let mut b = Browser::new();
    let (_, login, _) = b.get(&app.url("/admin/login")).await;
    assert!(
        login.contains(r#"href="/admin/forgot""#)
            && login.contains("Don't remember your password?")
    );
    for address in ["nobody@example.com", email.as_str()] {
        let (_, form, _) = b.get(&app.url("/admin/forgot")).await;
        let (status, _, location) = b
            .post(
                &app.url("/admin/forgot"),
                &[("_csrf", &hidden(&form, "_csrf")), ("email", address)],
            )
            .await;
        assert_eq!(
            (status, location.as_deref()),
            (303, Some("/admin/login?done=sent")),
            "{address}"
        );
    }
    let (_, sent, _) = b.get(&app.url("/admin/login?done=sent")).await;
    assert!(sent.contains("just sent you an email to reset your password."));
    let link = admin_reset_link(&sink, 1, &email).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.mails().len(), 1, "no mail for an unknown address");

    // Opening the link changes nothing; a weak password is refused; a strong one works once.
    let (status, form, _) = b.get(&app.url(&link)).await;
    assert_eq!(status, 200);
    assert!(form.contains("Choose a new password") && form.contains("At least 12 characters"));
    let ticket = link.trim_start_matches("/admin/reset?ticket=").to_owned();
    // At rest: only digests of the reset link and of the console session cookie.
    let stored = crate::helpers::dump_tables(&app, &["admin_tickets", "admin_sessions"]).await;
    assert!(!stored.is_empty());
    assert!(
        !stored.contains(&ticket),
        "a console reset token is stored as given"
    );
    assert!(
        !stored.contains(before.cookies["lk_admin"].as_str()),
        "a console session token is stored as given"
    );
    let csrf = hidden(&form, "_csrf");
    let (status, weak, _) = submit_reset(&app, &b, "short-1A", &csrf, &ticket).await;
    assert_eq!(status, 400);
    assert!(weak.contains("The password does not meet the rules below."));
    let (status, _, location) =
        submit_reset(&app, &b, "Console-Reset-Password-1", &csrf, &ticket).await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/admin/login?done=reset"))
    );
    let (status, used, _) =
        submit_reset(&app, &b, "Console-Reset-Password-2", &csrf, &ticket).await;
    assert_eq!(status, 400);
    assert!(used.contains("can no longer be used"));
    // The old session ended; the old password is refused; the new one signs in.
    let (status, _, _) = before.get(&app.url("/admin/users")).await;
    assert_eq!(status, 303);
    assert_eq!(sign_in(&mut b, &app, &email, &password).await.0, 400);
    let (status, _) = sign_in(&mut b, &app, &email, "Console-Reset-Password-1").await;
    assert_eq!(status, 200);

    // The administrator adds an authenticator app.
    let (_, security, _) = b.get(&app.url("/admin/security")).await;
    let (status, setup, _) = b
        .post(
            &app.url("/admin/security/totp"),
            &[("_csrf", &hidden(&security, "_csrf"))],
        )
        .await;
    assert_eq!(status, 200);
    assert!(setup.contains("data:image/svg+xml;base64,"));
    let at = setup.find(r#"<code id="totp-key">"#).unwrap() + 20;
    let key = setup[at..at + setup[at..].find('<').unwrap()].replace(' ', "");
    let (status, _, location) = b
        .post(
            &app.url("/admin/security/totp/confirm"),
            &[
                ("_csrf", &hidden(&setup, "_csrf")),
                ("pending", &hidden(&setup, "pending")),
                ("code", &totp_code(&key, 0)),
            ],
        )
        .await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/admin/security?done=totp-on"))
    );

    // Replacing the app takes removing it first (which asks for its code).
    let (_, security, _) = b.get(&app.url("/admin/security")).await;
    let (status, _, _) = b
        .post(
            &app.url("/admin/security/totp"),
            &[("_csrf", &hidden(&security, "_csrf"))],
        )
        .await;
    assert_eq!(status, 400);

    // Sign-in now asks for a code (each step once).
    let mut c = Browser::new();
    let (status, challenge) = sign_in(&mut c, &app, &email, "Console-Reset-Password-1").await;
    assert_eq!(status, 200);
    assert!(challenge.contains("Verify it") && challenge.contains(r#"name="pending""#));
    let (status, _, _) = c
        .post(
            &app.url("/admin/login/mfa"),
            &[
                ("_csrf", &hidden(&challenge, "_csrf")),
                ("pending", &hidden(&challenge, "pending")),
                ("next", "/admin/users"),
                ("code", &totp_code(&key, 0)),
            ],
        )
        .await;
    assert_eq!(status, 400, "the enrolment's step is spent");
    let (status, _, location) = c
        .post(
            &app.url("/admin/login/mfa"),
            &[
                ("_csrf", &hidden(&challenge, "_csrf")),
                ("pending", &hidden(&challenge, "pending")),
                ("next", "/admin/users"),
                ("code", &totp_code(&key, 1)),
            ],
        )
        .await;
    assert_eq!((status, location.as_deref()), (303, Some("/admin/users")));

    // A reset now demands the code first, and says whom to ask when the phone is lost.
    let (_, form, _) = c.get(&app.url("/admin/forgot")).await;
    c.post(
        &app.url("/admin/forgot"),
        &[
            ("_csrf", &hidden(&form, "_csrf")),
            ("email", email.as_str()),
        ],
    )
    .await;
    let link = admin_reset_link(&sink, 2, &email).await;
    let ticket = link.trim_start_matches("/admin/reset?ticket=").to_owned();
    let (status, page, _) = c.get(&app.url(&link)).await;
    assert_eq!(status, 200);
    assert!(!page.contains("newPassword"));
    assert!(
        page.contains("Contact support at help@example.com"),
        "{page}"
    );
    let (status, _, _) = c
        .post(
            &app.url("/admin/reset"),
            &[
                ("_csrf", &hidden(&page, "_csrf")),
                ("ticket", &ticket),
                ("newPassword", "Console-Reset-Password-3"),
                ("confirmNewPassword", "Console-Reset-Password-3"),
            ],
        )
        .await;
    assert_eq!(status, 400, "no new password before the code");
    let (status, _, _) = c
        .post(
            &app.url("/admin/reset/mfa"),
            &[
                ("_csrf", &hidden(&page, "_csrf")),
                ("ticket", &ticket),
                ("code", &totp_code(&key, -1)),
            ],
        )
        .await;
    assert_eq!(
        status, 400,
        "an older step than one already used is refused"
    );
    // Wait for a step no one used yet if needed: step +1 was used at sign-in.
    let wait = 30
        - (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            % 30);
    tokio::time::sleep(Duration::from_secs(wait + 1)).await;
    let (status, _, location) = c
        .post(
            &app.url("/admin/reset/mfa"),
            &[
                ("_csrf", &hidden(&page, "_csrf")),
                ("ticket", &ticket),
                ("code", &totp_code(&key, 1)),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (status, form, _) = c.get(&app.url(&location.unwrap())).await;
    assert_eq!(status, 200);
    assert!(form.contains("newPassword"));
    let (status, _, location) = c
        .post(
            &app.url("/admin/reset"),
            &[
                ("_csrf", &hidden(&form, "_csrf")),
                ("ticket", &ticket),
                ("newPassword", "Console-Reset-Password-3"),
                ("confirmNewPassword", "Console-Reset-Password-3"),
            ],
        )
        .await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/admin/login?done=reset"))
    );
}

#[tokio::test]
async fn the_admin_commands_manage_console_accounts() {
    let server = crate::helpers::start_binary(false, &[]).await;
    let run = |args: &[&str], password: Option<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_latchkey"));
        cmd.arg("admin")
            .args(args)
            .env("LATCHKEY_SERVER__DATA_DIR", &server.data_dir)
            .env("LATCHKEY_PASSWORDS__ARGON2_MEMORY_KIB", "1024")
            .env("LATCHKEY_PASSWORDS__ARGON2_ITERATIONS", "1")
            .env_remove("DATABASE_URL")
            .env_remove("LATCHKEY_ADMIN_PASSWORD");
        if let Some(url) = &server.database_url {
            cmd.env("DATABASE_URL", url);
        }
        if let Some(p) = password {
            cmd.env("LATCHKEY_ADMIN_PASSWORD", p);
        }
        let out = cmd.output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let bootstrap = server.bootstrap();
    let first = bootstrap["admin"]["email"].as_str().unwrap().to_owned();

    let (ok, out, err) = run(&["create", "ops@example.com"], Some("Operator-Password-1"));
    assert!(ok, "{out}{err}");
    let (ok, _, err) = run(&["create", "weak@example.com"], Some("weak"));
    assert!(!ok && err.contains("Password"), "{err}");
    let (ok, out, err) = run(&["create", "generated@example.com"], None);
    assert!(ok && out.contains("password (shown once): "), "{out}{err}");
    let (ok, out, _) = run(&["list"], None);
    assert!(
        ok && out.contains("ops@example.com") && out.contains(&first),
        "{out}"
    );
    assert!(!out.contains("Operator-Password-1"));

    // The new administrator signs in over HTTP; reset-password ends that session.
    let base = server.base();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let sign_in = |password: &'static str| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let page = http
                .get(format!("{base}/admin/login"))
                .send()
                .await
                .unwrap();
            let cookie = page.headers()["set-cookie"]
                .to_str()
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .to_owned();
            let html = page.text().await.unwrap();
            let res = http
                .post(format!("{base}/admin/login"))
                .header("cookie", &cookie)
                .form(&[
                    ("_csrf", hidden(&html, "_csrf").as_str()),
                    ("next", "/admin/users"),
                    ("email", "ops@example.com"),
                    ("password", password),
                ])
                .send()
                .await
                .unwrap();
            res.status().as_u16()
        }
    };
    assert_eq!(sign_in("Operator-Password-1").await, 303);
    let (ok, out, err) = run(
        &["reset-password", "ops@example.com"],
        Some("Operator-Password-2"),
    );
    assert!(ok, "{out}{err}");
    assert_eq!(sign_in("Operator-Password-1").await, 400);
    assert_eq!(sign_in("Operator-Password-2").await, 303);
    let (ok, _, _) = run(&["reset-mfa", "ops@example.com"], None);
    assert!(ok);
    let (ok, _, err) = run(&["delete", "nobody@example.com"], None);
    assert!(!ok && err.contains("There is no administrator"), "{err}");
    for email in ["ops@example.com", "generated@example.com"] {
        let (ok, _, err) = run(&["delete", email], None);
        assert!(ok, "{err}");
    }
    let (ok, _, err) = run(&["delete", &first], None);
    assert!(!ok && err.contains("only administrator"), "{err}");
}
