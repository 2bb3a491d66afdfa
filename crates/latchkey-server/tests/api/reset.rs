//! Password reset by email, end to end: `/dbconnections/change_password` → mail over real SMTP
//! to a loopback sink → the hosted page → the new password; tickets from the Management API;
//! the token rules (single use, latest only, expiry, GET consumes nothing); flow v1.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::totp_now;
use crate::helpers::{TestApp, spawn_app_with};
use crate::smtp_sink::{ReceivedMail, SmtpSink};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

pub const CONNECTION: &str = "Username-Password-Authentication";
const MAIL_SENT: &str = "We've just sent you an email to reset your password.";

/// An app whose mail goes to a fresh sink.
pub async fn app_with_sink() -> (TestApp, SmtpSink) {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let app = spawn_app_with(move |s| {
        s.mail.smtp_url = Some(url.into());
        s.mail.retry_base_secs = 1;
    })
    .await;
    (app, sink)
}

pub async fn request_reset(app: &TestApp, email: &str) -> reqwest::Response {
    let (client_id, _) = app.app_client();
    app.http
        .post(app.url("/dbconnections/change_password"))
        .json(&json!({"client_id": client_id, "email": email, "connection": CONNECTION}))
        .send()
        .await
        .unwrap()
}

/// A browser's visit to the reset page: its CSRF cookie and the form's token.
pub struct PageVisit {
    pub status: u16,
    pub html: String,
    pub cookie: Option<String>,
    pub csrf: Option<String>,
}

pub async fn open_page(app: &TestApp, ticket: &str) -> PageVisit {
    let res = app
        .http
        .get(app.url(&format!("/lo/reset?ticket={ticket}")))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let cookie = res
        .headers()
        .get("set-cookie")
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned());
    let html = res.text().await.unwrap();
    let csrf = html.find(r#"name="_csrf" value=""#).map(|at| {
        let rest = &html[at + 20..];
        rest[..rest.find('"').unwrap()].to_owned()
    });
    PageVisit {
        status,
        html,
        cookie,
        csrf,
    }
}

pub async fn submit(
    app: &TestApp,
    visit: &PageVisit,
    ticket: &str,
    password: &str,
    confirm: &str,
) -> reqwest::Response {
    app.http
        .post(app.url("/lo/reset"))
        .header("cookie", visit.cookie.clone().unwrap())
        .form(&[
            ("_csrf", visit.csrf.clone().unwrap().as_str()),
            ("ticket", ticket),
            ("newPassword", password),
            ("confirmNewPassword", confirm),
        ])
        .send()
        .await
        .unwrap()
}

/// `POST /api/v2/tickets/password-change`: the token in the ticket URL (checked for its form).
pub async fn ticket_token(app: &TestApp, body: Value) -> String {
    let (status, answer) = app
        .api(Method::POST, "/tickets/password-change", Some(body))
        .await;
    assert_eq!(status, 201, "{answer}");
    let url = answer["ticket"].as_str().unwrap();
    let prefix = format!("{}lo/reset?ticket=", app.issuer());
    assert!(url.starts_with(&prefix) && url.ends_with('#'), "{url}");
    url[prefix.len()..url.len() - 1].to_owned()
}

async fn reset_mail_for(sink: &SmtpSink, n: usize, to: &str) -> ReceivedMail {
    let mails = sink.wait_for(n, Duration::from_secs(10)).await;
    let mail = mails[n - 1].clone();
    assert_eq!(mail.to, vec![to.to_owned()]);
    mail
}

#[tokio::test]
async fn the_whole_journey_from_request_to_new_password() {
    let (app, sink) = app_with_sink().await;
    let user = app.create_user("ann@example.com", "Old-Password-1").await;
    let before = app
        .login("ann@example.com", "Old-Password-1", "openid offline_access")
        .await
        .json::<Value>()
        .await
        .unwrap();
    let old_refresh = before["refresh_token"].as_str().unwrap().to_owned();

    // J2: the request answers Auth0's text, with rate-limit headers.
    let res = request_reset(&app, "ann@example.com").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "text/html; charset=utf-8"
    );
    assert!(res.headers().contains_key("x-ratelimit-limit"));
    assert_eq!(res.text().await.unwrap(), MAIL_SENT);

    // The mail: both parts, the link under the issuer, nothing unescaped.
    let mail = reset_mail_for(&sink, 1, "ann@example.com").await;
    assert!(mail.header("Subject").unwrap().contains("Reset your"));
    assert!(mail.data.contains("multipart/alternative"));
    let html = mail.part("text/html").unwrap();
    let link = mail.link();
    assert!(
        link.starts_with(&format!("{}lo/reset?ticket=", app.issuer())),
        "{link}"
    );
    assert!(html.contains(&link));
    let ticket = mail.ticket();

    // Opening the link (HEAD and GET, like a mail scanner, then the user) consumes nothing.
    let head = app
        .http
        .head(app.url(&format!("/lo/reset?ticket={ticket}")))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    let scanner = open_page(&app, &ticket).await;
    assert_eq!(scanner.status, 200);
    let visit = open_page(&app, &ticket).await;
    assert_eq!(visit.status, 200);
    assert!(visit.html.contains("ann@example.com"));
    assert!(visit.html.contains("At least 8 characters in length"));
    assert!(visit.html.contains(r#"<label for="newPassword">"#));
    assert!(visit.cookie.as_deref().unwrap().starts_with("lk_csrf="));

    // A confirmation that does not match, then a weak password: refused on the page.
    let res = submit(&app, &visit, &ticket, "New-Password-2", "New-Password-3").await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("The passwords do not match.")
    );
    let res = submit(&app, &visit, &ticket, "weak", "weak").await;
    assert_eq!(res.status(), 400);
    let page = res.text().await.unwrap();
    assert!(page.contains("Password is too weak"), "{page}");
    assert!(page.contains(r#"aria-invalid="true""#));

    // Success: the confirmation screen.
    let res = submit(&app, &visit, &ticket, "New-Password-2", "New-Password-2").await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Password changed"));

    // Old password fails, new one works, the link is dead, old refresh tokens are dead.
    assert_eq!(
        app.login("ann@example.com", "Old-Password-1", "openid")
            .await
            .status(),
        403
    );
    assert_eq!(
        app.login("ann@example.com", "New-Password-2", "openid")
            .await
            .status(),
        200
    );
    assert_eq!(open_page(&app, &ticket).await.status, 404);
    let res = submit(
        &app,
        &visit,
        &ticket,
        "Another-Password-3",
        "Another-Password-3",
    )
    .await;
    assert_eq!(res.status(), 404);
    let (id, secret) = app.app_client();
    let res = app
        .token(json!({"grant_type": "refresh_token", "client_id": id, "client_secret": secret, "refresh_token": old_refresh}))
        .await;
    assert_eq!(res.status(), 403);

    // The notice mail, and the user marked verified (following the link proves the mailbox).
    let notice = reset_mail_for(&sink, 2, "ann@example.com").await;
    assert!(notice.header("Subject").unwrap().contains("was changed"));
    let user_id = user["user_id"].as_str().unwrap();
    let (_, fresh) = app
        .api(
            Method::GET,
            &format!("/users/{}", crate::helpers::encode_id(user_id)),
            None,
        )
        .await;
    assert_eq!(fresh["email_verified"], true);
    assert!(fresh["last_password_reset"].is_string());

    // The audit trail: request and change, never the link.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (_, logs) = app.api(Method::GET, "/logs?per_page=100", None).await;
    let types: Vec<&str> = logs
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["type"].as_str())
        .collect();
    assert!(
        types.contains(&"scpr") && types.contains(&"scp"),
        "{types:?}"
    );
    assert!(!logs.to_string().contains(&ticket));
}

#[tokio::test]
async fn unknown_blocked_and_known_addresses_get_the_same_answer() {
    let (app, sink) = app_with_sink().await;
    app.create_user("known@example.com", "Old-Password-1").await;
    let blocked = app
        .create_user("blocked@example.com", "Old-Password-1")
        .await;
    let (status, _) = app
        .api(
            Method::PATCH,
            &format!(
                "/users/{}",
                crate::helpers::encode_id(blocked["user_id"].as_str().unwrap())
            ),
            Some(json!({"blocked": true})),
        )
        .await;
    assert_eq!(status, 200);
    let mut answers = Vec::new();
    for email in [
        "known@example.com",
        "nobody@example.com",
        "blocked@example.com",
    ] {
        let res = request_reset(&app, email).await;
        let status = res.status().as_u16();
        let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
        let limit = res.headers()["x-ratelimit-limit"]
            .to_str()
            .unwrap()
            .to_owned();
        let remaining = res.headers()["x-ratelimit-remaining"]
            .to_str()
            .unwrap()
            .to_owned();
        let body = res.bytes().await.unwrap();
        answers.push((status, content_type, limit, remaining, body));
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
    // Only the known, active user gets mail.
    sink.wait_for(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mails = sink.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, vec!["known@example.com".to_owned()]);
    let (_, logs) = app
        .api(Method::GET, "/logs?q=type:fcpr&per_page=100", None)
        .await;
    assert!(logs.to_string().contains("fcpr"), "{logs}");
}

#[tokio::test]
async fn only_the_latest_link_works_and_tokens_are_stored_hashed() {
    let (app, sink) = app_with_sink().await;
    app.create_user("bo@example.com", "Old-Password-1").await;
    request_reset(&app, "bo@example.com").await;
    let first = reset_mail_for(&sink, 1, "bo@example.com").await.ticket();
    request_reset(&app, "bo@example.com").await;
    let second = reset_mail_for(&sink, 2, "bo@example.com").await.ticket();
    assert_ne!(first, second);
    assert_eq!(open_page(&app, &first).await.status, 404);
    assert_eq!(open_page(&app, &second).await.status, 200);

    // At rest: the SHA-256 digest, never the token (tickets and outbox alike).
    let dump = crate::helpers::dump_tables(&app, &["password_tickets", "mail_outbox"]).await;
    assert!(!dump.contains(&first) && !dump.contains(&second));
    assert!(dump.contains(&latchkey_core::random::token_digest(&second)));

    // A password change by an administrator voids the pending link too.
    let (_, users) = app
        .api(Method::GET, "/users-by-email?email=bo@example.com", None)
        .await;
    let id = users[0]["user_id"].as_str().unwrap().to_owned();
    let (status, _) = app
        .api(
            Method::PATCH,
            &format!("/users/{}", crate::helpers::encode_id(&id)),
            Some(json!({"password": "Admin-Set-Password-4", "connection": CONNECTION})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(open_page(&app, &second).await.status, 404);
    // …and an administrator's change sends no notice (Auth0 behaviour).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sink.mails().len(), 2);
}

/// Tickets asked for together are stored together (one batch, a few statements): the batch
/// must leave what one-by-one storage would, the last link per user and one for every user.
#[tokio::test]
async fn tickets_issued_together_leave_the_latest_per_user_and_one_for_each_user() {
    let app = std::sync::Arc::new(crate::helpers::spawn_app().await);
    let mut ids = Vec::new();
    for n in 0..8 {
        let user = app
            .create_user(&format!("batch-{n}@example.com"), "Old-Password-1")
            .await;
        ids.push(user["user_id"].as_str().unwrap().to_owned());
    }
    // All asked for at once, so they reach the store in one or a few batches.
    let issue_together = |users: Vec<String>| {
        let tasks: Vec<_> = users
            .into_iter()
            .map(|user_id| {
                let app = app.clone();
                tokio::spawn(async move { ticket_token(&app, json!({"user_id": user_id})).await })
            })
            .collect();
        async move {
            let mut tickets = Vec::new();
            for task in tasks {
                tickets.push(task.await.unwrap());
            }
            tickets
        }
    };
    let same_user = issue_together(vec![ids[0].clone(); 64]).await;
    let mut working = 0;
    for ticket in &same_user {
        working += usize::from(open_page(&app, ticket).await.status == 200);
    }
    assert_eq!(working, 1, "one of 64 links for one user must work");
    let each_user = issue_together(ids.clone()).await;
    for (ticket, user_id) in each_user.iter().zip(&ids) {
        assert_eq!(open_page(&app, ticket).await.status, 200, "{user_id}");
    }
    let dump = crate::helpers::dump_tables(&app, &["password_tickets"]).await;
    assert_eq!(dump.matches(ids[0].as_str()).count(), 1, "{dump}");
}

/// A ticket batch commits whole or not at all, and a batch that failed leaves the store's one
/// writer usable (on SQLite a batch is one string from BEGIN to COMMIT: a failed statement
/// leaves the transaction open on the connection unless it is rolled back).
#[tokio::test]
async fn a_failed_ticket_batch_writes_nothing_and_the_next_one_commits() {
    use latchkey_core::domain::UserId;
    use latchkey_core::store::{PasswordTicket, TicketKind, TicketStore};
    use latchkey_core::time::Timestamp;
    let app = crate::helpers::spawn_app().await;
    let user = app.create_user("whole@example.com", "Old-Password-1").await;
    let user_id = user["user_id"].as_str().unwrap().to_owned();
    let url = app.store_url();
    let store = latchkey_store_sql::connect(&url).await.unwrap();
    let ticket = |user: &str, token: &str| {
        let now = Timestamp::now();
        PasswordTicket {
            id: format!("tkt_{token}"),
            digest: latchkey_core::random::token_digest(token),
            user_id: UserId::from_trusted(user.to_owned()),
            credential_epoch: 0,
            kind: TicketKind::Reset,
            client_id: None,
            result_url: None,
            include_email: false,
            mark_email_verified: true,
            pending_hash: None,
            created_at: now,
            expires_at: now.plus_seconds(3600),
            used_at: None,
        }
    };
    // Tokens are 43 URL-safe characters.
    let (first, second, third) = (
        format!("{:x<43}", "first"),
        format!("{:x<43}", "second"),
        format!("{:x<43}", "third"),
    );
    // The second ticket names nobody: the foreign key fails the batch.
    let failed = store
        .insert_tickets(&[
            (ticket(&user_id, &first), None),
            (ticket("auth0|nobody", &second), None),
        ])
        .await;
    assert!(failed.is_err(), "a ticket for no user must fail its batch");
    store
        .insert_tickets(&[(ticket(&user_id, &third), None)])
        .await
        .expect("the writer takes the next batch");
    store.close().await;
    assert_eq!(
        open_page(&app, &first).await.status,
        404,
        "nothing of the failed batch is stored"
    );
    assert_eq!(open_page(&app, &third).await.status, 200);
}

#[tokio::test]
async fn a_hundred_concurrent_redemptions_of_one_link_succeed_once() {
    let (app, _sink) = app_with_sink().await;
    let user = app.create_user("race@example.com", "Old-Password-1").await;
    let ticket = ticket_token(&app, json!({"user_id": user["user_id"]})).await;
    let visit = open_page(&app, &ticket).await;
    let mut tasks = Vec::new();
    for i in 0..100 {
        let app_http = app.http.clone();
        let target = app.url("/lo/reset");
        let cookie = visit.cookie.clone().unwrap();
        let csrf = visit.csrf.clone().unwrap();
        let ticket = ticket.clone();
        tasks.push(tokio::spawn(async move {
            let password = format!("Racing-Password-{i}");
            app_http
                .post(target)
                .header("cookie", cookie)
                .form(&[
                    ("_csrf", csrf.as_str()),
                    ("ticket", &ticket),
                    ("newPassword", &password),
                    ("confirmNewPassword", &password),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| [200, 400, 404].contains(s)),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn tickets_redirect_to_result_url_and_expire() {
    let (app, _sink) = app_with_sink().await;
    let user = app.create_user("tia@example.com", "Old-Password-1").await;
    let ticket = ticket_token(&app, json!({"user_id": user["user_id"], "result_url": "https://app.example.com/done",
                        "includeEmailInRedirect": true, "mark_email_as_verified": true, "ttl_sec": 0})).await;
    let visit = open_page(&app, &ticket).await;
    assert_eq!(visit.status, 200);
    let res = submit(&app, &visit, &ticket, "New-Password-2", "New-Password-2").await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        location,
        "https://app.example.com/done?success=true&message=You%20can%20now%20login%20to%20the%20application%20with%20the%20new%20password.&email=tia%40example.com"
    );
    let (_, fresh) = app
        .api(
            Method::GET,
            &format!(
                "/users/{}",
                crate::helpers::encode_id(user["user_id"].as_str().unwrap())
            ),
            None,
        )
        .await;
    assert_eq!(fresh["email_verified"], true);

    // A one-second ticket expires: its page says so, and result_url hears "Access expired".
    let ticket = ticket_token(&app, json!({"user_id": user["user_id"], "ttl_sec": 1, "result_url": "https://app.example.com/done"})).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let res = app
        .http
        .get(app.url(&format!("/lo/reset?ticket={ticket}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"].to_str().unwrap(),
        "https://app.example.com/done?email=tia%40example.com&message=Access%20expired&success=false"
    );
    let ticket = ticket_token(&app, json!({"user_id": user["user_id"], "ttl_sec": 1})).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let expired = open_page(&app, &ticket).await;
    assert_eq!(expired.status, 410);
    assert!(expired.html.contains("This link has expired") && expired.html.contains("/lo/forgot"));
}

#[tokio::test]
async fn ticket_requests_are_validated_like_auth0() {
    let (app, _sink) = app_with_sink().await;
    let user = app.create_user("val@example.com", "Old-Password-1").await;
    let (_, connections) = app.api(Method::GET, "/connections", None).await;
    let connection_id = connections[0]["id"].as_str().unwrap().to_owned();
    let cases = [
        (
            json!({"user_id": "auth0|000000000000000000000000"}),
            404,
            "User not found.",
        ),
        (
            json!({"user_id": user["user_id"], "connection_id": connection_id, "email": "val@example.com"}),
            400,
            "connection_id and user_id cannot be used together.",
        ),
        (
            json!({"connection_id": "con_0000000000000000", "email": "val@example.com"}),
            400,
            "The connection with id con_0000000000000000 does not exist.",
        ),
        (
            json!({"user_id": user["user_id"], "client_id": "nope"}),
            400,
            "The client does not exist",
        ),
        (
            json!({"user_id": user["user_id"], "organization_id": "org_1"}),
            400,
            "The organization does not exist",
        ),
        (json!({"user_id": user["user_id"], "surprise": 1}), 400, ""),
        (json!({"user_id": user["user_id"], "ttl_sec": -1}), 400, ""),
        (
            json!({"user_id": user["user_id"], "result_url": "javascript:alert(1)"}),
            400,
            "",
        ),
        (json!({}), 400, ""),
    ];
    for (body, status, message) in cases {
        let (got, answer) = app
            .api(Method::POST, "/tickets/password-change", Some(body.clone()))
            .await;
        assert_eq!(got, status, "{body} → {answer}");
        assert_eq!(answer["statusCode"], status);
        if !message.is_empty() {
            assert_eq!(answer["message"], message, "{body}");
        }
    }
    // connection_id + email works too.
    let (status, _) = app
        .api(
            Method::POST,
            "/tickets/password-change",
            Some(json!({"connection_id": connection_id, "email": "val@example.com"})),
        )
        .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn flow_v1_holds_the_password_until_the_link_confirms_it() {
    let (app, sink) = app_with_sink().await;
    app.create_user("vee@example.com", "Old-Password-1").await;
    let (client_id, _) = app.app_client();
    let with_password = json!({"client_id": client_id, "email": "vee@example.com", "connection": CONNECTION, "password": "Chosen-Password-7"});
    // Off by default: Auth0's refusal.
    let res = app
        .http
        .post(app.url("/dbconnections/change_password"))
        .json(&with_password)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(body["error_description"], "password is not allowed");

    let (status, _) = app
        .api(
            Method::PATCH,
            "/tenants/settings",
            Some(json!({"flags": {"change_pwd_flow_v1": true}})),
        )
        .await;
    assert_eq!(status, 200);
    // The policy still applies to the held password.
    let weak = json!({"client_id": client_id, "email": "vee@example.com", "connection": CONNECTION, "password": "weak"});
    let res = app
        .http
        .post(app.url("/dbconnections/change_password"))
        .json(&weak)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["code"],
        "invalid_password"
    );

    let res = app
        .http
        .post(app.url("/dbconnections/change_password"))
        .json(&with_password)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mail = reset_mail_for(&sink, 1, "vee@example.com").await;
    assert!(mail.header("Subject").unwrap().contains("Confirm"));
    let ticket = mail.ticket();
    // Until confirmed, the old password stands.
    assert_eq!(
        app.login("vee@example.com", "Old-Password-1", "openid")
            .await
            .status(),
        200
    );
    let visit = open_page(&app, &ticket).await;
    assert!(visit.html.contains("Confirm password change"));
    let res = app
        .http
        .post(app.url("/lo/reset"))
        .header("cookie", visit.cookie.clone().unwrap())
        .form(&[
            ("_csrf", visit.csrf.clone().unwrap().as_str()),
            ("ticket", ticket.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.login("vee@example.com", "Old-Password-1", "openid")
            .await
            .status(),
        403
    );
    assert_eq!(
        app.login("vee@example.com", "Chosen-Password-7", "openid")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn forms_refuse_a_missing_or_foreign_csrf_token() {
    let (app, _sink) = app_with_sink().await;
    let user = app.create_user("csrf@example.com", "Old-Password-1").await;
    let ticket = ticket_token(&app, json!({"user_id": user["user_id"]})).await;
    let visit = open_page(&app, &ticket).await;
    let other_browser = open_page(&app, &ticket).await;
    let post = |cookie: Option<String>, csrf: String| {
        let mut req = app.http.post(app.url("/lo/reset")).form(&[
            ("_csrf", csrf.as_str()),
            ("ticket", ticket.as_str()),
            ("newPassword", "New-Password-2"),
            ("confirmNewPassword", "New-Password-2"),
        ]);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        req.send()
    };
    assert_eq!(
        post(None, visit.csrf.clone().unwrap())
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        post(other_browser.cookie.clone(), visit.csrf.clone().unwrap())
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        post(visit.cookie.clone(), "forged".into())
            .await
            .unwrap()
            .status(),
        403
    );
    // The ticket survived all three, and the real form still works.
    assert_eq!(
        post(visit.cookie.clone(), visit.csrf.clone().unwrap())
            .await
            .unwrap()
            .status(),
        200
    );
    // Pages carry the headers that keep them out of frames, caches and Referer headers.
    let res = app
        .http
        .get(app.url("/lo/reset?ticket=x"))
        .send()
        .await
        .unwrap();
    let h = res.headers();
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["cache-control"], "no-store");
}

#[tokio::test]
async fn change_password_refuses_bad_input_clearly() {
    let (app, _sink) = app_with_sink().await;
    let (client_id, _) = app.app_client();
    let cases = [
        (
            json!({"client_id": client_id, "connection": CONNECTION}),
            "invalid_body",
        ),
        (
            json!({"client_id": client_id, "email": "a@example.com"}),
            "invalid_body",
        ),
        (
            json!({"client_id": client_id, "email": "not-an-email", "connection": CONNECTION}),
            "invalid_body",
        ),
        (
            json!({"client_id": client_id, "email": "a@example.com", "connection": "nope"}),
            "invalid_connection",
        ),
        (
            json!({"client_id": "nope", "email": "a@example.com", "connection": CONNECTION}),
            "invalid_request",
        ),
    ];
    for (body, code) in cases {
        let res = app
            .http
            .post(app.url("/dbconnections/change_password"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{body}");
        let answer: Value = res.json().await.unwrap();
        assert_eq!(answer["code"], code, "{body} → {answer}");
        assert_eq!(answer["statusCode"], 400);
        assert_eq!(answer["name"], "BadRequestError");
    }
    let res = app
        .http
        .post(app.url("/dbconnections/change_password"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn a_dead_link_page_sends_a_new_link() {
    let (app, sink) = app_with_sink().await;
    app.create_user("again@example.com", "Old-Password-1").await;
    let dead = open_page(&app, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").await;
    assert_eq!(dead.status, 404);
    assert!(dead.html.contains("This link can no longer be used"));
    let res = app
        .http
        .post(app.url("/lo/forgot"))
        .header("cookie", dead.cookie.clone().unwrap())
        .form(&[
            ("_csrf", dead.csrf.clone().unwrap().as_str()),
            ("email", "again@example.com"),
            ("connection", CONNECTION),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key("x-ratelimit-remaining"));
    assert!(res.text().await.unwrap().contains(MAIL_SENT));
    let mail = reset_mail_for(&sink, 1, "again@example.com").await;
    assert_eq!(open_page(&app, &mail.ticket()).await.status, 200);
    // Without the cookie the form is refused.
    let res = app
        .http
        .post(app.url("/lo/forgot"))
        .form(&[
            ("_csrf", dead.csrf.clone().unwrap().as_str()),
            ("email", "again@example.com"),
            ("connection", CONNECTION),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn a_second_factor_comes_before_the_new_password_form() {
    const SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    let (app, _sink) = app_with_sink().await;
    let user = app.create_user("mfa@example.com", "Old-Password-1").await;
    let id = crate::helpers::encode_id(user["user_id"].as_str().unwrap());
    let (status, method) = app
        .api(
            Method::POST,
            &format!("/users/{id}/authentication-methods"),
            Some(json!({"type": "totp", "totp_secret": SECRET, "name": "Phone"})),
        )
        .await;
    assert_eq!(status, 201, "{method}");
    assert!(!method.to_string().contains(SECRET));
    let (_, enrollments) = app
        .api(Method::GET, &format!("/users/{id}/enrollments"), None)
        .await;
    assert_eq!(enrollments[0]["status"], "confirmed");

    let ticket = ticket_token(&app, json!({"user_id": user["user_id"]})).await;
    let visit = open_page(&app, &ticket).await;
    assert_eq!(visit.status, 200);
    assert!(visit.html.contains("Verify it's you") && !visit.html.contains("newPassword"));
    // Posting the password form straight away is refused, and nothing changes.
    let res = submit(&app, &visit, &ticket, "New-Password-2", "New-Password-2").await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        app.login("mfa@example.com", "Old-Password-1", "openid")
            .await
            .status(),
        200
    );

    let challenge = |code: String| {
        app.http
            .post(app.url("/lo/reset/mfa"))
            .header("cookie", visit.cookie.clone().unwrap())
            .form(&[
                ("_csrf", visit.csrf.clone().unwrap()),
                ("ticket", ticket.clone()),
                ("code", code),
            ])
            .send()
    };
    let right = totp_now(SECRET);
    let wrong = if right == "123456" {
        "654321"
    } else {
        "123456"
    };
    let res = challenge(wrong.to_owned()).await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("That code is not valid"));
    let res = challenge(right.clone()).await.unwrap();
    assert_eq!(res.status(), 303);
    let proof = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert!(proof.starts_with("lk_reset_mfa="));
    // A code is single use: the same one again is refused.
    assert_eq!(challenge(right).await.unwrap().status(), 400);

    // With the proof, the form appears and the reset succeeds.
    let cookies = format!("{}; {proof}", visit.cookie.clone().unwrap());
    let page = app
        .http
        .get(app.url(&format!("/lo/reset?ticket={ticket}")))
        .header("cookie", &cookies)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#"id="newPassword""#));
    let res = app
        .http
        .post(app.url("/lo/reset"))
        .header("cookie", &cookies)
        .form(&[
            ("_csrf", visit.csrf.clone().unwrap().as_str()),
            ("ticket", ticket.as_str()),
            ("newPassword", "New-Password-2"),
            ("confirmNewPassword", "New-Password-2"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.login("mfa@example.com", "New-Password-2", "openid")
            .await
            .status(),
        200
    );

    // Another ticket's page does not accept this ticket's proof.
    let other = ticket_token(&app, json!({"user_id": user["user_id"]})).await;
    let page = app
        .http
        .get(app.url(&format!("/lo/reset?ticket={other}")))
        .header("cookie", &cookies)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Verify it's you"));
    // Once the authenticators are reset, links go straight to the form.
    let (status, _) = app
        .api(Method::DELETE, &format!("/users/{id}/authenticators"), None)
        .await;
    assert_eq!(status, 204);
    assert!(
        open_page(&app, &other)
            .await
            .html
            .contains(r#"id="newPassword""#)
    );
}
