//! CORS for the Authentication API endpoints browser SDKs call (auth0-js, Lock, SPA SDKs):
//! `/oauth/token`, `/oauth/revoke`, `/dbconnections/*`. An origin is allowed when some client
//! lists it in `allowed_origins` or `web_origins`. Discovery and JWKS are public to any origin.
//! `/co/authenticate` is credentialed: its answers name one origin of the client's own, with
//! `Access-Control-Allow-Credentials`.

use crate::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

const ALLOWED_HEADERS: &str = "Content-Type, Authorization, Auth0-Client, X-Request-Language";
const EXPOSED_HEADERS: &str = "X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset";

fn set_cors(headers: &mut HeaderMap, origin: HeaderValue) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSED_HEADERS),
    );
}

/// Middleware for the credentialed endpoints: preflights from unknown origins are refused;
/// answers to known origins carry the CORS headers, others none (the browser then hides them).
pub async fn for_clients(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let origin = req.headers().get(header::ORIGIN).cloned();
    let allowed = match origin.as_ref().and_then(|o| o.to_str().ok()) {
        Some(o) => match state.services.tenant.is_allowed_origin(o).await {
            Ok(allowed) => allowed,
            Err(e) => {
                // Deny, but say why: a store outage must not look like a misconfigured origin.
                tracing::error!(error = %e, "could not check the CORS origin; denying");
                false
            }
        },
        None => false,
    };
    if req.method() == Method::OPTIONS {
        let Some(origin) = origin.filter(|_| allowed) else {
            return StatusCode::FORBIDDEN.into_response();
        };
        let mut res = StatusCode::NO_CONTENT.into_response();
        let h = res.headers_mut();
        set_cors(h, origin);
        preflight(h, "86400");
        return res;
    }
    let mut res = next.run(req).await;
    if let Some(origin) = origin.filter(|_| allowed) {
        set_cors(res.headers_mut(), origin);
    }
    res
}

pub(crate) fn origin_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(str::to_owned)
}

/// CORS with credentials: only ever one named origin, never `*`.
pub(crate) fn allow_credentialed(res: &mut Response, origin: &str) {
    let Ok(value) = HeaderValue::from_str(origin) else {
        return;
    };
    let h = res.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    h.insert(
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
    h.append(header::VARY, HeaderValue::from_static("Origin"));
}

/// The preflight of a credentialed endpoint (`/co/authenticate`). It carries no body, so no
/// client: it passes for an origin that some client registered; the POST itself is answered
/// with CORS only for its client's own origins.
pub(crate) async fn credentialed_preflight(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Response {
    let Some(origin) = origin_of(&headers) else {
        return StatusCode::FORBIDDEN.into_response();
    };
    match state.services.tenant.is_allowed_origin(&origin).await {
        Ok(true) => {}
        Ok(false) => return StatusCode::FORBIDDEN.into_response(),
        Err(e) => {
            tracing::error!(error = %e, "could not check the CORS origin; denying");
            return StatusCode::FORBIDDEN.into_response();
        }
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    allow_credentialed(&mut res, &origin);
    preflight(res.headers_mut(), "600");
    res
}

/// A preflight's answer for the POST endpoints browsers call: methods, headers, and how long
/// the browser may keep it (`max_age` seconds).
fn preflight(h: &mut axum::http::HeaderMap, max_age: &'static str) {
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOWED_HEADERS),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(max_age),
    );
}

/// Middleware for public metadata (discovery, JWKS): readable from any origin.
pub async fn public(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    res.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    res
}
