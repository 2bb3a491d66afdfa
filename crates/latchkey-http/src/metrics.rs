//! `/metrics`: Prometheus' text format, for the addresses the operator allowed on the main
//! listener (`metrics.allow_from`), or for anyone reaching the separate metrics listener
//! (`metrics.listen`). Everyone else gets the ordinary 404, so the endpoint is not advertised.

use crate::client_ip::{self, Cidr};
use crate::errors::ApiError;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use latchkey_core::Services;
use std::sync::Arc;

/// Prometheus' text exposition format, version 0.0.4.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Who may read `/metrics` on a listener.
#[derive(Clone)]
enum Readers {
    Anyone,
    From(Arc<Vec<Cidr>>),
}

/// The main application with `/metrics` for clients in `allowed` (none: not served).
pub fn with_metrics(router: Router, services: Arc<Services>, allowed: Vec<Cidr>) -> Router {
    router.merge(metrics_router(services, Readers::From(Arc::new(allowed))))
}

/// The separate metrics listener's whole application.
pub fn metrics_only(services: Arc<Services>) -> Router {
    metrics_router(services, Readers::Anyone).fallback(|| async { ApiError::not_found() })
}

fn metrics_router(services: Arc<Services>, readers: Readers) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .layer(Extension(readers))
        .with_state(services)
}

async fn scrape(
    State(services): State<Arc<Services>>,
    Extension(readers): Extension<Readers>,
    request: Request,
) -> Response {
    let allowed = match &readers {
        Readers::Anyone => true,
        Readers::From(blocks) => client_ip::of(request.extensions())
            .is_some_and(|ip| blocks.iter().any(|b| b.contains(ip))),
    };
    if !allowed {
        return ApiError::not_found().into_response();
    }
    let body = services.metrics_exposition().await;
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}
