#![allow(clippy::unwrap_used)]

use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

async fn preflight(app: &TestApp, path: &str, origin: &str) -> reqwest::Response {
    app.http
        .request(Method::OPTIONS, app.url(path))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "content-type,auth0-client",
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn browsers_on_a_clients_origin_may_call_the_authentication_api() {
    let app = spawn_app().await;
    // The Default App allows http://localhost:3000 (bootstrap).
    let ok = preflight(&app, "/dbconnections/signup", "http://localhost:3000").await;
    assert_eq!(ok.status(), 204);
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    assert!(
        ok.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("Auth0-Client")
    );

    let evil = preflight(&app, "/oauth/token", "https://evil.example").await;
    assert_eq!(evil.status(), 403);
    assert!(evil.headers().get("access-control-allow-origin").is_none());

    let (id, secret) = app.app_client();
    let post = |origin: &'static str| {
        app.http
            .post(app.url("/oauth/token"))
            .header("Origin", origin)
            .json(
                &json!({"grant_type": "password", "client_id": id, "client_secret": secret,
                          "username": "nobody@example.com", "password": "x"}),
            )
            .send()
    };
    let allowed = post("http://localhost:3000").await.unwrap();
    assert_eq!(
        allowed.status(),
        403,
        "the answer itself is unchanged (wrong password)"
    );
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    assert!(
        post("https://evil.example")
            .await
            .unwrap()
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn a_new_wildcard_origin_works_at_once_and_metadata_is_public() {
    let app = spawn_app().await;
    assert_eq!(
        preflight(&app, "/oauth/token", "https://shop.example.com")
            .await
            .status(),
        403
    );
    let (id, _) = app.app_client();
    let (s, _) = app
        .api(
            Method::PATCH,
            &format!("/clients/{id}"),
            Some(json!({"web_origins": ["https://*.example.com"]})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        preflight(&app, "/oauth/token", "https://shop.example.com")
            .await
            .status(),
        204
    );
    assert_eq!(
        preflight(&app, "/oauth/token", "https://example.com")
            .await
            .status(),
        403
    );

    let jwks = app
        .http
        .get(app.url("/.well-known/jwks.json"))
        .header("Origin", "https://anyone.example")
        .send()
        .await
        .unwrap();
    assert_eq!(jwks.headers()["access-control-allow-origin"], "*");
}
