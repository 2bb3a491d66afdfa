//! Embedded login over plain HTTP: Lock's client configuration (`/client/{id}.js`) and
//! cross-origin authentication (`/co/authenticate` → `/authorize?login_ticket=`), and the
//! attacks on them: unknown origins, clients without the flag, brute force, MFA, replayed,
//! expired and misdirected tickets. The browser journey is `browser_lock.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::{TestApp, encode_id, jwt_part, totp_now};
use crate::login::{Browser, CALLBACK, VERIFIER, authorize_url, code_of};
use crate::reset::{CONNECTION, app_with_sink};
use reqwest::Method;
use serde_json::{Value, json};

const APP_ORIGIN: &str = "http://localhost:3000";
const PASSWORD_REALM: &str = "http://auth0.com/oauth/grant-type/password-realm";

/// Turns cross-origin authentication on for the default application.
async fn allow_cross_origin(app: &TestApp) {
    let (id, _) = app.app_client();
    let (status, body) = app
        .api(
            Method::PATCH,
            &format!("/clients/{id}"),
            Some(json!({"cross_origin_authentication": true,
                        "cross_origin_loc": "http://localhost:3000/cross-origin.html"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

async fn co_authenticate(
    app: &TestApp,
    origin: &str,
    client_id: &str,
    username: &str,
    password: &str,
) -> reqwest::Response {
    app.http
        .post(app.url("/co/authenticate"))
        .header("Origin", origin)
        .json(
            &json!({"client_id": client_id, "username": username, "password": password,
                      "realm": CONNECTION, "credential_type": PASSWORD_REALM}),
        )
        .send()
        .await
        .unwrap()
}

/// A ticket for the default application, and the verifier cookie the browser was given.
async fn ticket(app: &TestApp, email: &str, password: &str) -> (String, String) {
    let (id, _) = app.app_client();
    let res = co_authenticate(app, APP_ORIGIN, &id, email, password).await;
    assert_eq!(res.status(), 200);
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("lk_co_verifier="))
        .expect("the verifier cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("Path=/authorize"));
    let body: Value = res.json().await.unwrap();
    let verifier = body["co_verifier"].as_str().unwrap().to_owned();
    assert_eq!(
        cookie.split(';').next().unwrap(),
        format!("lk_co_verifier={verifier}")
    );
    assert_eq!(body["co_id"].as_str().unwrap().len(), 32);
    (body["login_ticket"].as_str().unwrap().to_owned(), verifier)
}

fn with_ticket(app: &TestApp, ticket: &str) -> String {
    authorize_url(app, &format!("&login_ticket={ticket}&realm={CONNECTION}"))
}

fn callback_error(location: &str) -> String {
    assert!(location.starts_with(CALLBACK), "{location}");
    let url = url::Url::parse(location).unwrap();
    url.query_pairs()
        .find(|(k, _)| k == "error")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no error in {location}"))
}

#[tokio::test]
async fn cross_origin_login_is_for_the_clients_origins_and_gives_a_single_use_ticket() {
    let (app, _sink) = app_with_sink().await;
    let user = app
        .create_user("embedded@example.com", "Right-Password-1")
        .await;
    let (client_id, secret) = app.app_client();

    // Off by default, as Auth0 has it: the password is not even looked at.
    let res = co_authenticate(&app, APP_ORIGIN, &client_id, "embedded@example.com", "x").await;
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized_client");
    assert_eq!(body["error_description"], "Cross origin login not allowed.");

    allow_cross_origin(&app).await;
    let (_, client) = app
        .api(Method::GET, &format!("/clients/{client_id}"), None)
        .await;
    assert_eq!(client["cross_origin_authentication"], true);
    assert_eq!(
        client["cross_origin_loc"],
        "http://localhost:3000/cross-origin.html"
    );

    // The preflight and the answer name the application's origin, with credentials; a
    // stranger gets neither, and the right password from there logs nobody in.
    let preflight = |origin: &'static str| {
        app.http
            .request(Method::OPTIONS, app.url("/co/authenticate"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "content-type,auth0-client",
            )
            .send()
    };
    let ok = preflight(APP_ORIGIN).await.unwrap();
    assert_eq!(ok.status(), 204);
    assert_eq!(ok.headers()["access-control-allow-origin"], APP_ORIGIN);
    assert_eq!(ok.headers()["access-control-allow-credentials"], "true");
    let evil = preflight("https://evil.example").await.unwrap();
    assert_eq!(evil.status(), 403);
    assert!(evil.headers().get("access-control-allow-origin").is_none());
    let res = co_authenticate(
        &app,
        "https://evil.example",
        &client_id,
        "embedded@example.com",
        "Right-Password-1",
    )
    .await;
    assert_eq!(res.status(), 403);
    assert!(res.headers().get("access-control-allow-origin").is_none());
    assert!(res.headers().get("set-cookie").is_none());
    let body: Value = res.json().await.unwrap();
    assert!(body.get("login_ticket").is_none(), "{body}");
    let id = encode_id(user["user_id"].as_str().unwrap());
    let (_, seen) = app.api(Method::GET, &format!("/users/{id}"), None).await;
    assert_eq!(seen["logins_count"], 0, "a refused origin never logs in");

    // A wrong password: Auth0's answer for this endpoint, readable by the application.
    let res = co_authenticate(
        &app,
        APP_ORIGIN,
        &client_id,
        "embedded@example.com",
        "Wrong-1",
    )
    .await;
    assert_eq!(res.status(), 403);
    assert_eq!(res.headers()["access-control-allow-origin"], APP_ORIGIN);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": "access_denied", "error_description": "Wrong email or password."})
    );

    // Without the verifier cookie the ticket is refused, and spent.
    let (t, verifier) = ticket(&app, "embedded@example.com", "Right-Password-1").await;
    let mut stranger = Browser::new();
    let (_, _, location) = stranger.get(&with_ticket(&app, &t)).await;
    assert_eq!(callback_error(&location.unwrap()), "access_denied");
    let mut b = Browser::new();
    b.cookies.insert("lk_co_verifier".into(), verifier);
    let (_, _, location) = b.get(&with_ticket(&app, &t)).await;
    assert_eq!(callback_error(&location.unwrap()), "access_denied");

    // With it: a session and a code, exchanged for the user's tokens; then never again.
    let (t, verifier) = ticket(&app, "embedded@example.com", "Right-Password-1").await;
    let mut b = Browser::new();
    b.cookies.insert("lk_co_verifier".into(), verifier);
    let (_, _, location) = b.get(&with_ticket(&app, &t)).await;
    let code = code_of(&location.unwrap());
    assert!(
        b.cookies.contains_key("lk_session"),
        "the login opened a session"
    );
    let tokens: Value = app
        .token(
            json!({"grant_type": "authorization_code", "client_id": client_id,
                      "client_secret": secret, "code": code, "redirect_uri": CALLBACK,
                      "code_verifier": VERIFIER}),
        )
        .await
        .json()
        .await
        .unwrap();
    let claims = jwt_part(tokens["id_token"].as_str().unwrap(), 1);
    assert_eq!(claims["sub"], user["user_id"]);
    assert_eq!(claims["nonce"], "n0nce");
    let mut again = Browser::new();
    again.cookies = b.cookies.clone();
    again.cookies.remove("lk_session");
    let (_, _, location) = again.get(&with_ticket(&app, &t)).await;
    assert_eq!(callback_error(&location.unwrap()), "access_denied");
}

#[tokio::test]
async fn a_ticket_works_only_for_its_client_and_only_for_two_minutes() {
    let (app, _sink) = app_with_sink().await;
    app.create_user("tickets@example.com", "Right-Password-1")
        .await;
    allow_cross_origin(&app).await;
    let (status, other) = app
        .api(
            Method::POST,
            "/clients",
            Some(json!({"name": "Other app", "app_type": "regular_web",
                        "callbacks": [CALLBACK], "allowed_origins": [APP_ORIGIN],
                        "cross_origin_authentication": true})),
        )
        .await;
    assert_eq!(status, 201, "{other}");
    let (_, connection) = app
        .api(
            Method::GET,
            &format!("/connections?name={CONNECTION}"),
            None,
        )
        .await;
    let connection_id = connection[0]["id"].as_str().unwrap().to_owned();
    let (default_id, _) = app.app_client();
    let other_id = other["client_id"].as_str().unwrap();
    app.api(
        Method::PATCH,
        &format!("/connections/{connection_id}"),
        Some(json!({"enabled_clients": [default_id, other_id]})),
    )
    .await;

    // Minted for the default application, presented for the other one.
    let (t, verifier) = ticket(&app, "tickets@example.com", "Right-Password-1").await;
    let mut b = Browser::new();
    b.cookies.insert("lk_co_verifier".into(), verifier);
    let url = with_ticket(&app, &t).replace(&default_id, other_id);
    let (_, _, location) = b.get(&url).await;
    assert_eq!(callback_error(&location.unwrap()), "access_denied");
    assert!(!b.cookies.contains_key("lk_session"));

    // Past its two minutes (moved there in the store), a ticket is refused.
    let (t, verifier) = ticket(&app, "tickets@example.com", "Right-Password-1").await;
    expire_login_tickets(&app).await;
    let mut b = Browser::new();
    b.cookies.insert("lk_co_verifier".into(), verifier);
    let (_, _, location) = b.get(&with_ticket(&app, &t)).await;
    assert_eq!(callback_error(&location.unwrap()), "access_denied");
    assert!(!b.cookies.contains_key("lk_session"));
}

async fn expire_login_tickets(app: &TestApp) {
    sqlx::any::install_default_drivers();
    let url = app.store_url();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    sqlx::query("UPDATE login_tickets SET expires_at = 1")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

#[tokio::test]
async fn wrong_passwords_count_toward_the_block_and_mfa_is_never_skipped() {
    const SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    let (app, _sink) = app_with_sink().await;
    allow_cross_origin(&app).await;
    let (client_id, _) = app.app_client();

    // Ten wrong passwords here block the (user, IP) pair for every login, as the hosted form's.
    app.create_user("guessed@example.com", "Right-Password-1")
        .await;
    for _ in 0..10 {
        let res = co_authenticate(
            &app,
            APP_ORIGIN,
            &client_id,
            "guessed@example.com",
            "Wrong-9",
        )
        .await;
        assert_eq!(res.status(), 403);
    }
    let res = co_authenticate(
        &app,
        APP_ORIGIN,
        &client_id,
        "guessed@example.com",
        "Right-Password-1",
    )
    .await;
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["access-control-allow-origin"], APP_ORIGIN);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "too_many_attempts");
    assert_eq!(
        app.login("guessed@example.com", "Right-Password-1", "openid")
            .await
            .status(),
        429,
        "the password grant sees the same block"
    );

    // A user with a second factor: the ticket leads to the challenge, never to a code.
    let user = app.create_user("mfa@example.com", "Right-Password-1").await;
    let id = encode_id(user["user_id"].as_str().unwrap());
    app.api(
        Method::POST,
        &format!("/users/{id}/authentication-methods"),
        Some(json!({"type": "totp", "totp_secret": SECRET})),
    )
    .await;
    app.api(
        Method::PUT,
        "/guardian/factors/otp",
        Some(json!({"enabled": true})),
    )
    .await;
    let (t, verifier) = ticket(&app, "mfa@example.com", "Right-Password-1").await;
    let mut b = Browser::new();
    b.cookies.insert("lk_co_verifier".into(), verifier);
    let (status, page, location) = b.get(&with_ticket(&app, &t)).await;
    assert_eq!(status, 200, "{location:?}");
    assert!(location.is_none());
    assert!(page.contains("name=\"pending\""), "the code form: {page}");
    assert!(
        !b.cookies.contains_key("lk_session"),
        "no session before the code"
    );
    // The code finishes the login as on the hosted form.
    let csrf = crate::login::hidden(&page, "_csrf");
    let pending = crate::login::hidden(&page, "pending");
    let (status, _, location) = b
        .post(
            &app.url("/u/mfa"),
            &[
                ("_csrf", &csrf),
                ("pending", &pending),
                ("code", &totp_now(SECRET)),
            ],
        )
        .await;
    assert!((300..400).contains(&status));
    code_of(&location.unwrap());
    assert!(b.cookies.contains_key("lk_session"));
}

/// The script body's argument to `Auth0.setClient`.
fn set_client_argument(script: &str) -> Value {
    let json = script
        .trim()
        .strip_prefix("Auth0.setClient(")
        .and_then(|s| s.strip_suffix(");"))
        .unwrap_or_else(|| panic!("not a setClient call: {script}"));
    serde_json::from_str(json).unwrap()
}

#[tokio::test]
async fn locks_client_configuration_carries_the_connections_rules_and_cannot_break_out() {
    let app = crate::helpers::spawn_app().await;
    let (client_id, _) = app.app_client();
    let hostile = "</script><script>alert(1)</script>\u{2028}\u{2029}&<!--";
    let (_, connection) = app
        .api(
            Method::GET,
            &format!("/connections?name={CONNECTION}"),
            None,
        )
        .await;
    let connection_id = connection[0]["id"].as_str().unwrap().to_owned();
    let (status, body) = app
        .api(
            Method::PATCH,
            &format!("/connections/{connection_id}"),
            Some(json!({"display_name": hostile, "options": {
                "passwordPolicy": "good",
                "password_complexity_options": {"min_length": 10},
                "disable_signup": true,
                "requires_username": true,
                "validation": {"username": {"min": 3, "max": 20}}}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .api(
            Method::PATCH,
            "/tenants/settings",
            Some(json!({"friendly_name": hostile})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let res = app
        .http
        .get(app.url(&format!("/client/{client_id}.js?t1712345")))
        .header("Origin", "https://anywhere.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "application/javascript; charset=utf-8");
    assert_eq!(h["cross-origin-resource-policy"], "cross-origin");
    assert!(h["cache-control"].to_str().unwrap().contains("max-age=60"));
    let script = res.text().await.unwrap();
    for raw in ["</script", "<!--", "\u{2028}", "\u{2029}", "&"] {
        assert!(!script.contains(raw), "{raw:?} in {script}");
    }
    let config = set_client_argument(&script);
    assert_eq!(config["id"], client_id);
    assert_eq!(config["tenant"], hostile, "escaped, not altered");
    assert_eq!(config["strategies"][0]["name"], "auth0");
    let db = &config["strategies"][0]["connections"][0];
    assert_eq!(db["name"], CONNECTION);
    assert_eq!(db["display_name"], hostile);
    assert_eq!(db["passwordPolicy"], "good");
    assert_eq!(db["password_complexity_options"]["min_length"], 10);
    assert_eq!(db["showSignup"], false);
    assert_eq!(db["showForgot"], true);
    assert_eq!(db["requires_username"], true);
    assert_eq!(db["validation"]["username"], json!({"min": 3, "max": 20}));

    // An unknown client: a 404 script (Lock shows its own error), never a 500.
    let res = app
        .http
        .get(app.url("/client/no-such-client.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(
        res.headers()["content-type"],
        "application/javascript; charset=utf-8"
    );
}

#[tokio::test]
async fn the_console_turns_cross_origin_authentication_on_and_off() {
    let app = crate::helpers::spawn_app().await;
    let (id, _) = app.app_client();
    let mut b = crate::admin::signed_in_admin(&app).await;
    let path = format!("/admin/applications/{id}");
    let ticked = r#"aria-describedby="cross_origin_authentication-hint" checked>"#;
    let (_, page, _) = b.get(&app.url(&path)).await;
    assert!(page.contains("Allow cross-origin authentication") && !page.contains(ticked));
    let csrf = crate::login::hidden(&page, "_csrf");
    let save = |on: bool, loc: &'static str| {
        let mut form = vec![
            ("_csrf", csrf.clone()),
            ("callbacks", CALLBACK.to_owned()),
            ("allowed_logout_urls", String::new()),
            ("web_origins", String::new()),
            ("allowed_origins", APP_ORIGIN.to_owned()),
            ("cross_origin_loc", loc.to_owned()),
        ];
        if on {
            form.push(("cross_origin_authentication", "yes".to_owned()));
        }
        form
    };
    let form = save(true, "http://localhost:3000/cross-origin.html");
    let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, _) = b.post(&app.url(&path), &fields).await;
    assert_eq!(status, 303);
    let (_, saved) = app.api(Method::GET, &format!("/clients/{id}"), None).await;
    assert_eq!(saved["cross_origin_authentication"], true);
    assert_eq!(
        saved["cross_origin_loc"],
        "http://localhost:3000/cross-origin.html"
    );
    let (_, page, _) = b.get(&app.url(&path)).await;
    assert!(page.contains(ticked));

    // Unticked and emptied: off, and no fallback page.
    let form = save(false, "");
    let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, _) = b.post(&app.url(&path), &fields).await;
    assert_eq!(status, 303);
    let (_, saved) = app.api(Method::GET, &format!("/clients/{id}"), None).await;
    assert_eq!(saved["cross_origin_authentication"], false);
    assert!(saved.get("cross_origin_loc").is_none(), "{saved}");
}
