//! The email-verification link (`GET /lo/email-verification?ticket=…`, Auth0's
//! `/u/email-verification`): marks the address verified once, then redirects to the ticket's
//! result URL with Auth0's query, or says what happened when there is none.

use super::Ctx;
use super::views;
use crate::AppState;
use crate::extract::Meta;
use crate::web::{PageResult, internal};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use latchkey_core::services::{Caller, VerificationFailure};
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new().route("/lo/email-verification", get(verify))
}

#[derive(Deserialize)]
struct TicketQuery {
    ticket: Option<String>,
}

async fn verify(
    State(state): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    Query(q): Query<TicketQuery>,
) -> PageResult {
    let ctx = Ctx::new(state, &headers).await?;
    let token = q.ticket.unwrap_or_default();
    let outcome = ctx
        .state
        .services
        .credentials
        .verify_email_with_ticket(&token, &Caller::end_user(meta))
        .await
        .map_err(internal("following an email verification link"))?;
    if let Some(url) = outcome.redirect {
        return Ok(Redirect::to(&url).into_response());
    }
    let (status, view) = match outcome.result {
        Ok(()) => (
            StatusCode::OK,
            views::EmailVerification {
                heading: "Email verified",
                lead: "Your email was verified. You can continue using the application.",
                note: "You can close this window.",
                verified: true,
            },
        ),
        Err(VerificationFailure::AlreadyUsed) => (
            StatusCode::BAD_REQUEST,
            views::EmailVerification {
                heading: "This link was already used",
                lead: "This URL can be used only once.",
                note: "If your address is verified, you can simply sign in. Otherwise, ask the application for a new verification email.",
                verified: false,
            },
        ),
        Err(VerificationFailure::Expired) => (
            StatusCode::BAD_REQUEST,
            views::EmailVerification {
                heading: "This link has expired",
                lead: "Verification links work for a limited time.",
                note: "Ask the application for a new verification email.",
                verified: false,
            },
        ),
        Err(VerificationFailure::Invalid) => (
            StatusCode::BAD_REQUEST,
            views::EmailVerification {
                heading: "This link is not valid",
                lead: "The link is incomplete, or it no longer matches your account.",
                note: "Ask the application for a new verification email.",
                verified: false,
            },
        ),
    };
    Ok(ctx.render(status, view.heading, &view, &[]))
}
