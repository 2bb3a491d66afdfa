//! The unblock link from the `blocked_account` mail: `GET /lo/unblock` shows what was blocked
//! and a button (opening the link changes nothing); `POST` lifts that one block.

use super::Ctx;
use super::views::{self, Message};
use crate::AppState;
use crate::extract::Meta;
use crate::web::{PageResult, internal};
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
        let view = Message {
            lead: vec![
                "The block was already lifted, or the link expired. If you still cannot sign in, reset your password: that lifts any block.",
            ],
            forgot: Some(self.forgot_form(DEFAULT_CONNECTION, None, "Send me a reset link")),
            ..Message::new("This link can no longer be used")
        };
        self.message(StatusCode::BAD_REQUEST, &view)
    }
}

async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LinkQuery>,
) -> PageResult {
    let ctx = Ctx::new(state, &headers).await?;
    let token = q.ticket.unwrap_or_default();
    let link = ctx
        .state
        .services
        .login
        .open_unblock_link(&token)
        .await
        .map_err(internal("opening an unblock link"))?;
    Ok(match link {
        UnblockLinkState::Blocked { email, ip } => {
            let view = views::Unblock {
                email: email.as_deref(),
                ip: &ip,
                csrf: ctx.csrf(&purpose(&token)),
                ticket: &token,
            };
            ctx.render(StatusCode::OK, "Unblock your account", &view, &[])
        }
        UnblockLinkState::Unusable => ctx.unusable_unblock_link(),
    })
}

async fn unblock(
    State(state): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    Form(form): Form<UnblockForm>,
) -> PageResult {
    let ctx = Ctx::for_post(state, &headers, &purpose(&form.ticket), &form.csrf).await?;
    match ctx
        .state
        .services
        .login
        .unblock_with_link(&form.ticket, &Caller::end_user(meta))
        .await
    {
        Ok(()) => {
            let view = views::Unblocked {
                forgot: ctx.forgot_form(DEFAULT_CONNECTION, None, "Send me a reset link"),
            };
            Ok(ctx.render(StatusCode::OK, "Your account is unblocked", &view, &[]))
        }
        Err(ServiceError::BadRequest { .. }) => Ok(ctx.unusable_unblock_link()),
        Err(err) => Err(internal("lifting a block from its link")(err)),
    }
}
