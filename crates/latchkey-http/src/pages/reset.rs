//! The reset page at the ticket URL (`GET /lo/reset?ticket=…`, which consumes nothing), its form
//! (`POST /lo/reset` with Auth0's field names `_csrf, ticket, newPassword, confirmNewPassword`),
//! and "send me a new link" (`POST /lo/forgot`) for expired or used links.

use super::{Ctx, e, error_page, origin_of, read_cookie};
use crate::AppState;
use crate::dbconnections::rate_limit_headers;
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
    ) -> Result<Self, Response> {
        Self::for_post(state, headers, &reset_purpose(&token_digest(ticket)), csrf).await
    }

    fn reset_form(
        &self,
        token: &str,
        t: &OpenTicket,
        errors: FormErrors,
        status: StatusCode,
    ) -> Response {
        let csrf = self
            .state
            .services
            .csrf_token(&self.nonce, &reset_purpose(&t.digest));
        let targets: Vec<String> = t
            .result_url
            .as_deref()
            .and_then(origin_of)
            .into_iter()
            .collect();
        let banner = errors.banner.as_deref().map_or(String::new(), |b| {
            format!(
                r#"<div id="form-error" class="alert error" role="alert">{}</div>"#,
                e(b)
            )
        });
        let hidden = format!(
            r#"<input type="hidden" name="_csrf" value="{}"><input type="hidden" name="ticket" value="{}">"#,
            e(&csrf),
            e(token)
        );
        let who = t
            .email
            .as_deref()
            .map_or(String::new(), |m| format!(" for <strong>{}</strong>", e(m)));
        if t.needs_second_factor {
            // The second factor comes before any form that changes the password.
            let body = format!(
                r#"<h1>Verify it's you</h1>
<p class="lead">Enter the 6-digit code from your authenticator app, or a recovery code, to continue{who}.</p>
{banner}<form method="post" action="/lo/reset/mfa" novalidate>{hidden}
<label for="code">Authentication code</label>
<input id="code" name="code" type="text" autocomplete="one-time-code" autocapitalize="characters" spellcheck="false" required aria-invalid="{invalid}"{described}>
<button type="submit">Continue</button></form>"#,
                invalid = if errors.banner.is_some() {
                    "true"
                } else {
                    "false"
                },
                described = if errors.banner.is_some() {
                    r#" aria-describedby="form-error""#
                } else {
                    ""
                },
            );
            return self.page(status, "Verify it's you", &body, &targets);
        }
        if t.kind == latchkey_core::store::TicketKind::ConfirmPending {
            let body = format!(
                r#"<h1>Confirm your new password</h1>
<p class="lead">You asked to change the password{who}. Confirm to make the new password active.</p>
{banner}<form method="post" action="/lo/reset">{hidden}<button type="submit">Confirm password change</button></form>"#
            );
            return self.page(status, "Confirm your new password", &body, &targets);
        }
        let rules = errors.rules.as_ref().unwrap_or(&t.rules);
        let checked = errors.rules.is_some();
        let rule_items = super::rule_items(rules, checked);
        let field_error = |id: &str, msg: &Option<String>| {
            msg.as_deref().map_or(String::new(), |m| {
                format!(r#"<p id="{id}" class="field-error">{}</p>"#, e(m))
            })
        };
        let invalid = |m: &Option<String>| if m.is_some() { "true" } else { "false" };
        let body = format!(
            r#"<h1>Change your password</h1>
<p class="lead">Choose a new password{who}.</p>
{banner}<form method="post" action="/lo/reset" novalidate>{hidden}
{username}<label for="newPassword">New password</label>
<input id="newPassword" name="newPassword" type="password" autocomplete="new-password" required aria-invalid="{ni}" aria-describedby="{nd}rules">
{nerr}<p id="rules-title" class="sr-only">Your password must meet these rules:</p>
<ul id="rules" class="rules" aria-labelledby="rules-title">{rule_items}</ul>
<label for="confirmNewPassword">Confirm new password</label>
<input id="confirmNewPassword" name="confirmNewPassword" type="password" autocomplete="new-password" required aria-invalid="{ci}"{cd}>
{cerr}<button type="submit">Reset password</button>
</form>"#,
            // Lets password managers file the new password under the right account.
            username = t.email.as_deref().map_or(String::new(), |m| format!(
                r#"<input type="email" name="username" value="{}" autocomplete="username" hidden>"#,
                e(m)
            )),
            ni = invalid(&errors.new_password),
            nd = if errors.new_password.is_some() {
                "newPassword-error "
            } else {
                ""
            },
            cd = if errors.confirm.is_some() {
                r#" aria-describedby="confirmNewPassword-error""#
            } else {
                ""
            },
            ci = invalid(&errors.confirm),
            nerr = field_error("newPassword-error", &errors.new_password),
            cerr = field_error("confirmNewPassword-error", &errors.confirm),
        );
        self.page(status, "Change your password", &body, &targets)
    }

    /// Expired, used or unknown link: say so, and offer a new mail.
    fn dead_link(&self, expired: bool, connection: Option<&str>, status: StatusCode) -> Response {
        let csrf = self.state.services.csrf_token(&self.nonce, FORGOT_PURPOSE);
        let (title, text) = if expired {
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
        let body = format!(
            r#"<h1>{title}</h1>
<p class="lead"><span>{text}</span> <span>Enter your email address and we will send you a new link.</span></p>
{form}"#,
            form = forgot_form(
                &csrf,
                connection.unwrap_or(DEFAULT_CONNECTION),
                None,
                "Send me a new link"
            ),
        );
        self.page(status, title, &body, &[])
    }
}

/// The "email me a link" form; `button` is its label ("Send me a new link" after a dead one).
pub(super) fn forgot_form(
    csrf: &str,
    connection: &str,
    error: Option<&str>,
    button: &str,
) -> String {
    let err = error.map_or(String::new(), |m| {
        format!(r#"<p id="email-error" class="field-error">{}</p>"#, e(m))
    });
    format!(
        r#"<form method="post" action="/lo/forgot" novalidate><input type="hidden" name="_csrf" value="{}"><input type="hidden" name="connection" value="{}">
<label for="email">Email address</label>
<input id="email" name="email" type="email" autocomplete="email" required aria-invalid="{}"{}>
{err}<button type="submit">{}</button></form>"#,
        e(csrf),
        e(connection),
        if error.is_some() { "true" } else { "false" },
        if error.is_some() {
            r#" aria-describedby="email-error""#
        } else {
            ""
        },
        e(button),
    )
}

async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    crate::extract::Meta(meta): crate::extract::Meta,
    Query(q): Query<TicketQuery>,
) -> Response {
    let ctx = match Ctx::new(state, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let token = q.ticket.unwrap_or_default();
    let proof = read_cookie(&headers, MFA_COOKIE);
    match ctx.open_ticket(&token, proof.as_deref(), &meta).await {
        Ok(t) => ctx.reset_form(&token, &t, FormErrors::default(), StatusCode::OK),
        Err(page) => page,
    }
}

impl Ctx {
    /// A reset a password-reset-post-challenge action refused.
    fn reset_denied(&self, reason: &str) -> Response {
        self.page(
            StatusCode::FORBIDDEN,
            "You can't reset your password here",
            &format!(
                r#"<h1>You can't reset your password here</h1><div class="alert error" role="alert">{}</div>"#,
                e(reason)
            ),
            &[],
        )
    }

    /// The ticket behind a link, or the page for a link that cannot be used (expired: a new
    /// mail, or Auth0's `result_url` answer; used or unknown: a new mail).
    async fn open_ticket(
        &self,
        token: &str,
        proof: Option<&str>,
        meta: &latchkey_core::audit::RequestMeta,
    ) -> Result<OpenTicket, Response> {
        let caller = Caller::end_user(meta.clone());
        match self
            .state
            .services
            .open_password_ticket(token, proof, &caller)
            .await
        {
            Ok(TicketState::Open(t)) => Ok(t),
            Ok(TicketState::Denied { reason }) => Err(self.reset_denied(&reason)),
            Ok(TicketState::Expired {
                redirect: Some(url),
                ..
            }) => Err(Redirect::to(&url).into_response()),
            Ok(TicketState::Expired { connection, .. }) => {
                Err(self.dead_link(true, connection.as_deref(), StatusCode::GONE))
            }
            Ok(TicketState::Invalid { connection }) => {
                Err(self.dead_link(false, connection.as_deref(), StatusCode::NOT_FOUND))
            }
            Err(err) => {
                tracing::error!(error = ?err, "opening a password ticket");
                Err(error_page())
            }
        }
    }
}

#[derive(Deserialize)]
struct ResetForm {
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
    Form(form): Form<ResetForm>,
) -> Response {
    let ctx = match Ctx::for_ticket_post(state, &headers, &form.ticket, &form.csrf).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let services = ctx.state.services.clone();
    let proof = read_cookie(&headers, MFA_COOKIE);
    let open = match ctx.open_ticket(&form.ticket, proof.as_deref(), &meta).await {
        Ok(t) => t,
        Err(page) => return page,
    };
    let bad =
        |errors: FormErrors| ctx.reset_form(&form.ticket, &open, errors, StatusCode::BAD_REQUEST);
    if open.needs_second_factor {
        return ctx.reset_form(
            &form.ticket,
            &open,
            FormErrors {
                banner: Some("Verify with your authenticator app first.".into()),
                ..FormErrors::default()
            },
            StatusCode::FORBIDDEN,
        );
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
        .redeem_password_ticket(
            &form.ticket,
            password,
            proof.as_deref(),
            &Caller::end_user(meta),
        )
        .await
    {
        Ok(done) => {
            if let Some(url) = done.redirect {
                return Redirect::to(&url).into_response();
            }
            let button = done.back_to_app.as_deref().map_or_else(
                || r#"<p class="muted">You can close this window and sign in with your new password.</p>"#.to_owned(),
                |u| format!(r#"<a class="button" href="{}">Back to the application</a>"#, e(u)),
            );
            let body = format!(
                r#"<h1>Password changed</h1><div class="alert ok" role="status">Your password was changed, and every session was signed out.</div>{button}"#
            );
            ctx.page(StatusCode::OK, "Password changed", &body, &[])
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
        }) => ctx.dead_link(false, Some(&open.connection), StatusCode::BAD_REQUEST),
        Err(ServiceError::AccessDenied(reason)) => ctx.reset_denied(&reason),
        Err(ServiceError::BadRequest { message, .. } | ServiceError::Conflict { message, .. }) => {
            bad(FormErrors {
                banner: Some(message),
                ..FormErrors::default()
            })
        }
        Err(err) => {
            tracing::error!(error = ?err, "redeeming a password ticket");
            error_page()
        }
    }
}

#[derive(Deserialize)]
struct SecondFactorForm {
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
    Form(form): Form<SecondFactorForm>,
) -> Response {
    let ctx = match Ctx::for_ticket_post(state, &headers, &form.ticket, &form.csrf).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let services = ctx.state.services.clone();
    let (status, message) = match services
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
                    let body = format!(
                        r#"<h1>Save your new recovery code</h1>
<p class="lead">You used your recovery code, so it no longer works. This new one lets you sign in once if you lose your phone. It is shown only now.</p>
<p class="recovery"><code id="recovery-code">{}</code></p>
<a class="button" href="{}">I saved it, continue</a>"#,
                        e(&super::grouped_key(code.expose_secret())),
                        e(&target)
                    );
                    ctx.page(StatusCode::OK, "Save your new recovery code", &body, &[])
                }
            };
            if let Ok(v) = axum::http::HeaderValue::from_str(&cookie) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
            return res;
        }
        Err(ServiceError::BadRequest {
            code: ErrorCode::InvalidTicket,
            ..
        }) => return ctx.dead_link(false, None, StatusCode::BAD_REQUEST),
        Err(ServiceError::BadRequest { message, .. }) => (StatusCode::BAD_REQUEST, message),
        Err(ServiceError::TooManyRequests(message)) => (StatusCode::TOO_MANY_REQUESTS, message),
        Err(err) => {
            tracing::error!(error = ?err, "checking a second factor before a reset");
            return error_page();
        }
    };
    match ctx.open_ticket(&form.ticket, None, &meta).await {
        Ok(t) => ctx.reset_form(
            &form.ticket,
            &t,
            FormErrors {
                banner: Some(message),
                ..FormErrors::default()
            },
            status,
        ),
        Err(page) => page,
    }
}

#[derive(Deserialize)]
struct ForgotQuery {
    connection: Option<String>,
}

/// "Forgot password?" from the login page: the email form.
async fn forgot_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ForgotQuery>,
) -> Response {
    let ctx = match Ctx::new(state, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let csrf = ctx.state.services.csrf_token(&ctx.nonce, FORGOT_PURPOSE);
    let connection = q.connection.as_deref().unwrap_or(DEFAULT_CONNECTION);
    let body = format!(
        r#"<h1>Reset your password</h1><p class="lead">Enter your email address and we will send you a link to choose a new password.</p>{}"#,
        forgot_form(&csrf, connection, None, "Send me a reset link")
    );
    ctx.page(StatusCode::OK, "Reset your password", &body, &[])
}

#[derive(Deserialize)]
struct ForgotForm {
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
    Form(form): Form<ForgotForm>,
) -> Response {
    let ctx = match Ctx::for_post(state, &headers, FORGOT_PURPOSE, &form.csrf).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let services = ctx.state.services.clone();
    let again = |status: StatusCode, error: &str| {
        let csrf = services.csrf_token(&ctx.nonce, FORGOT_PURPOSE);
        let body = format!(
            r#"<h1>Reset your password</h1><p class="lead">Enter your email address and we will send you a link.</p>{}"#,
            forgot_form(&csrf, &form.connection, Some(error), "Send me a reset link")
        );
        ctx.page(status, "Reset your password", &body, &[])
    };
    let email = match Email::parse(form.email.trim()) {
        Ok(m) => m,
        Err(_) => return again(StatusCode::BAD_REQUEST, "Enter a valid email address."),
    };
    let request = PasswordResetRequest {
        client_id: None,
        connection: form.connection.clone(),
        email,
        password: None,
    };
    let answer = services
        .request_password_reset(request, &Caller::end_user(meta))
        .await;
    let headers = rate_limit_headers(&answer.rate);
    let response = match answer.result {
        Ok(()) => ctx.page(
            StatusCode::OK,
            "Check your email",
            r#"<h1>Check your email</h1><div class="alert ok" role="status">We've just sent you an email to reset your password.</div><p class="muted">The mail can take a minute to arrive. Check your spam folder too.</p>"#,
            &[],
        ),
        Err(ServiceError::TooManyRequests(_)) => again(StatusCode::TOO_MANY_REQUESTS, "Too many requests. Please wait a minute and try again."),
        Err(ServiceError::BadRequest { message, .. }) => again(StatusCode::BAD_REQUEST, &message),
        Err(err) => {
            tracing::error!(error = ?err, "requesting a password reset from the hosted page");
            error_page()
        }
    };
    (headers, response).into_response()
}
