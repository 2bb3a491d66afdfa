//! "Your account": the signed-in administrator's authenticator app (optional TOTP for the
//! console).

use super::e;
use super::{Console, ConsoleForm, NoFields, Notice, done};
use crate::AppState;
use crate::web::{error_page, grouped_key, qr_svg_base64};
use axum::Router;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use latchkey_core::ServiceError;
use latchkey_core::services::AdminTotpSetup;
use secrecy::ExposeSecret;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/security", get(show))
        .route("/admin/security/totp", post(begin))
        .route("/admin/security/totp/confirm", post(confirm))
        .route("/admin/security/totp/remove", post(remove))
}

const SECTION: &str = "/admin/security";

#[derive(Deserialize, Default)]
struct DoneQuery {
    done: Option<String>,
}

async fn show(console: Console, Query(q): Query<DoneQuery>) -> Response {
    let notice = match q.done.as_deref() {
        Some("totp-on") => Some(Notice::Ok(
            "Authenticator app added: the console asks for a code at every sign-in.",
        )),
        Some("totp-off") => Some(Notice::Ok("Authenticator app removed.")),
        _ => None,
    };
    let csrf = console.csrf_field();
    let totp = if console.admin.has_totp {
        format!(
            r#"<p><span class="badge ok">On</span> The console asks for a code from your authenticator app at every sign-in, and before a password reset.</p>
<form method="post" action="/admin/security/totp/remove" class="inline-form">{csrf}
<label for="code">Current code</label><input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required>
<button type="submit" class="secondary">Remove the authenticator app</button></form>"#
        )
    } else {
        format!(
            r#"<p><span class="badge">Off</span> Only your password protects this account.</p>
<form method="post" action="/admin/security/totp">{csrf}<button type="submit">Set up an authenticator app</button></form>"#
        )
    };
    let body = format!(
        r#"<section class="panel"><h2>Signed in as</h2><p><strong>{email}</strong></p>
<p class="hint">Your password is changed from the sign-in page ("Don't remember your password?") or by an operator with <code>latchkey admin reset-password</code>.</p></section>
<section class="panel"><h2>Two-step verification</h2>{totp}</section>"#,
        email = e(&console.admin.email),
    );
    console.page(StatusCode::OK, SECTION, "Your account", notice, &body)
}

fn setup_page(
    console: &Console,
    setup: &AdminTotpSetup,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let body = format!(
        r#"<section class="panel narrow"><p>Scan this code with an authenticator app (Google Authenticator, 1Password, Authy…), then enter the 6-digit code it shows.</p>
<p class="qr"><img src="data:image/svg+xml;base64,{qr}" width="200" height="200" alt="QR code for your authenticator app"></p>
<p class="hint">Can't scan it? Enter this key instead: <code id="totp-key">{key}</code></p>
<form method="post" action="/admin/security/totp/confirm">{csrf}<input type="hidden" name="pending" value="{pending}">
<label for="code">Code</label><input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required>
<button type="submit">Turn on</button></form></section>"#,
        qr = qr_svg_base64(setup.otpauth_uri.expose_secret()),
        key = e(&grouped_key(setup.secret.expose_secret())),
        csrf = console.csrf_field(),
        pending = e(&setup.pending),
    );
    console.page(
        status,
        SECTION,
        "Set up an authenticator app",
        error.map(Notice::Error),
        &body,
    )
}

async fn begin(ConsoleForm(console, _): ConsoleForm<NoFields>) -> Response {
    match console
        .state
        .services
        .begin_admin_totp(&console.admin)
        .await
    {
        Ok(setup) => setup_page(&console, &setup, None, StatusCode::OK),
        Err(ServiceError::BadRequest { message, .. }) => console.page(
            StatusCode::BAD_REQUEST,
            SECTION,
            "Your account",
            Some(Notice::Error(&message)),
            r#"<p><a href="/admin/security">Back</a></p>"#,
        ),
        Err(err) => {
            tracing::error!(error = ?err, "starting a console TOTP set-up");
            error_page()
        }
    }
}

#[derive(Deserialize)]
struct CodeFields {
    #[serde(default)]
    pending: String,
    #[serde(default)]
    code: String,
}

async fn confirm(ConsoleForm(console, f): ConsoleForm<CodeFields>) -> Response {
    let services = console.state.services.clone();
    match services
        .confirm_admin_totp(&console.admin, &f.pending, &f.code)
        .await
    {
        Ok(()) => done(SECTION, "totp-on"),
        Err(ServiceError::BadRequest { message, .. }) => {
            match services.resume_admin_totp(&f.pending) {
                Ok(setup) => setup_page(&console, &setup, Some(&message), StatusCode::BAD_REQUEST),
                Err(_) => console.page(
                    StatusCode::BAD_REQUEST,
                    SECTION,
                    "Your account",
                    Some(Notice::Error("The set-up expired. Start again.")),
                    r#"<p><a href="/admin/security">Back</a></p>"#,
                ),
            }
        }
        Err(err) => {
            tracing::error!(error = ?err, "confirming a console TOTP set-up");
            error_page()
        }
    }
}

async fn remove(ConsoleForm(console, f): ConsoleForm<CodeFields>) -> Response {
    match console
        .state
        .services
        .remove_admin_totp(&console.admin, &f.code)
        .await
    {
        Ok(()) => done(SECTION, "totp-off"),
        Err(ServiceError::BadRequest { message, .. })
        | Err(ServiceError::TooManyRequests(message)) => console.page(
            StatusCode::BAD_REQUEST,
            SECTION,
            "Your account",
            Some(Notice::Error(&message)),
            r#"<p><a href="/admin/security">Back</a></p>"#,
        ),
        Err(err) => {
            tracing::error!(error = ?err, "removing a console authenticator");
            error_page()
        }
    }
}
