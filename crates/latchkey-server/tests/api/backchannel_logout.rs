//! OpenID Connect Back-Channel Logout 1.0 over real HTTP: a client registered with
//! `oidc_logout.backchannel_logout_urls` receives a signed logout token for every session that
//! ends — logout, revocation through the Management API, password change — at a loopback
//! receiver, through the outbox (a failed delivery is retried).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::{TestApp, encode_id, jwt_part, spawn_app_with};
use crate::login::{Browser, hidden};
use crate::loopback_http;
use crate::reset::CONNECTION;
use base64::Engine as _;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Digest as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

const CALLBACK: &str = "http://localhost:4000/callback";
const VERIFIER: &str = "a-pkce-verifier-that-is-long-enough-to-be-valid-0123456789";
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// What a back-channel POST carried.
#[derive(Debug)]
struct Delivery {
    content_type: String,
    logout_token: String,
}

/// A relying party's back-channel endpoint on a loopback port. The first `fail_first`
/// requests are answered 500, the rest 200.
struct Receiver {
    url: String,
    deliveries: mpsc::UnboundedReceiver<Delivery>,
    hits: Arc<AtomicUsize>,
}

impl Receiver {
    async fn start(fail_first: usize) -> Self {
        let (tx, deliveries) = mpsc::unbounded_channel();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let base = loopback_http::serve(move |request| {
            if (request.method.as_str(), request.path.as_str()) != ("POST", "/bcl") {
                return loopback_http::empty(404);
            }
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let form: std::collections::HashMap<String, String> =
                serde_urlencoded::from_bytes(&request.body).unwrap();
            let _ = tx.send(Delivery {
                content_type: request
                    .header("content-type")
                    .unwrap_or_default()
                    .to_owned(),
                logout_token: form.get("logout_token").cloned().unwrap_or_default(),
            });
            loopback_http::empty(if n < fail_first { 500 } else { 200 })
        })
        .await;
        Self {
            url: format!("{base}/bcl"),
            deliveries,
            hits,
        }
    }

    async fn next(&mut self) -> Delivery {
        tokio::time::timeout(Duration::from_secs(15), self.deliveries.recv())
            .await
            .expect("no logout token arrived within 15 s")
            .unwrap()
    }

    /// Nothing more arrives within `wait`.
    async fn assert_quiet(&mut self, wait: Duration) {
        if let Ok(Some(d)) = tokio::time::timeout(wait, self.deliveries.recv()).await {
            panic!("unexpected logout token: {}", jwt_part(&d.logout_token, 1));
        }
    }
}

/// An app whose outbox retries after one second.
async fn app() -> TestApp {
    spawn_app_with(|s| s.mail.retry_base_secs = 1).await
}

/// A regular web application with a back-channel logout URL (and `initiators`, if given),
/// enabled on the database connection. Returns (client_id, client_secret).
async fn bcl_client(app: &TestApp, url: &str, initiators: Option<Value>) -> (String, String) {
    let mut oidc_logout = json!({"backchannel_logout_urls": [url]});
    if let Some(i) = initiators {
        oidc_logout["backchannel_logout_initiators"] = i;
    }
    let (status, client) = app
        .api(
            Method::POST,
            "/clients",
            Some(
                json!({"name": "BCL App", "app_type": "regular_web", "callbacks": [CALLBACK],
                        "oidc_logout": oidc_logout}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{client}");
    assert_eq!(
        client["oidc_logout"]["backchannel_logout_urls"],
        json!([url])
    );
    let id = client["client_id"].as_str().unwrap().to_owned();
    let (_, conns) = app
        .api(
            Method::GET,
            &format!("/connections?name={CONNECTION}"),
            None,
        )
        .await;
    let conn = &conns[0];
    let mut enabled = conn["enabled_clients"].as_array().unwrap().clone();
    enabled.push(json!(id));
    let (status, _) = app
        .api(
            Method::PATCH,
            &format!("/connections/{}", conn["id"].as_str().unwrap()),
            Some(json!({"enabled_clients": enabled})),
        )
        .await;
    assert_eq!(status, 200);
    (id, client["client_secret"].as_str().unwrap().to_owned())
}

/// Logs `email` in through `/authorize` and the hosted form in `browser`, exchanges the code;
/// returns the ID token's `sid` and the ID token.
async fn log_in(
    app: &TestApp,
    browser: &mut Browser,
    (client_id, secret): &(String, String),
    email: &str,
    password: &str,
) -> (String, String) {
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(VERIFIER.as_bytes()));
    let callback: String = url::form_urlencoded::byte_serialize(CALLBACK.as_bytes()).collect();
    let (status, page, _) = browser
        .get(&app.url(&format!(
            "/authorize?response_type=code&client_id={client_id}&redirect_uri={callback}&scope=openid&state=st4te&nonce=n0nce&code_challenge={challenge}&code_challenge_method=S256&prompt=login"
        )))
        .await;
    assert_eq!(status, 200, "{page}");
    let (status, body, location) = browser
        .post(
            &app.url("/u/login"),
            &[
                ("_csrf", &hidden(&page, "_csrf")),
                ("state", &hidden(&page, "state")),
                ("username", email),
                ("password", password),
            ],
        )
        .await;
    assert_eq!(status, 303, "{body}");
    let location = url::Url::parse(&location.unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let res = app
        .token(
            json!({"grant_type": "authorization_code", "client_id": client_id,
                      "client_secret": secret, "code": code, "redirect_uri": CALLBACK,
                      "code_verifier": VERIFIER}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.unwrap();
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();
    let sid = jwt_part(&id_token, 1)["sid"].as_str().unwrap().to_owned();
    (sid, id_token)
}

/// Verifies a logout token with the server's JWKS and checks OIDC BCL §2.4's claims; returns
/// the claims.
async fn verify(
    app: &TestApp,
    delivery: &Delivery,
    client_id: &str,
    user_id: &str,
    sid: &str,
) -> Value {
    assert_eq!(delivery.content_type, "application/x-www-form-urlencoded");
    let token = &delivery.logout_token;
    let header = jwt_part(token, 0);
    assert_eq!(header["typ"], "logout+jwt");
    assert_eq!(header["alg"], "RS256");
    let jwks: Value = app.get_json("/.well-known/jwks.json").await;
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the token's kid is in the JWKS");
    let decoding = jsonwebtoken::DecodingKey::from_rsa_components(
        key["n"].as_str().unwrap(),
        key["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[client_id]);
    validation.set_issuer(&[app.issuer()]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    let claims = jsonwebtoken::decode::<Value>(token, &decoding, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["iss"], app.issuer());
    assert_eq!(claims["aud"], client_id);
    assert_eq!(claims["sub"], user_id);
    assert_eq!(claims["sid"], sid);
    assert_eq!(claims["events"], json!({EVENT: {}}));
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        120
    );
    assert!(claims.get("nonce").is_none(), "a logout token has no nonce");
    claims
}

const PASSWORD: &str = "Old-Password-1";

/// What the delivery tests start from: an app, a receiver (its first `fail_first` requests
/// answered 500), a client announcing to it (with `initiators`, if given), and a user.
struct Setup {
    app: TestApp,
    rp: Receiver,
    client: (String, String),
    email: &'static str,
    user_id: String,
}

impl Setup {
    async fn new(email: &'static str, fail_first: usize, initiators: Option<Value>) -> Self {
        let app = app().await;
        let rp = Receiver::start(fail_first).await;
        let client = bcl_client(&app, &rp.url, initiators).await;
        let user = app.create_user(email, PASSWORD).await;
        let user_id = user["user_id"].as_str().unwrap().to_owned();
        Self {
            app,
            rp,
            client,
            email,
            user_id,
        }
    }

    /// Logs the user in in `browser`; returns the session's `sid`.
    async fn log_in(&self, browser: &mut Browser) -> String {
        log_in(&self.app, browser, &self.client, self.email, PASSWORD)
            .await
            .0
    }

    /// [`verify`] for this client and user.
    async fn verify(&self, delivery: &Delivery, sid: &str) -> Value {
        verify(&self.app, delivery, &self.client.0, &self.user_id, sid).await
    }

    /// Ends every session of the user through the Management API.
    async fn revoke_sessions(&self) {
        let (status, _) = self
            .app
            .api(
                Method::DELETE,
                &format!("/users/{}/sessions", encode_id(&self.user_id)),
                None,
            )
            .await;
        assert_eq!(status, 202);
    }
}

#[tokio::test]
async fn logout_sends_a_signed_logout_token_to_the_back_channel() {
    let mut t = Setup::new("bcl1@example.com", 0, None).await;
    let mut browser = Browser::new();
    let sid = t.log_in(&mut browser).await;

    let cookie = browser.cookies["lk_session"].clone();
    let (status, _, _) = browser
        .get(&t.app.url(&format!("/v2/logout?client_id={}", t.client.0)))
        .await;
    assert_eq!(status, 200);
    let delivery = t.rp.next().await;
    t.verify(&delivery, &sid).await;
    // One session ended, one token: the same (now dead) cookie again ends nothing.
    browser.cookies.insert("lk_session".into(), cookie);
    browser.get(&t.app.url("/v2/logout")).await;
    t.rp.assert_quiet(Duration::from_millis(1500)).await;
    assert_eq!(t.rp.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn revoking_a_users_sessions_tells_the_back_channel_about_each() {
    let mut t = Setup::new("bcl2@example.com", 0, None).await;
    let sid1 = t.log_in(&mut Browser::new()).await;
    let sid2 = t.log_in(&mut Browser::new()).await;
    assert_ne!(sid1, sid2);

    t.revoke_sessions().await;
    let mut sids = Vec::new();
    for _ in 0..2 {
        let delivery = t.rp.next().await;
        let claims = jwt_part(&delivery.logout_token, 1);
        let sid = claims["sid"].as_str().unwrap().to_owned();
        t.verify(&delivery, &sid).await;
        sids.push(sid);
    }
    sids.sort();
    let mut expected = vec![sid1, sid2];
    expected.sort();
    assert_eq!(sids, expected);
}

#[tokio::test]
async fn a_password_change_tells_the_back_channel_about_every_session() {
    let mut t = Setup::new("bcl3@example.com", 0, None).await;
    let sid = t.log_in(&mut Browser::new()).await;

    let user = encode_id(&t.user_id);
    let (status, body) = t
        .app
        .api(
            Method::PATCH,
            &format!("/users/{user}"),
            Some(json!({"password": "New-Password-2", "connection": CONNECTION})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let delivery = t.rp.next().await;
    t.verify(&delivery, &sid).await;
    // The session is gone, and nothing else was announced.
    let (_, sessions) = t
        .app
        .api(Method::GET, &format!("/users/{user}/sessions"), None)
        .await;
    assert_eq!(sessions["sessions"], json!([]));
    t.rp.assert_quiet(Duration::from_millis(1500)).await;
}

#[tokio::test]
async fn a_failed_delivery_is_retried_until_the_client_accepts() {
    let mut t = Setup::new("bcl4@example.com", 1, None).await;
    let mut browser = Browser::new();
    let sid = t.log_in(&mut browser).await;

    browser
        .get(&t.app.url(&format!("/v2/logout?client_id={}", t.client.0)))
        .await;
    let refused = t.rp.next().await;
    t.verify(&refused, &sid).await;
    let accepted = t.rp.next().await;
    let claims = t.verify(&accepted, &sid).await;
    // Minted again at delivery: a fresh token for the same session.
    assert_ne!(claims["jti"], jwt_part(&refused.logout_token, 1)["jti"]);
    t.rp.assert_quiet(Duration::from_millis(2500)).await;
    assert_eq!(t.rp.hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn initiators_narrow_which_ended_sessions_are_announced() {
    // Custom mode without `session-revoked` or `password-changed` (rp-logout always stays).
    let initiators = json!({"mode": "custom", "selected_initiators": []});
    let mut t = Setup::new("bcl5@example.com", 0, Some(initiators)).await;
    let mut browser = Browser::new();
    t.log_in(&mut browser).await;
    t.revoke_sessions().await;
    let sid = t.log_in(&mut browser).await;
    browser.get(&t.app.url("/v2/logout")).await;
    let delivery = t.rp.next().await;
    t.verify(&delivery, &sid).await;
    t.rp.assert_quiet(Duration::from_millis(1500)).await;
}

#[tokio::test]
async fn oidc_logout_is_validated_rendered_and_advertised() {
    let app = app().await;
    let discovery = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(discovery["backchannel_logout_supported"], true);
    assert_eq!(discovery["backchannel_logout_session_supported"], true);

    let create = |oidc_logout: Value| {
        let app = &app;
        async move {
            app.api(
                Method::POST,
                "/clients",
                Some(json!({"name": "Some App", "oidc_logout": oidc_logout})),
            )
            .await
        }
    };
    // Plain http only on loopback; no fragments; known initiators only; no unknown fields.
    for bad in [
        json!({"backchannel_logout_urls": ["http://rp.example.com/bcl"]}),
        json!({"backchannel_logout_urls": ["https://rp.example.com/bcl#frag"]}),
        json!({"backchannel_logout_urls": ["not a url"]}),
        json!({"backchannel_logout_urls": ["https://rp.example.com/bcl"],
               "backchannel_logout_initiators": {"mode": "custom", "selected_initiators": ["nope"]}}),
        json!({"backchannel_logout_urls": ["https://rp.example.com/bcl"],
               "backchannel_logout_initiators": {"mode": "sometimes"}}),
        json!({"backchannel_logout_uri": "https://rp.example.com/bcl"}),
    ] {
        let (status, body) = create(bad.clone()).await;
        assert_eq!(status, 400, "{bad} → {body}");
    }
    let (status, client) =
        create(json!({"backchannel_logout_urls": ["https://rp.example.com/bcl"]})).await;
    assert_eq!(status, 201, "{client}");
    assert_eq!(
        client["oidc_logout"],
        json!({"backchannel_logout_urls": ["https://rp.example.com/bcl"],
               "backchannel_logout_initiators": {"mode": "all"}})
    );
    let id = client["client_id"].as_str().unwrap();
    // PATCH replaces the fields it names and keeps the others; GET shows the result.
    let initiators =
        json!({"mode": "custom", "selected_initiators": ["rp-logout", "password-changed"]});
    let (status, _) = app
        .api(
            Method::PATCH,
            &format!("/clients/{id}"),
            Some(json!({"oidc_logout": {"backchannel_logout_initiators": initiators}})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, got) = app.api(Method::GET, &format!("/clients/{id}"), None).await;
    assert_eq!(
        got["oidc_logout"],
        json!({"backchannel_logout_urls": ["https://rp.example.com/bcl"],
               "backchannel_logout_initiators": initiators})
    );
    // null removes it.
    let (status, patched) = app
        .api(
            Method::PATCH,
            &format!("/clients/{id}"),
            Some(json!({"oidc_logout": null})),
        )
        .await;
    assert_eq!(status, 200);
    assert!(patched.get("oidc_logout").is_none(), "{patched}");
    let (_, got) = app.api(Method::GET, &format!("/clients/{id}"), None).await;
    assert!(got.get("oidc_logout").is_none(), "{got}");
}

/// A live session the announcements do not cover (a login that raced the change) makes the
/// store refuse the change, so the service lists the sessions again; covered, it applies.
#[tokio::test]
async fn the_store_refuses_a_password_change_that_would_end_an_unannounced_session() {
    use latchkey_core::store::{PasswordChange, PasswordChangeOutcome, SessionStore, UserStore};
    let t = Setup::new("bcl6@example.com", 0, None).await;
    let sid = t.log_in(&mut Browser::new()).await;

    let app = &t.app;
    let url = app.store_url();
    let store = latchkey_store_sql::connect(&url).await.unwrap();
    let id = latchkey_core::domain::UserId::from_trusted(t.user_id.clone());
    let before = store.get_user(&id).await.unwrap().unwrap();
    let change = PasswordChange {
        user_id: id.clone(),
        expected_epoch: before.credential_epoch,
        new_hash: before.password_hash.clone().unwrap(),
        history: Vec::new(),
        at: latchkey_core::time::Timestamp::now(),
        mark_email_verified: false,
        log: latchkey_core::audit::LogEntry::new("scp", &Default::default()),
        ticket_digest: None,
        outbox: Vec::new(),
    };
    let refused = store
        .apply_password_change_announcing(&change, Some(&[]))
        .await
        .unwrap();
    assert_eq!(refused, PasswordChangeOutcome::SessionsChanged);
    let after = store.get_user(&id).await.unwrap().unwrap();
    assert_eq!(after.credential_epoch, before.credential_epoch);
    assert_eq!(store.list_sessions(&id).await.unwrap().len(), 1);

    let applied = store
        .apply_password_change_announcing(&change, Some(std::slice::from_ref(&sid)))
        .await
        .unwrap();
    assert_eq!(applied, PasswordChangeOutcome::Applied);
    assert!(store.list_sessions(&id).await.unwrap().is_empty());
}

/// OpenID Connect RP-Initiated Logout 1.0 at `/oidc/logout`: advertised, the redirect only to
/// the client's allowed logout URLs (a refused request ends nothing), `state` carried back, the
/// session ended and announced on the back channel like `/v2/logout`.
#[tokio::test]
async fn rp_initiated_logout_redirects_only_to_allowed_urls_and_ends_the_session() {
    let mut t = Setup::new("rplogout@example.com", 0, None).await;
    let discovery = t.app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(
        discovery["end_session_endpoint"],
        format!("{}oidc/logout", t.app.issuer())
    );
    let (status, _) = t
        .app
        .api(
            Method::PATCH,
            &format!("/clients/{}", t.client.0),
            Some(json!({"allowed_logout_urls": ["https://rp.example.com/bye"]})),
        )
        .await;
    assert_eq!(status, 200);
    let mut browser = Browser::new();
    let (sid, id_token) = log_in(&t.app, &mut browser, &t.client, t.email, PASSWORD).await;
    let enc = |s: &str| -> String { url::form_urlencoded::byte_serialize(s.as_bytes()).collect() };

    // Refused, and nothing ends: an unregistered target, a target without a client, a hint
    // that is not ours, a client_id the hint contradicts.
    let (status, other) = t
        .app
        .api(
            Method::POST,
            "/clients",
            Some(json!({"name": "Other App", "app_type": "regular_web"})),
        )
        .await;
    assert_eq!(status, 201, "{other}");
    let other_id = other["client_id"].as_str().unwrap();
    for query in [
        format!(
            "id_token_hint={id_token}&post_logout_redirect_uri={}",
            enc("https://evil.example/")
        ),
        format!(
            "client_id={}&post_logout_redirect_uri={}",
            t.client.0,
            enc("https://rp.example.com/bye/../evil")
        ),
        format!(
            "post_logout_redirect_uri={}",
            enc("https://rp.example.com/bye")
        ),
        format!(
            "id_token_hint={}x&post_logout_redirect_uri={}",
            id_token,
            enc("https://rp.example.com/bye")
        ),
        format!("id_token_hint={id_token}&client_id={other_id}"),
    ] {
        let (status, page, location) = browser
            .get(&t.app.url(&format!("/oidc/logout?{query}")))
            .await;
        assert_eq!(status, 400, "{query}: {page}");
        assert!(location.is_none(), "{query}");
        assert!(page.contains("Logout request refused"), "{page}");
    }
    t.rp.assert_quiet(Duration::from_millis(1000)).await;

    let (status, _, location) = browser
        .get(&t.app.url(&format!(
            "/oidc/logout?id_token_hint={id_token}&post_logout_redirect_uri={}&state=st%20ate&logout_hint=x&ui_locales=fr",
            enc("https://rp.example.com/bye")
        )))
        .await;
    assert!(matches!(status, 302 | 303), "{status}");
    assert_eq!(
        location.as_deref(),
        Some("https://rp.example.com/bye?state=st+ate")
    );
    let delivery = t.rp.next().await;
    t.verify(&delivery, &sid).await;

    // With client_id instead of a hint, and a tenant-level Allowed Logout URL: nothing proves
    // the request comes from this session's application (any page could load the URL with
    // the cross-site cookie), so the user confirms first; an application's plain POST is
    // treated alike.
    let (status, _) = t
        .app
        .api(
            Method::PATCH,
            "/tenants/settings",
            Some(json!({"allowed_logout_urls": ["https://tenant.example.com/bye"]})),
        )
        .await;
    assert_eq!(status, 200);
    let mut browser = Browser::new();
    let sid = t.log_in(&mut browser).await;
    let target = enc("https://tenant.example.com/bye");
    let (status, page, location) = browser
        .get(&t.app.url(&format!(
            "/oidc/logout?client_id={}&post_logout_redirect_uri={target}",
            t.client.0
        )))
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(location.is_none());
    assert!(page.contains("Log out?"), "{page}");
    let client_id = t.client.0.clone();
    let (status, page, _) = browser
        .post(
            &t.app.url("/oidc/logout"),
            &[
                ("client_id", client_id.as_str()),
                ("post_logout_redirect_uri", "https://tenant.example.com/bye"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Log out?"), "{page}");
    // A forged confirmation (no valid CSRF token) ends nothing.
    let (status, _, _) = browser
        .post(
            &t.app.url("/oidc/logout"),
            &[("_csrf", "forged"), ("client_id", client_id.as_str())],
        )
        .await;
    assert_eq!(status, 403);
    t.rp.assert_quiet(Duration::from_millis(500)).await;
    // The user confirms.
    let csrf = crate::login::hidden(&page, "_csrf");
    let (status, _, location) = browser
        .post(
            &t.app.url("/oidc/logout"),
            &[
                ("_csrf", csrf.as_str()),
                ("client_id", client_id.as_str()),
                ("post_logout_redirect_uri", "https://tenant.example.com/bye"),
            ],
        )
        .await;
    assert!(matches!(status, 302 | 303), "{status}");
    assert_eq!(location.as_deref(), Some("https://tenant.example.com/bye"));
    let delivery = t.rp.next().await;
    t.verify(&delivery, &sid).await;

    // Without a session there is nothing to confirm: Latchkey's own page.
    let (status, page, _) = browser
        .get(&t.app.url(&format!("/oidc/logout?client_id={}", t.client.0)))
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("You are logged out"), "{page}");
}
