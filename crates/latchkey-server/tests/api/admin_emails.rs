//! The console's Emails section over real HTTP: a template edited in the console is the one the
//! next reset mail uses (subject, sender, link lifetime); Liquid errors are shown and nothing is
//! saved; the preview renders sample data and saves nothing; the provider form never shows the
//! password back, and its test mail goes through the provider saved there; every form needs its
//! CSRF token and every page a console session.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use crate::login::{Browser, hidden};
use crate::reset::{app_with_sink, open_page, request_reset};
use crate::smtp_sink::SmtpSink;
use reqwest::Method;
use std::time::Duration;

/// Opens `path` and returns the page and its form token.
async fn open(b: &mut Browser, app: &TestApp, path: &str) -> (String, String) {
    let (status, page, _) = b.get(&app.url(path)).await;
    assert_eq!(status, 200, "{path}: {page}");
    let csrf = hidden(&page, "_csrf");
    (page, csrf)
}

/// Posts a form and follows a 303 (the status is the first answer's).
async fn submit(
    b: &mut Browser,
    app: &TestApp,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, String, Option<String>) {
    let (status, page, location) = b.post(&app.url(path), form).await;
    if status == 303 {
        let to = location.clone().unwrap();
        let (next, page, _) = b.get(&app.url(&to)).await;
        assert_eq!(next, 200, "{to}: {page}");
        return (status, page, location);
    }
    (status, page, location)
}

/// The template form's fields, with `overrides` replacing or adding some.
fn template_form<'a>(csrf: &'a str, overrides: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("_csrf", csrf),
        ("from", "Support <help@shop.example>"),
        ("subject", "Console reset for {{ user.email }}"),
        ("result_url", ""),
        ("url_lifetime", "1234"),
        (
            "body",
            "<p>Hi {{ user.name }}: <a href=\"{{ url }}\">reset your password</a></p>",
        ),
        ("enabled", "1"),
        ("action", "save"),
    ];
    for (k, v) in overrides {
        form.retain(|(name, _)| name != k);
        form.push((k, v));
    }
    form
}

/// (created_at, expires_at) of every password ticket, in milliseconds.
async fn ticket_times(app: &TestApp) -> Vec<(i64, i64)> {
    use sqlx::Row;
    sqlx::any::install_default_drivers();
    let url = app.store_url();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let rows = sqlx::query("SELECT created_at, expires_at FROM password_tickets")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    rows.iter()
        .map(|r| (r.get::<i64, _>(0), r.get::<i64, _>(1)))
        .collect()
}

#[tokio::test]
async fn a_template_saved_in_the_console_is_the_one_the_next_reset_mail_uses() {
    let (app, sink) = app_with_sink().await;
    app.create_user("ann@example.com", "Old-Password-1").await;
    let mut b = crate::admin::signed_in_admin(&app).await;

    // The overview lists the built-in templates with their state.
    let (overview, _) = open(&mut b, &app, "/admin/emails").await;
    assert!(overview.contains(r#"href="/admin/emails/reset_email""#));
    assert!(overview.contains(r#"href="/admin/emails/blocked_account""#));
    assert!(overview.contains("Built-in"));
    assert!(overview.contains(r#"<span class="badge ok">Enabled</span>"#));

    // The template page: the default, previewed with sample data.
    let (page, csrf) = open(&mut b, &app, "/admin/emails/reset_email").await;
    assert!(
        page.contains(r#"name="url_lifetime" type="number" min="0" max="31536000" value="432000""#)
    );
    assert!(page.contains(r#"<div class="preview">"#));
    assert!(
        page.contains(r#"id="preview-subject">Reset your "#),
        "{page}"
    );
    assert!(page.contains("Hello Jane Doe,"));

    // Save a new subject, sender and URL lifetime.
    let (status, page, location) = submit(
        &mut b,
        &app,
        "/admin/emails/reset_email",
        &template_form(&csrf, &[]),
    )
    .await;
    assert_eq!(status, 303, "{page}");
    assert_eq!(
        location.as_deref(),
        Some("/admin/emails/reset_email?done=saved")
    );
    assert!(page.contains("Template saved."));
    assert!(page.contains(r#"id="preview-subject">Console reset for jane.doe@example.com<"#));
    assert!(page.contains(r#"value="1234""#));
    assert!(page.contains(r#"<span class="badge">Saved</span>"#));

    // The Management API sees the same template.
    let (status, t) = app
        .api(Method::GET, "/email-templates/reset_email", None)
        .await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["subject"], "Console reset for {{ user.email }}");
    assert_eq!(t["urlLifetimeInSeconds"], 1234);
    assert_eq!(t["from"], "Support <help@shop.example>");
    assert_eq!(t["enabled"], true);
    assert_eq!(t["syntax"], "liquid");

    // The next reset mail: the new subject and sender, a link that lives 1234 s.
    let res = request_reset(&app, "ann@example.com").await;
    assert_eq!(res.status(), 200);
    let mails = sink.wait_for(1, Duration::from_secs(10)).await;
    let mail = &mails[0];
    assert_eq!(
        mail.header("Subject").unwrap(),
        "Console reset for ann@example.com"
    );
    assert_eq!(mail.header("From").unwrap(), "Support <help@shop.example>");
    assert!(
        mail.part("text/html")
            .unwrap()
            .contains("reset your password")
    );
    let times = ticket_times(&app).await;
    assert_eq!(times.len(), 1, "{times:?}");
    assert_eq!(times[0].1 - times[0].0, 1_234_000);
    assert_eq!(open_page(&app, &mail.ticket()).await.status, 200);

    // Disabled in the console: the list says so and no reset mail goes out.
    let (_, csrf) = open(&mut b, &app, "/admin/emails/reset_email").await;
    let mut form = template_form(&csrf, &[]);
    form.retain(|(k, _)| *k != "enabled");
    let (status, page, _) = submit(&mut b, &app, "/admin/emails/reset_email", &form).await;
    assert_eq!(status, 303, "{page}");
    let (overview, _) = open(&mut b, &app, "/admin/emails").await;
    let row = overview
        .split("<tr>")
        .find(|r| r.contains("/admin/emails/reset_email"))
        .unwrap();
    assert!(row.contains("Disabled"), "{row}");
    request_reset(&app, "ann@example.com").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sink.mails().len(), 1);
}

#[tokio::test]
async fn liquid_errors_are_shown_and_the_preview_saves_nothing() {
    let app = spawn_app().await;
    let mut b = crate::admin::signed_in_admin(&app).await;
    let (_, csrf) = open(&mut b, &app, "/admin/emails/reset_email").await;
    let path = "/admin/emails/reset_email";

    // Never saved, a syntax error: shown with the parser's message, nothing stored.
    let broken = "<p>{% if user.name %}never closed</p>";
    let (status, page, _) = submit(
        &mut b,
        &app,
        path,
        &template_form(&csrf, &[("body", broken)]),
    )
    .await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains(r#"class="alert error""#));
    assert!(page.contains("Nothing was saved."), "{page}");
    assert!(page.contains("Error in template body:"), "{page}");
    assert!(page.contains("&lt;p&gt;{% if user.name %}never closed&lt;/p&gt;"));
    let (status, _) = app
        .api(Method::GET, "/email-templates/reset_email", None)
        .await;
    assert_eq!(status, 404);

    // Saved once, then a broken subject: the saved template stays as it was.
    let (status, page, _) = submit(
        &mut b,
        &app,
        path,
        &template_form(&csrf, &[("subject", "Saved subject")]),
    )
    .await;
    assert_eq!(status, 303, "{page}");
    let (status, page, _) = submit(
        &mut b,
        &app,
        path,
        &template_form(&csrf, &[("subject", "Broken {{ user.email")]),
    )
    .await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("Error in template subject:"), "{page}");
    let (_, t) = app
        .api(Method::GET, "/email-templates/reset_email", None)
        .await;
    assert_eq!(t["subject"], "Saved subject");

    // A field the service refuses is shown too.
    let (status, page, _) = submit(
        &mut b,
        &app,
        path,
        &template_form(&csrf, &[("from", "nobody")]),
    )
    .await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("from"), "{page}");
    let (status, page, _) = submit(
        &mut b,
        &app,
        path,
        &template_form(&csrf, &[("url_lifetime", "soon")]),
    )
    .await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("whole number of seconds"));

    // Preview: what was typed, rendered with sample data; scripts dropped; nothing saved.
    let (status, page, _) = submit(
        &mut b,
        &app,
        path,
        &template_form(
            &csrf,
            &[
                ("action", "preview"),
                ("subject", "Preview for {{ user.name }} <{{ user.email }}>"),
                (
                    "body",
                    "<html><body><p>Hi {{ user.email }}, open {{ url }}</p><script>alert(1)</script></body></html>",
                ),
            ],
        ),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(r#"id="preview-subject">Preview for Jane Doe &lt;jane.doe@example.com&gt;<"#),
        "{page}"
    );
    assert!(page.contains("<p>Hi jane.doe@example.com, open "));
    assert!(page.contains("lo/reset?ticket="));
    assert!(!page.to_ascii_lowercase().contains("<script"), "{page}");
    assert!(page.contains("nothing was saved yet"));
    let (_, t) = app
        .api(Method::GET, "/email-templates/reset_email", None)
        .await;
    assert_eq!(t["subject"], "Saved subject");

    // A preview of a broken template shows the message instead.
    let (status, page, _) = submit(
        &mut b,
        &app,
        path,
        &template_form(&csrf, &[("action", "preview"), ("body", broken)]),
    )
    .await;
    assert_eq!(status, 400);
    assert!(page.contains("Error in template body:"), "{page}");

    // Unknown templates are not found.
    let (status, _, _) = b.get(&app.url("/admin/emails/no_such_mail")).await;
    assert_eq!(status, 404);
}

/// The provider form's fields, to a loopback relay.
fn provider_form<'a>(
    csrf: &'a str,
    user: &'a str,
    password: &'a str,
    port: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("_csrf", csrf),
        ("smtp_host", "127.0.0.1"),
        ("smtp_port", port),
        ("smtp_user", user),
        ("smtp_pass", password),
        ("default_from_address", "no-reply@shop.example"),
        ("enabled", "1"),
    ]
}

#[tokio::test]
async fn the_provider_password_is_never_shown_and_the_test_mail_goes_through_the_provider() {
    let sink = SmtpSink::start().await;
    // No LATCHKEY_SMTP_URL: mail goes through the provider saved in the console.
    let app = spawn_app_with(|_| {}).await;
    let mut b = crate::admin::signed_in_admin(&app).await;
    let (page, csrf) = open(&mut b, &app, "/admin/emails").await;
    assert!(page.contains("Not configured"));
    let port = sink.addr.port().to_string();
    let secret = "Console-Smtp-S3cret";
    // A refused save (bad port) does not echo the password either.
    let form = provider_form(&csrf, "mailer", secret, "seventy");
    let (status, page, _) = submit(&mut b, &app, "/admin/emails/provider", &form).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("The port must be a number"));
    assert!(!page.contains(secret));
    assert!(page.contains(r#"value="mailer""#));

    // Saved: the page shows the user, never the password.
    let form = provider_form(&csrf, "mailer", secret, &port);
    let (status, page, location) = submit(&mut b, &app, "/admin/emails/provider", &form).await;
    assert_eq!(status, 303, "{page}");
    assert_eq!(
        location.as_deref(),
        Some("/admin/emails?done=provider-saved")
    );
    assert!(page.contains("Email provider saved."));
    assert!(page.contains(r#"value="mailer""#));
    assert!(page.contains(r#"value="no-reply@shop.example""#));
    assert!(page.contains("Leave empty to keep the current password"));
    assert!(
        page.contains(r#"name="smtp_pass" type="password" autocomplete="new-password" value="""#)
    );
    assert!(!page.contains(secret));
    let (status, p) = app
        .api(
            Method::GET,
            "/emails/provider?fields=name,enabled,credentials,default_from_address&include_fields=true",
            None,
        )
        .await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["credentials"]["smtp_user"], "mailer");
    assert_eq!(p["credentials"]["smtp_host"], "127.0.0.1");
    assert_eq!(p["default_from_address"], "no-reply@shop.example");
    assert!(!p.to_string().contains(secret));

    // The sink offers no AUTH: with a user and password the mail server's refusal is shown.
    let (status, page, _) = submit(
        &mut b,
        &app,
        "/admin/emails/test",
        &[("_csrf", &csrf), ("to", "someone@example.com")],
    )
    .await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("The test mail was not delivered:"), "{page}");
    assert!(page.contains(r#"value="someone@example.com""#));
    assert!(!page.contains(secret));
    assert!(sink.mails().is_empty());

    // Without a user (the password is kept but unused), the test mail arrives.
    let form = provider_form(&csrf, "", "", &port);
    let (status, page, _) = submit(&mut b, &app, "/admin/emails/provider", &form).await;
    assert_eq!(status, 303, "{page}");
    assert!(page.contains("A password is set."));
    let (status, page, location) = submit(
        &mut b,
        &app,
        "/admin/emails/test",
        &[("_csrf", &csrf), ("to", "someone@example.com")],
    )
    .await;
    assert_eq!(status, 303, "{page}");
    assert_eq!(location.as_deref(), Some("/admin/emails?done=test-sent"));
    assert!(page.contains("Test mail sent"));
    let mails = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(mails[0].to, vec!["someone@example.com".to_owned()]);
    assert_eq!(mails[0].from, "no-reply@shop.example");
    assert!(
        mails[0]
            .header("Subject")
            .unwrap()
            .starts_with("Test mail from")
    );

    // The stored password can be removed (still never shown).
    let mut form = provider_form(&csrf, "", "", &port);
    form.push(("clear_password", "1"));
    let (status, page, _) = submit(&mut b, &app, "/admin/emails/provider", &form).await;
    assert_eq!(status, 303, "{page}");
    assert!(page.contains("No password is set."));

    // A bad address is refused with a message.
    let (status, page, _) = submit(
        &mut b,
        &app,
        "/admin/emails/test",
        &[("_csrf", &csrf), ("to", "not-an-address")],
    )
    .await;
    assert_eq!(status, 400);
    assert!(page.contains("Enter the address"));
}

#[tokio::test]
async fn emails_pages_need_a_session_and_forms_their_token() {
    let app = spawn_app().await;
    for path in ["/admin/emails", "/admin/emails/reset_email"] {
        let res = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 303, "{path}");
        let location = res.headers()["location"].to_str().unwrap();
        assert!(
            location.starts_with("/admin/login?next=%2Fadmin%2Femails"),
            "{path} → {location}"
        );
    }
    let posts = [
        "/admin/emails/provider",
        "/admin/emails/test",
        "/admin/emails/reset_email",
    ];
    let fields = [
        ("smtp_host", "127.0.0.1"),
        ("smtp_port", "2525"),
        ("to", "someone@example.com"),
        ("from", "a@b.example"),
        ("subject", "Forged"),
        ("body", "Forged"),
        ("enabled", "1"),
    ];
    for path in posts {
        let res = app
            .http
            .post(app.url(path))
            .form(&[("_csrf", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{path}");
    }
    let mut b = crate::admin::signed_in_admin(&app).await;
    for path in posts {
        for token in [None, Some(""), Some("forged-token")] {
            let mut form: Vec<(&str, &str)> = fields.to_vec();
            if let Some(t) = token {
                form.push(("_csrf", t));
            }
            let (status, _, _) = b.post(&app.url(path), &form).await;
            assert_eq!(status, 403, "{path} with {token:?}");
        }
    }
    // Nothing changed.
    let (status, _) = app
        .api(Method::GET, "/email-templates/reset_email", None)
        .await;
    assert_eq!(status, 404);
    let (status, _) = app.api(Method::GET, "/emails/provider", None).await;
    assert_eq!(status, 404);
}
