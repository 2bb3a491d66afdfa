//! The reset page at the ticket URL (`GET /lo/reset?ticket=…`, which consumes nothing), its form
//! (`POST /lo/reset` with Auth0's field names `_csrf, ticket, newPassword, confirmNewPassword`),
//! and "send me a new link" (`POST /lo/forgot`) for expired or used links.

use super::Ctx;
use super::views::{self, CodeForm, Message, Onward};
use crate::AppState;
use crate::dbconnections::rate_limit_headers;
use crate::web::views::RuleLine;
use crate::web::{PageError, PageResult, internal, origin_of, read_cookie};
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use latchkey_core::ErrorCode;
use latchkey_core::ServiceError;
use latchkey_core::domain::{Email, Password};
use latchkey_core::password::RuleReport;
use latchkey_core::random::token_digest;
use latchkey_core::services::{
    Caller, DEFAULT_CONNECTION, OpenTicket, PasswordResetRequest, TicketState,
};
use secrecy::ExposeSecret;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/lo/reset", get(show).post(submit))
        .route("/lo/reset/mfa", post(second_factor))
        .route("/lo/forgot", get(forgot_page).post(forgot))
}

pub(super) const FORGOT_PURPOSE: &str = "forgot";
/// Holds the proof that this browser passed the second factor for one ticket.
const MFA_COOKIE: &str = "lk_reset_mfa";

fn reset_purpose(digest: &str) -> String {
    format!("reset:{digest}")
}

#[derive(Deserialize)]
struct TicketQuery {
    ticket: Option<String>,
}

/// What went wrong with the last submission, shown next to the field it concerns.
#[derive(Default)]
struct FormErrors {
    banner: Option<String>,
    new_password: Option<String>,
    confirm: Option<String>,
    /// The rules as the last attempt met them.
    rules: Option<Vec<RuleReport>>,
}

impl Ctx {
    /// A post of a ticket's page: its CSRF token is bound to that ticket.
    async fn for_ticket_post(
        state: AppState,
        headers: &HeaderMap,
        ticket: &str,
        csrf: &str,
    ) -> Result<Self, PageError> {
        Self::for_post(state, headers, &reset_purpose(&token_digest(ticket)), csrf).await
    }

    fn reset_form(
        &self,
        token: &str,
        t: &OpenTicket,
        errors: FormErrors,
        status: StatusCode,
    ) -> Response {
        let csrf = self.csrf(&reset_purpose(&t.digest));
        let targets: Vec<String> = t
            .result_url
            .as_deref()
            .and_then(origin_of)
            .into_iter()
            .collect();
        let email = t.email.as_deref();
        if t.needs_second_factor {
            // The second factor comes before any form that changes the password.
            let view = views::ResetChallenge {
                email,
                code: CodeForm {
                    action: "/lo/reset/mfa",
                    csrf,
                    hidden_name: "ticket",
                    hidden_value: token,
                    label: "Authentication code",
                    error: errors.banner.as_deref(),
                },
            };
            return self.render(status, "Verify it's you", &view, &targets);
        }
        if t.kind == latchkey_core::store::TicketKind::ConfirmPending {
            let view = views::ResetConfirm {
                email,
                error: errors.banner.as_deref(),
                csrf: &csrf,
                ticket: token,
            };
            return self.render(status, "Confirm your new password", &view, &targets);
        }
        let view = views::ResetForm {
            email,
            error: errors.banner.as_deref(),
            csrf: &csrf,
            ticket: token,
            new_password_error: errors.new_password.as_deref(),
            confirm_error: errors.confirm.as_deref(),
            rules: RuleLine::list(
                errors.rules.as_deref().unwrap_or(&t.rules),
                errors.rules.is_some(),
            ),
        };
        self.render(status, "Change your password", &view, &targets)
    }

    /// Expired, used or unknown link: say so, and offer a new mail.
    fn dead_link(&self, expired: bool, connection: Option<&str>, status: StatusCode) -> Response {
        let (heading, text) = if expired {
            (
                "This link has expired",
                "Links to reset a password work for a limited time.",
            )
        } else {
            (
                "This link can no longer be used",
                "It was already used, or a newer link was sent since.",
            )
        };
        let view = Message {
            lead: vec![
                text,
                "Enter your email address and we will send you a new link.",
            ],
            forgot: Some(self.forgot_form(
                connection.unwrap_or(DEFAULT_CONNECTION),
                None,
                "Send me a new link",
            )),
            ..Message::new(heading)
        };
        self.message(status, &view)
    }

    /// A reset a password-reset-post-challenge action refused.
    fn reset_denied(&self, reason: &str) -> Response {
        self.message(
            StatusCode::FORBIDDEN,
            &Message {
                error: Some(reason),
                ..Message::new("You can't reset your password here")
            },
        )
    }

    /// The ticket behind a link, or the page for a link that cannot be used (expired: a new
    /// mail, or Auth0's `result_url` answer; used or unknown: a new mail).
    async fn open_ticket(
        &self,
        token: &str,
        proof: Option<&str>,
        meta: &latchkey_core::audit::RequestMeta,
        visit: Visit,
    ) -> Result<OpenTicket, PageError> {
        let caller = Caller::end_user(meta.clone());
        let state = self
            .state
            .services
            .credentials
            .open_password_ticket(token, proof, &caller)
            .await
            .map_err(internal("opening a password ticket"))?;
        if visit == Visit::Arrival {
            count_arrival(&state);
        }
        Err(match state {
            TicketState::Open(t) => return Ok(t),
            TicketState::Denied { reason } => self.reset_denied(&reason),
            TicketState::Expired {
                redirect: Some(url),
                ..
            } => Redirect::to(&url).into_response(),
            TicketState::Expired { connection, .. } => {
                self.dead_link(true, connection.as_deref(), StatusCode::GONE)
            }
            TicketState::Invalid { connection } => {
                self.dead_link(false, connection.as_deref(), StatusCode::NOT_FOUND)
            }
        }
        .into())
    }
}

/// Whether a request is someone arriving by the mailed link (counted in the reset funnel) or
/// a form on the page posting back (not counted again).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Visit {
    Arrival,
    FormPost,
}

/// The reset funnel's `opened` (a usable link) or `expired` (expired or already used) step.
fn count_arrival(state: &TicketState) {
    use latchkey_core::metrics::{METRICS, ResetStage};
    match state {
        TicketState::Open(t) => METRICS.password_reset(&t.connection, ResetStage::Opened),
        TicketState::Expired {
            connection: Some(c),
            ..
        }
        | TicketState::Invalid {
            connection: Some(c),
        } => METRICS.password_reset(c, ResetStage::Expired),
        TicketState::Expired { .. } | TicketState::Invalid { .. } | TicketState::Denied { .. } => {}
    }
}

async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    crate::extract::Meta(meta): crate::extract::Meta,
    Query(q): Query<TicketQuery>,
) -> PageResult {
    let ctx = Ctx::new(state, &headers).await?;
    let token = q.ticket.unwrap_or_default();
    let proof = read_cookie(&headers, MFA_COOKIE);
    let t = ctx
        .open_ticket(&token, proof.as_deref(), &meta, Visit::Arrival)
        .await?;
    Ok(ctx.reset_form(&token, &t, FormErrors::default(), StatusCode::OK))
}

#[derive(Deserialize)]
struct ResetFields {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    ticket: String,
    #[serde(rename = "newPassword")]
    new_password: Option<String>,
    #[serde(rename = "confirmNewPassword")]
    confirm_new_password: Option<String>,
}

async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    crate::extract::Meta(meta): crate::extract::Meta,
    Form(form): Form<ResetFields>,
) -> PageResult {
    let ctx = Ctx::for_ticket_post(state, &headers, &form.ticket, &form.csrf).await?;
    let services = ctx.state.services.clone();
    let proof = read_cookie(&headers, MFA_COOKIE);
    let open = ctx
        .open_ticket(&form.ticket, proof.as_deref(), &meta, Visit::FormPost)
        .await?;
    let bad = |errors: FormErrors| {
        Ok(ctx.reset_form(&form.ticket, &open, errors, StatusCode::BAD_REQUEST))
    };
    if open.needs_second_factor {
        return Ok(ctx.reset_form(
            &form.ticket,
            &open,
            FormErrors {
                banner: Some("Verify with your authenticator app first.".into()),
                ..FormErrors::default()
            },
            StatusCode::FORBIDDEN,
        ));
    }
    let password = if open.kind == latchkey_core::store::TicketKind::Reset {
        let new = form.new_password.clone().unwrap_or_default();
        if new.is_empty() {
            return bad(FormErrors {
                new_password: Some("Enter a new password.".into()),
                ..FormErrors::default()
            });
        }
        if form.confirm_new_password.as_deref() != Some(new.as_str()) {
            return bad(FormErrors {
                confirm: Some("The passwords do not match.".into()),
                ..FormErrors::default()
            });
        }
        match Password::parse(new) {
            Ok(p) => Some(p),
            Err(err) => {
                return bad(FormErrors {
                    new_password: Some(err.to_string()),
                    ..FormErrors::default()
                });
            }
        }
    } else {
        None
    };
    match services
        .credentials
        .redeem_opened_ticket(&open, password, &Caller::end_user(meta))
        .await
    {
        Ok(done) => {
            if let Some(url) = done.redirect {
                return Ok(Redirect::to(&url).into_response());
            }
            let view = Message {
                ok: Some("Your password was changed, and every session was signed out."),
                note: done
                    .back_to_app
                    .is_none()
                    .then_some("You can close this window and sign in with your new password."),
                button: done
                    .back_to_app
                    .as_deref()
                    .map(|u| (u, "Back to the application")),
                ..Message::new("Password changed")
            };
            Ok(ctx.message(StatusCode::OK, &view))
        }
        Err(ServiceError::PasswordPolicy(v)) => bad(FormErrors {
            new_password: Some(v.name.message().to_owned()),
            rules: Some(v.rules.clone()),
            ..FormErrors::default()
        }),
        Err(ServiceError::Invalid(p)) => bad(FormErrors {
            new_password: Some(p.to_string()),
            ..FormErrors::default()
        }),
        Err(ServiceError::BadRequest {
            code: ErrorCode::InvalidTicket,
            ..
        }) => Ok(ctx.dead_link(false, Some(&open.connection), StatusCode::BAD_REQUEST)),
        Err(ServiceError::AccessDenied(reason)) => Ok(ctx.reset_denied(&reason)),
        Err(ServiceError::BadRequest { message, .. } | ServiceError::Conflict { message, .. }) => {
            bad(FormErrors {
                banner: Some(message),
                ..FormErrors::default()
            })
        }
        Err(err) => Err(internal("redeeming a password ticket")(err)),
    }
}

#[derive(Deserialize)]
struct SecondFactorFields {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    ticket: String,
    #[serde(default)]
    code: String,
}

/// The TOTP challenge before a reset: on success a proof cookie for this ticket, and back to
/// the link, which now shows the form.
async fn second_factor(
    State(state): State<AppState>,
    headers: HeaderMap,
    crate::extract::Meta(meta): crate::extract::Meta,
    Form(form): Form<SecondFactorFields>,
) -> PageResult {
    let ctx = Ctx::for_ticket_post(state, &headers, &form.ticket, &form.csrf).await?;
    let services = ctx.state.services.clone();
    let (status, message) = match services
        .credentials
        .pass_reset_second_factor(&form.ticket, &form.code, &Caller::end_user(meta.clone()))
        .await
    {
        Ok(passed) => {
            let secure = services.config().issuer.starts_with("https://");
            let cookie = format!(
                "{MFA_COOKIE}={}; Path=/lo; HttpOnly; SameSite=Strict; Max-Age=600{}",
                passed.proof,
                if secure { "; Secure" } else { "" }
            );
            let target = format!("/lo/reset?ticket={}", form.ticket);
            let mut res = match passed.new_recovery_code {
                None => Redirect::to(&target).into_response(),
                // The recovery code is spent: show its replacement once, then the form.
                Some(code) => {
                    let view = views::Recovery {
                        heading: "Save your new recovery code",
                        lead: "You used your recovery code, so it no longer works. This new one lets you sign in once if you lose your phone. It is shown only now.",
                        code: crate::web::grouped_key(code.expose_secret()),
                        onward: Onward::Link(&target),
                    };
                    ctx.render(StatusCode::OK, "Save your new recovery code", &view, &[])
                }
            };
            if let Ok(v) = axum::http::HeaderValue::from_str(&cookie) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
            return Ok(res);
        }
        Err(ServiceError::BadRequest {
            code: ErrorCode::InvalidTicket,
            ..
        }) => return Ok(ctx.dead_link(false, None, StatusCode::BAD_REQUEST)),
        Err(ServiceError::BadRequest { message, .. }) => (StatusCode::BAD_REQUEST, message),
        Err(ServiceError::TooManyRequests(message)) => (StatusCode::TOO_MANY_REQUESTS, message),
        Err(err) => return Err(internal("checking a second factor before a reset")(err)),
    };
    let t = ctx
        .open_ticket(&form.ticket, None, &meta, Visit::FormPost)
        .await?;
    Ok(ctx.reset_form(
        &form.ticket,
        &t,
        FormErrors {
            banner: Some(message),
            ..FormErrors::default()
        },
        status,
    ))
}

#[derive(Deserialize)]
struct ForgotQuery {
    connection: Option<String>,
}

impl Ctx {
    /// The "Reset your password" page: the email form, with the last attempt's error.
    fn forgot_page(&self, status: StatusCode, connection: &str, error: Option<&str>) -> Response {
        let view = Message {
            lead: vec![
                "Enter your email address and we will send you a link to choose a new password.",
            ],
            forgot: Some(self.forgot_form(connection, error, "Send me a reset link")),
            ..Message::new("Reset your password")
        };
        self.message(status, &view)
    }
}

/// "Forgot password?" from the login page: the email form.
async fn forgot_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ForgotQuery>,
) -> PageResult {
    let ctx = Ctx::new(state, &headers).await?;
    let connection = q.connection.as_deref().unwrap_or(DEFAULT_CONNECTION);
    Ok(ctx.forgot_page(StatusCode::OK, connection, None))
}

#[derive(Deserialize)]
struct ForgotFields {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    connection: String,
}

async fn forgot(
    State(state): State<AppState>,
    headers: HeaderMap,
    crate::extract::Meta(meta): crate::extract::Meta,
    Form(form): Form<ForgotFields>,
) -> PageResult {
    let ctx = Ctx::for_post(state, &headers, FORGOT_PURPOSE, &form.csrf).await?;
    let services = ctx.state.services.clone();
    let again = |status, error: &str| ctx.forgot_page(status, &form.connection, Some(error));
    let email = match Email::parse(form.email.trim()) {
        Ok(m) => m,
        Err(_) => {
            return Ok(again(
                StatusCode::BAD_REQUEST,
                "Enter a valid email address.",
            ));
        }
    };
    let request = PasswordResetRequest {
        client_id: None,
        connection: form.connection.clone(),
        email,
        password: None,
    };
    let answer = services
        .credentials
        .request_password_reset(request, &Caller::end_user(meta))
        .await;
    let headers = rate_limit_headers(&answer.rate);
    let response = match answer.result {
        Ok(()) => ctx.message(
            StatusCode::OK,
            &Message {
                ok: Some("We've just sent you an email to reset your password."),
                note: Some("The mail can take a minute to arrive. Check your spam folder too."),
                ..Message::new("Check your email")
            },
        ),
        Err(ServiceError::TooManyRequests(_)) => again(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests. Please wait a minute and try again.",
        ),
        Err(ServiceError::BadRequest { message, .. }) => again(StatusCode::BAD_REQUEST, &message),
        Err(err) => {
            return Err(internal("requesting a password reset from the hosted page")(err));
        }
    };
    Ok((headers, response).into_response())
}
