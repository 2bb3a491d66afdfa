//! Latchkey's HTTP surfaces. Handlers parse input into domain types, call one service function,
//! and map the result to the wire; no rule lives here.

mod action_gateway;
mod admin;
mod cors;
mod dbconnections;
pub mod errors;
pub mod extract;
mod mfa_api;
mod mgmt;
mod oauth;
mod pages;
mod web;

pub use action_gateway::InProcessManagementApi;
pub use pages::PageTheme;

use axum::http::{HeaderName, HeaderValue, Request, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use latchkey_core::Services;
use std::sync::Arc;
use std::time::Duration;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

#[derive(Clone)]
pub struct AppState {
    pub services: Arc<Services>,
    /// The tenant's own hosted-page layout, if `server.pages_dir` names one.
    pub theme: Arc<pages::PageTheme>,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole application. Layers, outermost first: request id, tracing (method and matched
/// path only: query strings on `/oauth/*` carry secrets), security headers, then the routers.
pub fn router(state: AppState) -> Router {
    // Authentication API endpoints browsers call, with per-client CORS.
    let authentication = Router::new()
        .merge(oauth::router())
        .merge(dbconnections::router())
        .merge(mfa_api::router())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            cors::for_clients,
        ));
    let metadata = oauth::metadata_router().layer(axum::middleware::from_fn(cors::public));
    Router::new()
        .merge(authentication)
        .merge(metadata)
        .nest("/api/v2", mgmt::router())
        .merge(pages::router())
        .merge(admin::router())
        .route("/health", get(health))
        .fallback(|| async { errors::ApiError::not_found() })
        .with_state(state)
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let path = req
                    .extensions()
                    .get::<axum::extract::MatchedPath>()
                    .map_or("unmatched", |p| p.as_str());
                let id = req
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                tracing::info_span!("http", method = %req.method(), path, request_id = id)
            }),
        )
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

async fn health(axum::extract::State(state): axum::extract::State<AppState>) -> impl IntoResponse {
    match state.services.check_ready().await {
        Ok(()) => (
            axum::http::StatusCode::OK,
            Json(serde_json::json!({"status": "ok"})),
        ),
        Err(_) => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "unavailable"})),
        ),
    }
}
