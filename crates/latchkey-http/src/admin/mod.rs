//! The admin console (`/admin`): server-rendered pages, no JavaScript, the hosted pages'
//! security headers, and a CSRF token on every form. Every page but sign-in, "forgot
//! password" and the reset link needs a live console session (`lk_admin`); without one, a GET
//! goes to the sign-in page and anything else is refused. Handlers call the same service
//! functions as the Management API, with the acting administrator as the caller.

mod actions;
mod actions_views;
mod applications;
mod applications_views;
mod attack_protection;
mod attack_protection_views;
mod auth;
mod auth_views;
mod database;
mod database_views;
mod emails;
mod emails_views;
mod logs;
mod logs_views;
mod security;
mod security_views;
mod settings;
mod settings_views;
mod users;
mod users_views;
mod views;

use crate::AppState;
use crate::web::{Csp, Html, csrf_nonce, html_response, read_cookie};
use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use latchkey_core::services::AdminPrincipal;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(auth::router())
        .merge(users::router())
        .merge(security::router())
        .merge(emails::router())
        .merge(database::router())
        .merge(settings::router())
        .merge(attack_protection::router())
        .merge(applications::router())
        .merge(actions::router())
        .merge(logs::router())
        .route("/admin", get(|| async { Redirect::to("/admin/users") }))
        .route("/admin/", get(|| async { Redirect::to("/admin/users") }))
        .route("/admin/assets/console.css", get(stylesheet))
        .route("/admin/{*rest}", axum::routing::any(not_found))
}

pub(crate) const SESSION_COOKIE: &str = "lk_admin";

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        format!("{}{}", crate::web::BASE_CSS, crate::web::CONSOLE_CSS),
    )
        .into_response()
}

/// The sections of the console, in the navigation's order: (path, label).
const SECTIONS: [(&str, &str); 9] = [
    ("/admin/users", "Users"),
    ("/admin/applications", "Applications"),
    ("/admin/actions", "Actions"),
    ("/admin/emails", "Emails"),
    ("/admin/database", "Database"),
    ("/admin/settings", "Settings"),
    ("/admin/attack-protection", "Attack protection"),
    ("/admin/logs", "Logs"),
    ("/admin/security", "Your account"),
];

/// A flash message shown at the top of a page (after a redirect, from `?done=`).
pub(crate) enum Notice<'a> {
    Ok(&'a str),
    Error(&'a str),
}

/// What a signed-in console page starts with.
pub(crate) struct Console {
    pub(crate) state: AppState,
    pub(crate) admin: AdminPrincipal,
    nonce: String,
    cookie: Option<String>,
    tenant: String,
}

impl Console {
    /// The signed-in administrator, or the answer for a visitor without a live session: a
    /// redirect to sign in for a GET (`back` is where to return), a 403 page otherwise.
    pub(crate) async fn new(
        state: AppState,
        headers: &HeaderMap,
        back: Option<&str>,
    ) -> Result<Self, Response> {
        let token = read_cookie(headers, SESSION_COOKIE).unwrap_or_default();
        let admin = match state.services.console.admin_session(&token).await {
            Ok(Some(a)) => a,
            Ok(None) => {
                return Err(match back {
                    Some(path) => Redirect::to(&format!(
                        "/admin/login?next={}",
                        url::form_urlencoded::byte_serialize(path.as_bytes()).collect::<String>()
                    ))
                    .into_response(),
                    None => refused(StatusCode::FORBIDDEN, "Sign in to the console first."),
                });
            }
            Err(err) => {
                return Err(crate::web::failed("reading a console session", err));
            }
        };
        let secure = state.services.config().issuer.starts_with("https://");
        let (nonce, cookie) = csrf_nonce(headers, secure);
        let tenant = state
            .services
            .tenant
            .branding()
            .await
            .map(|b| b.name)
            .unwrap_or_else(|_| "Latchkey".into());
        Ok(Self {
            state,
            admin,
            nonce,
            cookie,
            tenant,
        })
    }

    /// A form submission: the session must be live and the CSRF token must match it.
    pub(crate) async fn for_post(
        state: AppState,
        headers: &HeaderMap,
        csrf: &str,
    ) -> Result<Self, Response> {
        let console = Self::new(state, headers, None).await?;
        if crate::web::csrf_matches(&console.state, headers, &console.purpose(), csrf) {
            Ok(console)
        } else {
            Err(refused(
                StatusCode::FORBIDDEN,
                "This form expired or was opened in another browser. Go back, reload the page and try again.",
            ))
        }
    }

    fn purpose(&self) -> String {
        format!("admin:{}", self.admin.session_id)
    }

    /// The CSRF token every console form carries (`_csrf`).
    pub(crate) fn csrf(&self) -> String {
        self.state
            .services
            .credentials
            .csrf_token(&self.nonce, &self.purpose())
    }

    /// A console page: navigation (with `section` current), the notice, then `view`.
    pub(crate) fn render(
        &self,
        status: StatusCode,
        section: &str,
        title: &str,
        notice: Option<Notice<'_>>,
        view: &impl askama::Template,
    ) -> Response {
        match Html::render(view) {
            Ok(body) => self.layout(status, section, title, notice, &body),
            Err(err) => err.into_response(),
        }
    }

    fn layout(
        &self,
        status: StatusCode,
        section: &str,
        title: &str,
        notice: Option<Notice<'_>>,
        body: &Html,
    ) -> Response {
        let view = views::Layout {
            title,
            tenant: &self.tenant,
            csrf: self.csrf(),
            who: &self.admin.email,
            sections: &SECTIONS,
            section,
            notice,
            body,
        };
        match Html::render(&view) {
            Ok(html) => respond(status, html.into_string(), self.cookie.clone()),
            Err(err) => err.into_response(),
        }
    }
}

/// A console page's handler takes the signed-in administrator as an argument: without a live
/// session a GET goes to sign-in (and back here after), anything else is refused.
impl axum::extract::FromRequestParts<AppState> for Console {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Response> {
        let back = (parts.method == axum::http::Method::GET).then(|| {
            parts
                .uri
                .path_and_query()
                .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned())
        });
        Self::new(state.clone(), &parts.headers, back.as_deref()).await
    }
}

/// A console form: the administrator, the form's CSRF token checked against the session, and
/// the fields. It reads the body, so it comes last among a handler's arguments.
pub(crate) struct ConsoleForm<T>(pub(crate) Console, pub(crate) T);

/// A form with no field besides its CSRF token.
#[derive(serde::Deserialize)]
pub(crate) struct NoFields {}

impl<T: serde::de::DeserializeOwned> axum::extract::FromRequest<AppState> for ConsoleForm<T> {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &AppState) -> Result<Self, Response> {
        #[derive(serde::Deserialize)]
        struct Token {
            #[serde(rename = "_csrf", default)]
            csrf: String,
        }
        let (parts, body) = req.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20)
            .await
            .map_err(|_| refused(StatusCode::PAYLOAD_TOO_LARGE, "This form is too large."))?;
        let token = serde_urlencoded::from_bytes::<Token>(&bytes)
            .map(|t| t.csrf)
            .unwrap_or_default();
        let console = Console::for_post(state.clone(), &parts.headers, &token).await?;
        // The parser's message could quote a typed value (a password): it stays out of the page.
        let fields = serde_urlencoded::from_bytes::<T>(&bytes).map_err(|_| {
            refused(
                StatusCode::BAD_REQUEST,
                "This form could not be read. Go back, reload the page and try again.",
            )
        })?;
        Ok(Self(console, fields))
    }
}

/// The page for a refused console request.
pub(crate) fn refused(status: StatusCode, message: &str) -> Response {
    card(status, "Not allowed", &views::Refused { message }, None)
}

/// The narrow card layout of the sign-in, forgot-password and reset pages.
pub(crate) fn card(
    status: StatusCode,
    title: &str,
    view: &impl askama::Template,
    cookie: Option<String>,
) -> Response {
    let page =
        Html::render(view).and_then(|body| Html::render(&views::Card { title, body: &body }));
    match page {
        Ok(html) => respond(status, html.into_string(), cookie),
        Err(err) => err.into_response(),
    }
}

/// `/admin/…` that names no console page: a console page that says so (not the Management
/// API's JSON 404).
async fn not_found(console: Console, uri: axum::http::Uri) -> Response {
    console.render(
        StatusCode::NOT_FOUND,
        "",
        "Page not found",
        None,
        &views::NotFound { path: uri.path() },
    )
}

fn respond(status: StatusCode, html: String, cookie: Option<String>) -> Response {
    html_response(status, html, &Csp::default(), cookie)
}

/// A 303 back to `path` with a notice code in `?done=` (pages map codes to text, so no
/// message text travels in URLs).
pub(crate) fn done(path: &str, code: &str) -> Response {
    let sep = if path.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{path}{sep}done={code}")).into_response()
}
