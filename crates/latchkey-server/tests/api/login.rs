//! The hosted login and the OIDC code flow over real HTTP: `/authorize` → login form →
//! code → `/oauth/token` (PKCE) → `/userinfo`; single sign-on, `prompt`, `max_age`, logout,
//! sessions ended by a password change, and "Forgot password?" from the login page.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::totp_now;
use crate::helpers::{TestApp, encode_id, jwt_part};
use crate::reset::{CONNECTION, app_with_sink, open_page, submit};
use base64::Engine as _;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Digest as _;
use std::time::Duration;

pub(crate) const CALLBACK: &str = "http://localhost:3000/callback";
pub(crate) const VERIFIER: &str = "a-pkce-verifier-that-is-long-enough-to-be-valid-0123456789";

fn challenge() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(VERIFIER.as_bytes()))
}

pub(crate) fn authorize_url(app: &TestApp, extra: &str) -> String {
    let (client_id, _) = app.app_client();
    app.url(&format!(
        "/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope=openid%20profile%20email%20offline_access&state=st4te&nonce=n0nce&code_challenge={}&code_challenge_method=S256{extra}",
        urlencode(CALLBACK),
        challenge()
    ))
}

pub(crate) fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A browser: keeps the cookies it is given (one jar per test).
pub(crate) struct Browser {
    http: reqwest::Client,
    pub(crate) cookies: std::collections::BTreeMap<String, String>,
}

impl Browser {
    pub(crate) fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: Default::default(),
        }
    }
    /// A browser whose connections come from `ip` (a loopback address such as 127.0.0.7: the
    /// server sees a distinct client IP, as from another machine).
    pub(crate) fn from_ip(ip: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .local_address(ip.parse::<std::net::IpAddr>().unwrap())
                .build()
                .unwrap(),
            cookies: Default::default(),
        }
    }
    fn header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
    fn keep(&mut self, res: &reqwest::Response) {
        for c in res.headers().get_all("set-cookie") {
            let pair = c.to_str().unwrap().split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
    }
    pub(crate) async fn get(&mut self, url: &str) -> (u16, String, Option<String>) {
        let request = self.http.get(url);
        self.send(request).await
    }
    /// `get` with the answer's headers: (status, headers, body).
    pub(crate) async fn get_with_headers(
        &mut self,
        url: &str,
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let request = self.http.get(url);
        self.send_with_headers(request).await
    }
    pub(crate) async fn post_with_headers(
        &mut self,
        url: &str,
        form: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let request = self.http.post(url).form(form);
        self.send_with_headers(request).await
    }
    /// Sends with this browser's cookies, keeps the ones it is given: (status, headers, body).
    async fn send_with_headers(
        &mut self,
        request: reqwest::RequestBuilder,
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let res = request
            .header("cookie", self.header())
            .send()
            .await
            .unwrap();
        self.keep(&res);
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        (status, headers, res.text().await.unwrap())
    }
    pub(crate) async fn post(
        &mut self,
        url: &str,
        form: &[(&str, &str)],
    ) -> (u16, String, Option<String>) {
        let request = self.http.post(url).form(form);
        self.send(request).await
    }
    /// Sends with this browser's cookies, keeps the ones it is given: (status, body, Location).
    async fn send(&mut self, request: reqwest::RequestBuilder) -> (u16, String, Option<String>) {
        let res = request
            .header("cookie", self.header())
            .send()
            .await
            .unwrap();
        self.keep(&res);
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        (status, res.text().await.unwrap(), location)
    }
}

pub(crate) fn hidden(html: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[at..at + html[at..].find('"').unwrap()].replace("&amp;", "&")
}

/// Submits the login page's form; returns the answer.
pub(crate) async fn log_in(
    b: &mut Browser,
    app: &TestApp,
    page: &str,
    email: &str,
    password: &str,
) -> (u16, String, Option<String>) {
    let csrf = hidden(page, "_csrf");
    let tx = hidden(page, "state");
    b.post(
        &app.url("/u/login"),
        &[
            ("_csrf", &csrf),
            ("state", &tx),
            ("username", email),
            ("password", password),
        ],
    )
    .await
}

pub(crate) fn code_of(location: &str) -> String {
    let url = url::Url::parse(location).unwrap();
    assert!(location.starts_with(CALLBACK), "{location}");
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q.get("state").map(String::as_str), Some("st4te"));
    q.get("code")
        .unwrap_or_else(|| panic!("no code in {location}"))
        .clone()
}

async fn exchange(app: &TestApp, code: &str, verifier: &str) -> reqwest::Response {
    let (id, secret) = app.app_client();
    app.token(
        json!({"grant_type": "authorization_code", "client_id": id, "client_secret": secret,
                      "code": code, "redirect_uri": CALLBACK, "code_verifier": verifier}),
    )
    .await
}

#[tokio::test]
async fn the_code_flow_logs_in_and_single_sign_on_skips_the_form() {
    let (app, _sink) = app_with_sink().await;
    let user = app.create_user("ola@example.com", "Old-Password-1").await;
    let mut b = Browser::new();

    let (status, page, _) = b
        .get(&authorize_url(&app, "&login_hint=ola%40example.com"))
        .await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Log in")
            && page.contains(r#"value="ola@example.com""#)
            && page.contains("Forgot password?")
    );
    let (status, again, _) =
        log_in(&mut b, &app, &page, "ola@example.com", "Wrong-Password-9").await;
    assert_eq!(status, 400);
    assert!(again.contains("Wrong email or password."));
    let (status, _, location) =
        log_in(&mut b, &app, &again, "ola@example.com", "Old-Password-1").await;
    assert_eq!(status, 303);
    assert!(b.cookies.contains_key("lk_session"));
    let code = code_of(&location.unwrap());

    // A wrong verifier fails, and burns the code (single use).
    assert_eq!(
        exchange(
            &app,
            &code,
            "not-the-verifier-not-the-verifier-not-the-verifier"
        )
        .await
        .status(),
        403
    );
    assert_eq!(exchange(&app, &code, VERIFIER).await.status(), 403);

    // SSO: the next /authorize answers at once.
    let (status, _, location) = b.get(&authorize_url(&app, "")).await;
    assert_eq!(status, 303);
    let code = code_of(&location.unwrap());
    let res = exchange(&app, &code, VERIFIER).await;
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.unwrap();
    let id_token = jwt_part(tokens["id_token"].as_str().unwrap(), 1);
    assert_eq!(id_token["nonce"], "n0nce");
    assert_eq!(id_token["amr"], json!(["pwd"]));
    assert_eq!(id_token["sub"], user["user_id"]);
    assert!(id_token["sid"].is_string() && id_token["auth_time"].is_i64());
    assert!(tokens["refresh_token"].is_string());
    // The same code again: refused.
    assert_eq!(exchange(&app, &code, VERIFIER).await.status(), 403);
    let info: Value = app
        .http
        .get(app.url("/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["sub"], user["user_id"]);
    assert_eq!(info["email"], "ola@example.com");
    assert_eq!(
        app.http
            .get(app.url("/userinfo"))
            .bearer_auth("nope")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );

    // prompt=login and max_age=0 show the form despite the session.
    let (status, page, _) = b.get(&authorize_url(&app, "&prompt=login")).await;
    assert_eq!(status, 200);
    assert!(page.contains(r#"name="password""#));
    assert_eq!(b.get(&authorize_url(&app, "&max_age=0")).await.0, 200);

    // The Management API sees the session and can end it.
    let id = encode_id(user["user_id"].as_str().unwrap());
    let (_, sessions) = app
        .api(Method::GET, &format!("/users/{id}/sessions"), None)
        .await;
    assert_eq!(sessions["sessions"].as_array().unwrap().len(), 1);

    // A password change ends the session: /authorize shows the form again.
    let (status, _) = app
        .api(
            Method::PATCH,
            &format!("/users/{id}"),
            Some(json!({"password": "New-Password-2", "connection": CONNECTION})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(b.get(&authorize_url(&app, "")).await.0, 200);
    let (_, sessions) = app
        .api(Method::GET, &format!("/users/{id}/sessions"), None)
        .await;
    assert_eq!(sessions["sessions"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn authorize_refuses_bad_requests_safely() {
    let (app, _sink) = app_with_sink().await;
    let mut b = Browser::new();
    let (client_id, _) = app.app_client();
    // Unknown client or callback: an error page, never a redirect.
    let (status, page, location) = b.get(&app.url(&format!(
        "/authorize?response_type=code&client_id={client_id}&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&state=s"))).await;
    assert_eq!((status, location), (400, None));
    assert!(page.contains("allowed callback URLs"));
    let (status, _, location) = b
        .get(&app.url("/authorize?response_type=code&client_id=nope"))
        .await;
    assert_eq!((status, location), (400, None));
    // Known callback: errors go back to it with state.
    let (status, _, location) = b.get(&authorize_url(&app, "&prompt=none")).await;
    assert_eq!(status, 303);
    let location = location.unwrap();
    assert!(
        location.contains("error=login_required") && location.contains("state=st4te"),
        "{location}"
    );
    let (_, _, location) = b
        .get(&app.url(&format!(
            "/authorize?response_type=code%20code&client_id={client_id}&redirect_uri={}&state=st4te",
            urlencode(CALLBACK)
        )))
        .await;
    assert!(
        location
            .unwrap()
            .contains("error=unsupported_response_type")
    );
    let plain = app.url(&format!(
        "/authorize?response_type=code&client_id={client_id}&redirect_uri={}&state=st4te&code_challenge={}&code_challenge_method=plain",
        urlencode(CALLBACK),
        challenge()
    ));
    let (_, _, location) = b.get(&plain).await;
    assert!(location.unwrap().contains("error=invalid_request"));
    // A forged or stale login form is refused.
    let (status, page, _) = b.get(&authorize_url(&app, "")).await;
    assert_eq!(status, 200);
    let csrf = hidden(&page, "_csrf");
    let (status, _, _) = b
        .post(
            &app.url("/u/login"),
            &[
                ("_csrf", &csrf),
                ("state", "forged.123.abc"),
                ("username", "a@example.com"),
                ("password", "x"),
            ],
        )
        .await;
    assert_eq!(status, 400);
    let (status, _, _) = b
        .post(
            &app.url("/u/login"),
            &[
                ("_csrf", "forged"),
                ("state", &hidden(&page, "state")),
                ("username", "a@example.com"),
                ("password", "x"),
            ],
        )
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn logout_ends_the_session_and_redirects_only_to_allowed_urls() {
    let (app, _sink) = app_with_sink().await;
    app.create_user("lou@example.com", "Old-Password-1").await;
    let mut b = Browser::new();
    let (_, page, _) = b.get(&authorize_url(&app, "")).await;
    log_in(&mut b, &app, &page, "lou@example.com", "Old-Password-1").await;
    let (client_id, _) = app.app_client();
    let (status, _, location) = b
        .get(&app.url(&format!(
            "/v2/logout?client_id={client_id}&returnTo=https%3A%2F%2Fevil.example"
        )))
        .await;
    assert_eq!((status, location), (200, None));
    assert!(!b.cookies.contains_key("lk_session"));
    // Logged out: the form again. Then with an allowed returnTo, a redirect.
    let (_, page, _) = b.get(&authorize_url(&app, "")).await;
    assert!(page.contains(r#"name="password""#));
    log_in(&mut b, &app, &page, "lou@example.com", "Old-Password-1").await;
    let (status, _, location) = b
        .get(&app.url(&format!(
            "/v2/logout?client_id={client_id}&returnTo=http%3A%2F%2Flocalhost%3A3000"
        )))
        .await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("http://localhost:3000"))
    );
}

#[tokio::test]
async fn forgot_password_from_the_login_page_then_log_in_with_the_new_password() {
    let (app, sink) = app_with_sink().await;
    app.create_user("j1@example.com", "Old-Password-1").await;
    let mut b = Browser::new();
    let (_, login, _) = b.get(&authorize_url(&app, "")).await;
    let at = login.find("/lo/forgot?connection=").unwrap();
    let link = &login[at..at + login[at..].find('"').unwrap()];
    let (status, forgot, _) = b.get(&app.url(link)).await;
    assert_eq!(status, 200);
    let (status, sent, _) = b
        .post(
            &app.url("/lo/forgot"),
            &[
                ("_csrf", &hidden(&forgot, "_csrf")),
                ("connection", &hidden(&forgot, "connection")),
                ("email", "j1@example.com"),
            ],
        )
        .await;
    assert_eq!(status, 200);
    assert!(sent.contains("We've just sent you an email to reset your password."));
    let mail = &sink.wait_for(1, Duration::from_secs(10)).await[0];
    let ticket = mail.ticket();
    let visit = open_page(&app, &ticket).await;
    assert_eq!(
        submit(&app, &visit, &ticket, "New-Password-2", "New-Password-2")
            .await
            .status(),
        200
    );
    // Back to the app: the new password logs in and the code exchanges.
    let (_, page, _) = b.get(&authorize_url(&app, "")).await;
    let (status, _, location) =
        log_in(&mut b, &app, &page, "j1@example.com", "New-Password-2").await;
    assert_eq!(status, 303);
    assert_eq!(
        exchange(&app, &code_of(&location.unwrap()), VERIFIER)
            .await
            .status(),
        200
    );
}

pub(crate) fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let at = html
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {html}"))
        + start.len();
    &html[at..at + html[at..].find(end).unwrap()]
}

#[tokio::test]
async fn mfa_policy_enrols_at_login_then_challenges_with_a_recovery_code_fallback() {
    let (app, _sink) = app_with_sink().await;
    let user = app.create_user("two@example.com", "Old-Password-1").await;
    let (status, body) = app
        .api(
            Method::PUT,
            "/guardian/factors/otp",
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!((status, body), (200, json!({"enabled": true})));
    let (status, body) = app
        .api(
            Method::PUT,
            "/guardian/policies",
            Some(json!(["all-applications"])),
        )
        .await;
    assert_eq!((status, body), (200, json!(["all-applications"])));
    let (_, factors) = app.api(Method::GET, "/guardian/factors", None).await;
    assert!(
        factors
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "otp" && f["enabled"] == true)
    );
    // The password grant obeys the same policy: no tokens for a user who has not enrolled yet.
    let res = app
        .login("two@example.com", "Old-Password-1", "openid")
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "mfa_required");
    let (status, _) = app
        .api(
            Method::PUT,
            "/guardian/factors/sms",
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(status, 400);

    // First login: enrolment (QR code and key), a wrong code, then the right one.
    let mut b = Browser::new();
    let (_, page, _) = b.get(&authorize_url(&app, "")).await;
    let (status, enrol, _) = log_in(&mut b, &app, &page, "two@example.com", "Old-Password-1").await;
    assert_eq!(status, 200);
    assert!(enrol.contains("Secure your account") && enrol.contains("data:image/svg+xml;base64,"));
    assert!(
        !b.cookies.contains_key("lk_session"),
        "no session before the second factor"
    );
    let key = between(&enrol, "<code>", "</code>").replace(' ', "");
    let pending = hidden(&enrol, "pending");
    let csrf = hidden(&enrol, "_csrf");
    let (status, again, _) = b
        .post(
            &app.url("/u/mfa"),
            &[("_csrf", &csrf), ("pending", &pending), ("code", "000000")],
        )
        .await;
    assert_eq!(status, 400);
    assert!(again.contains("That code is not valid") && again.contains("Secure your account"));
    let code = totp_now(&key);
    let (status, saved, _) = b
        .post(
            &app.url("/u/mfa"),
            &[("_csrf", &csrf), ("pending", &pending), ("code", &code)],
        )
        .await;
    assert_eq!(status, 200);
    let recovery = between(&saved, r#"<code id="recovery-code">"#, "</code>").replace(' ', "");
    assert_eq!(recovery.len(), 24);
    let onward = between(&saved, r#"<a class="button" href=""#, "\"").replace("&amp;", "&");
    let tokens: Value = exchange(&app, &code_of(&onward), VERIFIER)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        jwt_part(tokens["id_token"].as_str().unwrap(), 1)["amr"],
        json!(["pwd", "mfa"])
    );
    let id = encode_id(user["user_id"].as_str().unwrap());
    let (_, enrollments) = app
        .api(Method::GET, &format!("/users/{id}/enrollments"), None)
        .await;
    // One enrollment: the authenticator app (its recovery code is not listed on its own).
    let enrollments = enrollments.as_array().unwrap();
    assert_eq!(enrollments.len(), 1, "{enrollments:?}");
    assert_eq!(enrollments[0]["status"], "confirmed");
    assert!(enrollments[0]["id"].as_str().unwrap().starts_with("totp|"));

    // A new browser: the password, then the challenge. The enrolment's code is spent; the
    // recovery code works once.
    let mut other = Browser::new();
    let (_, page, _) = other.get(&authorize_url(&app, "")).await;
    let (status, challenge, _) =
        log_in(&mut other, &app, &page, "two@example.com", "Old-Password-1").await;
    assert_eq!(status, 200);
    assert!(challenge.contains("Verify it's you"));
    let pending = hidden(&challenge, "pending");
    let csrf = hidden(&challenge, "_csrf");
    let (status, _, _) = other
        .post(
            &app.url("/u/mfa"),
            &[("_csrf", &csrf), ("pending", &pending), ("code", &code)],
        )
        .await;
    assert_eq!(status, 400, "a spent code is refused");
    // The recovery code passes once and is replaced by a new one, shown once (Auth0).
    let (status, saved, _) = other
        .post(
            &app.url("/u/mfa"),
            &[("_csrf", &csrf), ("pending", &pending), ("code", &recovery)],
        )
        .await;
    assert_eq!(status, 200);
    let renewed = between(&saved, r#"<code id="recovery-code">"#, "</code>").replace(' ', "");
    assert_eq!(renewed.len(), 24);
    assert_ne!(renewed, recovery);
    let onward = between(&saved, r#"<a class="button" href=""#, "\"").replace("&amp;", "&");
    assert_eq!(
        exchange(&app, &code_of(&onward), VERIFIER).await.status(),
        200
    );
    // The authenticator stays: the next login challenges, and the used code is dead.
    let mut third = Browser::new();
    let (_, page, _) = third.get(&authorize_url(&app, "")).await;
    let (_, next, _) = log_in(&mut third, &app, &page, "two@example.com", "Old-Password-1").await;
    assert!(next.contains("Verify it's you"));
    let (status, _, _) = third
        .post(
            &app.url("/u/mfa"),
            &[
                ("_csrf", &hidden(&next, "_csrf")),
                ("pending", &hidden(&next, "pending")),
                ("code", &recovery),
            ],
        )
        .await;
    assert_eq!(status, 400, "a used recovery code is refused");

    // The password grant: `mfa_required`, then the `mfa-recovery-code` grant answers with
    // tokens and the next code in `recovery_code`. Each grant takes only its own kind of code.
    let res = app
        .login("two@example.com", "Old-Password-1", "openid")
        .await;
    assert_eq!(res.status(), 403);
    let mfa_token = res.json::<Value>().await.unwrap()["mfa_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (client_id, secret) = app.app_client();
    let grant = |kind: &str, field: &str, code: &str| {
        let mut body = json!({"grant_type": format!("http://auth0.com/oauth/grant-type/{kind}"),
                              "client_id": client_id, "client_secret": secret, "mfa_token": mfa_token});
        body[field] = json!(code);
        app.token(body)
    };
    let res = grant("mfa-otp", "otp", &renewed).await;
    assert_eq!(res.status(), 403, "mfa-otp does not take a recovery code");
    let res = grant("mfa-recovery-code", "recovery_code", &renewed).await;
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.unwrap();
    assert!(tokens["id_token"].is_string());
    let next_code = tokens["recovery_code"].as_str().unwrap();
    assert_eq!(next_code.len(), 24);
    assert_ne!(next_code, renewed);
    let res = grant("mfa-recovery-code", "recovery_code", &renewed).await;
    assert_eq!(res.status(), 403, "a recovery code works once");
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
}

#[tokio::test]
async fn password_grants_answer_mfa_required_then_accept_the_otp_grant() {
    const SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    let (app, _sink) = app_with_sink().await;
    let user = app.create_user("grant@example.com", "Old-Password-1").await;
    let id = encode_id(user["user_id"].as_str().unwrap());
    app.api(
        Method::POST,
        &format!("/users/{id}/authentication-methods"),
        Some(json!({"type": "totp", "totp_secret": SECRET})),
    )
    .await;
    // With the OTP factor off, the authenticator does not change password grants.
    assert_eq!(
        app.login("grant@example.com", "Old-Password-1", "openid")
            .await
            .status(),
        200
    );
    app.api(
        Method::PUT,
        "/guardian/factors/otp",
        Some(json!({"enabled": true})),
    )
    .await;
    let res = app
        .login(
            "grant@example.com",
            "Old-Password-1",
            "openid offline_access",
        )
        .await;
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "mfa_required");
    let mfa_token = body["mfa_token"].as_str().unwrap().to_owned();
    let (client_id, secret) = app.app_client();
    let otp = |code: String| {
        app.token(json!({"grant_type": "http://auth0.com/oauth/grant-type/mfa-otp", "client_id": client_id,
                          "client_secret": secret, "mfa_token": mfa_token, "otp": code}))
    };
    let right = totp_now(SECRET);
    let wrong = if right == "123456" {
        "654321"
    } else {
        "123456"
    };
    let res = otp(wrong.to_owned()).await;
    assert_eq!(res.status(), 403);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");
    let res = otp(right).await;
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.unwrap();
    assert_eq!(
        jwt_part(tokens["id_token"].as_str().unwrap(), 1)["amr"],
        json!(["pwd", "mfa"])
    );
    assert!(tokens["refresh_token"].is_string());
    // A forged token is refused.
    let res = app.token(json!({"grant_type": "http://auth0.com/oauth/grant-type/mfa-otp", "client_id": client_id,
                                "client_secret": secret, "mfa_token": "x.y.z", "otp": "123456"})).await;
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn the_hosted_sign_up_form_creates_the_user_and_logs_in() {
    let (app, _sink) = app_with_sink().await;
    let mut b = Browser::new();
    let (_, login, _) = b.get(&authorize_url(&app, "")).await;
    assert!(login.contains(">Sign up</a>"));
    let (status, page, _) = b.get(&authorize_url(&app, "&screen_hint=signup")).await;
    assert_eq!(status, 200);
    assert!(page.contains("<h1>Sign up</h1>") && page.contains("At least 8 characters in length"));
    let csrf = hidden(&page, "_csrf");
    let state = hidden(&page, "state");
    let url = app.url("/u/signup");
    let fields = |email: &'static str, password: &'static str| {
        [
            ("_csrf", csrf.clone()),
            ("state", state.clone()),
            ("email", email.to_owned()),
            ("password", password.to_owned()),
        ]
    };
    let f = fields("new@example.com", "weak");
    let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, weak, _) = b.post(&url, &pairs).await;
    assert_eq!(status, 400);
    assert!(weak.contains("Password is too weak") && weak.contains(r#"class="bad""#));
    let f = fields("new@example.com", "Good-Password-1");
    let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, location) = b.post(&url, &pairs).await;
    assert_eq!(status, 303);
    assert_eq!(
        exchange(&app, &code_of(&location.unwrap()), VERIFIER)
            .await
            .status(),
        200
    );
    // The same address again is refused without saying it exists.
    let (status, again, _) = b.post(&url, &pairs).await;
    assert_eq!(status, 400);
    assert!(again.contains("Invalid sign up"));
}

#[tokio::test]
async fn pages_speak_french_when_asked() {
    let (app, _sink) = app_with_sink().await;
    let user = app.create_user("fr@example.com", "Old-Password-1").await;
    let mut b = Browser::new();
    let (status, page, _) = b.get(&authorize_url(&app, "&ui_locales=fr-FR")).await;
    assert_eq!(status, 200);
    assert!(page.contains(r#"<html lang="fr">"#), "{page}");
    assert!(page.contains("<h1>Connexion</h1>") && page.contains("Mot de passe oublié ?"));
    assert_eq!(b.cookies.get("lk_lang").map(String::as_str), Some("fr"));
    // The choice is remembered: the error after a wrong password is in French too.
    let (status, again, _) =
        log_in(&mut b, &app, &page, "fr@example.com", "Wrong-Password-9").await;
    assert_eq!(status, 400);
    assert!(again.contains("Adresse e-mail ou mot de passe incorrect."));
    // Accept-Language alone is enough on the reset page; English stays the default.
    let ticket = crate::reset::ticket_token(&app, json!({"user_id": user["user_id"]})).await;
    let french = app
        .http
        .get(app.url(&format!("/lo/reset?ticket={ticket}")))
        .header("accept-language", "fr-CA,fr;q=0.9,en;q=0.5")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        french.contains("Changez votre mot de passe") && french.contains("Au moins 8 caractères")
    );
    let english = open_page(&app, &ticket).await;
    assert!(english.html.contains("Change your password") && english.html.contains(r#"lang="en""#));
}

#[tokio::test]
async fn a_tenant_page_template_wraps_every_hosted_page() {
    let theme = crate::helpers::temp_dir();
    std::fs::create_dir_all(&theme).unwrap();
    // Auth0's page-template syntax, as a team would bring it.
    std::fs::write(
        theme.join("page.liquid"),
        r#"<!DOCTYPE html><html lang="{{ locale }}"><head>{%- auth0:head -%}</head>
<body class="acme"><div id="acme-banner">{{ tenant.friendly_name }} · {{ prompt.screen.name }}</div>{%- auth0:widget -%}</body></html>"#,
    )
    .unwrap();
    std::fs::write(theme.join("custom.css"), "body.acme{background:#102030}").unwrap();
    let dir = theme.clone();
    let app = crate::helpers::spawn_app_with(move |s| s.server.pages_dir = Some(dir)).await;
    app.create_user("themed@example.com", "Old-Password-1")
        .await;
    let mut b = Browser::new();
    let (status, page, _) = b.get(&authorize_url(&app, "")).await;
    assert_eq!(status, 200);
    assert!(
        page.contains(r#"<body class="acme"><div id="acme-banner">"#),
        "{page}"
    );
    assert!(page.contains("· Log in</div>"), "{page}");
    assert!(page.contains(r#"<link rel="stylesheet" href="/lo/custom.css">"#));
    // The widget is the real form: logging in through the themed page works.
    let (status, _, location) =
        log_in(&mut b, &app, &page, "themed@example.com", "Old-Password-1").await;
    assert_eq!(status, 303, "{location:?}");
    let css = app
        .http
        .get(app.url("/lo/custom.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
    assert_eq!(css.text().await.unwrap(), "body.acme{background:#102030}");

    // A template without the widget, or one that does not parse, stops the start with the reason.
    for (source, reason) in [
        ("<html>{%- auth0:head -%}</html>", "auth0:widget"),
        (
            "{%- auth0:head -%}{%- auth0:widget -%}{% if %}",
            "page.liquid",
        ),
    ] {
        let bad = crate::helpers::temp_dir();
        std::fs::create_dir_all(&bad).unwrap();
        std::fs::write(bad.join("page.liquid"), source).unwrap();
        let mut settings = crate::helpers::settings(&crate::helpers::temp_dir(), None);
        settings.server.pages_dir = Some(bad);
        let err = latchkey_server::Application::build(&settings, &Default::default())
            .await
            .err()
            .expect("a bad page template must stop the start");
        assert!(format!("{err:#}").contains(reason), "{err:#}");
    }
}

/// OTP on and the `all-applications` policy: every login needs a second factor.
async fn require_mfa_everywhere(app: &TestApp) {
    for (path, body) in [
        ("/guardian/factors/otp", json!({"enabled": true})),
        ("/guardian/policies", json!(["all-applications"])),
    ] {
        let (status, answer) = app.api(Method::PUT, path, Some(body)).await;
        assert_eq!(status, 200, "{path}: {answer}");
    }
}

#[tokio::test]
async fn password_grant_users_enrol_through_the_mfa_api() {
    let (app, _sink) = app_with_sink().await;
    app.create_user("api-mfa@example.com", "Old-Password-1")
        .await;
    require_mfa_everywhere(&app).await;
    let res = app
        .login("api-mfa@example.com", "Old-Password-1", "openid")
        .await;
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "mfa_required");
    assert_eq!(
        body["mfa_requirements"],
        json!({"enroll": [{"type": "otp"}]})
    );
    let mfa_token = body["mfa_token"].as_str().unwrap().to_owned();
    let (client_id, secret) = app.app_client();
    let bearer = format!("Bearer {mfa_token}");

    // Nothing to challenge yet; the token must come as a Bearer, and a forged one is refused.
    let res = app
        .http
        .get(app.url("/mfa/authenticators"))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap(), json!([]));
    let res = app
        .http
        .post(app.url("/mfa/challenge"))
        .json(&json!({"client_id": client_id, "mfa_token": mfa_token, "challenge_type": "otp"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let associate = |token: String| {
        app.http
            .post(app.url("/mfa/associate"))
            .header("authorization", format!("Bearer {token}"))
            .json(&json!({"authenticator_types": ["otp"]}))
            .send()
    };
    assert_eq!(
        app.http
            .post(app.url("/mfa/associate"))
            .json(&json!({"authenticator_types": ["otp"]}))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let res = associate("forged.token".into()).await.unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_grant");

    // Associate (twice: the second replaces the first), then the first code confirms it.
    associate(mfa_token.clone()).await.unwrap();
    let res = associate(mfa_token.clone()).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let association: Value = res.json().await.unwrap();
    assert_eq!(association["authenticator_type"], "otp");
    let key = association["secret"].as_str().unwrap().to_owned();
    assert!(
        association["barcode_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/")
    );
    let recovery = association["recovery_codes"][0]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(recovery.len(), 24);
    let otp = |code: String| {
        app.token(
            json!({"grant_type": "http://auth0.com/oauth/grant-type/mfa-otp",
            "client_id": client_id, "client_secret": secret, "mfa_token": mfa_token, "otp": code}),
        )
    };
    let right = totp_now(&key);
    let wrong = if right == "123456" {
        "654321"
    } else {
        "123456"
    };
    assert_eq!(otp(wrong.to_owned()).await.status(), 403);
    let res = otp(right).await;
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.unwrap();
    assert_eq!(
        jwt_part(tokens["id_token"].as_str().unwrap(), 1)["amr"],
        json!(["pwd", "mfa"])
    );
    let res = app
        .http
        .get(app.url("/mfa/authenticators"))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    let mut kinds: Vec<String> = res
        .json::<Value>()
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["authenticator_type"].as_str().unwrap().to_owned())
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["otp", "recovery-code"]);
    let res = associate(mfa_token.clone()).await.unwrap();
    assert_eq!(
        res.status(),
        403,
        "an enrolled user is challenged, not enrolled again"
    );

    // The next password grant asks for the code, and /mfa/challenge agrees.
    let res = app
        .login("api-mfa@example.com", "Old-Password-1", "openid")
        .await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["mfa_requirements"],
        json!({"challenge": [{"type": "otp"}]})
    );
    let res = app
        .http
        .post(app.url("/mfa/challenge"))
        .json(&json!({"client_id": client_id, "mfa_token": body["mfa_token"], "challenge_type": "otp"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"challenge_type": "otp"})
    );
    // The recovery code from the association works with the recovery-code grant.
    let res = app
        .token(
            json!({"grant_type": "http://auth0.com/oauth/grant-type/mfa-recovery-code",
            "client_id": client_id, "client_secret": secret, "mfa_token": body["mfa_token"],
            "recovery_code": recovery}),
        )
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn an_association_left_pending_never_becomes_a_second_factor() {
    let (app, _sink) = app_with_sink().await;
    let user = app.create_user("stale@example.com", "Old-Password-1").await;
    require_mfa_everywhere(&app).await;
    let mfa_token = |res: Value| res["mfa_token"].as_str().unwrap().to_owned();
    let body: Value = app
        .login("stale@example.com", "Old-Password-1", "openid")
        .await
        .json()
        .await
        .unwrap();
    let first = mfa_token(body);
    // Someone with the password associates a key and leaves it pending…
    let association: Value = app
        .http
        .post(app.url("/mfa/associate"))
        .header("authorization", format!("Bearer {first}"))
        .json(&json!({"authenticator_types": ["otp"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stale_key = association["secret"].as_str().unwrap().to_owned();
    // …then the user gets an authenticator another way.
    const SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    let id = encode_id(user["user_id"].as_str().unwrap());
    let (status, _) = app
        .api(
            Method::POST,
            &format!("/users/{id}/authentication-methods"),
            Some(json!({"type": "totp", "totp_secret": SECRET})),
        )
        .await;
    assert_eq!(status, 201);
    let body: Value = app
        .login("stale@example.com", "Old-Password-1", "openid")
        .await
        .json()
        .await
        .unwrap();
    let second = mfa_token(body);
    let (client_id, secret) = app.app_client();
    let res = app
        .token(
            json!({"grant_type": "http://auth0.com/oauth/grant-type/mfa-otp",
            "client_id": client_id, "client_secret": secret, "mfa_token": second,
            "otp": totp_now(&stale_key)}),
        )
        .await;
    assert_eq!(res.status(), 403, "the pending key must not pass");
    let (_, enrollments) = app
        .api(Method::GET, &format!("/users/{id}/enrollments"), None)
        .await;
    assert_eq!(enrollments.as_array().unwrap().len(), 1, "{enrollments}");
    // The user's real authenticator works.
    let res = app
        .token(
            json!({"grant_type": "http://auth0.com/oauth/grant-type/mfa-otp",
            "client_id": client_id, "client_secret": secret, "mfa_token": second,
            "otp": totp_now(SECRET)}),
        )
        .await;
    assert_eq!(res.status(), 200);
}
