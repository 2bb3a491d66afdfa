//! Console sign-in and sign-out, and "Don't remember your password?": an email
//! form, the same answer for every address, a mailed link, a code first for an administrator
//! with an authenticator, then a new password.

use super::auth_views as views;
use super::{Notice, SESSION_COOKIE, card, refused};
use crate::AppState;
use crate::extract::Meta;
use crate::web::views::RuleLine;
use crate::web::{csrf_matches, csrf_nonce, failed, read_cookie};
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use latchkey_core::ErrorCode;
use latchkey_core::ServiceError;
use latchkey_core::domain::Password;
use latchkey_core::password::PolicyErrorName;
use latchkey_core::random::token_digest;
use latchkey_core::services::{AdminResetState, AdminSignIn, Caller, NewAdminSession};
use secrecy::ExposeSecret;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/login", get(login_page).post(login))
        .route("/admin/login/mfa", post(login_second_factor))
        .route("/admin/logout", post(logout))
        .route("/admin/forgot", get(forgot_page).post(forgot))
        .route("/admin/reset", get(reset_page).post(reset))
        .route("/admin/reset/mfa", post(reset_second_factor))
}

const LOGIN_PURPOSE: &str = "admin-login";
const FORGOT_PURPOSE: &str = "admin-forgot";
/// Holds the proof that this browser passed the code for one reset link.
const RESET_MFA_COOKIE: &str = "lk_admin_reset_mfa";

fn reset_purpose(token: &str) -> String {
    format!("admin-reset:{}", token_digest(token))
}

/// The browser's CSRF nonce and token for `purpose`, and the cookie that issues the nonce.
fn csrf_for(state: &AppState, headers: &HeaderMap, purpose: &str) -> (String, Option<String>) {
    let secure = state.services.config().issuer.starts_with("https://");
    let (nonce, cookie) = csrf_nonce(headers, secure);
    (
        state.services.credentials.csrf_token(&nonce, purpose),
        cookie,
    )
}

fn csrf_refused() -> Response {
    refused(
        StatusCode::FORBIDDEN,
        "This form expired or was opened in another browser. Go back, reload the page and try again.",
    )
}

/// Only same-console paths are followed after sign-in.
fn safe_next(next: Option<&str>) -> String {
    next.filter(|n| {
        n.starts_with("/admin/")
            && !n.contains('\\')
            && !n.chars().any(|c| c.is_control() || c.is_whitespace())
    })
    .unwrap_or("/admin/users")
    .to_owned()
}

#[derive(Deserialize, Default)]
struct LoginQuery {
    next: Option<String>,
    /// `sent`: the reset mail went out; `reset`: the password was changed; `out`: signed out.
    done: Option<String>,
}

fn login_form(
    state: &AppState,
    headers: &HeaderMap,
    next: &str,
    email: &str,
    message: Option<(&str, bool)>,
    status: StatusCode,
) -> Response {
    let (csrf, cookie) = csrf_for(state, headers, LOGIN_PURPOSE);
    let view = views::Login {
        message: message.map(|(m, ok)| if ok { Notice::Ok(m) } else { Notice::Error(m) }),
        invalid: matches!(message, Some((_, false))),
        csrf,
        next,
        email,
    };
    card(status, "Sign in", &view, cookie)
}

async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    let message = match q.done.as_deref() {
        Some("sent") => Some(("We've just sent you an email to reset your password.", true)),
        Some("reset") => Some(("Your password was changed. Sign in with the new one.", true)),
        Some("out") => Some(("You are signed out.", true)),
        Some("expired") => Some(("Your session ended. Sign in again.", true)),
        _ => None,
    };
    let next = safe_next(q.next.as_deref());
    login_form(&state, &headers, &next, "", message, StatusCode::OK)
}

#[derive(Deserialize)]
struct LoginFields {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

fn session_cookie(state: &AppState, session: &NewAdminSession) -> String {
    let secure = state.services.config().issuer.starts_with("https://");
    format!(
        "{SESSION_COOKIE}={}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age={}{}",
        session.token.expose_secret(),
        session.max_age_secs,
        if secure { "; Secure" } else { "" }
    )
}

fn signed_in(state: &AppState, session: &NewAdminSession, next: &str) -> Response {
    let mut res = Redirect::to(next).into_response();
    if let Ok(v) = HeaderValue::from_str(&session_cookie(state, session)) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

fn code_page(
    state: &AppState,
    headers: &HeaderMap,
    pending: &str,
    next: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let (csrf, cookie) = csrf_for(state, headers, LOGIN_PURPOSE);
    let view = views::LoginCode {
        error,
        csrf,
        pending,
        next,
    };
    card(status, "Verify it's you", &view, cookie)
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    Form(f): Form<LoginFields>,
) -> Response {
    if !csrf_matches(&state, &headers, LOGIN_PURPOSE, &f.csrf) {
        return csrf_refused();
    }
    let next = safe_next(Some(&f.next));
    let again = |message: &str, status| {
        login_form(
            &state,
            &headers,
            &next,
            &f.email,
            Some((message, false)),
            status,
        )
    };
    let Ok(password) = Password::parse(f.password.clone()) else {
        return again("Wrong email or password.", StatusCode::BAD_REQUEST);
    };
    match state
        .services
        .console
        .admin_sign_in(&f.email, &password, &Caller::end_user(meta))
        .await
    {
        Ok(AdminSignIn::SignedIn(session)) => signed_in(&state, &session, &next),
        Ok(AdminSignIn::SecondFactor { pending }) => {
            code_page(&state, &headers, &pending, &next, None, StatusCode::OK)
        }
        Err(ServiceError::BadRequest { message, .. }) => again(&message, StatusCode::BAD_REQUEST),
        Err(ServiceError::TooManyRequests(m)) => again(&m, StatusCode::TOO_MANY_REQUESTS),
        Err(e @ ServiceError::Overloaded { retry_after_secs }) => {
            let mut res = again(&e.to_string(), StatusCode::SERVICE_UNAVAILABLE);
            crate::errors::retry_after(res.headers_mut(), Some(retry_after_secs));
            res
        }
        Err(err) => failed("console sign-in", err),
    }
}

#[derive(Deserialize)]
struct CodeFields {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    pending: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    next: String,
}

async fn login_second_factor(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<CodeFields>,
) -> Response {
    if !csrf_matches(&state, &headers, LOGIN_PURPOSE, &f.csrf) {
        return csrf_refused();
    }
    let next = safe_next(Some(&f.next));
    match state
        .services
        .console
        .admin_sign_in_second_factor(&f.pending, &f.code)
        .await
    {
        Ok(session) => signed_in(&state, &session, &next),
        Err(ServiceError::BadRequest {
            code: ErrorCode::InvalidOtp,
            message,
        }) => code_page(
            &state,
            &headers,
            &f.pending,
            &next,
            Some(&message),
            StatusCode::BAD_REQUEST,
        ),
        Err(ServiceError::TooManyRequests(m)) => code_page(
            &state,
            &headers,
            &f.pending,
            &next,
            Some(&m),
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Err(ServiceError::BadRequest { .. }) => login_form(
            &state,
            &headers,
            &next,
            "",
            Some(("That took too long. Sign in again.", false)),
            StatusCode::BAD_REQUEST,
        ),
        Err(err) => failed("console sign-in code", err),
    }
}

async fn logout(
    headers: HeaderMap,
    super::ConsoleForm(console, _): super::ConsoleForm<super::NoFields>,
) -> Response {
    let token = read_cookie(&headers, SESSION_COOKIE).unwrap_or_default();
    if let Err(err) = console.state.services.console.admin_sign_out(&token).await {
        return failed("console sign-out", err);
    }
    let mut res = Redirect::to("/admin/login?done=out").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static("lk_admin=; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    res
}

fn forgot_form(
    state: &AppState,
    headers: &HeaderMap,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let (csrf, cookie) = csrf_for(state, headers, FORGOT_PURPOSE);
    card(
        status,
        "Reset your password",
        &views::Forgot { error, csrf },
        cookie,
    )
}

async fn forgot_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    forgot_form(&state, &headers, None, StatusCode::OK)
}

#[derive(Deserialize)]
struct ForgotFields {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

async fn forgot(
    State(state): State<AppState>,
    headers: HeaderMap,
    Meta(meta): Meta,
    Form(f): Form<ForgotFields>,
) -> Response {
    if !csrf_matches(&state, &headers, FORGOT_PURPOSE, &f.csrf) {
        return csrf_refused();
    }
    match state
        .services
        .console
        .request_admin_password_reset(&f.email, &Caller::end_user(meta))
        .await
    {
        // The same answer whether or not an administrator has this address.
        Ok(()) => Redirect::to("/admin/login?done=sent").into_response(),
        Err(ServiceError::Invalid(_)) => forgot_form(
            &state,
            &headers,
            Some("Enter a valid email address."),
            StatusCode::BAD_REQUEST,
        ),
        Err(ServiceError::TooManyRequests(m)) => {
            forgot_form(&state, &headers, Some(&m), StatusCode::TOO_MANY_REQUESTS)
        }
        Err(err) => failed("console password reset request", err),
    }
}

#[derive(Deserialize)]
struct TicketQuery {
    ticket: Option<String>,
}

/// The reset link's page for its current state.
async fn reset_view(
    state: &AppState,
    headers: &HeaderMap,
    token: &str,
    message: Option<&str>,
    checked_rules: Option<Vec<latchkey_core::password::RuleReport>>,
    status: StatusCode,
) -> Response {
    let proof = read_cookie(headers, RESET_MFA_COOKIE);
    let (csrf, cookie) = csrf_for(state, headers, &reset_purpose(token));
    match state
        .services
        .console
        .open_admin_reset(token, proof.as_deref())
        .await
    {
        Ok(AdminResetState::Invalid) => card(
            StatusCode::BAD_REQUEST,
            "This link can no longer be used",
            &views::ResetInvalid,
            cookie,
        ),
        Ok(AdminResetState::NeedsSecondFactor) => {
            let support = state
                .services
                .tenant
                .tenant_settings()
                .await
                .ok()
                .and_then(|t| t.support_email.or(t.support_url));
            let view = views::ResetCode {
                error: message,
                csrf,
                ticket: token,
                support,
            };
            card(status, "Verify it's you", &view, cookie)
        }
        Ok(AdminResetState::Ready { email, rules }) => {
            let checked = checked_rules.is_some();
            let rules = checked_rules.unwrap_or(rules);
            let view = views::ResetForm {
                email: &email,
                error: message,
                csrf,
                ticket: token,
                rules: RuleLine::list(&rules, checked),
            };
            card(status, "Choose a new password", &view, cookie)
        }
        Err(err) => failed("opening a console reset link", err),
    }
}

async fn reset_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<TicketQuery>,
) -> Response {
    let token = q.ticket.unwrap_or_default();
    reset_view(&state, &headers, &token, None, None, StatusCode::OK).await
}

#[derive(Deserialize)]
struct ResetCodeFields {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    ticket: String,
    #[serde(default)]
    code: String,
}

async fn reset_second_factor(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<ResetCodeFields>,
) -> Response {
    if !csrf_matches(&state, &headers, &reset_purpose(&f.ticket), &f.csrf) {
        return csrf_refused();
    }
    match state
        .services
        .console
        .pass_admin_reset_second_factor(&f.ticket, &f.code)
        .await
    {
        Ok(proof) => {
            let secure = state.services.config().issuer.starts_with("https://");
            let cookie = format!(
                "{RESET_MFA_COOKIE}={proof}; Path=/admin/reset; HttpOnly; SameSite=Strict; Max-Age=600{}",
                if secure { "; Secure" } else { "" }
            );
            let mut res = Redirect::to(&format!(
                "/admin/reset?ticket={}",
                url::form_urlencoded::byte_serialize(f.ticket.as_bytes()).collect::<String>()
            ))
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                res.headers_mut().append(header::SET_COOKIE, v);
            }
            res
        }
        Err(ServiceError::BadRequest { message, .. })
        | Err(ServiceError::TooManyRequests(message)) => {
            reset_view(
                &state,
                &headers,
                &f.ticket,
                Some(&message),
                None,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
        Err(err) => failed("console reset code", err),
    }
}

#[derive(Deserialize)]
struct ResetFields {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    ticket: String,
    #[serde(rename = "newPassword", default)]
    new_password: String,
    #[serde(rename = "confirmNewPassword", default)]
    confirm: String,
}

async fn reset(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<ResetFields>,
) -> Response {
    if !csrf_matches(&state, &headers, &reset_purpose(&f.ticket), &f.csrf) {
        return csrf_refused();
    }
    let again = |message: &str, rules| {
        let (state, headers, ticket) = (&state, &headers, &f.ticket);
        let message = message.to_owned();
        async move {
            reset_view(
                state,
                headers,
                ticket,
                Some(&message),
                rules,
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    };
    if f.new_password != f.confirm {
        return again("The two passwords are not the same.", None).await;
    }
    let Ok(password) = Password::parse(f.new_password.clone()) else {
        return again("Enter a new password.", None).await;
    };
    let proof = read_cookie(&headers, RESET_MFA_COOKIE);
    match state
        .services
        .console
        .redeem_admin_reset(&f.ticket, &password, proof.as_deref())
        .await
    {
        Ok(()) => {
            let mut res = Redirect::to("/admin/login?done=reset").into_response();
            res.headers_mut().append(
                header::SET_COOKIE,
                HeaderValue::from_static(
                    "lk_admin_reset_mfa=; Path=/admin/reset; HttpOnly; SameSite=Strict; Max-Age=0",
                ),
            );
            res
        }
        Err(ServiceError::PasswordPolicy(v)) => {
            let message = match v.name {
                PolicyErrorName::NoUserInfo => "The password must not contain your email address.",
                PolicyErrorName::Dictionary => "This password is too common. Choose another one.",
                _ => "The password does not meet the rules below.",
            };
            again(message, Some(v.rules.clone())).await
        }
        Err(ServiceError::BadRequest { message, .. }) => again(&message, None).await,
        Err(ServiceError::AccessDenied(_)) => {
            again("Enter the code from your authenticator app first.", None).await
        }
        Err(err) => failed("console password reset", err),
    }
}
