//! The unblock link from the `blocked_account` mail: `GET /lo/unblock` shows what was blocked
//! and a button (opening the link changes nothing); `POST` lifts that one block.

use super::reset::{FORGOT_PURPOSE, forgot_form};
use super::{Ctx, e, error_page};
use crate::AppState;
use crate::extract::Meta;
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use latchkey_core::ServiceError;
use latchkey_core::random::token_digest;
use latchkey_core::services::{Caller, DEFAULT_CONNECTION, UnblockLinkState};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new().route("/lo/unblock", get(show).post(unblock))
}

fn purpose(token: &str) -> String {
    format!("unblock:{}", token_digest(token))
}

#[derive(Deserialize)]
struct LinkQuery {
    ticket: Option<String>,
}

#[derive(Deserialize)]
struct UnblockForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    ticket: String,
}

impl Ctx {
    /// A link that cannot lift anything: say so, and offer the reset that also unblocks.
    fn unusable_unblock_link(&self) -> Response {
        let csrf = self.state.services.csrf_token(&self.nonce, FORGOT_PURPOSE);
        let body = format!(
            r#"<h1>This link can no longer be used</h1>
<p class="lead">The block was already lifted, or the link expired. If you still cannot sign in, reset your password: that lifts any block.</p>
{}"#,
            forgot_form(&csrf, DEFAULT_CONNECTION, None, "Send me a reset link")
        );
        self.page(
            StatusCode::BAD_REQUEST,
            "This link can no longer be used",
            &body,
            &[],
        )
    }
}

async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LinkQuery>,
) -> Response {
    let ctx = match Ctx::new(state, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let token = q.ticket.unwrap_or_default();
    match ctx.state.services.open_unblock_link(&token).await {
        Ok(UnblockLinkState::Blocked { email, ip }) => {
            let csrf = ctx.state.services.csrf_token(&ctx.nonce, &purpose(&token));
            let account = email.map_or(String::new(), |m| {
                format!("<dt>Account</dt><dd>{}</dd>", e(&m))
            });
            let body = format!(
                r#"<h1>Unblock your account</h1>
<p class="lead">Sign-in to your account was blocked after too many failed attempts.</p>
<dl class="facts">{account}<dt>Attempts from</dt><dd>{ip}</dd></dl>
<p>If those attempts were yours, unblock it and sign in again.</p>
<form method="post" action="/lo/unblock"><input type="hidden" name="_csrf" value="{csrf}"><input type="hidden" name="ticket" value="{ticket}">
<button type="submit">Unblock my account</button></form>"#,
                ip = e(&ip),
                ticket = e(&token),
            );
            ctx.page(StatusCode::OK, "Unblock your account", &body, &[])
        }
        Ok(UnblockLinkState::Unusable) => ctx.unusable_unblock_link(),
        Err(err) => {
            tracing::error!(error = ?err, "opening an unblock link");
            error_page()
        }
    }
}

async fn unblock(
    State(state): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    Form(form): Form<UnblockForm>,
) -> Response {
    let ctx = match Ctx::for_post(state, &headers, &purpose(&form.ticket), &form.csrf).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match ctx
        .state
        .services
        .unblock_with_link(&form.ticket, &Caller::end_user(meta))
        .await
    {
        Ok(()) => {
            let csrf = ctx.state.services.csrf_token(&ctx.nonce, FORGOT_PURPOSE);
            let body = format!(
                r#"<h1>Your account is unblocked</h1>
<p class="lead">You can sign in again. Go back to the application and log in.</p>
<h2>Were those attempts not yours?</h2>
<p>Someone may be guessing your password. Choose a new one: enter your email address and we will send you a link.</p>
{}"#,
                forgot_form(&csrf, DEFAULT_CONNECTION, None, "Send me a reset link")
            );
            ctx.page(StatusCode::OK, "Your account is unblocked", &body, &[])
        }
        Err(ServiceError::BadRequest { .. }) => ctx.unusable_unblock_link(),
        Err(err) => {
            tracing::error!(error = ?err, "lifting a block from its link");
            error_page()
        }
    }
}
