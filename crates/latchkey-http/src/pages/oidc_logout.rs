//! `GET|POST /oidc/logout`: OpenID Connect RP-Initiated Logout 1.0 (the service checks the
//! request; a refused one ends nothing and is answered with a page, never a redirect; one that
//! does not name this session is confirmed by the user first, with a CSRF-checked post).

use super::Ctx;
use super::login::{clear_session_cookie, session_cookie};
use super::views::{self, Message};
use crate::AppState;
use crate::extract::Meta;
use crate::web::{PageResult, internal};
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use latchkey_core::ServiceError;
use latchkey_core::services::{Caller, RpLogout, RpLogoutRequest};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new().route("/oidc/logout", get(oidc_logout).post(confirmed_logout))
}

const LOGOUT_PURPOSE: &str = "oidc-logout";

#[derive(Deserialize, Default)]
struct LogoutParams {
    id_token_hint: Option<String>,
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    /// Accepted; the browser's own session is the one that ends.
    logout_hint: Option<String>,
    /// Accepted; the page's language follows the browser.
    ui_locales: Option<String>,
}

impl LogoutParams {
    /// The parameters the confirmation page carries to its post.
    fn fields(&self) -> Vec<(&'static str, &str)> {
        [
            ("id_token_hint", &self.id_token_hint),
            ("client_id", &self.client_id),
            ("post_logout_redirect_uri", &self.post_logout_redirect_uri),
            ("state", &self.state),
            ("logout_hint", &self.logout_hint),
            ("ui_locales", &self.ui_locales),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
        .collect()
    }

    fn request(self, confirmed: bool) -> RpLogoutRequest {
        RpLogoutRequest {
            id_token_hint: self.id_token_hint,
            client_id: self.client_id,
            post_logout_redirect_uri: self.post_logout_redirect_uri,
            state: self.state,
            confirmed,
        }
    }
}

#[derive(Deserialize)]
struct ConfirmFields {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(flatten)]
    params: LogoutParams,
}

async fn oidc_logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    Query(q): Query<LogoutParams>,
) -> PageResult {
    let ctx = Ctx::new(state, &headers).await?;
    logout(ctx, &headers, meta, q, false).await
}

/// A post: an application's (the specification allows POST; treated as the GET), or the
/// confirmation page's, whose CSRF token says the user asked to log out.
async fn confirmed_logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    Form(form): Form<ConfirmFields>,
) -> PageResult {
    if form.csrf.is_empty() {
        let ctx = Ctx::new(state, &headers).await?;
        return logout(ctx, &headers, meta, form.params, false).await;
    }
    let ctx = Ctx::for_post(state, &headers, LOGOUT_PURPOSE, &form.csrf).await?;
    logout(ctx, &headers, meta, form.params, true).await
}

async fn logout(
    ctx: Ctx,
    headers: &HeaderMap,
    meta: latchkey_core::audit::RequestMeta,
    params: LogoutParams,
    confirmed: bool,
) -> PageResult {
    let session = session_cookie(headers);
    let fields: Vec<(&str, String)> = params
        .fields()
        .into_iter()
        .map(|(k, v)| (k, v.to_owned()))
        .collect();
    let outcome = ctx
        .state
        .services
        .sessions
        .rp_initiated_logout(
            session.as_deref(),
            params.request(confirmed),
            &Caller::end_user(meta),
        )
        .await;
    let mut res = match outcome {
        Ok(RpLogout::Confirm) => {
            let view = views::LogoutConfirm {
                csrf: ctx.csrf(LOGOUT_PURPOSE),
                fields: fields.iter().map(|(k, v)| (*k, v.as_str())).collect(),
            };
            return Ok(ctx.render(StatusCode::OK, "Log out?", &view, &[]));
        }
        Ok(RpLogout::Done(Some(url))) => Redirect::to(&url).into_response(),
        Ok(RpLogout::Done(None)) => ctx.message(
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
