//! Exact bytes on the wire for the main error and success shapes of each dialect: status, the
//! headers clients read (content-type, cache-control, www-authenticate) and the whole JSON body.
//! Volatile values (ids, dates, tokens) are replaced by placeholders before comparing. These pin
//! the behaviour that refactorings of the error plumbing must keep.

#![allow(clippy::unwrap_used, clippy::panic)]

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};

const CONNECTION: &str = "Username-Password-Authentication";

/// Status, the headers that matter and the parsed body (or the text, if not JSON).
async fn snapshot(res: reqwest::Response) -> Value {
    let status = res.status().as_u16();
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map_or(Value::Null, |v| Value::String(v.to_owned()))
    };
    let headers = json!({
        "content-type": header("content-type"),
        "cache-control": header("cache-control"),
        "www-authenticate": header("www-authenticate"),
    });
    let text = res.text().await.unwrap();
    let body = match serde_json::from_str::<Value>(&text) {
        Ok(v) => {
            // Byte-exact: compact, keys in the order serde_json writes them.
            assert_eq!(serde_json::to_string(&v).unwrap(), text, "body bytes");
            v
        }
        Err(_) => Value::String(text),
    };
    json!({"status": status, "headers": headers, "body": body})
}

fn assert_snapshot(name: &str, actual: &Value, expected: Value) {
    assert_eq!(
        *actual,
        expected,
        "wire snapshot {name} changed:\n{}",
        serde_json::to_string_pretty(actual).unwrap()
    );
}

/// Replaces the values of `keys` (anywhere in the tree) with `"<key>"`.
fn normalise(mut v: Value, keys: &[&str]) -> Value {
    fn walk(v: &mut Value, keys: &[&str]) {
        match v {
            Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if keys.contains(&k.as_str()) && !x.is_null() {
                        *x = Value::String(format!("<{k}>"));
                    } else {
                        walk(x, keys);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| walk(x, keys)),
            _ => {}
        }
    }
    walk(&mut v, keys);
    v
}

async fn api_request(
    app: &TestApp,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<&str>,
) -> Value {
    let mut req = app.http.request(method, app.url(&format!("/api/v2{path}")));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_owned());
    }
    snapshot(req.send().await.unwrap()).await
}

const JSON: &str = "application/json";
const BASIC: &str = "Basic realm=\"latchkey\"";

fn mgmt(status: u16, body: Value) -> Value {
    json!({"status": status, "headers": {"content-type": JSON, "cache-control": null,
           "www-authenticate": null}, "body": body})
}

#[tokio::test]
async fn wire_snapshots_management_api() {
    let app = spawn_app().await;
    let token = app.mgmt_token().await;

    // 201: a created user (volatile fields normalised).
    let created = api_request(
        &app,
        Some(&token),
        Method::POST,
        "/users",
        Some(r#"{"connection": "Username-Password-Authentication", "email": "Snap@Example.com", "password": "Correct-Horse-1", "user_metadata": {"plan": "free"}}"#),
    )
    .await;
    let created = normalise(
        created,
        &[
            "user_id",
            "created_at",
            "updated_at",
            "password_set_date",
            "last_password_reset",
            "picture",
        ],
    );
    assert_snapshot(
        "user created",
        &created,
        mgmt(
            201,
            json!({"app_metadata": {}, "blocked": false, "created_at": "<created_at>", "email": "snap@example.com", "email_verified": false, "identities": [{"connection": "Username-Password-Authentication", "isSocial": false, "provider": "auth0", "user_id": "<user_id>"}], "logins_count": 0, "name": "snap@example.com", "nickname": "snap", "picture": "<picture>", "updated_at": "<updated_at>", "user_id": "<user_id>", "user_metadata": {"plan": "free"}}),
        ),
    );

    // 400 invalid_body.
    let bad = api_request(
        &app,
        Some(&token),
        Method::POST,
        "/users",
        Some(r#"{"connection": 7}"#),
    )
    .await;
    assert_snapshot(
        "invalid_body",
        &bad,
        mgmt(
            400,
            json!({"error": "Bad Request", "errorCode": "invalid_body", "message": "Payload validation error: 'invalid type: integer `7`, expected a string at line 1 column 16'.", "statusCode": 400}),
        ),
    );
    let empty = api_request(&app, Some(&token), Method::POST, "/users", Some("")).await;
    assert_snapshot(
        "empty body",
        &empty,
        mgmt(
            400,
            json!({"error": "Bad Request", "errorCode": "invalid_body", "message": "Payload validation error: 'Request body is empty'.", "statusCode": 400}),
        ),
    );
    let bad_query = api_request(
        &app,
        Some(&token),
        Method::GET,
        "/users?per_page=1000",
        None,
    )
    .await;
    assert_snapshot(
        "invalid_query_string",
        &bad_query,
        mgmt(
            400,
            json!({"error": "Bad Request", "errorCode": "invalid_query_string", "message": "Query validation error: 'per_page must be an integer between 1 and 100'.", "statusCode": 400}),
        ),
    );
    let no_connection = api_request(
        &app,
        Some(&token),
        Method::POST,
        "/users",
        Some(r#"{"connection": "Nope", "email": "x@y.z", "password": "Correct-Horse-1"}"#),
    )
    .await;
    assert_snapshot(
        "unknown connection",
        &no_connection,
        mgmt(
            400,
            json!({"error": "Bad Request", "errorCode": "inexistent_connection", "message": "The connection does not exist.", "statusCode": 400}),
        ),
    );

    // 404 inexistent_user, from the service and from a malformed id; unknown route.
    let missing = api_request(
        &app,
        Some(&token),
        Method::GET,
        "/users/auth0%7C000000000000000000000000",
        None,
    )
    .await;
    assert_snapshot(
        "inexistent_user",
        &missing,
        mgmt(
            404,
            json!({"error": "Not Found", "errorCode": "inexistent_user", "message": "The user does not exist.", "statusCode": 404}),
        ),
    );
    let malformed = api_request(&app, Some(&token), Method::GET, "/users/nope", None).await;
    assert_snapshot(
        "malformed user id",
        &malformed,
        mgmt(
            404,
            json!({"error": "Not Found", "errorCode": "inexistent_user", "message": "The user does not exist.", "statusCode": 404}),
        ),
    );
    let route = api_request(&app, Some(&token), Method::GET, "/no-such-route", None).await;
    assert_snapshot(
        "no such route",
        &route,
        mgmt(
            404,
            json!({"error": "Not Found", "message": "Not Found", "statusCode": 404}),
        ),
    );

    // 409: the user exists.
    let dup = api_request(
        &app,
        Some(&token),
        Method::POST,
        "/users",
        Some(r#"{"connection": "Username-Password-Authentication", "email": "SNAP@example.com", "password": "Correct-Horse-1"}"#),
    )
    .await;
    assert_snapshot(
        "user exists",
        &dup,
        mgmt(
            409,
            json!({"error": "Conflict", "errorCode": "auth0_idp_error", "message": "The user already exists.", "statusCode": 409}),
        ),
    );
    let conn_dup = api_request(
        &app,
        Some(&token),
        Method::POST,
        "/connections",
        Some(r#"{"name": "Username-Password-Authentication", "strategy": "auth0"}"#),
    )
    .await;
    assert_snapshot(
        "connection exists",
        &conn_dup,
        mgmt(
            409,
            json!({"error": "Conflict", "errorCode": "connection_conflict", "message": "A connection with the same name already exists", "statusCode": 409}),
        ),
    );

    // 401: no token, a malformed header, a bad token.
    let none = api_request(&app, None, Method::GET, "/users", None).await;
    assert_snapshot(
        "missing token",
        &none,
        mgmt(
            401,
            json!({"error": "Unauthorized", "message": "Missing authentication", "statusCode": 401}),
        ),
    );
    let malformed_header = snapshot(
        app.http
            .get(app.url("/api/v2/users"))
            .header("authorization", "Token abc")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_snapshot(
        "malformed header",
        &malformed_header,
        mgmt(
            401,
            json!({"attributes": {"error": "Bad HTTP authentication header format"}, "error": "Unauthorized", "message": "Bad HTTP authentication header format", "statusCode": 401}),
        ),
    );
    let bad_token = api_request(&app, Some("not.a.jwt"), Method::GET, "/users", None).await;
    assert_snapshot(
        "bad token",
        &bad_token,
        mgmt(
            401,
            json!({"attributes": {"error": "Invalid token"}, "error": "Unauthorized", "message": "Invalid token", "statusCode": 401}),
        ),
    );

    // 403 insufficient_scope: a client granted read:users only.
    let (_, client) = app
        .api(
            Method::POST,
            "/clients",
            Some(json!({"name": "Reader", "app_type": "non_interactive"})),
        )
        .await;
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
    let denied = api_request(
        &app,
        Some(&reader),
        Method::DELETE,
        "/users/auth0%7Cabc",
        None,
    )
    .await;
    assert_snapshot(
        "insufficient_scope",
        &denied,
        mgmt(
            403,
            json!({"error": "Forbidden", "errorCode": "insufficient_scope", "message": "Insufficient scope, expected any of: delete:users,delete:current_user", "statusCode": 403}),
        ),
    );
}

fn oauth(status: u16, www: Option<&str>, body: Value) -> Value {
    json!({"status": status, "headers": {"content-type": JSON, "cache-control": "no-store",
           "www-authenticate": www}, "body": body})
}

async fn token_form(app: &TestApp, form: &[(&str, &str)]) -> Value {
    snapshot(
        app.http
            .post(app.url("/oauth/token"))
            .form(form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn wire_snapshots_oauth_token() {
    let app = spawn_app().await;
    app.create_user("snap@example.com", "Correct-Horse-1").await;
    let (id, secret) = app.app_client();

    let wrong = snapshot(
        app.login("snap@example.com", "Wrong-Horse-1", "openid")
            .await,
    )
    .await;
    assert_snapshot(
        "invalid_grant",
        &wrong,
        oauth(
            403,
            None,
            json!({"error": "invalid_grant", "error_description": "Wrong email or password."}),
        ),
    );
    let unknown = snapshot(
        app.login("nobody@example.com", "Wrong-Horse-1", "openid")
            .await,
    )
    .await;
    assert_snapshot(
        "invalid_grant unknown user",
        &unknown,
        oauth(
            403,
            None,
            json!({"error": "invalid_grant", "error_description": "Wrong email or password."}),
        ),
    );

    let bad_secret = token_form(
        &app,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", "wrong"),
        ],
    )
    .await;
    assert_snapshot(
        "invalid_client",
        &bad_secret,
        oauth(
            401,
            Some(BASIC),
            json!({"error": "invalid_client", "error_description": "Client authentication failed."}),
        ),
    );
    let bad_basic = snapshot(
        app.http
            .post(app.url("/oauth/token"))
            .header("authorization", "Basic %%%")
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_snapshot(
        "malformed basic",
        &bad_basic,
        oauth(
            401,
            Some(BASIC),
            json!({"error": "invalid_client", "error_description": "Malformed Basic credentials."}),
        ),
    );

    let unsupported = token_form(
        &app,
        &[
            ("grant_type", "urn:example:nope"),
            ("client_id", &id),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_snapshot(
        "unsupported_grant_type",
        &unsupported,
        oauth(
            400,
            None,
            json!({"error": "unsupported_grant_type", "error_description": "Unsupported grant type: urn:example:nope"}),
        ),
    );

    let missing = token_form(&app, &[("client_id", &id), ("client_secret", &secret)]).await;
    assert_snapshot(
        "invalid_request missing",
        &missing,
        oauth(
            400,
            None,
            json!({"error": "invalid_request", "error_description": "Missing required parameter: grant_type"}),
        ),
    );
    let not_string = snapshot(
        app.http
            .post(app.url("/oauth/token"))
            .json(&json!({"grant_type": ["password"], "client_id": id}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_snapshot(
        "invalid_request type",
        &not_string,
        oauth(
            400,
            None,
            json!({"error": "invalid_request", "error_description": "Parameter grant_type must be a string"}),
        ),
    );
}

fn dbconn(status: u16, body: Value) -> Value {
    json!({"status": status, "headers": {"content-type": JSON, "cache-control": null,
           "www-authenticate": null}, "body": body})
}

async fn post_json(app: &TestApp, path: &str, body: Value) -> Value {
    snapshot(
        app.http
            .post(app.url(path))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn wire_snapshots_dbconnections() {
    let app = spawn_app().await;
    let client_id = app.app_client().0;
    let signup = |email: &str, password: &str| json!({"client_id": client_id, "email": email, "password": password, "connection": CONNECTION});

    let weak = post_json(
        &app,
        "/dbconnections/signup",
        signup("weak@example.com", "short"),
    )
    .await;
    assert_snapshot(
        "invalid_password",
        &weak,
        dbconn(
            400,
            json!({"code": "invalid_password", "description": {"rules": [{"code": "lengthAtLeast", "format": [8], "message": "At least %d characters in length", "verified": false}, {"code": "containsAtLeast", "format": [3, 4], "items": [{"code": "lowerCase", "message": "lower case letters (a-z)", "verified": true}, {"code": "upperCase", "message": "upper case letters (A-Z)", "verified": false}, {"code": "numbers", "message": "numbers (i.e. 0-9)", "verified": false}, {"code": "specialCharacters", "message": "special characters (e.g. !@#$%^&*)", "verified": false}], "message": "Contain at least %d of the following %d types of characters:", "verified": false}], "verified": false}, "message": "Password is too weak", "name": "PasswordStrengthError", "policy": "* At least 8 characters in length\n* Contain at least 3 of the following 4 types of characters:\n * lower case letters (a-z)\n * upper case letters (A-Z)\n * numbers (i.e. 0-9)\n * special characters (e.g. !@#$%^&*)", "statusCode": 400}),
        ),
    );

    let ok = post_json(
        &app,
        "/dbconnections/signup",
        signup("Snap@Example.com", "Correct-Horse-1"),
    )
    .await;
    let ok = normalise(ok, &["_id"]);
    assert_snapshot(
        "signed up",
        &ok,
        dbconn(
            200,
            json!({"_id": "<_id>", "email": "snap@example.com", "email_verified": false}),
        ),
    );

    let hidden = post_json(
        &app,
        "/dbconnections/signup",
        signup("snap@example.com", "Other-Horse-2"),
    )
    .await;
    assert_snapshot(
        "invalid_signup",
        &hidden,
        dbconn(
            400,
            json!({"code": "invalid_signup", "description": "Invalid sign up", "name": "BadRequestError", "statusCode": 400}),
        ),
    );
    let (s, _) = app
        .api(
            Method::PATCH,
            "/tenants/settings",
            Some(json!({"flags": {"enable_public_signup_user_exists_error": true}})),
        )
        .await;
    assert_eq!(s, 200);
    let exists = post_json(
        &app,
        "/dbconnections/signup",
        signup("snap@example.com", "Other-Horse-2"),
    )
    .await;
    assert_snapshot(
        "user_exists",
        &exists,
        dbconn(
            400,
            json!({"code": "user_exists", "description": "The user already exists.", "name": "BadRequestError", "statusCode": 400}),
        ),
    );

    let missing = post_json(
        &app,
        "/dbconnections/signup",
        json!({"client_id": client_id, "email": "a@example.com", "password": "Correct-Horse-1"}),
    )
    .await;
    assert_snapshot(
        "signup missing connection",
        &missing,
        dbconn(
            400,
            json!({"code": "invalid_body", "description": "Missing required parameter: connection", "name": "BadRequestError", "statusCode": 400}),
        ),
    );

    let sent = post_json(
        &app,
        "/dbconnections/change_password",
        json!({"client_id": client_id, "email": "snap@example.com", "connection": CONNECTION}),
    )
    .await;
    assert_snapshot(
        "change_password sent",
        &sent,
        json!({"body": "We've just sent you an email to reset your password.", "headers": {"cache-control": null, "content-type": "text/html; charset=utf-8", "www-authenticate": null}, "status": 200}),
    );
    let no_email = post_json(
        &app,
        "/dbconnections/change_password",
        json!({"client_id": client_id, "connection": CONNECTION}),
    )
    .await;
    assert_snapshot(
        "change_password no email",
        &no_email,
        json!({"body": {"code": "invalid_body", "description": "Missing required property: email", "name": "BadRequestError", "statusCode": 400}, "headers": {"cache-control": null, "content-type": "application/json", "www-authenticate": null}, "status": 400}),
    );
    let with_password = post_json(
        &app,
        "/dbconnections/change_password",
        json!({"client_id": client_id, "email": "snap@example.com", "connection": CONNECTION,
               "password": "Chosen-Password-7"}),
    )
    .await;
    assert_snapshot(
        "change_password with password",
        &with_password,
        json!({"body": {"code": "invalid_request", "description": "password is not allowed", "error": "invalid_request", "error_description": "password is not allowed", "name": "BadRequestError", "statusCode": 400}, "headers": {"cache-control": null, "content-type": "application/json", "www-authenticate": null}, "status": 400}),
    );
    let no_connection = post_json(
        &app,
        "/dbconnections/change_password",
        json!({"client_id": client_id, "email": "snap@example.com", "connection": "Nope"}),
    )
    .await;
    assert_snapshot(
        "change_password bad connection",
        &no_connection,
        json!({"body": {"code": "invalid_connection", "description": "The connection does not exist", "name": "BadRequestError", "statusCode": 400}, "headers": {"cache-control": null, "content-type": "application/json", "www-authenticate": null}, "status": 400}),
    );
}

/// What auth0-deploy-cli reads and writes: resource servers, stored settings in Auth0's shapes
/// and defaults, and the honest empty states and refusals of features Latchkey does not offer.
#[tokio::test]
async fn wire_snapshots_deploy_cli_surfaces() {
    let app = spawn_app().await;
    let token = app.mgmt_token().await;
    let call = |method: Method, path: &'static str, body: Option<&'static str>| {
        let (app, token) = (&app, &token);
        async move { api_request(app, Some(token), method, path, body).await }
    };

    let created = call(
        Method::POST,
        "/resource-servers",
        Some(r#"{"name": "Orders", "identifier": "https://orders.example.test/", "scopes": [{"value": "read:orders", "description": "Read orders"}]}"#),
    )
    .await;
    assert_snapshot(
        "resource server created",
        &normalise(created, &["id"]),
        mgmt(
            201,
            json!({"id": "<id>", "name": "Orders", "identifier": "https://orders.example.test/", "is_system": false, "scopes": [{"value": "read:orders", "description": "Read orders"}], "signing_alg": "RS256", "allow_offline_access": false, "skip_consent_for_verifiable_first_party_clients": false, "token_lifetime": 86400, "token_lifetime_for_web": 7200, "enforce_policies": false, "token_dialect": "access_token"}),
        ),
    );
    let hs256 = call(
        Method::POST,
        "/resource-servers",
        Some(r#"{"identifier": "https://hs.example/", "signing_alg": "HS256"}"#),
    )
    .await;
    assert_snapshot(
        "resource server HS256 refused",
        &hs256,
        mgmt(
            400,
            json!({"statusCode": 400, "error": "Bad Request", "errorCode": "operation_not_supported", "message": "Latchkey signs access tokens with RS256 only: signing_alg HS256 is not supported"}),
        ),
    );
    let unknown_grant = call(
        Method::POST,
        "/client-grants",
        Some(r#"{"client_id": "nope", "audience": "https://unknown.example/", "scope": []}"#),
    )
    .await;
    assert_eq!(unknown_grant["status"], 404, "{unknown_grant}");

    assert_snapshot(
        "brute-force protection",
        &call(
            Method::GET,
            "/attack-protection/brute-force-protection",
            None,
        )
        .await,
        mgmt(
            200,
            json!({"enabled": true, "shields": ["block", "user_notification"], "allowlist": [], "mode": "count_per_identifier_and_ip", "max_attempts": 10}),
        ),
    );
    assert_snapshot(
        "breached password detection",
        &call(
            Method::GET,
            "/attack-protection/breached-password-detection",
            None,
        )
        .await,
        mgmt(
            200,
            json!({"enabled": false, "shields": [], "admin_notification_frequency": [], "method": "standard", "stage": {"pre-user-registration": {"shields": []}, "pre-change-password": {"shields": []}}}),
        ),
    );
    assert_snapshot(
        "suspicious IP throttling",
        &call(
            Method::GET,
            "/attack-protection/suspicious-ip-throttling",
            None,
        )
        .await,
        mgmt(
            200,
            json!({"enabled": false, "shields": ["admin_notification", "block"], "allowlist": [], "stage": {"pre-login": {"max_attempts": 100, "rate": 864000}, "pre-user-registration": {"max_attempts": 50, "rate": 1200}}}),
        ),
    );
    assert_snapshot(
        "Credential Guard refused",
        &call(
            Method::PATCH,
            "/attack-protection/breached-password-detection",
            Some(r#"{"enabled": true, "method": "enhanced"}"#),
        )
        .await,
        mgmt(
            400,
            json!({"statusCode": 400, "error": "Bad Request", "errorCode": "operation_not_supported", "message": "Credential Guard (method \"enhanced\") is a paid Auth0 data feed Latchkey does not have: method must be \"standard\""}),
        ),
    );
    assert_snapshot(
        "an unknown shield is invalid",
        &normalise(
            call(
                Method::PATCH,
                "/attack-protection/brute-force-protection",
                Some(r#"{"shields": ["block", "shout"]}"#),
            )
            .await,
            &["message"],
        ),
        mgmt(
            400,
            json!({"statusCode": 400, "error": "Bad Request", "errorCode": "invalid_body", "message": "<message>"}),
        ),
    );
    assert_snapshot(
        "counting per identifier only is refused",
        &call(
            Method::PATCH,
            "/attack-protection/brute-force-protection",
            Some(r#"{"mode": "count_per_identifier"}"#),
        )
        .await,
        mgmt(
            400,
            json!({"statusCode": 400, "error": "Bad Request", "errorCode": "operation_not_supported", "message": "Latchkey's brute-force protection counts per identifier and IP: mode must be count_per_identifier_and_ip"}),
        ),
    );
    // A change Latchkey can keep (throttling stays off) merges into the stored settings.
    let patched = call(
        Method::PATCH,
        "/attack-protection/suspicious-ip-throttling",
        Some(r#"{"stage": {"pre-login": {"rate": 3600}}, "allowlist": ["10.0.0.0/8"]}"#),
    )
    .await;
    assert_eq!(patched["status"], 200, "{patched}");
    assert_snapshot(
        "suspicious IP throttling, changed",
        &call(
            Method::GET,
            "/attack-protection/suspicious-ip-throttling",
            None,
        )
        .await,
        mgmt(
            200,
            json!({"enabled": false, "shields": ["admin_notification", "block"], "allowlist": ["10.0.0.0/8"], "stage": {"pre-login": {"max_attempts": 100, "rate": 3600}, "pre-user-registration": {"max_attempts": 50, "rate": 1200}}}),
        ),
    );
    for bad in [
        r#"{"allowlist": ["example.com"]}"#,
        r#"{"stage": {"pre-login": {"rate": 0}}}"#,
        r#"{"surprise": true}"#,
    ] {
        let res = call(
            Method::PATCH,
            "/attack-protection/suspicious-ip-throttling",
            Some(bad),
        )
        .await;
        assert_eq!(res["status"], 400, "{bad}: {res}");
        assert_eq!(res["body"]["errorCode"], "invalid_body", "{bad}: {res}");
    }
    assert_snapshot(
        "prompts",
        &call(Method::GET, "/prompts", None).await,
        mgmt(
            200,
            json!({"universal_login_experience": "new", "identifier_first": false, "webauthn_platform_first_factor": false}),
        ),
    );
    assert_snapshot(
        "identifier first refused",
        &call(
            Method::PATCH,
            "/prompts",
            Some(r#"{"identifier_first": true}"#),
        )
        .await,
        mgmt(
            400,
            json!({"statusCode": 400, "error": "Bad Request", "errorCode": "operation_not_supported", "message": "Identifier First login is not available in Latchkey: identifier_first must be false"}),
        ),
    );
    assert_snapshot(
        "rules, empty",
        &call(Method::GET, "/rules?include_totals=true", None).await,
        mgmt(
            200,
            json!({"start": 0, "limit": 50, "length": 0, "total": 0, "rules": []}),
        ),
    );
    assert_snapshot(
        "creating a rule refused",
        &call(
            Method::POST,
            "/rules",
            Some(r#"{"name": "r", "script": "function (u, c, cb) { cb(null, u, c); }"}"#),
        )
        .await,
        mgmt(
            400,
            json!({"statusCode": 400, "error": "Bad Request", "errorCode": "operation_not_supported", "message": "Rules (use Actions) is not available in Latchkey"}),
        ),
    );
    assert_snapshot(
        "bot detection is outside the plan",
        &call(Method::GET, "/attack-protection/bot-detection", None).await,
        mgmt(
            403,
            json!({"statusCode": 403, "error": "Forbidden", "errorCode": "feature_not_enabled", "message": "Bot detection is not available in Latchkey"}),
        ),
    );
    // Phone, SMS and push factors, action modules, rate-limit policies and directory
    // provisioning are outside what Latchkey offers: Auth0's plan answer, which tools skip.
    assert_snapshot(
        "sms templates not enabled",
        &call(Method::GET, "/guardian/factors/sms/templates", None).await,
        mgmt(
            403,
            json!({"statusCode": 403, "error": "Forbidden", "errorCode": "feature_not_enabled", "message": "SMS MFA is not available in Latchkey"}),
        ),
    );
    for path in [
        "/actions/modules",
        "/rate-limit-policies",
        "/connections-directory-provisionings",
        "/guardian/factors/phone/message-types",
        "/guardian/factors/phone/selected-provider",
        "/guardian/factors/sms/providers/twilio",
        "/guardian/factors/push-notification/providers/sns",
    ] {
        let answer = call(Method::GET, path, None).await;
        assert_eq!(answer["status"], 403, "{path}: {answer}");
        assert_eq!(answer["body"]["errorCode"], "feature_not_enabled", "{path}");
        let answer = call(Method::PUT, path, Some(r#"{"enabled": true}"#)).await;
        assert_eq!(answer["status"], 403, "{path}: {answer}");
    }
    // Branding colours are the tenant's Universal Login colours; a logo is not offered.
    assert_snapshot(
        "branding colours",
        &call(
            Method::PATCH,
            "/branding",
            Some(r##"{"colors": {"primary": "#112233"}}"##),
        )
        .await,
        mgmt(200, json!({"colors": {"primary": "#112233"}})),
    );
    let settings = call(Method::GET, "/tenants/settings", None).await;
    assert_eq!(
        settings["body"]["universal_login"]["colors"]["primary"],
        "#112233"
    );
    assert_snapshot(
        "a branding logo refused",
        &call(
            Method::PATCH,
            "/branding",
            Some(r#"{"logo_url": "https://cdn.example/logo.png"}"#),
        )
        .await,
        mgmt(
            400,
            json!({"statusCode": 400, "error": "Bad Request", "errorCode": "operation_not_supported", "message": "Branding setting logo_url is not available in Latchkey"}),
        ),
    );
    assert_snapshot(
        "enabling risk assessments refused",
        &call(
            Method::PATCH,
            "/risk-assessments/settings",
            Some(r#"{"enabled": true}"#),
        )
        .await,
        mgmt(
            400,
            json!({"statusCode": 400, "error": "Bad Request", "errorCode": "operation_not_supported", "message": "Risk assessments is not available in Latchkey"}),
        ),
    );
}
