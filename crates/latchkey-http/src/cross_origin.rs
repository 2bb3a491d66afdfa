//! Embedded login from the application's own origin (Lock, auth0-js `login`):
//! `GET /client/{client_id}.js`, Lock's client configuration loaded as a `<script>`, and
//! `POST /co/authenticate` (cross-origin authentication), with CORS and credentials for the
//! client's own origins only. `/authorize?login_ticket=` is the hosted login's
//! (`pages/login.rs`), which reads the verifier cookie set here.

use crate::AppState;
use crate::api_router::ApiRouter;
use crate::errors::OAuthError;
use crate::extract::{Meta, OAuthParams};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use latchkey_core::domain::Password;
use latchkey_core::services::{Caller, CrossOriginLogin, IssuedLoginTicket};
use latchkey_core::{ErrorCode, ServiceError};
use secrecy::ExposeSecret;
use serde_json::json;

/// The ticket's verifier, for `/authorize` in the browser that authenticated (the third-party
/// cookie path of Auth0's cross-origin authentication).
pub(crate) const CO_VERIFIER_COOKIE: &str = "lk_co_verifier";

/// Lock's configuration may be cached a minute: Lock adds a timestamp to the URL anyway, and
/// a changed password policy should reach other readers soon.
const CLIENT_SCRIPT_MAX_AGE: &str = "public, max-age=60";

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .route("/client/{file}", get(client_script))
        .route(
            "/co/authenticate",
            post(authenticate).options(crate::cors::credentialed_preflight),
        )
}

/// JSON as a JavaScript expression inside any page: `<`, `>`, `&` and the two line separators
/// JavaScript once refused in strings are written as `\u` escapes, so no value (a hostile
/// connection or client name) can close a `<script>` or break the statement.
fn json_for_script(value: &serde_json::Value) -> String {
    let mut out = String::new();
    for c in value.to_string().chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

fn javascript(status: StatusCode, body: String, cache: &'static str) -> Response {
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/javascript; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    // Loaded as a script from the application's origin: say so to CORP/ORB, and let fetch()
    // read it too (it is what Auth0 publishes for every client).
    h.insert(
        header::HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("cross-origin"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    res
}

/// `GET /client/{client_id}.js`: `Auth0.setClient({…})`. An unknown client is a 404 (the
/// script's `error` event: Lock shows its own "could not fetch client data" error).
async fn client_script(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let Some(client_id) = file.strip_suffix(".js") else {
        return javascript(
            StatusCode::NOT_FOUND,
            "/* Not found */\n".into(),
            "no-store",
        );
    };
    match state.services.tenant.lock_client_config(client_id).await {
        Ok(Some(config)) => {
            let value = serde_json::to_value(&config).unwrap_or_default();
            javascript(
                StatusCode::OK,
                format!("Auth0.setClient({});\n", json_for_script(&value)),
                CLIENT_SCRIPT_MAX_AGE,
            )
        }
        Ok(None) => javascript(
            StatusCode::NOT_FOUND,
            "/* Unknown client */\n".into(),
            "no-store",
        ),
        Err(e) => {
            let status = match e {
                ServiceError::Unavailable(_) | ServiceError::Overloaded { .. } => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                other => {
                    tracing::error!(error = ?other, "Lock client configuration");
                    StatusCode::INTERNAL_SERVER_ERROR
                }
            };
            javascript(status, "/* Try again later */\n".into(), "no-store")
        }
    }
}

fn parse_login(p: &OAuthParams) -> Result<CrossOriginLogin, OAuthError> {
    let password = Password::parse(p.require("password")?)
        .map_err(|e| OAuthError::invalid_request(e.to_string()))?;
    Ok(CrossOriginLogin {
        client_id: p.require("client_id")?,
        username: p.require("username")?,
        password,
        realm: p.get("realm")?,
        credential_type: p.require("credential_type")?,
    })
}

/// Auth0's answers for this endpoint, as auth0-js and Lock read them: a wrong password is
/// `access_denied` (Lock: "Wrong email or password."), a block `too_many_attempts`.
fn co_error(e: ServiceError) -> OAuthError {
    match e {
        ServiceError::WrongCredentials => OAuthError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::AccessDenied,
            "Wrong email or password.",
        ),
        other => OAuthError::from(other),
    }
}

fn ticket_response(issued: &IssuedLoginTicket, secure: bool) -> Response {
    let mut res = axum::Json(json!({
        "login_ticket": issued.login_ticket.expose_secret(),
        "co_verifier": issued.co_verifier.expose_secret(),
        "co_id": issued.co_id,
    }))
    .into_response();
    // Sent from the application's origin, the cookie is a third-party one: under TLS it must
    // be `SameSite=None; Secure` to be stored at all; over plain HTTP only a same-site
    // application (localhost development) gets it.
    let cookie = format!(
        "{CO_VERIFIER_COOKIE}={}; Path=/authorize; HttpOnly; Max-Age={}; {}",
        issued.co_verifier.expose_secret(),
        issued.max_age_secs,
        if secure {
            "SameSite=None; Secure"
        } else {
            "SameSite=Lax"
        }
    );
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        h.append(header::SET_COOKIE, v);
    }
    res
}

/// `POST /co/authenticate`.
async fn authenticate(
    State(state): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    params: OAuthParams,
) -> Response {
    let origin = crate::cors::origin_of(&headers);
    let services = &state.services;
    let client_id = params.get("client_id").ok().flatten();
    // CORS for this client's origins only; a body without a client gets it for any
    // registered origin, so the application can read what it got wrong.
    let cors = match (&origin, &client_id) {
        (Some(o), Some(id)) => services
            .login
            .cross_origin_allowed(id, o)
            .await
            .unwrap_or(false),
        (Some(o), None) => services.tenant.is_allowed_origin(o).await.unwrap_or(false),
        (None, _) => false,
    };
    let outcome = match parse_login(&params) {
        Ok(login) => services
            .login
            .cross_origin_authenticate(login, origin.as_deref(), &Caller::end_user(meta))
            .await
            .map_err(co_error),
        Err(e) => Err(e),
    };
    let secure = services.config().issuer.starts_with("https://");
    let mut res = match outcome {
        Ok(issued) => ticket_response(&issued, secure),
        Err(e) => e.into_response(),
    };
    if cors && let Some(o) = &origin {
        crate::cors::allow_credentialed(&mut res, o);
    }
    res
}
