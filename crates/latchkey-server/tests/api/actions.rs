//! Actions over real HTTP: the Management API for actions, the seed's option 4 (re-authenticate,
//! then change the password with no mail) with Auth0's sample post-login action verbatim,
//! post-change-password actions reaching a loopback endpoint after every change path, a
//! post-challenge action demanding TOTP during a reset, `/continue`, custom claims, denials,
//! and runaway actions stopped within their limits while other requests are served.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::{TestApp, encode_id, jwt_part, spawn_app_with, totp_now};
use crate::login::{Browser, hidden};
use crate::loopback_http;
use crate::reset::{open_page, submit, ticket_token};
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Auth0's documented "Sample Post Login Action" (re-authenticate, then change the password), byte for byte.
const SAMPLE_ACTION: &str = include_str!("../fixtures/sample_post_login_action.js");
const CALLBACK: &str = "http://localhost:3000/callback";

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Creates, deploys and binds an action; returns its id.
pub(crate) async fn deploy_and_bind(
    app: &TestApp,
    trigger: &str,
    name: &str,
    code: &str,
    secrets: Value,
) -> String {
    let (status, action) = app
        .api(
            Method::POST,
            "/actions/actions",
            Some(
                json!({"name": name, "supported_triggers": [{"id": trigger, "version": "v3"}],
                        "code": code, "secrets": secrets, "runtime": "node22"}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{action}");
    let id = action["id"].as_str().unwrap().to_owned();
    deploy(app, &id).await;
    let (_, bindings) = app
        .api(
            Method::GET,
            &format!("/actions/triggers/{trigger}/bindings"),
            None,
        )
        .await;
    let mut refs: Vec<Value> = bindings["bindings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| json!({"ref": {"type": "action_id", "value": b["action"]["id"]}}))
        .collect();
    refs.push(json!({"ref": {"type": "action_id", "value": id}, "display_name": name}));
    let (status, bound) = app
        .api(
            Method::PATCH,
            &format!("/actions/triggers/{trigger}/bindings"),
            Some(json!({"bindings": refs})),
        )
        .await;
    assert_eq!(status, 200, "{bound}");
    id
}

/// Deploys an action's draft; returns the new version.
async fn deploy(app: &TestApp, id: &str) -> Value {
    let (status, version) = app
        .api(Method::POST, &format!("/actions/actions/{id}/deploy"), None)
        .await;
    assert_eq!(status, 200, "{version}");
    version
}

/// Removes every binding of a trigger.
async fn unbind_all(app: &TestApp, trigger: &str) {
    let (status, _) = app
        .api(
            Method::PATCH,
            &format!("/actions/triggers/{trigger}/bindings"),
            Some(json!({"bindings": []})),
        )
        .await;
    assert_eq!(status, 200);
}

fn authorize_url(app: &TestApp, extra: &str) -> String {
    let (client_id, _) = app.app_client();
    app.url(&format!(
        "/authorize?response_type=code&client_id={client_id}&redirect_uri={}&state=st4te{extra}",
        urlencode(CALLBACK)
    ))
}

/// Opens `/authorize`, submits the login form; returns the answer (status, body, Location).
async fn log_in(
    b: &mut Browser,
    app: &TestApp,
    extra: &str,
    email: &str,
    password: &str,
) -> (u16, String, Option<String>) {
    let (status, page, _) = b.get(&authorize_url(app, extra)).await;
    assert_eq!(status, 200, "{page}");
    b.post(
        &app.url("/u/login"),
        &[
            ("_csrf", &hidden(&page, "_csrf")),
            ("state", &hidden(&page, "state")),
            ("username", email),
            ("password", password),
        ],
    )
    .await
}

fn query_of(location: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

async fn exchange(app: &TestApp, code: &str) -> Value {
    let (id, secret) = app.app_client();
    let res = app
        .token(
            json!({"grant_type": "authorization_code", "client_id": id, "client_secret": secret,
                      "code": code, "redirect_uri": CALLBACK}),
        )
        .await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

#[tokio::test]
async fn actions_are_managed_through_the_management_api() {
    let app = spawn_app_with(|_| {}).await;
    let code = "exports.onExecutePostLogin = async (event, api) => {};";
    let (status, created) = app
        .api(
            Method::POST,
            "/actions/actions",
            Some(json!({"name": "noop", "supported_triggers": [{"id": "post-login", "version": "v3"}],
                        "code": code, "secrets": [{"name": "API_KEY", "value": "sekret-value-1234"}]})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["secrets"][0]["name"], "API_KEY");
    assert!(created["secrets"][0].get("value").is_none());
    assert_eq!(created["all_changes_deployed"], false);
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 36);

    // Bad input: clear 4xx errors in Auth0's shape.
    let (status, err) = app
        .api(
            Method::POST,
            "/actions/actions",
            Some(
                json!({"name": "x", "supported_triggers": [{"id": "no-such-trigger"}], "code": ""}),
            ),
        )
        .await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["statusCode"], 400);
    let (status, err) = app
        .api(
            Method::POST,
            "/actions/actions",
            Some(json!({"name": "noop", "supported_triggers": [{"id": "post-login"}], "code": ""})),
        )
        .await;
    assert_eq!(status, 409, "{err}");
    let (status, _) = app
        .api(
            Method::POST,
            "/actions/actions",
            Some(json!({"name": "x", "supported_triggers": [{"id": "post-login"}], "bogus": 1})),
        )
        .await;
    assert_eq!(status, 400);

    // An undeployed action cannot be bound; a deployed one can.
    let (status, err) = app
        .api(
            Method::PATCH,
            "/actions/triggers/post-login/bindings",
            Some(json!({"bindings": [{"ref": {"type": "action_id", "value": id}}]})),
        )
        .await;
    assert_eq!(status, 400, "{err}");
    let version = deploy(&app, &id).await;
    assert_eq!(version["number"], 1);
    assert_eq!(version["deployed"], true);
    let (status, bound) = app
        .api(
            Method::PATCH,
            "/actions/triggers/post-login/bindings",
            Some(json!({"bindings": [{"ref": {"type": "action_name", "value": "noop"}, "display_name": "No-op"}]})),
        )
        .await;
    assert_eq!(status, 200, "{bound}");
    assert_eq!(bound["bindings"][0]["display_name"], "No-op");
    assert_eq!(bound["bindings"][0]["action"]["id"], id.as_str());

    // Editing the draft leaves the deployed version running until the next deploy.
    let (status, patched) = app
        .api(
            Method::PATCH,
            &format!("/actions/actions/{id}"),
            Some(json!({"code": "exports.onExecutePostLogin = async () => { /* v2 */ };"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(patched["all_changes_deployed"], false);
    assert_eq!(patched["deployed_version"]["number"], 1);
    assert_eq!(patched["secrets"][0]["name"], "API_KEY");
    let (_, listed) = app
        .api(Method::GET, "/actions/actions?triggerId=post-login", None)
        .await;
    assert_eq!(listed["total"], 1);
    let (_, versions) = app
        .api(
            Method::GET,
            &format!("/actions/actions/{id}/versions"),
            None,
        )
        .await;
    assert_eq!(versions["versions"][0]["number"], 1);
    let (_, triggers) = app.api(Method::GET, "/actions/triggers", None).await;
    assert!(
        triggers["triggers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == "password-reset-post-challenge")
    );

    // Secrets are sealed at rest: the database never holds the value.
    let dump = crate::helpers::dump_tables(&app, &["actions", "action_versions"]).await;
    assert!(dump.contains("API_KEY") && !dump.contains("sekret-value-1234"));

    // A bound action needs force to be deleted.
    let (status, _) = app
        .api(Method::DELETE, &format!("/actions/actions/{id}"), None)
        .await;
    assert_eq!(status, 400);
    let (status, _) = app
        .api(
            Method::DELETE,
            &format!("/actions/actions/{id}?force=true"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (_, bindings) = app
        .api(Method::GET, "/actions/triggers/post-login/bindings", None)
        .await;
    assert_eq!(bindings["total"], 0);
    let (status, _) = app.api(Method::GET, "/actions/executions/nope", None).await;
    assert_eq!(status, 404);
}

/// Re-authentication before a password change (Auth0's "option 4"): `/authorize?prompt=login&max_age=0&scope=openid update:password&login_hint=…`
/// → login → Auth0's sample post-login action (verbatim) creates a password-change ticket
/// through `require("auth0").ManagementClient` and sends the user to it → new password.
#[tokio::test]
async fn option_4_changes_a_password_after_re_authentication_with_the_verbatim_sample_action() {
    let app = spawn_app_with(|_| {}).await;
    let user = app.create_user("opt4@example.com", "Old-Password-1").await;
    // The machine-to-machine application the sample names, imported with its id.
    let m2m_secret = "m2m-secret-for-the-sample-action-0123456789";
    let (status, m2m) = app
        .api(
            Method::POST,
            "/clients",
            Some(json!({"name": "Actions M2M", "app_type": "non_interactive",
                        "client_id": "YOUR_CLIENT_ID", "client_secret": m2m_secret,
                        "grant_types": ["client_credentials"]})),
        )
        .await;
    assert_eq!(status, 201, "{m2m}");
    let (status, grant) = app
        .api(
            Method::POST,
            "/client-grants",
            Some(json!({"client_id": "YOUR_CLIENT_ID", "audience": format!("{}api/v2/", app.issuer()),
                        "scope": ["create:user_tickets"]})),
        )
        .await;
    assert_eq!(status, 201, "{grant}");
    deploy_and_bind(
        &app,
        "post-login",
        "Password change after re-authentication",
        SAMPLE_ACTION,
        json!([{"name": "YOUR_CLIENT_SECRET", "value": m2m_secret}]),
    )
    .await;

    // Without update:password the action does nothing: an ordinary login.
    let mut b = Browser::new();
    let (status, _, location) = log_in(
        &mut b,
        &app,
        "&scope=openid",
        "opt4@example.com",
        "Old-Password-1",
    )
    .await;
    assert_eq!(status, 303);
    assert!(query_of(&location.unwrap()).contains_key("code"));

    // Option 4: re-authenticate, and land on the ticket's reset page.
    let mut b = Browser::new();
    let extra = format!(
        "&prompt=login&max_age=0&scope={}&login_hint={}",
        urlencode("openid update:password"),
        urlencode("opt4@example.com")
    );
    let (status, body, location) =
        log_in(&mut b, &app, &extra, "opt4@example.com", "Old-Password-1").await;
    assert_eq!(status, 303, "{body}");
    let location = location.unwrap();
    assert!(
        location.starts_with(&app.url("/lo/reset?ticket=")),
        "{location}"
    );
    assert!(
        !b.cookies.contains_key("lk_session"),
        "no session before the change"
    );
    let ticket = query_of(&location)["ticket"].clone();
    let visit = open_page(&app, &ticket).await;
    assert_eq!(visit.status, 200);
    assert!(visit.html.contains(r#"id="newPassword""#));
    let res = submit(&app, &visit, &ticket, "New-Password-2", "New-Password-2").await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Password changed"));
    assert_eq!(
        app.login("opt4@example.com", "New-Password-2", "openid")
            .await
            .status(),
        200
    );
    assert_eq!(
        app.login("opt4@example.com", "Old-Password-1", "openid")
            .await
            .status(),
        403
    );

    // The ticket was made by the M2M client (its token exchange is in the tenant log), for
    // this user and the application.
    let id = encode_id(user["user_id"].as_str().unwrap());
    let (_, logs) = app
        .api(Method::GET, &format!("/users/{id}/logs"), None)
        .await;
    assert!(logs.to_string().contains("scp"), "{logs}");
    // (The log writer batches: give it a moment.)
    let mut found = false;
    for _ in 0..50 {
        let (_, all) = app.api(Method::GET, "/logs?q=type:seccft", None).await;
        if all.to_string().contains("YOUR_CLIENT_ID") {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(found, "the sample's client credentials exchange is logged");

    // The same sample with a wrong secret: the Management call fails, the action logs the
    // error and does not redirect, and the login goes on.
    unbind_all(&app, "post-login").await;
    deploy_and_bind(
        &app,
        "post-login",
        "Sample with a wrong secret",
        SAMPLE_ACTION,
        json!([{"name": "YOUR_CLIENT_SECRET", "value": "not-the-secret"}]),
    )
    .await;
    let mut b = Browser::new();
    let (status, _, location) =
        log_in(&mut b, &app, &extra, "opt4@example.com", "New-Password-2").await;
    assert_eq!(status, 303);
    assert!(query_of(&location.unwrap()).contains_key("code"));
}

/// Claims, denial, `api.redirect.sendUserTo` with a resume through `/continue`, and
/// `onContinuePostLogin`.
#[tokio::test]
async fn post_login_actions_add_claims_deny_and_resume_through_continue() {
    let app = spawn_app_with(|_| {}).await;
    app.create_user("claims@example.com", "Old-Password-1")
        .await;
    app.create_user("banned@example.com", "Old-Password-1")
        .await;
    app.create_user("second@example.com", "Old-Password-1")
        .await;
    deploy_and_bind(
        &app,
        "post-login",
        "claims",
        r#"
exports.onExecutePostLogin = async (event, api) => {
  if (event.user.email === "banned@example.com") {
    api.access.deny("Your account is not allowed here.");
    return;
  }
  if (event.user.email === "second@example.com") {
    api.multifactor.enable("any");
  }
  api.idToken.setCustomClaim("https://example.com/roles", ["reader"]);
  api.accessToken.setCustomClaim("https://example.com/tier", "gold");
  api.idToken.setCustomClaim("sub", "an action cannot change this");
  if (event.transaction.requested_scopes.includes("consent:terms")) {
    api.redirect.sendUserTo("https://terms.example.com/accept", {query: {lang: "en"}});
  }
};
exports.onContinuePostLogin = async (event, api) => {
  api.idToken.setCustomClaim("https://example.com/terms", event.request.query.accepted);
};
"#,
        json!([]),
    )
    .await;

    let mut b = Browser::new();
    let (status, _, location) = log_in(
        &mut b,
        &app,
        "&scope=openid",
        "claims@example.com",
        "Old-Password-1",
    )
    .await;
    assert_eq!(status, 303);
    let tokens = exchange(&app, &query_of(&location.unwrap())["code"]).await;
    let id_token = jwt_part(tokens["id_token"].as_str().unwrap(), 1);
    assert_eq!(id_token["https://example.com/roles"], json!(["reader"]));
    assert_ne!(id_token["sub"], "an action cannot change this");
    let access = jwt_part(tokens["access_token"].as_str().unwrap(), 1);
    assert_eq!(access["https://example.com/tier"], "gold");

    // Denied: the error goes back to the application, and no session is made.
    let mut b = Browser::new();
    let (status, _, location) = log_in(
        &mut b,
        &app,
        "&scope=openid",
        "banned@example.com",
        "Old-Password-1",
    )
    .await;
    assert_eq!(status, 303);
    let q = query_of(&location.unwrap());
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["error_description"], "Your account is not allowed here.");
    assert_eq!(q["state"], "st4te");
    assert!(!b.cookies.contains_key("lk_session"));

    // A redirect to another origin: a page that links there, and a continuation cookie.
    let mut b = Browser::new();
    let (status, page, _) = log_in(
        &mut b,
        &app,
        &format!("&scope={}", urlencode("openid consent:terms")),
        "claims@example.com",
        "Old-Password-1",
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let at = page.find("https://terms.example.com/accept?").unwrap();
    let target = page[at..at + page[at..].find('"').unwrap()].replace("&amp;", "&");
    let q = query_of(&target);
    assert_eq!(q["lang"], "en");
    let state = q["state"].clone();
    assert!(b.cookies.contains_key("lk_continue"));
    // The state passes through the third party's page: it is encrypted, not just signed.
    use base64::Engine as _;
    for part in state.split('.') {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("claims@") && !text.contains("user_id"),
            "{text}"
        );
    }

    // Another browser holding the state alone cannot resume the login.
    let mut thief = Browser::new();
    let (status, _, _) = thief
        .get(&app.url(&format!("/continue?state={}", urlencode(&state))))
        .await;
    assert_eq!(status, 400);

    let (status, _, location) = b
        .get(&app.url(&format!(
            "/continue?state={}&accepted=yes",
            urlencode(&state)
        )))
        .await;
    assert_eq!(status, 303);
    assert!(b.cookies.contains_key("lk_session"));
    let tokens = exchange(&app, &query_of(&location.unwrap())["code"]).await;
    let id_token = jwt_part(tokens["id_token"].as_str().unwrap(), 1);
    assert_eq!(id_token["https://example.com/terms"], "yes");
    assert_eq!(id_token["https://example.com/roles"], json!(["reader"]));
    // The continuation is single use.
    let (status, _, _) = b
        .get(&app.url(&format!("/continue?state={}", urlencode(&state))))
        .await;
    assert_eq!(status, 400);

    // The password grant runs the same actions: claims, and Auth0's access_denied.
    let res = app
        .login("claims@example.com", "Old-Password-1", "openid")
        .await;
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.unwrap();
    let id_token = jwt_part(tokens["id_token"].as_str().unwrap(), 1);
    assert_eq!(id_token["https://example.com/roles"], json!(["reader"]));
    let res = app
        .login("banned@example.com", "Old-Password-1", "openid")
        .await;
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "access_denied");
    assert_eq!(
        body["error_description"],
        "Your account is not allowed here."
    );

    // api.multifactor.enable: the hosted form enrols a factor before any session, and the
    // password grant answers mfa_required.
    let mut b = Browser::new();
    let (status, page, _) = log_in(
        &mut b,
        &app,
        "&scope=openid",
        "second@example.com",
        "Old-Password-1",
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Secure your account"), "{page}");
    assert!(!b.cookies.contains_key("lk_session"));
    let res = app
        .login("second@example.com", "Old-Password-1", "openid")
        .await;
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "mfa_required", "{body}");
    assert!(body["mfa_token"].is_string());
}

/// A loopback HTTP endpoint that records request bodies and answers `statuses` in turn
/// (then 200); only the bodies it answered 200 are reported.
async fn hook_receiver(statuses: Vec<u16>) -> (String, mpsc::UnboundedReceiver<Value>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let statuses = Mutex::new(statuses.into_iter());
    let base = loopback_http::serve(move |request| {
        let status = statuses.lock().unwrap().next().unwrap_or(200);
        if status == 200 {
            let _ = tx.send(request.json());
        }
        loopback_http::json(status, &json!({}))
    })
    .await;
    (format!("{base}/hook"), rx)
}

async fn next_hook(rx: &mut mpsc::UnboundedReceiver<Value>) -> Value {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("the post-change-password action called the endpoint")
        .unwrap()
}

/// Seeds 000 and 004: after every way a password changes, a post-change-password action tells
/// another system (here a loopback endpoint, through `fetch`). A failing endpoint is retried.
#[tokio::test]
async fn post_change_password_actions_reach_a_loopback_endpoint_after_every_change_path() {
    let (hook, mut calls) = hook_receiver(vec![500]).await;
    let app = spawn_app_with(|s| {
        s.actions.fetch_allowed_hosts = "127.0.0.1".into();
        s.mail.retry_base_secs = 1;
    })
    .await;
    let user = app.create_user("pcp@example.com", "Old-Password-1").await;
    let user_id = user["user_id"].as_str().unwrap().to_owned();
    deploy_and_bind(
        &app,
        "post-change-password",
        "Invalidate sessions elsewhere",
        r#"
exports.onExecutePostChangePassword = async (event, api) => {
  const res = await fetch(event.secrets.HOOK_URL, {
    method: "POST",
    headers: {"content-type": "application/json"},
    body: JSON.stringify({user_id: event.user.user_id, email: event.user.email,
                          connection: event.connection.name, at: event.user.last_password_reset}),
  });
  if (!res.ok) throw new Error("the hook answered " + res.status);
};
"#,
        json!([{"name": "HOOK_URL", "value": hook}]),
    )
    .await;
    let id = encode_id(&user_id);

    // 1. The Management API (the first delivery fails with a 500 and is retried).
    let (status, body) = app
        .api(
            Method::PATCH,
            &format!("/users/{id}"),
            Some(json!({"password": "Api-Password-2", "connection": "Username-Password-Authentication"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let call = next_hook(&mut calls).await;
    assert_eq!(call["user_id"], user_id.as_str());
    assert_eq!(call["email"], "pcp@example.com");
    assert_eq!(call["connection"], "Username-Password-Authentication");

    // 2. A password-change ticket redeemed on the hosted page.
    let ticket = ticket_token(&app, json!({"user_id": user_id})).await;
    let visit = open_page(&app, &ticket).await;
    let res = submit(
        &app,
        &visit,
        &ticket,
        "Ticket-Password-3",
        "Ticket-Password-3",
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(next_hook(&mut calls).await["user_id"], user_id.as_str());

    // 3. The console's "Change Password".
    let mut admin = crate::admin::signed_in_admin(&app).await;
    let user_path = format!("/admin/users/{id}");
    let (_, detail, _) = admin.get(&app.url(&user_path)).await;
    let (status, _, _) = admin
        .post(
            &app.url(&format!("{user_path}/password")),
            &[
                ("_csrf", &hidden(&detail, "_csrf")),
                ("newPassword", "Console-Password-4"),
                ("confirmNewPassword", "Console-Password-4"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(next_hook(&mut calls).await["user_id"], user_id.as_str());

    // (The mailed "forgot password" link redeems the same kind of ticket as 2.)
    assert_eq!(
        app.login("pcp@example.com", "Console-Password-4", "openid")
            .await
            .status(),
        200
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(500), calls.recv())
            .await
            .is_err(),
        "exactly one call per change"
    );
}

/// A post-challenge action demands the user's TOTP before the new password, even where the
/// tenant skips MFA on resets; another denies resets for a user.
#[tokio::test]
async fn a_post_challenge_action_demands_totp_during_a_reset() {
    const SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    let app = spawn_app_with(|_| {}).await;
    let (status, _) = app
        .api(
            Method::PATCH,
            "/tenants/settings",
            Some(json!({"flags": {"skip_mfa_on_password_reset": true}})),
        )
        .await;
    assert_eq!(status, 200);
    let user = app.create_user("otp@example.com", "Old-Password-1").await;
    app.create_user("nope@example.com", "Old-Password-1").await;
    let id = encode_id(user["user_id"].as_str().unwrap());
    let (status, _) = app
        .api(
            Method::POST,
            &format!("/users/{id}/authentication-methods"),
            Some(json!({"type": "totp", "totp_secret": SECRET, "name": "Phone"})),
        )
        .await;
    assert_eq!(status, 201);

    // Without an action the tenant's flag rules: straight to the form.
    let ticket = ticket_token(&app, json!({"user_id": user["user_id"]})).await;
    let visit = open_page(&app, &ticket).await;
    assert!(visit.html.contains(r#"id="newPassword""#));

    deploy_and_bind(
        &app,
        "password-reset-post-challenge",
        "Require OTP",
        r#"
exports.onExecutePostChallenge = async (event, api) => {
  if (event.user.email === "nope@example.com") {
    api.access.deny("Resets are handled by your administrator.");
    return;
  }
  api.authentication.challengeWith({ type: "otp" });
};
"#,
        json!([]),
    )
    .await;
    let ticket = ticket_token(&app, json!({"user_id": user["user_id"]})).await;
    let visit = open_page(&app, &ticket).await;
    assert_eq!(visit.status, 200);
    assert!(visit.html.contains("Verify it's you") && !visit.html.contains("newPassword"));
    let res = submit(&app, &visit, &ticket, "New-Password-2", "New-Password-2").await;
    assert_eq!(res.status(), 403);
    let res = app
        .http
        .post(app.url("/lo/reset/mfa"))
        .header("cookie", visit.cookie.clone().unwrap())
        .form(&[
            ("_csrf", visit.csrf.clone().unwrap()),
            ("ticket", ticket.clone()),
            ("code", totp_now(SECRET)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let proof = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let cookies = format!("{}; {proof}", visit.cookie.clone().unwrap());
    let res = app
        .http
        .post(app.url("/lo/reset"))
        .header("cookie", &cookies)
        .form(&[
            ("_csrf", visit.csrf.clone().unwrap().as_str()),
            ("ticket", ticket.as_str()),
            ("newPassword", "New-Password-2"),
            ("confirmNewPassword", "New-Password-2"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // Denied: the page says why, and the form never appears.
    let (_, nope) = app
        .api(
            Method::GET,
            "/users-by-email?email=nope%40example.com",
            None,
        )
        .await;
    let ticket = ticket_token(&app, json!({"user_id": nope[0]["user_id"]})).await;
    let visit = open_page(&app, &ticket).await;
    assert_eq!(visit.status, 403);
    assert!(
        visit
            .html
            .contains("Resets are handled by your administrator.")
    );
    assert!(!visit.html.contains("newPassword"));
}

/// A runaway loop and a memory bomb are each stopped within their limits, the login is
/// refused with a clear page, and the server keeps answering meanwhile.
#[tokio::test]
async fn runaway_and_memory_hungry_actions_are_stopped_while_other_requests_are_served() {
    let app = spawn_app_with(|s| {
        // Generous bounds: CI runs this next to argon2-heavy tests on two cores.
        s.actions.timeout_ms = 1500;
        s.actions.memory_mib = 16;
    })
    .await;
    app.create_user("loop@example.com", "Old-Password-1").await;
    let action = deploy_and_bind(
        &app,
        "post-login",
        "runaway",
        "exports.onExecutePostLogin = async (event, api) => { while (true) {} };",
        json!([]),
    )
    .await;

    let mut b = Browser::new();
    let (status, page, _) = b.get(&authorize_url(&app, "&scope=openid")).await;
    assert_eq!(status, 200);
    let form = [
        ("_csrf", hidden(&page, "_csrf")),
        ("state", hidden(&page, "state")),
        ("username", "loop@example.com".to_owned()),
        ("password", "Old-Password-1".to_owned()),
    ];
    let started = Instant::now();
    let login = async {
        let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let answer = b.post(&app.url("/u/login"), &fields).await;
        (answer, started.elapsed())
    };
    // While the action spins, other requests are answered: all five before the login's.
    let others = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        for _ in 0..5 {
            let res = app
                .http
                .get(app.url("/.well-known/openid-configuration"))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
        }
        started.elapsed()
    };
    let (((status, denied, _), login_took), others_took) = tokio::join!(login, others);
    assert_eq!(status, 403, "{denied}");
    assert!(denied.contains("You can't log in right now"));
    assert!(!b.cookies.contains_key("lk_session"));
    assert!(
        login_took >= Duration::from_millis(1500) && login_took < Duration::from_secs(5),
        "stopped after {login_took:?}"
    );
    assert!(
        others_took < login_took,
        "other requests took {others_took:?}, the login {login_took:?}"
    );

    // The failed login's log entry names the execution, whose record says what happened.
    let mut execution = Value::Null;
    for _ in 0..50 {
        let (_, logs) = app.api(Method::GET, "/logs?q=type:f", None).await;
        if let Some(id) = logs
            .as_array()
            .and_then(|l| l.first())
            .and_then(|e| e["details"]["actions"]["executions"][0].as_str())
        {
            execution = app
                .api(Method::GET, &format!("/actions/executions/{id}"), None)
                .await
                .1;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(execution["trigger_id"], "post-login", "{execution}");
    assert_eq!(execution["status"], "partial");
    assert!(
        execution["results"][0]["error"]["msg"]
            .as_str()
            .unwrap()
            .contains("time limit"),
        "{execution}"
    );

    // A memory bomb, the same way.
    let (status, _) = app
        .api(
            Method::PATCH,
            &format!("/actions/actions/{action}"),
            Some(json!({"code": "exports.onExecutePostLogin = async () => { let a = []; while (true) { a.push(new Array(100000).fill(1.5)); } };"})),
        )
        .await;
    assert_eq!(status, 200);
    deploy(&app, &action).await;
    let mut b = Browser::new();
    let started = Instant::now();
    let (status, denied, _) = log_in(
        &mut b,
        &app,
        "&scope=openid",
        "loop@example.com",
        "Old-Password-1",
    )
    .await;
    assert_eq!(status, 403, "{denied}");
    assert!(started.elapsed() < Duration::from_secs(5));

    // The test button reports the failure without touching a login.
    let (status, report) = app
        .api(
            Method::POST,
            &format!("/actions/actions/{action}/test"),
            Some(json!({"payload": {"user": {"user_id": "auth0|x"}}})),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["payload"]["status"], "failed");
    assert!(
        report["payload"]["error"]
            .as_str()
            .unwrap()
            .contains("memory"),
        "{report}"
    );
    // The server still logs people in once the action is gone.
    unbind_all(&app, "post-login").await;
    let mut b = Browser::new();
    let (status, _, _) = log_in(
        &mut b,
        &app,
        "&scope=openid",
        "loop@example.com",
        "Old-Password-1",
    )
    .await;
    assert_eq!(status, 303);
}
