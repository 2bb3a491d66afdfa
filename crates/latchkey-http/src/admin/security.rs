//! "Your account": the signed-in administrator's authenticator app (optional TOTP for the
//! console).

use super::security_views::{Account, Back, Setup};
use super::{Console, ConsoleForm, NoFields, Notice, done};
use crate::AppState;
use crate::web::{failed, grouped_key, qr_svg_base64};
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
    let view = Account {
        email: &console.admin.email,
        has_totp: console.admin.has_totp,
        csrf: console.csrf(),
    };
    console.render(StatusCode::OK, SECTION, "Your account", notice, &view)
}

fn setup_page(
    console: &Console,
    setup: &AdminTotpSetup,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let view = Setup {
        qr_base64: qr_svg_base64(setup.otpauth_uri.expose_secret()),
        key: grouped_key(setup.secret.expose_secret()),
        csrf: console.csrf(),
        pending: &setup.pending,
    };
    console.render(
        status,
        SECTION,
        "Set up an authenticator app",
        error.map(Notice::Error),
        &view,
    )
}

async fn begin(ConsoleForm(console, _): ConsoleForm<NoFields>) -> Response {
    match console
        .state
        .services
        .console
        .begin_admin_totp(&console.admin)
        .await
    {
        Ok(setup) => setup_page(&console, &setup, None, StatusCode::OK),
        Err(ServiceError::BadRequest { message, .. }) => console.render(
            StatusCode::BAD_REQUEST,
            SECTION,
            "Your account",
            Some(Notice::Error(&message)),
            &Back,
        ),
        Err(err) => failed("starting a console TOTP set-up", err),
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
        .console
        .confirm_admin_totp(&console.admin, &f.pending, &f.code)
        .await
    {
        Ok(()) => done(SECTION, "totp-on"),
        Err(ServiceError::BadRequest { message, .. }) => {
            match services.console.resume_admin_totp(&f.pending) {
                Ok(setup) => setup_page(&console, &setup, Some(&message), StatusCode::BAD_REQUEST),
                Err(_) => console.render(
                    StatusCode::BAD_REQUEST,
                    SECTION,
                    "Your account",
                    Some(Notice::Error("The set-up expired. Start again.")),
                    &Back,
                ),
            }
        }
        Err(err) => failed("confirming a console TOTP set-up", err),
    }
}

async fn remove(ConsoleForm(console, f): ConsoleForm<CodeFields>) -> Response {
    match console
        .state
        .services
        .console
        .remove_admin_totp(&console.admin, &f.code)
        .await
    {
        Ok(()) => done(SECTION, "totp-off"),
        Err(ServiceError::BadRequest { message, .. })
        | Err(ServiceError::TooManyRequests(message)) => console.render(
            StatusCode::BAD_REQUEST,
            SECTION,
            "Your account",
            Some(Notice::Error(&message)),
            &Back,
        ),
        Err(err) => failed("removing a console authenticator", err),
    }
}
