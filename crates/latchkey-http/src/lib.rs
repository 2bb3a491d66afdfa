//! Latchkey's HTTP surfaces. Handlers parse input into domain types, call one service function,
//! and map the result to the wire; no rule lives here.

mod action_gateway;
mod admin;
mod api_router;
pub mod client_ip;
mod cors;
mod cross_origin;
mod dbconnections;
pub mod errors;
mod export_download;
pub mod extract;
mod metrics;
mod mfa_api;
mod mgmt;
mod oauth;
mod openapi;
mod pages;
mod web;

pub use action_gateway::InProcessManagementApi;
pub use client_ip::{Cidr, TrustedProxies};
pub use metrics::{metrics_only, with_metrics};
pub use pages::PageTheme;

use api_router::ApiRouter;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use latchkey_core::Services;
use std::sync::Arc;
use std::time::Duration;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;

#[derive(Clone)]
pub struct AppState {
    pub services: Arc<Services>,
    /// The tenant's own hosted-page layout, if `server.pages_dir` names one.
    pub theme: Arc<pages::PageTheme>,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The JSON APIs, unlayered: the Authentication API endpoints browsers call (per-client CORS),
/// the public metadata (open CORS), and the rest (embedded login, `/api/v2`, health). The one
/// list of what `openapi.rs` documents; `json_api_paths` reads the paths back from it.
fn json_apis() -> (ApiRouter, ApiRouter, ApiRouter) {
    let authentication = ApiRouter::new()
        .merge(oauth::router())
        .merge(dbconnections::router())
        .merge(mfa_api::router());
    let metadata = oauth::metadata_router();
    let rest = ApiRouter::new()
        .merge(cross_origin::router())
        .nest("/api/v2", mgmt::router())
        // Public, unlike every Management API operation: it holds no tenant data.
        .route("/api/v2/openapi.json", get(openapi::serve))
        .route("/health", get(health))
        .route("/ready", get(ready));
    (authentication, metadata, rest)
}

/// Every path the JSON API routers register (axum templates, `{param}`), for the test that
/// holds the OpenAPI document to them.
pub fn json_api_paths() -> Vec<String> {
    let (authentication, metadata, rest) = json_apis();
    [authentication, metadata, rest]
        .iter()
        .flat_map(|r| r.paths().iter().cloned())
        .collect()
}

/// The whole application. Layers, outermost first: request id, the request log (method and
/// matched path only: query strings on `/oauth/*` carry secrets), security headers, then the
/// routers. `with_client_ip` goes around it in the server.
pub fn router(state: AppState) -> Router {
    let (authentication, metadata, rest) = json_apis();
    let authentication = authentication
        .into_router()
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            cors::for_clients,
        ));
    let metadata = metadata
        .into_router()
        .layer(axum::middleware::from_fn(cors::public));
    Router::new()
        .merge(authentication)
        .merge(metadata)
        .merge(rest.into_router())
        .merge(pages::router())
        .merge(admin::router())
        .merge(export_download::router())
        .fallback(|| async { errors::ApiError::not_found() })
        .with_state(state)
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(axum::middleware::from_fn(web::deny_framing))
        .layer(axum::middleware::from_fn(log_request))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(60),
        ))
}

/// `Strict-Transport-Security` on every answer, for a server reached over https (its own TLS
/// or a TLS-terminating proxy in front of it).
pub fn with_hsts(router: Router) -> Router {
    router.layer(SetResponseHeaderLayer::overriding(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    ))
}

/// `Cache-Control: no-store`, for answers that carry secrets or personal data.
pub(crate) fn no_store() -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))
}

/// The version and commit `/health` reports (the binary sets them at start-up).
static BUILD: std::sync::OnceLock<(&'static str, &'static str)> = std::sync::OnceLock::new();

/// Records the version and git commit `/health` reports.
pub fn set_build_info(version: &'static str, commit: &'static str) {
    let _ = BUILD.set((version, commit));
}

/// Liveness: the process answers. The store's state is `/ready`'s business.
async fn health() -> impl IntoResponse {
    let (version, commit) = BUILD
        .get()
        .copied()
        .unwrap_or((env!("CARGO_PKG_VERSION"), "unknown"));
    Json(serde_json::json!({"status": "ok", "version": version, "commit": commit}))
}

/// Readiness: the store answers and the signing keys are loaded (migrations ran before the
/// listener opened). 503 with the reason otherwise, for a load balancer to take the node out.
async fn ready(axum::extract::State(state): axum::extract::State<AppState>) -> impl IntoResponse {
    match state.services.readiness().await {
        Ok(()) => (
            axum::http::StatusCode::OK,
            Json(serde_json::json!({"status": "ready"})),
        ),
        Err(reason) => {
            tracing::warn!(%reason, "not ready");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"status": "unavailable", "reason": reason})),
            )
        }
    }
}

/// The client's address (`client_ip`) around the whole application: believed from forwarding
/// headers only when the TCP peer is one of `trusted`.
pub fn with_client_ip(router: Router, trusted: TrustedProxies) -> Router {
    router.layer(axum::middleware::from_fn_with_state(
        Arc::new(trusted),
        client_ip::derive,
    ))
}

/// One `info` line per request: method, route template (never the path or query, which may
/// carry secrets), status, latency, request id and client address. The span carries the same
/// request id for whatever the handler logs.
async fn log_request(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use tracing::Instrument;
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let request_id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let client_ip = client_ip::of(req.extensions()).map_or_else(String::new, |ip| ip.to_string());
    let method = req.method().clone();
    let span =
        tracing::info_span!("http", method = %method, path = %route, request_id = %request_id);
    let started = std::time::Instant::now();
    let response = next.run(req).instrument(span).await;
    let elapsed = started.elapsed();
    let latency_ms = (elapsed.as_secs_f64() * 10_000.0).round() / 10.0;
    let status = response.status().as_u16();
    latchkey_core::metrics::METRICS.http_request(method.as_str(), &route, status, elapsed);
    tracing::info!(
        method = %method,
        route = %route,
        status,
        latency_ms,
        request_id = %request_id,
        client_ip = %client_ip,
        "request"
    );
    response
}
