//! A custom-database connection backed by a loopback HTTP user store: Auth0-style callback
//! scripts (`login`, `get_user`, `change_password`) reach it with `fetch`; login works, lazy
//! migration (`import_mode`) moves the user here, and a reset for a user not migrated yet
//! finds them through `get_user` and tells the store the new password.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::{TestApp, spawn_app_with};
use crate::loopback_http;
use crate::reset::{open_page, submit};
use crate::smtp_sink::SmtpSink;
use reqwest::Method;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const LOGIN: &str = r#"
function login(email, password, callback) {
  fetch(configuration.STORE_URL + "/login", {
    method: "POST",
    headers: {"content-type": "application/json", "authorization": "Bearer " + configuration.STORE_TOKEN},
    body: JSON.stringify({email: email, password: password}),
  }).then(function (res) {
    if (res.status === 401) return callback(new WrongUsernameOrPasswordError(email));
    if (!res.ok) return callback(new Error("store answered " + res.status));
    return res.json().then(function (u) {
      callback(null, {user_id: u.id, email: u.email, email_verified: true, name: u.name});
    });
  }).catch(function (err) { callback(err); });
}
"#;

const GET_USER: &str = r#"
function getByEmail(email, callback) {
  fetch(configuration.STORE_URL + "/users?email=" + encodeURIComponent(email), {
    headers: {"authorization": "Bearer " + configuration.STORE_TOKEN},
  }).then(function (res) {
    if (res.status === 404) return callback(null);
    return res.json().then(function (u) { callback(null, {user_id: u.id, email: u.email, name: u.name}); });
  }).catch(callback);
}
"#;

const CHANGE_PASSWORD: &str = r#"
function changePassword(email, newPassword, callback) {
  fetch(configuration.STORE_URL + "/change-password", {
    method: "POST",
    headers: {"content-type": "application/json", "authorization": "Bearer " + configuration.STORE_TOKEN},
    body: JSON.stringify({email: email, password: newPassword}),
  }).then(function (res) { callback(null, res.ok); }).catch(callback);
}
"#;

const STORE_TOKEN: &str = "store-token-abcdef123456";

/// The external user store: email → (id, password, name); counts calls per path.
#[derive(Default)]
struct Store {
    users: HashMap<String, (String, String, String)>,
    calls: Vec<String>,
}

async fn user_store(store: Arc<Mutex<Store>>) -> String {
    loopback_http::serve(move |request| {
        let authorized = request
            .header("authorization")
            .is_some_and(|v| v.eq_ignore_ascii_case(&format!("Bearer {STORE_TOKEN}")));
        let body = request.json();
        let mut s = store.lock().unwrap();
        s.calls.push(request.path.clone());
        let as_json = |(id, _, name): &(String, String, String), email: &str| {
            json!({"id": id, "email": email, "name": name})
        };
        let (status, answer) = match (authorized, request.method.as_str(), request.path.as_str()) {
            (false, _, _) => (403, json!({})),
            (true, "POST", "/login") => {
                let email = body["email"].as_str().unwrap_or_default();
                match s.users.get(email) {
                    Some(u) if u.1 == body["password"].as_str().unwrap_or_default() => {
                        (200, as_json(u, email))
                    }
                    _ => (401, json!({})),
                }
            }
            (true, "GET", "/users") => {
                let email = request.query_param("email").unwrap_or_default();
                match s.users.get(&email) {
                    Some(u) => (200, as_json(u, &email)),
                    None => (404, json!({})),
                }
            }
            (true, "POST", "/change-password") => {
                let email = body["email"].as_str().unwrap_or_default().to_owned();
                let password = body["password"].as_str().unwrap_or_default().to_owned();
                match s.users.get_mut(&email) {
                    Some(u) => {
                        u.1 = password;
                        (200, json!({}))
                    }
                    None => (404, json!({})),
                }
            }
            _ => (404, json!({})),
        };
        loopback_http::json(status, &answer)
    })
    .await
}

async fn realm_login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    let (id, secret) = app.app_client();
    app.token(
        json!({"grant_type": "http://auth0.com/oauth/grant-type/password-realm",
                     "client_id": id, "client_secret": secret, "username": email,
                     "password": password, "realm": "legacy-db", "scope": "openid"}),
    )
    .await
}

fn calls(store: &Arc<Mutex<Store>>, path: &str) -> usize {
    store
        .lock()
        .unwrap()
        .calls
        .iter()
        .filter(|c| *c == path)
        .count()
}

#[tokio::test]
async fn a_custom_database_logs_users_in_migrates_them_and_resets_through_its_scripts() {
    let store = Arc::new(Mutex::new(Store::default()));
    {
        let mut s = store.lock().unwrap();
        s.users.insert(
            "ada@example.com".into(),
            ("1001".into(), "Legacy-Password-1".into(), "Ada".into()),
        );
        s.users.insert(
            "bob@example.com".into(),
            ("1002".into(), "Legacy-Password-2".into(), "Bob".into()),
        );
    }
    let store_url = user_store(store.clone()).await;
    let sink = SmtpSink::start().await;
    let smtp = sink.url();
    let app = spawn_app_with(move |s| {
        s.actions.fetch_allowed_hosts = "127.0.0.1".into();
        s.mail.smtp_url = Some(smtp.into());
        s.mail.retry_base_secs = 1;
    })
    .await;
    let (client_id, _) = app.app_client();
    let (status, connection) = app
        .api(
            Method::POST,
            "/connections",
            Some(json!({
                "name": "legacy-db",
                "strategy": "auth0",
                "enabled_clients": [client_id],
                "options": {
                    "enabledDatabaseCustomization": true,
                    "import_mode": true,
                    "customScripts": {"login": LOGIN, "get_user": GET_USER, "change_password": CHANGE_PASSWORD},
                    "configuration": {"STORE_URL": store_url, "STORE_TOKEN": STORE_TOKEN},
                    "passwordPolicy": "fair",
                }
            })),
        )
        .await;
    assert_eq!(status, 201, "{connection}");
    // The configuration is sealed at rest and never shown in clear.
    assert!(
        !connection.to_string().contains(STORE_TOKEN),
        "{connection}"
    );
    let dump = crate::helpers::dump_tables(&app, &["connections"]).await;
    assert!(!dump.contains(STORE_TOKEN));

    // Login through the script; wrong passwords are refused by the store.
    let res = realm_login(&app, "ada@example.com", "Wrong-Password-9").await;
    assert_eq!(res.status(), 403);
    assert_eq!(calls(&store, "/login"), 1);
    let res = realm_login(&app, "ada@example.com", "Legacy-Password-1").await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert_eq!(calls(&store, "/login"), 2);
    let (_, users) = app
        .api(Method::GET, "/users-by-email?email=ada%40example.com", None)
        .await;
    assert_eq!(users[0]["user_id"], "auth0|1001", "{users}");
    assert_eq!(users[0]["identities"][0]["connection"], "legacy-db");
    assert_eq!(users[0]["name"], "Ada");

    // Lazy migration: the user now logs in here; the store is not asked again.
    let res = realm_login(&app, "ada@example.com", "Legacy-Password-1").await;
    assert_eq!(res.status(), 200);
    let res = realm_login(&app, "ada@example.com", "Wrong-Password-9").await;
    assert_eq!(res.status(), 403);
    assert_eq!(calls(&store, "/login"), 2);

    // A reset for a user not migrated yet: get_user finds them, the ticket works, and the
    // store hears the new password through change_password.
    let res = app
        .http
        .post(app.url("/dbconnections/change_password"))
        .json(
            &json!({"client_id": client_id, "email": "bob@example.com", "connection": "legacy-db"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mails = sink.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(calls(&store, "/users"), 1);
    let ticket = mails[0].ticket();
    let visit = open_page(&app, &ticket).await;
    assert_eq!(visit.status, 200, "{}", visit.html);
    let res = submit(
        &app,
        &visit,
        &ticket,
        "Reset-Password-3",
        "Reset-Password-3",
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(calls(&store, "/change-password"), 1);
    assert_eq!(
        store.lock().unwrap().users["bob@example.com"].1,
        "Reset-Password-3"
    );
    // Bob now logs in here with the new password, without the store.
    let before = calls(&store, "/login");
    let res = realm_login(&app, "bob@example.com", "Reset-Password-3").await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert_eq!(calls(&store, "/login"), before);

    // An unknown address asks the store and gets the same answer as anyone.
    let res = app
        .http
        .post(app.url("/dbconnections/change_password"))
        .json(&json!({"client_id": client_id, "email": "nobody@example.com", "connection": "legacy-db"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}
