#![allow(clippy::unwrap_used)]

use crate::helpers::*;
use serde_json::{Value, json};

#[tokio::test]
async fn discovery_and_jwks_describe_the_issuer_and_its_keys() {
    let app = spawn_app().await;
    let d: Value = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(d["issuer"], app.issuer());
    assert_eq!(d["token_endpoint"], format!("{}oauth/token", app.issuer()));
    let jwks: Value = app.get_json("/.well-known/jwks.json").await;
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert!(key["kid"].as_str().is_some_and(|k| !k.is_empty()));
}

#[tokio::test]
async fn client_credentials_tokens_verify_with_an_independent_jwt_library() {
    let app = spawn_app().await;
    let token = app.mgmt_token().await;
    let jwks: Value = app.get_json("/.well-known/jwks.json").await;
    let key = &jwks["keys"][0];
    let decoding = jsonwebtoken::DecodingKey::from_rsa_components(
        key["n"].as_str().unwrap(),
        key["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[format!("{}api/v2/", app.issuer())]);
    validation.set_issuer(&[app.issuer()]);
    let data = jsonwebtoken::decode::<Value>(&token, &decoding, &validation).unwrap();
    let (client_id, _) = app.mgmt_client();
    assert_eq!(data.claims["sub"], format!("{client_id}@clients"));
    assert_eq!(data.claims["gty"], "client-credentials");
    assert!(
        data.claims["scope"]
            .as_str()
            .unwrap()
            .split(' ')
            .any(|s| s == "update:users")
    );
    assert_eq!(data.header.kid.as_deref(), key["kid"].as_str());
}

#[tokio::test]
async fn form_bodies_basic_auth_and_json_nulls_are_accepted() {
    let app = spawn_app().await;
    let (id, secret) = app.mgmt_client();
    let audience = format!("{}api/v2/", app.issuer());
    let form = app
        .http
        .post(app.url("/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
            ("audience", &audience),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
    assert_eq!(form.headers()["cache-control"], "no-store");
    let basic = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("audience", &audience),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 200);
    // auth0-python sends `"organization": null`.
    let nulls = app
        .token(
            json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret,
                      "audience": audience, "organization": null, "scope": null}),
        )
        .await;
    assert_eq!(nulls.status(), 200);
}

#[tokio::test]
async fn bad_client_credentials_get_auth0s_errors() {
    let app = spawn_app().await;
    let (id, _) = app.mgmt_client();
    let wrong = app.token(json!({"grant_type": "client_credentials", "client_id": id, "client_secret": "nope", "audience": "x"})).await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(
        wrong.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
    let (app_id, app_secret) = app.app_client();
    let not_allowed = app.token(json!({"grant_type": "client_credentials", "client_id": app_id, "client_secret": app_secret, "audience": "x"})).await;
    assert_eq!(not_allowed.status(), 403);
    assert_eq!(
        not_allowed.json::<Value>().await.unwrap()["error"],
        "unauthorized_client"
    );
    let unknown_grant = app
        .token(json!({"grant_type": "magic", "client_id": id}))
        .await;
    assert_eq!(unknown_grant.status(), 400);
    assert_eq!(
        unknown_grant.json::<Value>().await.unwrap()["error"],
        "unsupported_grant_type"
    );
    let no_audience_grant = app.token(json!({"grant_type": "client_credentials", "client_id": id, "client_secret": app.mgmt_client().1, "audience": "https://other.example/"})).await;
    assert_eq!(no_audience_grant.status(), 403);
    assert_eq!(
        no_audience_grant.json::<Value>().await.unwrap()["error"],
        "access_denied"
    );
}

#[tokio::test]
async fn malformed_token_requests_are_4xx_in_the_oauth_dialect() {
    let app = spawn_app().await;
    for (ct, body) in [
        ("application/json", "{not json"),
        ("application/json", "[1,2]"),
        ("text/plain", "grant_type=password"),
        ("application/json", r#"{"grant_type": 5, "client_id": {}}"#),
    ] {
        let res = app
            .http
            .post(app.url("/oauth/token"))
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_client_error(), "{body} → {}", res.status());
        let v: Value = res.json().await.unwrap();
        assert!(v["error"].is_string(), "{v}");
    }
    let huge = "a".repeat(2 * 1024 * 1024);
    let res = app
        .http
        .post(app.url("/oauth/token"))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
}

#[tokio::test]
async fn password_grant_issues_tokens_and_refuses_wrong_passwords_alike() {
    let app = spawn_app().await;
    let user = app
        .create_user("Jane.Doe@Example.com", "Correct-Horse-1")
        .await;
    let ok = app
        .login(
            "jane.doe@example.com",
            "Correct-Horse-1",
            "openid profile email offline_access",
        )
        .await;
    assert_eq!(ok.status(), 200);
    let tokens: Value = ok.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    let id_claims = jwt_part(tokens["id_token"].as_str().unwrap(), 1);
    assert_eq!(id_claims["sub"], user["user_id"]);
    assert_eq!(id_claims["aud"], app.app_client().0);
    assert_eq!(id_claims["email"], "jane.doe@example.com");
    assert!(tokens["refresh_token"].is_string());

    let wrong_password = app.login("jane.doe@example.com", "wrong", "openid").await;
    let unknown_user = app.login("nobody@example.com", "wrong", "openid").await;
    assert_eq!(wrong_password.status(), 403);
    assert_eq!(unknown_user.status(), 403);
    let a: Value = wrong_password.json().await.unwrap();
    let b: Value = unknown_user.json().await.unwrap();
    assert_eq!(
        a,
        json!({"error": "invalid_grant", "error_description": "Wrong email or password."})
    );
    assert_eq!(a, b, "unknown and known emails get the same answer");

    let (_, user_json) = app
        .api(
            reqwest::Method::GET,
            &format!("/users/{}", encode_id(user["user_id"].as_str().unwrap())),
            None,
        )
        .await;
    assert_eq!(user_json["logins_count"], 1);
    assert!(user_json["last_login"].is_string());
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_replayed_one_kills_the_family() {
    let app = spawn_app().await;
    app.create_user("rt@example.com", "Correct-Horse-1").await;
    let first: Value = app
        .login("rt@example.com", "Correct-Horse-1", "openid offline_access")
        .await
        .json()
        .await
        .unwrap();
    let rt1 = first["refresh_token"].as_str().unwrap().to_owned();
    let (id, secret) = app.app_client();
    let refresh = |rt: String| {
        let body = json!({"grant_type": "refresh_token", "client_id": id, "client_secret": secret, "refresh_token": rt, "scope": ""});
        app.token(body)
    };
    let second = refresh(rt1.clone()).await;
    assert_eq!(second.status(), 200);
    let rt2 = second.json::<Value>().await.unwrap()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(rt1, rt2);
    // Replaying the rotated token is refused and revokes its successor too.
    let replay = refresh(rt1).await;
    assert_eq!(replay.status(), 403);
    assert_eq!(
        replay.json::<Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    assert_eq!(refresh(rt2).await.status(), 403);
}

#[tokio::test]
async fn bcrypt_hashes_from_an_auth0_export_verify_and_are_upgraded() {
    let app = spawn_app().await;
    let user = app
        .create_user("legacy@example.com", "Placeholder-Pass1")
        .await;
    let id = user["user_id"].as_str().unwrap().to_owned();
    // Simulate an import by writing a bcrypt hash straight into the store.
    let url = app.store_url();
    let store = latchkey_store_sql::connect(&url).await.unwrap();
    let hash = bcrypt::hash("Imported-Pass1", 4).unwrap();
    sqlx::query("UPDATE users SET password_hash = $1 WHERE user_id = $2")
        .bind(hash)
        .bind(id.clone())
        .execute(latchkey_store_sql::writer_pool(&store))
        .await
        .unwrap();
    store.close().await;
    assert_eq!(
        app.login("legacy@example.com", "Imported-Pass1", "openid")
            .await
            .status(),
        200
    );
    let url2 = app.store_url();
    let store = latchkey_store_sql::connect(&url2).await.unwrap();
    let stored: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE user_id = $1")
        .bind(id)
        .fetch_one(latchkey_store_sql::writer_pool(&store))
        .await
        .unwrap();
    assert!(
        stored.starts_with("$argon2id$"),
        "re-hashed on login: {stored}"
    );
    assert_eq!(
        app.login("legacy@example.com", "Imported-Pass1", "openid")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn configuration_changes_take_effect_at_once_despite_the_cache() {
    let app = spawn_app().await;
    app.create_user("cache@example.com", "Correct-Horse-1")
        .await;
    // Warm the cache: a login reads the client, the connection and the tenant settings.
    assert_eq!(
        app.login("cache@example.com", "Correct-Horse-1", "openid")
            .await
            .status(),
        200
    );
    let (id, secret) = app.mgmt_client();
    // One Management API token for the whole test: its client's secret is rotated below.
    let token = app.mgmt_token().await;
    let audience = format!("{}api/v2/", app.issuer());
    let cc = |secret: String| {
        app.token(json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret, "audience": audience}))
    };
    assert_eq!(cc(secret.clone()).await.status(), 200);

    // A rotated secret: the old one fails on the very next request.
    let (s, rotated) = app
        .api_with(
            &token,
            reqwest::Method::POST,
            &format!("/clients/{id}/rotate-secret"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(cc(secret).await.status(), 401);
    assert_eq!(
        cc(rotated["client_secret"].as_str().unwrap().to_owned())
            .await
            .status(),
        200
    );

    // A connection disabled for the app refuses its logins at once.
    let (_, conns) = app
        .api_with(
            &token,
            reqwest::Method::GET,
            "/connections?name=Username-Password-Authentication",
            None,
        )
        .await;
    let conn_id = conns[0]["id"].as_str().unwrap().to_owned();
    let (s, _) = app
        .api_with(
            &token,
            reqwest::Method::PATCH,
            &format!("/connections/{conn_id}"),
            Some(json!({"enabled_clients": [id]})),
        )
        .await;
    assert_eq!(s, 200);
    let refused = app
        .login("cache@example.com", "Correct-Horse-1", "openid")
        .await;
    assert_eq!(refused.status(), 400);
    assert_eq!(
        refused.json::<Value>().await.unwrap()["error_description"],
        "the connection was disabled"
    );

    // Tenant settings too: a default audience set now applies to the next request.
    let (s, _) = app
        .api_with(
            &token,
            reqwest::Method::PATCH,
            "/tenants/settings",
            Some(json!({"default_audience": audience})),
        )
        .await;
    assert_eq!(s, 200);
    let secret_now = rotated["client_secret"].as_str().unwrap();
    let no_audience = app.token(json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret_now})).await;
    assert_eq!(no_audience.status(), 200);
}
