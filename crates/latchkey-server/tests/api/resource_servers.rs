//! Resource servers (`/api/v2/resource-servers`) over real HTTP: Auth0's shape, the Management
//! API as the system one, refusals of what Latchkey cannot sign, and what an API means for
//! tokens: an unknown audience is refused everywhere, an API's scopes bound what a token
//! carries, its `token_lifetime` sets the expiry, and `allow_offline_access` gates refresh
//! tokens.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::{TestApp, jwt_part, spawn_app};
use crate::login::{Browser, authorize_url};
use reqwest::Method;
use serde_json::{Value, json};

const ORDERS: &str = "https://orders.example.test/";

async fn create_orders_api(app: &TestApp) -> Value {
    let (status, rs) = app
        .api(
            Method::POST,
            "/resource-servers",
            Some(
                json!({"name": "Orders", "identifier": ORDERS, "token_lifetime": 600,
                        "scopes": [{"value": "read:orders", "description": "Read orders"}]}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{rs}");
    rs
}

#[tokio::test]
async fn resource_servers_are_managed_in_auth0s_shape() {
    let app = spawn_app().await;
    let (status, list) = app.api(Method::GET, "/resource-servers", None).await;
    assert_eq!(status, 200, "{list}");
    let management = &list[0];
    assert_eq!(management["name"], "Auth0 Management API");
    assert_eq!(management["is_system"], true);
    assert_eq!(management["identifier"], format!("{}api/v2/", app.issuer()));
    assert!(
        management["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["value"] == "read:resource_servers"),
        "{management}"
    );

    let rs = create_orders_api(&app).await;
    let id = rs["id"].as_str().unwrap();
    assert_eq!(
        rs,
        json!({"id": id, "name": "Orders", "identifier": ORDERS, "is_system": false,
               "scopes": [{"value": "read:orders", "description": "Read orders"}],
               "signing_alg": "RS256", "allow_offline_access": false,
               "skip_consent_for_verifiable_first_party_clients": false,
               "token_lifetime": 600, "token_lifetime_for_web": 7200,
               "enforce_policies": false, "token_dialect": "access_token"})
    );
    // The console lists the APIs, read-only, under Applications.
    let mut console = crate::admin::signed_in_admin(&app).await;
    let (status, page, _) = console.get(&app.url("/admin/applications")).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("<td>Orders</td><td><code>https://orders.example.test/</code></td>"),
        "{page}"
    );
    assert!(
        page.contains("Auth0 Management API <span class=\"badge\">System</span>"),
        "{page}"
    );
    // By id and by identifier, as Auth0 accepts both.
    let (_, by_id) = app
        .api(Method::GET, &format!("/resource-servers/{id}"), None)
        .await;
    assert_eq!(by_id, rs);
    let encoded: String = url::form_urlencoded::byte_serialize(ORDERS.as_bytes()).collect();
    let (_, by_identifier) = app
        .api(Method::GET, &format!("/resource-servers/{encoded}"), None)
        .await;
    assert_eq!(by_identifier, rs);
    let (_, paged) = app
        .api(Method::GET, "/resource-servers?include_totals=true", None)
        .await;
    assert_eq!(paged["total"], 2, "{paged}");
    assert_eq!(paged["resource_servers"][1], rs);

    let (status, patched) = app
        .api(
            Method::PATCH,
            &format!("/resource-servers/{id}"),
            Some(json!({"token_lifetime": 900, "allow_offline_access": true})),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["token_lifetime"], 900);
    assert_eq!(patched["allow_offline_access"], true);
    assert_eq!(patched["scopes"], rs["scopes"]);

    // Refused with a clear 400 naming what Latchkey cannot do; nothing changes.
    for (body, named) in [
        (
            json!({"identifier": "https://hs.example/", "signing_alg": "HS256"}),
            "HS256",
        ),
        (
            json!({"identifier": "https://ps.example/", "signing_alg": "PS256"}),
            "PS256",
        ),
        (
            json!({"identifier": "https://rbac.example/", "enforce_policies": true}),
            "RBAC",
        ),
        (
            json!({"identifier": "https://d.example/", "token_dialect": "rfc9068_profile"}),
            "rfc9068_profile",
        ),
    ] {
        let (status, err) = app
            .api(Method::POST, "/resource-servers", Some(body.clone()))
            .await;
        assert_eq!(status, 400, "{body}: {err}");
        assert_eq!(err["errorCode"], "operation_not_supported", "{err}");
        assert!(err["message"].as_str().unwrap().contains(named), "{err}");
    }
    for bad in [
        json!({"name": "no identifier"}),
        json!({"identifier": "has space"}),
        json!({"identifier": "https://x.example/", "token_lifetime": 0}),
        json!({"identifier": "https://x.example/", "scopes": [{"value": "a b"}]}),
        json!({"identifier": "https://x.example/", "unknown": 1}),
    ] {
        let (status, err) = app
            .api(Method::POST, "/resource-servers", Some(bad.clone()))
            .await;
        assert_eq!(status, 400, "{bad}: {err}");
    }
    for taken in [ORDERS.to_owned(), format!("{}api/v2/", app.issuer())] {
        let (status, err) = app
            .api(
                Method::POST,
                "/resource-servers",
                Some(json!({"identifier": taken})),
            )
            .await;
        assert_eq!(status, 409, "{err}");
    }
    let mgmt_id = management["id"].as_str().unwrap();
    let (status, err) = app
        .api(
            Method::PATCH,
            &format!("/resource-servers/{id}"),
            Some(json!({"identifier": "https://moved.example/"})),
        )
        .await;
    assert_eq!(status, 400, "{err}");
    let (status, err) = app
        .api(
            Method::PATCH,
            &format!("/resource-servers/{mgmt_id}"),
            Some(json!({"token_lifetime": 60})),
        )
        .await;
    assert_eq!(status, 400, "{err}");
    let (status, _) = app
        .api(
            Method::DELETE,
            &format!("/resource-servers/{mgmt_id}"),
            None,
        )
        .await;
    assert_eq!(status, 400);

    let (status, _) = app
        .api(Method::DELETE, &format!("/resource-servers/{id}"), None)
        .await;
    assert_eq!(status, 204);
    let (status, err) = app
        .api(Method::GET, &format!("/resource-servers/{id}"), None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(err["errorCode"], "inexistent_resource_server");
}

#[tokio::test]
async fn an_audience_must_name_an_api_whose_settings_shape_the_tokens() {
    let app = spawn_app().await;
    // A client grant for an unknown API is refused, as Auth0 does.
    let (status, client) = app
        .api(
            Method::POST,
            "/clients",
            Some(
                json!({"name": "Orders worker", "app_type": "non_interactive",
                        "grant_types": ["client_credentials"]}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{client}");
    let grant = json!({"client_id": client["client_id"], "audience": ORDERS,
                       "scope": ["read:orders", "write:orders"]});
    let (status, err) = app
        .api(Method::POST, "/client-grants", Some(grant.clone()))
        .await;
    assert_eq!(status, 404, "{err}");
    assert_eq!(err["errorCode"], "inexistent_resource_server");

    let rs = create_orders_api(&app).await;
    let (status, body) = app.api(Method::POST, "/client-grants", Some(grant)).await;
    assert_eq!(status, 201, "{body}");
    let grant_id = body["id"].as_str().unwrap().to_owned();
    // A machine token that asks for no scope: the response's scope is the token's.
    let request_machine_token = || {
        app.token(
            json!({"grant_type": "client_credentials", "client_id": client["client_id"],
                      "client_secret": client["client_secret"], "audience": ORDERS}),
        )
    };
    let machine_token = || async {
        let res = request_machine_token().await;
        assert_eq!(res.status(), 200);
        let token: Value = res.json().await.unwrap();
        assert_eq!(
            token["scope"],
            jwt_part(token["access_token"].as_str().unwrap(), 1)["scope"]
        );
        token
    };
    // The API defines read:orders only: the token carries what both allow, for 600 s.
    let token = machine_token().await;
    let claims = jwt_part(token["access_token"].as_str().unwrap(), 1);
    assert_eq!(claims["scope"], "read:orders");
    assert_eq!(claims["aud"], ORDERS);
    assert_eq!(token["expires_in"], 600);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        600
    );

    // Users: an unknown audience is Auth0's access_denied on the token endpoint and on
    // /authorize.
    app.create_user("aud@example.com", "Correct-Horse-1").await;
    let (app_id, app_secret) = app.app_client();
    let password_grant = |audience: &str, scope: &str| {
        app.token(
            json!({"grant_type": "http://auth0.com/oauth/grant-type/password-realm",
                         "client_id": app_id, "client_secret": app_secret,
                         "username": "aud@example.com", "password": "Correct-Horse-1",
                         "realm": "Username-Password-Authentication",
                         "audience": audience, "scope": scope}),
        )
    };
    let res = password_grant("https://unknown.example/", "openid").await;
    assert_eq!(res.status(), 403);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["error"], "access_denied");
    assert_eq!(
        err["error_description"],
        "Service not found: https://unknown.example/"
    );
    let mut browser = Browser::new();
    let (status, _, location) = browser
        .get(&authorize_url(
            &app,
            "&audience=https%3A%2F%2Funknown.example%2F",
        ))
        .await;
    assert!(matches!(status, 302 | 303), "{status}");
    let location = location.unwrap();
    assert!(location.contains("error=access_denied"), "{location}");

    // The API's scopes are granted when asked for; offline access only when it allows it.
    let res = password_grant(ORDERS, "openid read:orders write:orders offline_access").await;
    assert_eq!(res.status(), 200);
    let token: Value = res.json().await.unwrap();
    let claims = jwt_part(token["access_token"].as_str().unwrap(), 1);
    assert_eq!(claims["scope"], "openid read:orders");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        600
    );
    assert!(token.get("refresh_token").is_none(), "{token}");
    let (status, _) = app
        .api(
            Method::PATCH,
            &format!("/resource-servers/{}", rs["id"].as_str().unwrap()),
            Some(json!({"allow_offline_access": true})),
        )
        .await;
    assert_eq!(status, 200);
    let res = password_grant(ORDERS, "openid read:orders offline_access").await;
    assert_eq!(res.status(), 200);
    let token: Value = res.json().await.unwrap();
    assert!(token["refresh_token"].is_string(), "{token}");
    let refreshed = app
        .token(json!({"grant_type": "refresh_token", "client_id": app_id,
                      "client_secret": app_secret, "refresh_token": token["refresh_token"]}))
        .await;
    assert_eq!(refreshed.status(), 200);
    let refreshed: Value = refreshed.json().await.unwrap();
    let claims = jwt_part(refreshed["access_token"].as_str().unwrap(), 1);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        600
    );
    // The next machine token sees a change to the API at once (its settings are cached on
    // the token path, and a change forgets them).
    let (status, _) = app
        .api(
            Method::PATCH,
            &format!("/resource-servers/{}", rs["id"].as_str().unwrap()),
            Some(json!({"token_lifetime": 900, "scopes": [
                {"value": "read:orders"}, {"value": "write:orders"}]})),
        )
        .await;
    assert_eq!(status, 200);
    let res = app
        .token(
            json!({"grant_type": "client_credentials", "client_id": client["client_id"],
                      "client_secret": client["client_secret"], "audience": ORDERS,
                      "scope": "write:orders read:orders write:orders delete:orders"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let token: Value = res.json().await.unwrap();
    let claims = jwt_part(token["access_token"].as_str().unwrap(), 1);
    assert_eq!(claims["scope"], "write:orders read:orders");
    assert_eq!(token["expires_in"], 900);
    // A token that asks for no scope carries the grant's, as the API now bounds it: the
    // scope kept from the first token is not served for the changed API, nor for a changed
    // grant.
    assert_eq!(machine_token().await["scope"], "read:orders write:orders");
    let (status, body) = app
        .api(
            Method::PATCH,
            &format!("/client-grants/{grant_id}"),
            Some(json!({"scope": ["write:orders"]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(machine_token().await["scope"], "write:orders");
    // Deleting the API deletes its client grants: no more tokens for it.
    let (status, _) = app
        .api(
            Method::DELETE,
            &format!("/resource-servers/{}", rs["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (_, grants) = app.api(Method::GET, "/client-grants", None).await;
    assert!(
        !grants
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["audience"] == ORDERS),
        "{grants}"
    );
    let res = request_machine_token().await;
    assert_eq!(res.status(), 403);
    // Nor through a refresh token issued while it existed.
    let live = refreshed
        .get("refresh_token")
        .and_then(Value::as_str)
        .unwrap_or_else(|| token["refresh_token"].as_str().unwrap());
    let res = app
        .token(json!({"grant_type": "refresh_token", "client_id": app_id,
                      "client_secret": app_secret, "refresh_token": live}))
        .await;
    assert_eq!(res.status(), 403, "{}", res.text().await.unwrap());
    // The Management API never lends its scopes to a user's token.
    let res = password_grant(&format!("{}api/v2/", app.issuer()), "openid read:users").await;
    assert_eq!(res.status(), 200);
    let token: Value = res.json().await.unwrap();
    let claims = jwt_part(token["access_token"].as_str().unwrap(), 1);
    assert_eq!(claims["scope"], "openid");
}
