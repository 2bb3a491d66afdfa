//! The implicit and hybrid flows and the `fragment`, `form_post` and `web_message` answers
//! over real HTTP (plain HTTP: the cookie rules under TLS are driven in Chromium by
//! `browser_silent.rs`): who may use them, `nonce`, `at_hash`/`c_hash`, and where a
//! web_message page may post and be framed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::{TestApp, jwt_part};
use crate::login::{Browser, CALLBACK, hidden, log_in, urlencode};
use crate::reset::{CONNECTION, app_with_sink};
use base64::Engine as _;
use reqwest::Method;
use serde_json::json;
use sha2::Digest as _;
use std::collections::HashMap;

/// A callback of the client whose origin is not among its web origins.
const STRANGER_CALLBACK: &str = "http://stranger.example:4000/cb";
const WEB_ORIGIN: &str = "http://localhost:3000";

/// A regular web application created the way deploy-cli and the SDKs create one: no
/// `grant_types`, so Auth0's defaults for its type (which include `implicit`).
async fn regular_web_app(app: &TestApp) -> String {
    let (status, client) = app
        .api(
            Method::POST,
            "/clients",
            Some(json!({
                "name": "Implicit app",
                "app_type": "regular_web",
                "callbacks": [CALLBACK, STRANGER_CALLBACK],
                "web_origins": [WEB_ORIGIN],
            })),
        )
        .await;
    assert_eq!(status, 201, "{client}");
    let grants = client["grant_types"].as_array().unwrap();
    for g in [
        "authorization_code",
        "implicit",
        "refresh_token",
        "client_credentials",
    ] {
        assert!(grants.iter().any(|x| x == g), "{client}");
    }
    let id = client["client_id"].as_str().unwrap().to_owned();
    let (_, conns) = app
        .api(
            Method::GET,
            &format!("/connections?name={CONNECTION}"),
            None,
        )
        .await;
    let mut enabled = conns[0]["enabled_clients"].as_array().unwrap().clone();
    enabled.push(json!(id));
    let (status, _) = app
        .api(
            Method::PATCH,
            &format!("/connections/{}", conns[0]["id"].as_str().unwrap()),
            Some(json!({"enabled_clients": enabled})),
        )
        .await;
    assert_eq!(status, 200);
    id
}

fn authorize(app: &TestApp, client_id: &str, callback: &str, extra: &str) -> String {
    app.url(&format!(
        "/authorize?client_id={client_id}&redirect_uri={}&scope=openid%20profile%20email&state=st4te{extra}",
        urlencode(callback)
    ))
}

/// The parameters in a callback URL's fragment.
fn fragment(location: &str) -> HashMap<String, String> {
    let url = url::Url::parse(location).unwrap();
    assert!(location.starts_with(CALLBACK), "{location}");
    assert_eq!(url.query(), None, "nothing in the query: {location}");
    url::form_urlencoded::parse(url.fragment().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// OIDC Core §3.3.2.11: base64url of the left half of the SHA-256 of the value.
fn left_half_hash(value: &str) -> String {
    let digest = sha2::Sha256::digest(value.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// The CSP directive `name`'s sources.
fn csp_directive(headers: &reqwest::header::HeaderMap, name: &str) -> Vec<String> {
    let csp = headers["content-security-policy"].to_str().unwrap();
    csp.split(';')
        .map(str::trim)
        .find_map(|d| d.strip_prefix(&format!("{name} ")))
        .map(|v| v.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// The inline script of a page and its CSP hash source.
fn inline_script_source(page: &str) -> String {
    let start = page.find("<script>").expect("an inline script") + "<script>".len();
    let end = start + page[start..].find("</script>").unwrap();
    let digest = sha2::Sha256::digest(&page.as_bytes()[start..end]);
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

#[tokio::test]
async fn implicit_and_hybrid_answers_are_checked_and_bound_to_what_they_carry() {
    let (app, _sink) = app_with_sink().await;
    app.create_user("ivy@example.com", "Old-Password-1").await;
    let client_id = regular_web_app(&app).await;
    let mut b = Browser::new();

    // A client without the implicit grant (the bootstrap's default application) never gets
    // tokens from /authorize; the error goes to the callback in the fragment.
    let (default_id, _) = app.app_client();
    for rt in ["id_token", "token", "code%20id_token"] {
        let (status, _, location) = b
            .get(&authorize(
                &app,
                &default_id,
                CALLBACK,
                &format!("&response_type={rt}&nonce=n"),
            ))
            .await;
        assert_eq!(status, 303, "{rt}");
        let f = fragment(&location.unwrap());
        assert_eq!(f["error"], "unauthorized_client", "{rt}: {f:?}");
        assert_eq!(f["state"], "st4te");
    }
    // nonce is required wherever an ID token (or a hybrid answer) comes from /authorize.
    for rt in [
        "id_token",
        "id_token%20token",
        "code%20id_token",
        "code%20token",
    ] {
        let (_, _, location) = b
            .get(&authorize(
                &app,
                &client_id,
                CALLBACK,
                &format!("&response_type={rt}"),
            ))
            .await;
        let f = fragment(&location.unwrap());
        assert_eq!(f["error"], "invalid_request", "{rt}: {f:?}");
        assert_eq!(f["error_description"], "Missing required parameter: nonce");
    }
    // Tokens never travel in the query.
    let (_, _, location) = b
        .get(&authorize(
            &app,
            &client_id,
            CALLBACK,
            "&response_type=id_token&nonce=n&response_mode=query",
        ))
        .await;
    assert_eq!(fragment(&location.unwrap())["error"], "invalid_request");

    // Log in for `code id_token token`: all three in the fragment, the ID token bound to the
    // nonce, the access token (at_hash) and the code (c_hash).
    let url = authorize(
        &app,
        &client_id,
        CALLBACK,
        "&response_type=code%20id_token%20token&nonce=n0nce-1",
    );
    let (status, page, _) = b.get(&url).await;
    assert_eq!(status, 200);
    let (status, _, location) =
        log_in(&mut b, &app, &page, "ivy@example.com", "Old-Password-1").await;
    assert_eq!(status, 303);
    let f = fragment(&location.unwrap());
    assert_eq!(f["state"], "st4te");
    assert_eq!(f["token_type"], "Bearer");
    assert!(f["expires_in"].parse::<i64>().unwrap() > 0);
    let claims = jwt_part(&f["id_token"], 1);
    assert_eq!(claims["nonce"], "n0nce-1");
    assert_eq!(claims["aud"], client_id.as_str());
    assert_eq!(claims["at_hash"], left_half_hash(&f["access_token"]));
    assert_eq!(claims["c_hash"], left_half_hash(&f["code"]));
    assert_eq!(claims["email"], "ivy@example.com");
    assert!(!f.contains_key("refresh_token"));
    // The front-channel access token works at /userinfo.
    let info = reqwest::Client::new()
        .get(app.url("/userinfo"))
        .bearer_auth(&f["access_token"])
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 200);
    // Plain HTTP: one Lax session cookie, no Secure one the browser would refuse.
    assert!(b.cookies.contains_key("lk_session"));
    assert!(!b.cookies.contains_key("lk_session_compat"));

    // Single sign-on, `id_token` alone by form_post (express-openid-connect's default): a page
    // that submits itself with the one script its CSP allows by hash, and keeps the button.
    let url = authorize(
        &app,
        &client_id,
        CALLBACK,
        "&response_type=id_token&response_mode=form_post&nonce=n0nce-2",
    );
    let (status, headers, page) = b.get_with_headers(&url).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        csp_directive(&headers, "script-src"),
        vec![inline_script_source(&page)]
    );
    assert!(csp_directive(&headers, "form-action").contains(&WEB_ORIGIN.to_owned()));
    assert!(page.contains(r#"<button type="submit">"#), "{page}");
    assert!(page.contains(&format!(r#"action="{CALLBACK}""#)), "{page}");
    let id_token = hidden(&page, "id_token");
    let claims = jwt_part(&id_token, 1);
    assert_eq!(claims["nonce"], "n0nce-2");
    assert!(claims.get("at_hash").is_none() && claims.get("c_hash").is_none());
    assert!(!page.contains(r#"name="access_token""#));
    assert!(!page.contains(r#"name="code""#));
}

#[tokio::test]
async fn web_message_posts_only_to_a_registered_web_origin_that_alone_may_frame_it() {
    let (app, _sink) = app_with_sink().await;
    app.create_user("wes@example.com", "Old-Password-1").await;
    let client_id = regular_web_app(&app).await;
    let mut b = Browser::new();
    let silent = "&response_type=code&response_mode=web_message&prompt=none&nonce=n&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";

    // A callback whose origin is not a web origin: an error page that posts nothing, framable
    // by nobody.
    let (status, headers, page) = b
        .get_with_headers(&authorize(&app, &client_id, STRANGER_CALLBACK, silent))
        .await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("Allowed Web Origins"), "{page}");
    assert!(
        !page.contains("<script") && !page.contains("data-origin"),
        "{page}"
    );
    assert!(!page.contains("stranger.example"), "{page}");
    assert_eq!(csp_directive(&headers, "frame-ancestors"), vec!["'none'"]);
    assert_eq!(headers["x-frame-options"], "DENY");

    // No session: login_required, posted to the callback's origin only; the page may be
    // framed by that origin only, runs only its own script, and sends no X-Frame-Options.
    let (status, headers, page) = b
        .get_with_headers(&authorize(&app, &client_id, CALLBACK, silent))
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(&format!(r#"data-origin="{WEB_ORIGIN}""#)),
        "{page}"
    );
    assert_eq!(hidden(&page, "error"), "login_required");
    assert_eq!(hidden(&page, "state"), "st4te");
    assert_eq!(csp_directive(&headers, "frame-ancestors"), vec![WEB_ORIGIN]);
    assert_eq!(
        csp_directive(&headers, "script-src"),
        vec![inline_script_source(&page)]
    );
    assert!(headers.get("x-frame-options").is_none());
    assert!(!page.contains("'*'") && !page.contains("\"*\""), "{page}");

    // Logged in: the code comes back the same way, without showing anything.
    let (_, page, _) = b
        .get(&authorize(&app, &client_id, CALLBACK, "&response_type=code&nonce=n&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"))
        .await;
    let (status, _, _) = log_in(&mut b, &app, &page, "wes@example.com", "Old-Password-1").await;
    assert_eq!(status, 303);
    let (status, _, page) = b
        .get_with_headers(&authorize(&app, &client_id, CALLBACK, silent))
        .await;
    assert_eq!(status, 200);
    assert!(!hidden(&page, "code").is_empty());
    assert!(!page.contains(r#"name="error""#), "{page}");

    // Implicit through web_message (Lock's SSO probe): tokens, same page, same origin rule.
    let (_, _, page) = b
        .get_with_headers(&authorize(
            &app,
            &client_id,
            CALLBACK,
            "&response_type=token%20id_token&response_mode=web_message&prompt=none&nonce=n2",
        ))
        .await;
    let claims = jwt_part(&hidden(&page, "id_token"), 1);
    assert_eq!(
        claims["at_hash"],
        left_half_hash(&hidden(&page, "access_token"))
    );

    // An unknown response mode is refused.
    let (_, _, location) = b
        .get(&authorize(&app, &client_id, CALLBACK, "&response_type=code&response_mode=carrier_pigeon&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"))
        .await;
    assert!(location.unwrap().contains("error=invalid_request"));
}

/// Post-login actions under silent authentication: their claims reach the front-channel
/// tokens, and a step that needs the user (here a redirect) cannot happen with `prompt=none`:
/// the application hears `interaction_required`, by web_message like every silent answer.
#[tokio::test]
async fn silent_authentication_reports_an_action_that_needs_the_user() {
    let (app, _sink) = app_with_sink().await;
    app.create_user("ada@example.com", "Old-Password-1").await;
    let client_id = regular_web_app(&app).await;
    crate::actions::deploy_and_bind(
        &app,
        "post-login",
        "silent",
        r#"
exports.onExecutePostLogin = async (event, api) => {
  api.idToken.setCustomClaim("https://example.com/mode", event.transaction.response_mode);
  if (event.transaction.response_mode === "web_message") {
    api.redirect.sendUserTo("https://terms.example.com/accept");
  }
};
"#,
        json!([]),
    )
    .await;
    let mut b = Browser::new();
    let (_, page, _) = b
        .get(&authorize(
            &app,
            &client_id,
            CALLBACK,
            "&response_type=id_token&nonce=n1",
        ))
        .await;
    let (status, _, location) =
        log_in(&mut b, &app, &page, "ada@example.com", "Old-Password-1").await;
    assert_eq!(status, 303);
    let f = fragment(&location.unwrap());
    assert_eq!(
        jwt_part(&f["id_token"], 1)["https://example.com/mode"],
        "fragment"
    );

    let (status, _, page) = b
        .get_with_headers(&authorize(
            &app,
            &client_id,
            CALLBACK,
            "&response_type=id_token&response_mode=web_message&prompt=none&nonce=n2",
        ))
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(hidden(&page, "error"), "interaction_required");
    assert_eq!(hidden(&page, "state"), "st4te");
    assert!(!page.contains(r#"name="id_token""#), "{page}");
}

/// A popup login (`loginWithPopup`: web_message) that enrols a second factor: the recovery
/// code is shown, and its button posts the answer to the opener at the callback's origin (a
/// plain link would leave the popup waiting for an answer that never comes).
#[tokio::test]
async fn a_popup_that_shows_a_recovery_code_still_answers_its_opener() {
    let (app, _sink) = app_with_sink().await;
    app.create_user("popup@example.com", "Old-Password-1").await;
    let client_id = regular_web_app(&app).await;
    for (path, body) in [
        ("/guardian/factors/otp", json!({"enabled": true})),
        ("/guardian/policies", json!(["all-applications"])),
    ] {
        let (status, _) = app.api(Method::PUT, path, Some(body)).await;
        assert_eq!(status, 200);
    }
    let mut b = Browser::new();
    let popup = "&response_type=code&response_mode=web_message&nonce=n&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";
    let (_, page, _) = b.get(&authorize(&app, &client_id, CALLBACK, popup)).await;
    let (status, enrol, _) =
        log_in(&mut b, &app, &page, "popup@example.com", "Old-Password-1").await;
    assert_eq!(status, 200, "{enrol}");
    let key = crate::login::between(&enrol, "<code>", "</code>").replace(' ', "");
    let pending = hidden(&enrol, "pending");
    let csrf = hidden(&enrol, "_csrf");
    let code = crate::helpers::totp_now(&key);
    let (status, headers, saved) = b
        .post_with_headers(
            &app.url("/u/mfa"),
            &[("_csrf", &csrf), ("pending", &pending), ("code", &code)],
        )
        .await;
    assert_eq!(status, 200, "{saved}");
    assert!(saved.contains(r#"id="recovery-code""#), "{saved}");
    assert!(saved.contains(r#"id="lk-web-message-send""#), "{saved}");
    assert!(
        saved.contains(&format!(r#"data-origin="{WEB_ORIGIN}""#)),
        "{saved}"
    );
    assert!(!hidden(&saved, "code").is_empty());
    assert_eq!(hidden(&saved, "state"), "st4te");
    assert!(
        !saved.contains(r#"href="http://localhost:3000/cb"#),
        "{saved}"
    );
    assert_eq!(
        csp_directive(&headers, "script-src"),
        vec![inline_script_source(&saved)]
    );
}
