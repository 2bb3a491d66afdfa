#![allow(clippy::unwrap_used)]

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};

async fn signup(app: &TestApp, body: Value) -> (u16, Value) {
    let res = app
        .http
        .post(app.url("/dbconnections/signup"))
        .json(&body)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

fn body(app: &TestApp, email: &str, password: &str) -> Value {
    json!({"client_id": app.app_client().0, "email": email, "password": password,
           "connection": "Username-Password-Authentication"})
}

#[tokio::test]
async fn a_user_signs_up_then_logs_in() {
    let app = spawn_app().await;
    let mut b = body(&app, "New.User@Example.com", "Correct-Horse-1");
    b["given_name"] = json!("New");
    b["user_metadata"] = json!({"plan": "free"});
    b["captcha"] = json!("ignored-by-the-server");
    let (s, user) = signup(&app, b).await;
    assert_eq!(s, 200, "{user}");
    assert_eq!(user["email"], "new.user@example.com");
    assert_eq!(user["email_verified"], false);
    assert_eq!(user["given_name"], "New");
    let bare = user["_id"].as_str().unwrap();
    assert_eq!(bare.len(), 24, "the bare id, without auth0|");
    assert_eq!(
        app.login("new.user@example.com", "Correct-Horse-1", "openid")
            .await
            .status(),
        200
    );
    let (_, logs) = app
        .api(Method::GET, &format!("/users/auth0%7C{bare}/logs"), None)
        .await;
    assert!(
        logs.as_array().unwrap().iter().any(|l| l["type"] == "ss"),
        "{logs}"
    );
}

#[tokio::test]
async fn form_bodies_are_accepted_too() {
    let app = spawn_app().await;
    let res = app
        .http
        .post(app.url("/dbconnections/signup"))
        .form(&[
            ("client_id", app.app_client().0.as_str()),
            ("email", "form@example.com"),
            ("password", "Correct-Horse-1"),
            ("connection", "Username-Password-Authentication"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn an_existing_email_is_not_revealed_unless_the_tenant_asks() {
    let app = spawn_app().await;
    app.create_user("taken@example.com", "Correct-Horse-1")
        .await;
    let (s, e) = signup(&app, body(&app, "TAKEN@example.com", "Other-Horse-2")).await;
    assert_eq!(s, 400);
    assert_eq!(
        e,
        json!({"name": "BadRequestError", "code": "invalid_signup", "description": "Invalid sign up", "statusCode": 400})
    );
    let (s, _) = app
        .api(
            Method::PATCH,
            "/tenants/settings",
            Some(json!({"flags": {"enable_public_signup_user_exists_error": true}})),
        )
        .await;
    assert_eq!(s, 200);
    let (_, e) = signup(&app, body(&app, "taken@example.com", "Other-Horse-2")).await;
    assert_eq!(e["code"], "user_exists");
    assert_eq!(e["description"], "The user already exists.");
}

#[tokio::test]
async fn weak_passwords_get_auth0s_policy_error() {
    let app = spawn_app().await;
    let (s, e) = signup(&app, body(&app, "weak@example.com", "short")).await;
    assert_eq!(s, 400);
    assert_eq!(e["name"], "PasswordStrengthError");
    assert_eq!(e["code"], "invalid_password");
    assert_eq!(e["message"], "Password is too weak");
    assert_eq!(e["statusCode"], 400);
    assert_eq!(e["description"]["rules"][0]["code"], "lengthAtLeast");
    assert_eq!(e["description"]["rules"][0]["verified"], false);
    assert!(
        e["policy"]
            .as_str()
            .unwrap()
            .starts_with("* At least 8 characters in length")
    );
}

#[tokio::test]
async fn sign_up_refusals_are_clear_400s() {
    let app = spawn_app().await;
    let (_, conns) = app
        .api(
            Method::GET,
            "/connections?name=Username-Password-Authentication",
            None,
        )
        .await;
    let conn_id = conns[0]["id"].as_str().unwrap().to_owned();

    let mut no_client = body(&app, "a@example.com", "Correct-Horse-1");
    no_client.as_object_mut().unwrap().remove("client_id");
    let (s, e) = signup(&app, no_client).await;
    assert_eq!(
        (s, e["description"].as_str()),
        (400, Some("Missing required parameter: client_id"))
    );

    let mut unknown = body(&app, "a@example.com", "Correct-Horse-1");
    unknown["connection"] = json!("nope");
    assert_eq!(signup(&app, unknown).await.1["code"], "invalid_connection");

    let mut meta = body(&app, "a@example.com", "Correct-Horse-1");
    meta["user_metadata"] = json!({"a": 1});
    assert_eq!(signup(&app, meta).await.1["code"], "invalid_signup");

    let (s, bad) = signup(&app, body(&app, "not-an-email", "Correct-Horse-1")).await;
    assert_eq!((s, bad["code"].as_str()), (400, Some("invalid_body")));

    let (s, _) = app
        .api(
            Method::PATCH,
            &format!("/connections/{conn_id}"),
            Some(json!({"options": {"passwordPolicy": "good", "disable_signup": true}})),
        )
        .await;
    assert_eq!(s, 200);
    let (s, e) = signup(&app, body(&app, "b@example.com", "Correct-Horse-1")).await;
    assert_eq!(
        (s, e["code"].as_str()),
        (400, Some("operation_not_allowed"))
    );
}
