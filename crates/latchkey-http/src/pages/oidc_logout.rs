//! `GET /oidc/logout`: OpenID Connect RP-Initiated Logout 1.0 (the service checks the request;
//! a refused one ends nothing and is answered with a page, never a redirect).

use super::Ctx;
use super::login::{clear_session_cookie, session_cookie};
use super::views::Message;
use crate::AppState;
use crate::extract::Meta;
use crate::web::{PageResult, internal};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use latchkey_core::ServiceError;
use latchkey_core::services::{Caller, RpLogoutRequest};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new().route("/oidc/logout", get(oidc_logout))
}

#[derive(Deserialize)]
struct LogoutQuery {
    id_token_hint: Option<String>,
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    /// Accepted; the browser's own session is the one that ends.
    #[allow(dead_code)]
    logout_hint: Option<String>,
    /// Accepted; the page's language follows the browser.
    #[allow(dead_code)]
    ui_locales: Option<String>,
}

async fn oidc_logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    Query(q): Query<LogoutQuery>,
) -> PageResult {
    let ctx = Ctx::new(state, &headers).await?;
    let session = session_cookie(&headers);
    let request = RpLogoutRequest {
        id_token_hint: q.id_token_hint,
        client_id: q.client_id,
        post_logout_redirect_uri: q.post_logout_redirect_uri,
        state: q.state,
    };
    let outcome = ctx
        .state
        .services
        .rp_initiated_logout(session.as_deref(), request, &Caller::end_user(meta))
        .await;
    let mut res = match outcome {
        Ok(Some(url)) => Redirect::to(&url).into_response(),
        Ok(None) => ctx.message(
            StatusCode::OK,
            &Message {
                lead: vec!["You can close this window."],
                ..Message::new("You are logged out")
            },
        ),
        Err(ServiceError::BadRequest { message, .. }) => {
            return Ok(ctx.message(
                StatusCode::BAD_REQUEST,
                &Message {
                    error: Some(&message),
                    ..Message::new("Logout request refused")
                },
            ));
        }
        Err(e) => return Err(internal("oidc logout")(e)),
    };
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    clear_session_cookie(&ctx, &mut res);
    Ok(res)
}
