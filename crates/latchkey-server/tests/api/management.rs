#![allow(clippy::unwrap_used)]

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn a_malformed_query_string_is_a_400_in_the_management_shape() {
    let app = spawn_app().await;
    for path in [
        "/users?page=1&page=2",
        "/clients?per_page=%FF",
        "/resource-servers/x?fields=a&fields=b",
    ] {
        let (status, body) = app.api(Method::GET, path, None).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["errorCode"], "invalid_query_string", "{path}: {body}");
        assert_eq!(body["statusCode"], 400);
    }
}

#[tokio::test]
async fn users_can_be_created_found_updated_and_deleted() {
    let app = spawn_app().await;
    let created = app
        .create_user("Found.Me@Example.com", "Correct-Horse-1")
        .await;
    let id = created["user_id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("auth0|") && id.len() == 30);
    assert_eq!(created["email"], "found.me@example.com");
    assert_eq!(created["identities"][0]["provider"], "auth0");
    assert_eq!(
        created["identities"][0]["user_id"],
        id.trim_start_matches("auth0|")
    );

    let (s, list) = app
        .api(
            Method::GET,
            "/users?q=email%3A%22found.me%40example.com%22&include_totals=true&page=0&per_page=50",
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(list["total"], 1);
    assert_eq!(list["users"][0]["user_id"], id);
    let (_, by_id_query) = app
        .api(
            Method::GET,
            &format!("/users?q=user_id%3A%22{}%22", encode_id(&id)),
            None,
        )
        .await;
    assert_eq!(by_id_query.as_array().unwrap().len(), 1);
    let (_, by_email) = app
        .api(
            Method::GET,
            "/users-by-email?email=found.me%40example.com",
            None,
        )
        .await;
    assert_eq!(by_email[0]["user_id"], id);

    let path = format!("/users/{}", encode_id(&id));
    let (s, updated) = app
        .api(Method::PATCH, &path, Some(json!({"user_metadata": {"color": "blue"}, "app_metadata": {"plan": "pro"}, "name": "Found Me"})))
        .await;
    assert_eq!(s, 200, "{updated}");
    assert_eq!(updated["name"], "Found Me");
    let (_, merged) = app
        .api(
            Method::PATCH,
            &path,
            Some(json!({"user_metadata": {"size": "L", "color": null}})),
        )
        .await;
    assert_eq!(merged["user_metadata"], json!({"size": "L"}));
    assert_eq!(merged["app_metadata"], json!({"plan": "pro"}));

    let (s, fields) = app
        .api(
            Method::GET,
            &format!("{path}?fields=email,user_id&include_fields=true"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(fields.as_object().unwrap().len(), 2);

    let (s, _) = app.api(Method::DELETE, &path, None).await;
    assert_eq!(s, 204);
    let (s, gone) = app.api(Method::GET, &path, None).await;
    assert_eq!(s, 404);
    assert_eq!(
        gone,
        json!({"statusCode": 404, "error": "Not Found", "message": "The user does not exist.", "errorCode": "inexistent_user"})
    );
}

#[tokio::test]
async fn setting_a_password_applies_the_policy_and_ends_every_refresh_token() {
    let app = spawn_app().await;
    let user = app
        .create_user("change@example.com", "Correct-Horse-1")
        .await;
    let path = format!("/users/{}", encode_id(user["user_id"].as_str().unwrap()));
    let before: Value = app
        .login(
            "change@example.com",
            "Correct-Horse-1",
            "openid offline_access",
        )
        .await
        .json()
        .await
        .unwrap();

    let (s, weak) = app
        .api(
            Method::PATCH,
            &path,
            Some(json!({"password": "weak", "connection": "Username-Password-Authentication"})),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(
        weak,
        json!({"statusCode": 400, "error": "Bad Request", "message": "PasswordStrengthError: Password is too weak"})
    );
    // A refused password changes nothing.
    assert_eq!(
        app.login("change@example.com", "Correct-Horse-1", "openid")
            .await
            .status(),
        200
    );

    let (s, changed) = app.api(Method::PATCH, &path, Some(json!({"password": "Battery-Staple-2", "connection": "Username-Password-Authentication"}))).await;
    assert_eq!(s, 200, "{changed}");
    assert!(changed["last_password_reset"].is_string());
    assert_eq!(
        app.login("change@example.com", "Correct-Horse-1", "openid")
            .await
            .status(),
        403
    );
    assert_eq!(
        app.login("change@example.com", "Battery-Staple-2", "openid")
            .await
            .status(),
        200
    );

    let (id, secret) = app.app_client();
    let old_refresh = app
        .token(json!({"grant_type": "refresh_token", "client_id": id, "client_secret": secret, "refresh_token": before["refresh_token"]}))
        .await;
    assert_eq!(old_refresh.status(), 403);

    let (s, both) = app
        .api(
            Method::PATCH,
            &path,
            Some(json!({"password": "Another-Pass-3", "email": "new@example.com"})),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(
        both["message"],
        "Cannot update password and email simultaneously."
    );

    // The change is in the tenant log with Auth0's code, and no secret is in it.
    let (_, logs) = app.api(Method::GET, &format!("{path}/logs"), None).await;
    let text = logs.to_string();
    assert!(
        logs.as_array().unwrap().iter().any(|l| l["type"] == "scp"),
        "{text}"
    );
    assert!(!text.contains("Battery-Staple-2") && !text.contains("$argon2"));
}

#[tokio::test]
async fn history_dictionary_and_username_policies_are_enforced() {
    let app = spawn_app().await;
    let (_, conns) = app
        .api(Method::GET, "/connections?strategy=auth0", None)
        .await;
    let conn_id = conns[0]["id"].as_str().unwrap().to_owned();
    let (s, c) = app
        .api(
            Method::PATCH,
            &format!("/connections/{conn_id}"),
            Some(json!({"options": {
            "passwordPolicy": "fair", "password_history": {"enable": true, "size": 3},
            "password_dictionary": {"enable": true, "dictionary": ["Latchkey2026"]},
            "password_no_personal_info": {"enable": true}}})),
        )
        .await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["options"]["password_history"]["size"], 3);
    let user = app.create_user("hist@example.com", "First-Pass-1").await;
    let path = format!("/users/{}", encode_id(user["user_id"].as_str().unwrap()));
    let set = |pw: &'static str| app.api(Method::PATCH, &path, Some(json!({"password": pw})));
    assert_eq!(set("Second-Pass-2").await.0, 200);
    let (s, reused) = set("First-Pass-1").await;
    assert_eq!(
        (s, reused["message"].as_str()),
        (
            400,
            Some("PasswordHistoryError: Password has previously been used")
        )
    );
    let (_, common) = set("Latchkey2026").await;
    assert_eq!(
        common["message"],
        "PasswordDictionaryError: Password is too common"
    );
    let (_, personal) = set("Hist-Example-9").await;
    assert_eq!(
        personal["message"],
        "PasswordNoUserInfoError: Password contains user information"
    );
}

#[tokio::test]
async fn the_management_api_requires_a_valid_token_with_the_right_scope() {
    let app = spawn_app().await;
    let (s, body) = app.api_with("not-a-jwt", Method::GET, "/users", None).await;
    assert_eq!(s, 401);
    assert_eq!(body["message"], "Invalid token");
    // A user's access token (audience userinfo) is not a Management API token.
    app.create_user("aud@example.com", "Correct-Horse-1").await;
    let user_tokens: Value = app
        .login("aud@example.com", "Correct-Horse-1", "openid")
        .await
        .json()
        .await
        .unwrap();
    let (s, body) = app
        .api_with(
            user_tokens["access_token"].as_str().unwrap(),
            Method::GET,
            "/users",
            None,
        )
        .await;
    assert_eq!(s, 401);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Bad audience")
    );

    // A client granted only read:users cannot delete.
    let (s, client) = app
        .api(
            Method::POST,
            "/clients",
            Some(json!({"name": "Reader", "app_type": "non_interactive"})),
        )
        .await;
    assert_eq!(s, 201);
    let (s, _) = app
        .api(Method::POST, "/client-grants", Some(json!({"client_id": client["client_id"], "audience": format!("{}api/v2/", app.issuer()), "scope": ["read:users"]})))
        .await;
    assert_eq!(s, 201);
    let res = app
        .token(json!({"grant_type": "client_credentials", "client_id": client["client_id"], "client_secret": client["client_secret"], "audience": format!("{}api/v2/", app.issuer())}))
        .await;
    let reader = res.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.api_with(&reader, Method::GET, "/users", None).await.0,
        200
    );
    let (s, denied) = app
        .api_with(&reader, Method::DELETE, "/users/auth0%7Cabc", None)
        .await;
    assert_eq!(s, 403);
    assert_eq!(denied["errorCode"], "insufficient_scope");
}

#[tokio::test]
async fn bad_management_input_is_a_clear_4xx() {
    let app = spawn_app().await;
    let token = app.mgmt_token().await;
    let post = |body: &'static str| {
        app.http
            .post(app.url("/api/v2/users"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    for body in [
        "{",
        "[]",
        r#"{"connection": "Username-Password-Authentication", "email": "x@y.z", "password": "Correct-Horse-1", "favourite": 1}"#,
        r#"{"connection": "Username-Password-Authentication", "email": "not-an-email", "password": "Correct-Horse-1"}"#,
        r#"{"connection": "Username-Password-Authentication", "email": 7}"#,
        r#"{"connection": "Nope", "email": "x@y.z", "password": "Correct-Horse-1"}"#,
    ] {
        let res = post(body).await.unwrap();
        assert_eq!(res.status(), 400, "{body}");
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["statusCode"], 400, "{v}");
    }
    let (s, _) = app.api(Method::GET, "/users?per_page=1000", None).await;
    assert_eq!(s, 400);
    let (s, nf) = app.api(Method::GET, "/no-such-route", None).await;
    assert_eq!((s, nf["message"].as_str()), (404, Some("Not Found")));
    app.create_user("dup@example.com", "Correct-Horse-1").await;
    let (s, dup) = app
        .api(Method::POST, "/users", Some(json!({"connection": "Username-Password-Authentication", "email": "DUP@example.com", "password": "Correct-Horse-1"})))
        .await;
    assert_eq!(s, 409);
    assert_eq!(dup["message"], "The user already exists.");
}

#[tokio::test]
async fn connections_clients_and_tenant_settings_round_trip() {
    let app = spawn_app().await;
    let (s, conn) = app
        .api(Method::POST, "/connections", Some(json!({"name": "partners", "strategy": "auth0", "options": {"passwordPolicy": "excellent"}})))
        .await;
    assert_eq!(s, 201, "{conn}");
    let (s, _) = app
        .api(
            Method::POST,
            "/connections",
            Some(json!({"name": "partners", "strategy": "auth0"})),
        )
        .await;
    assert_eq!(s, 409);
    let (_, paged) = app
        .api(Method::GET, "/connections?include_totals=true&take=1", None)
        .await;
    assert_eq!(paged["connections"].as_array().unwrap().len(), 1);
    assert!(paged["next"].is_string());
    let (s, _) = app
        .api(
            Method::DELETE,
            &format!("/connections/{}", conn["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(s, 202);

    let (_, client) = app
        .api(
            Method::POST,
            "/clients",
            Some(
                json!({"name": "SPA", "app_type": "spa", "callbacks": ["https://app.example/cb"]}),
            ),
        )
        .await;
    assert_eq!(client["token_endpoint_auth_method"], "none");
    let cid = client["client_id"].as_str().unwrap().to_owned();
    let (_, rotated) = app
        .api(Method::POST, &format!("/clients/{cid}/rotate-secret"), None)
        .await;
    assert_ne!(rotated["client_secret"], client["client_secret"]);
    let (s, bad) = app
        .api(
            Method::PATCH,
            &format!("/clients/{cid}"),
            Some(json!({"callbacks": ["not a url"]})),
        )
        .await;
    assert_eq!(s, 400, "{bad}");

    let (s, settings) = app
        .api(
            Method::PATCH,
            "/tenants/settings",
            Some(json!({"friendly_name": "Acme", "flags": {"change_pwd_flow_v1": true}})),
        )
        .await;
    assert_eq!(s, 200, "{settings}");
    assert_eq!(settings["friendly_name"], "Acme");
    assert_eq!(settings["flags"]["change_pwd_flow_v1"], true);
    assert_eq!(settings["flags"]["enable_client_connections"], true);
    let (s, _) = app
        .api(
            Method::PATCH,
            "/tenants/settings",
            Some(json!({"flags": {"change_pwd_flow_v1": "yes"}})),
        )
        .await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn state_survives_a_restart_and_bootstrap_runs_once() {
    let app = spawn_app().await;
    let user = app
        .create_user("persist@example.com", "Correct-Horse-1")
        .await;
    let kid_before: Value = app.get_json("/.well-known/jwks.json").await;
    let address = app.base.trim_start_matches("http://").to_owned();
    let (dir, db, bootstrap) = app.stop().await;
    let bootstrap_file = std::fs::read_to_string(dir.join("bootstrap.json")).unwrap();

    let again = start(dir.clone(), db, Some(address)).await;
    assert_eq!(again.bootstrap, bootstrap, "restart must not re-bootstrap");
    assert_eq!(
        std::fs::read_to_string(dir.join("bootstrap.json")).unwrap(),
        bootstrap_file
    );
    let kid_after: Value = again.get_json("/.well-known/jwks.json").await;
    assert_eq!(kid_before, kid_after);
    // Credentials from the first start still work, and so does the user.
    assert_eq!(
        again
            .login("persist@example.com", "Correct-Horse-1", "openid")
            .await
            .status(),
        200
    );
    let (s, _) = again
        .api(
            Method::GET,
            &format!("/users/{}", encode_id(user["user_id"].as_str().unwrap())),
            None,
        )
        .await;
    assert_eq!(s, 200);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("bootstrap.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[tokio::test]
async fn signing_keys_rotate_and_old_tokens_stay_valid() {
    let app = spawn_app().await;
    let old = app.mgmt_token().await;
    let (s, rotated) = app
        .api_with(&old, Method::POST, "/keys/signing/rotate", None)
        .await;
    assert_eq!(s, 200);
    let jwks: Value = app.get_json("/.well-known/jwks.json").await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    assert_eq!(app.api_with(&old, Method::GET, "/users", None).await.0, 200);
    let new = app.mgmt_token().await;
    assert_eq!(jwt_part(&new, 0)["kid"], rotated["kid"]);

    // Revoking the old key ends the tokens it signed; the current key cannot be revoked.
    let old_kid = jwt_part(&old, 0)["kid"].as_str().unwrap().to_owned();
    let (s, revoked) = app
        .api_with(
            &new,
            Method::PUT,
            &format!("/keys/signing/{old_kid}/revoke"),
            None,
        )
        .await;
    assert_eq!((s, &revoked["revoked"]), (200, &json!(true)));
    assert_eq!(app.api_with(&old, Method::GET, "/users", None).await.0, 401);
    let new_kid = rotated["kid"].as_str().unwrap();
    let (s, _) = app
        .api_with(
            &new,
            Method::PUT,
            &format!("/keys/signing/{new_kid}/revoke"),
            None,
        )
        .await;
    assert_eq!(s, 400);
    let jwks = app.get_json("/.well-known/jwks.json").await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
}
