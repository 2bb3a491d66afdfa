//! Security invariant 7: no password, secret or token in any log line, even at `trace`.

#![allow(clippy::unwrap_used, clippy::panic)]

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
    // Password reset: the mailed link (development outbox), a Management API ticket, the page.
    let reset = post(
        "/dbconnections/change_password",
        json!({"client_id": app_id, "email": "quiet@example.com", "connection": "Username-Password-Authentication"}),
    )
    .await
    .unwrap();
    assert_eq!(reset.status(), 200);
    let mail_ticket = wait_for_outbox_ticket(&server.data_dir, "lo/reset").await;
    let ticket: Value = http
        .post(format!("{base}/api/v2/tickets/password-change"))
        .bearer_auth(mgmt_token)
        .json(&json!({"user_id": user["user_id"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ticket_url = ticket["ticket"].as_str().unwrap().to_owned();
    let page = http.get(&ticket_url).send().await.unwrap();
    let cookie = page.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = page.text().await.unwrap();
    let at = html.find(r#"name="_csrf" value=""#).unwrap() + 20;
    let csrf = html[at..at + html[at..].find('"').unwrap()].to_owned();
    let ticket_token = ticket_url
        .split("ticket=")
        .nth(1)
        .unwrap()
        .trim_end_matches('#')
        .to_owned();
    let redeemed = http
        .post(format!("{base}/lo/reset"))
        .header("cookie", &cookie)
        .form(&[
            ("_csrf", csrf.as_str()),
            ("ticket", &ticket_token),
            ("newPassword", "Fourth-Secret-Pw4"),
            ("confirmNewPassword", "Fourth-Secret-Pw4"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(redeemed.status(), 200);
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

    // Hosted login: the session cookie and the authorization code; then MFA: the TOTP key and
    // the mfa_token a password grant answers with.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = no_redirects
        .get(format!(
            "{base}/authorize?response_type=code&client_id={app_id}&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcallback&scope=openid&state=s"
        ))
        .send()
        .await
        .unwrap();
    let login_cookie = page.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = page.text().await.unwrap();
    let field = |name: &str| {
        let marker = format!(r#"name="{name}" value=""#);
        let at = html.find(&marker).unwrap() + marker.len();
        html[at..at + html[at..].find('"').unwrap()].replace("&amp;", "&")
    };
    let logged_in = no_redirects
        .post(format!("{base}/u/login"))
        .header("cookie", &login_cookie)
        .form(&[
            ("_csrf", field("_csrf")),
            ("state", field("state")),
            ("username", "quiet@example.com".into()),
            ("password", "Fourth-Secret-Pw4".into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(logged_in.status(), 303);
    let session = logged_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("lk_session="))
        .unwrap();
    let session = session
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("lk_session=")
        .to_owned();
    let location = logged_in.headers()["location"].to_str().unwrap().to_owned();
    let code = location
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let exchanged: Value = post(
        "/oauth/token",
        json!({"grant_type": "authorization_code", "client_id": app_id, "client_secret": app_secret,
               "code": code, "redirect_uri": "http://localhost:3000/callback"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert!(exchanged["access_token"].is_string(), "{exchanged}");
    const TOTP_KEY: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    let added = http
        .post(format!(
            "{base}/api/v2/users/{}/authentication-methods",
            encode_id(user["user_id"].as_str().unwrap())
        ))
        .bearer_auth(mgmt_token)
        .json(&json!({"type": "totp", "totp_secret": TOTP_KEY}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);
    http.put(format!("{base}/api/v2/guardian/factors/otp"))
        .bearer_auth(mgmt_token)
        .json(&json!({"enabled": true}))
        .send()
        .await
        .unwrap();
    let challenged: Value = login("Fourth-Secret-Pw4")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mfa_token = challenged["mfa_token"].as_str().unwrap().to_owned();

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
        "Fourth-Secret-Pw4",
        &mail_ticket,
        &ticket_token,
        &csrf,
        &session,
        &code,
        &mfa_token,
        TOTP_KEY,
        exchanged["access_token"].as_str().unwrap(),
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

/// The reset token in the first mail the development transport wrote.
/// The ticket of the first mail in the development outbox with a `link` (`lo/reset`,
/// `admin/reset`): other mail (a new user's verification link) may be there too.
async fn wait_for_outbox_ticket(data_dir: &std::path::Path, link: &str) -> String {
    let dir = data_dir.join("outbox");
    let marker = format!("{link}?ticket=");
    for _ in 0..200 {
        let found = std::fs::read_dir(&dir).ok().and_then(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .map(|raw| crate::smtp_sink::decode_quoted_printable(&raw))
                .find_map(|text| {
                    let at = text.find(&marker)? + marker.len();
                    text.get(at..at + 43).map(str::to_owned)
                })
        });
        if let Some(ticket) = found {
            return ticket;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no {link} mail in {}", dir.display());
}

/// The console at `trace`: the administrator's passwords, session cookie, CSRF tokens, reset
/// link and the SMTP password typed into the provider form never reach the log.
#[tokio::test]
async fn the_console_keeps_passwords_cookies_and_links_out_of_the_log() {
    use crate::login::{Browser, hidden};
    let server = start_binary(
        false,
        &[("RUST_LOG", "trace"), ("LATCHKEY_LOG__FORMAT", "json")],
    )
    .await;
    let b = server.bootstrap();
    let base = format!("http://127.0.0.1:{}", server.port);
    let email = b["admin"]["email"].as_str().unwrap().to_owned();
    let password = b["admin"]["password"].as_str().unwrap().to_owned();
    let mut browser = Browser::new();
    let sign_in = |browser: &mut Browser, password: String| {
        let (base, email) = (base.clone(), email.clone());
        let mut copy = Browser::new();
        copy.cookies = browser.cookies.clone();
        async move {
            let (_, page, _) = copy.get(&format!("{base}/admin/login")).await;
            let csrf = hidden(&page, "_csrf");
            let (status, _, _) = copy
                .post(
                    &format!("{base}/admin/login"),
                    &[
                        ("_csrf", csrf.as_str()),
                        ("next", "/admin/users"),
                        ("email", email.as_str()),
                        ("password", password.as_str()),
                    ],
                )
                .await;
            (status, copy, csrf)
        }
    };
    let (status, signed_in, login_csrf) = sign_in(&mut browser, password.clone()).await;
    assert_eq!(status, 303);
    browser = signed_in;
    let session = browser.cookies["lk_admin"].clone();

    // "Don't remember your password?": the link from the development outbox, a new password.
    let (_, form, _) = browser.get(&format!("{base}/admin/forgot")).await;
    let (status, _, _) = browser
        .post(
            &format!("{base}/admin/forgot"),
            &[
                ("_csrf", hidden(&form, "_csrf").as_str()),
                ("email", email.as_str()),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let ticket = wait_for_outbox_ticket(&server.data_dir, "admin/reset").await;
    let (_, reset, _) = browser
        .get(&format!("{base}/admin/reset?ticket={ticket}"))
        .await;
    let (status, _, _) = browser
        .post(
            &format!("{base}/admin/reset"),
            &[
                ("_csrf", hidden(&reset, "_csrf").as_str()),
                ("ticket", ticket.as_str()),
                ("newPassword", "Console-Quiet-Secret-7"),
                ("confirmNewPassword", "Console-Quiet-Secret-7"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    let (status, signed_in, _) = sign_in(&mut browser, "Console-Quiet-Secret-7".into()).await;
    assert_eq!(status, 303);
    browser = signed_in;

    // The SMTP provider's password typed into the console.
    let (_, emails, _) = browser.get(&format!("{base}/admin/emails")).await;
    let console_csrf = hidden(&emails, "_csrf");
    let (status, _, _) = browser
        .post(
            &format!("{base}/admin/emails/provider"),
            &[
                ("_csrf", console_csrf.as_str()),
                ("smtp_host", "smtp.invalid"),
                ("smtp_port", "587"),
                ("smtp_user", "mailer"),
                ("smtp_pass", "Smtp-Quiet-Secret-5"),
                ("default_from_address", "no-reply@example.com"),
                ("enabled", "1"),
            ],
        )
        .await;
    assert_eq!(status, 303);

    let log = server.stop_and_read_log().await;
    assert!(
        log.contains("/admin/reset"),
        "the console requests should be logged (by path)"
    );
    for secret in [
        password.as_str(),
        "Console-Quiet-Secret-7",
        "Smtp-Quiet-Secret-5",
        session.as_str(),
        ticket.as_str(),
        login_csrf.as_str(),
        console_csrf.as_str(),
    ] {
        assert!(
            !log.contains(secret),
            "the log holds a console secret ({} chars)",
            secret.len()
        );
    }
}
