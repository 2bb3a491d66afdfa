//! Hostile values in every user-controlled field come out of every page escaped: the tenant's
//! name, a client's name and URLs, a user's name, metadata and address, and the text of mail
//! templates, on the hosted pages and the console alike. (Actions and applications pages have
//! their own check in admin_actions.rs.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::admin::signed_in_admin;
use crate::helpers::{TestApp, encode_id, spawn_app};
use crate::login::{Browser, authorize_url};
use crate::reset::ticket_token;
use reqwest::Method;
use serde_json::json;

const SCRIPT: &str = "<script>alert(1)</script>";
const ESCAPED: &str = "&lt;script&gt;alert(1)&lt;/script&gt;";

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The page shows `field`'s hostile value only escaped: never the raw tag, never evaluated.
fn assert_escaped(page: &str, what: &str) {
    assert!(!page.contains(SCRIPT), "{what}: raw script tag in\n{page}");
    assert!(
        page.contains(ESCAPED),
        "{what}: escaped value missing in\n{page}"
    );
}

async fn hostile_tenant(app: &TestApp) {
    let (s, body) = app
        .api(
            Method::PATCH,
            "/tenants/settings",
            Some(json!({"friendly_name": format!("{SCRIPT} \"Acme\" {{{{7*7}}}}")})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
}

#[tokio::test]
async fn hostile_values_are_escaped_on_every_hosted_page() {
    let app = spawn_app().await;
    hostile_tenant(&app).await;
    let (s, user) = app
        .api(
            Method::POST,
            "/users",
            Some(json!({
                "connection": "Username-Password-Authentication",
                "email": "o'brien+\"quoted\"@example.com",
                "password": "Correct-Horse-1",
                "name": SCRIPT,
            })),
        )
        .await;
    assert_eq!(s, 201, "{user}");

    // Login and sign-up: the tenant's name; the login hint echoes into the form.
    let mut b = Browser::new();
    let (status, login, _) = b
        .get(&authorize_url(
            &app,
            &format!("&login_hint={}", urlencode(SCRIPT)),
        ))
        .await;
    assert_eq!(status, 200, "{login}");
    assert_escaped(&login, "login page");
    assert!(
        login.contains("{{7*7}}"),
        "template syntax is data: {login}"
    );

    let (status, forgot, _) = b.get(&app.url("/lo/forgot")).await;
    assert_eq!(status, 200);
    assert_escaped(&forgot, "forgot page");

    // The reset page shows the user's address (quotes) under the hostile tenant name.
    let ticket = ticket_token(
        &app,
        json!({"user_id": user["user_id"], "result_url": "https://app.example.com/"}),
    )
    .await;
    let (status, reset, _) = b.get(&app.url(&format!("/lo/reset?ticket={ticket}"))).await;
    assert_eq!(status, 200, "{reset}");
    assert_escaped(&reset, "reset page");
    assert!(
        reset.contains("o'brien+&quot;quoted&quot;@example.com"),
        "{reset}"
    );
}

#[tokio::test]
async fn hostile_values_are_escaped_on_the_console_pages() {
    let app = spawn_app().await;
    hostile_tenant(&app).await;
    let (s, user) = app
        .api(
            Method::POST,
            "/users",
            Some(json!({
                "connection": "Username-Password-Authentication",
                "email": "victim@example.com",
                "password": "Correct-Horse-1",
                "name": SCRIPT,
                "given_name": format!("{SCRIPT}\"><img src=x onerror=alert(2)>"),
                "user_metadata": {"note": SCRIPT},
                "app_metadata": {"plan": SCRIPT},
            })),
        )
        .await;
    assert_eq!(s, 201, "{user}");
    let (s, template) = app
        .api(
            Method::POST,
            "/email-templates",
            Some(json!({
                "template": "reset_email",
                "body": format!("<p>{SCRIPT} {{{{ user.email }}}}</p>"),
                "subject": SCRIPT,
                "from": "no-reply@example.com",
                "syntax": "liquid",
                "enabled": true,
            })),
        )
        .await;
    assert!(s == 200 || s == 201 || s == 409, "{s} {template}");
    if s == 409 {
        let (s, body) = app
            .api(
                Method::PATCH,
                "/email-templates/reset_email",
                Some(json!({"body": format!("<p>{SCRIPT}</p>"), "subject": SCRIPT})),
            )
            .await;
        assert_eq!(s, 200, "{body}");
    }

    let mut b = signed_in_admin(&app).await;
    let user_id = encode_id(user["user_id"].as_str().unwrap());
    for path in [
        "/admin/users".to_owned(),
        format!("/admin/users?q={}", urlencode(SCRIPT)),
        format!("/admin/users/{user_id}"),
        "/admin/settings".to_owned(),
        "/admin/emails/reset_email".to_owned(),
        "/admin/database".to_owned(),
        "/admin/logs".to_owned(),
        format!("/admin/{}", urlencode(SCRIPT)),
    ] {
        let (status, page, _) = b.get(&app.url(&path)).await;
        assert!(status == 200 || status == 404, "{path}: {status}\n{page}");
        assert!(!page.contains(SCRIPT), "{path}: raw script tag in\n{page}");
        assert!(
            !page.contains("<img src=x"),
            "{path}: an attribute broke out in\n{page}"
        );
        if path != "/admin/database" && path != "/admin/logs" {
            assert!(
                page.contains(ESCAPED),
                "{path}: escaped value missing in\n{page}"
            );
        }
    }
}
