//! Hosted pages (Auth0's Classic `/lo/*` and `/u/*`): server-rendered HTML that works without
//! JavaScript. Bodies come from `templates/hosted/` (views.rs), the shell from the tenant's
//! `page.liquid` or ours; headers and CSRF from `crate::web`.

mod login;
mod oidc_logout;
mod reset;
mod theme;
mod unblock;
mod verify_email;
mod views;

pub use theme::PageTheme;

use crate::AppState;
use crate::web::i18n::Lang;
use crate::web::{Csp, Html, PageError, csrf_matches, csrf_nonce, html_response};
use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use latchkey_core::services::Branding;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(reset::router())
        .merge(login::router())
        .merge(oidc_logout::router())
        .merge(unblock::router())
        .merge(verify_email::router())
        .route("/lo/style.css", get(stylesheet))
        .route("/lo/custom.css", get(custom_stylesheet))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
}

async fn stylesheet(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    let primary = state
        .services
        .tenant
        .branding()
        .await
        .map_or_else(|_| "#635bff".to_owned(), |b| b.primary_color);
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=60"),
        ],
        format!(
            ":root{{--primary:{primary}}}\n{}{}",
            crate::web::BASE_CSS,
            crate::web::HOSTED_CSS
        ),
    )
        .into_response()
}

async fn custom_stylesheet(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Response {
    match state.theme.custom_css() {
        Some(css) => (
            [
                (header::CONTENT_TYPE, "text/css; charset=utf-8"),
                (header::CACHE_CONTROL, "public, max-age=60"),
            ],
            css.to_owned(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// What every hosted page handler starts with: the tenant's branding and the browser's CSRF
/// nonce (issuing one when it has none).
pub(crate) struct Ctx {
    pub(crate) state: AppState,
    pub(crate) branding: Branding,
    pub(crate) nonce: String,
    pub(crate) cookie: Option<String>,
    pub(crate) lang: Lang,
}

impl Ctx {
    pub(crate) async fn new(state: AppState, headers: &HeaderMap) -> Result<Self, PageError> {
        let branding = state
            .services
            .tenant
            .branding()
            .await
            .map_err(crate::web::internal("loading the tenant's branding"))?;
        let secure = state.services.config().issuer.starts_with("https://");
        let (nonce, cookie) = csrf_nonce(headers, secure);
        Ok(Self {
            state,
            branding,
            nonce,
            cookie,
            lang: Lang::detect(headers),
        })
    }

    /// A form submission: refused with a 403 page unless its CSRF token matches the browser's
    /// cookie for this form.
    pub(crate) async fn for_post(
        state: AppState,
        headers: &HeaderMap,
        purpose: &str,
        csrf: &str,
    ) -> Result<Self, PageError> {
        let ctx = Self::new(state, headers).await?;
        if csrf_matches(&ctx.state, headers, purpose, csrf) {
            Ok(ctx)
        } else {
            let mut view = views::Message::new("Please try again");
            view.lead =
                vec!["This form expired or was opened in another browser. Go back and try again."];
            Err(ctx
                .render(StatusCode::FORBIDDEN, "Please try again", &view, &[])
                .into())
        }
    }

    /// The CSRF token of `purpose` for this browser.
    pub(crate) fn csrf(&self, purpose: &str) -> String {
        self.state
            .services
            .credentials
            .csrf_token(&self.nonce, purpose)
    }

    /// A complete page around `view`, in the visitor's language, with the tenant's branding
    /// and in the tenant's own layout when it has one (`theme.rs`). `targets` are the origins
    /// a form on the page may go to (the callback).
    pub(crate) fn render(
        &self,
        status: StatusCode,
        title: &str,
        view: &impl askama::Template,
        targets: &[String],
    ) -> Response {
        let csp = Csp {
            form_targets: targets,
            ..Csp::default()
        };
        self.render_with(status, title, view, &csp)
    }

    /// `render` for a page that needs more than form targets in its CSP (a script, framing).
    pub(crate) fn render_with(
        &self,
        status: StatusCode,
        title: &str,
        view: &impl askama::Template,
        csp: &Csp<'_>,
    ) -> Response {
        self.document(status, title, view, csp)
            .unwrap_or_else(IntoResponse::into_response)
    }

    fn document(
        &self,
        status: StatusCode,
        title: &str,
        view: &impl askama::Template,
        csp: &Csp<'_>,
    ) -> Result<Response, PageError> {
        let title = self.lang.tr(title);
        let body = Html::render(view)?.translated(self.lang);
        let head = Html::render(&views::Head {
            title: &title,
            tenant: &self.branding.name,
            custom_css: self.state.theme.custom_css().is_some(),
        })?;
        let widget = Html::render(&views::Widget {
            logo_url: self.branding.logo_url.as_deref(),
            tenant: &self.branding.name,
            body: &body,
        })?;
        let parts = theme::LayoutParts {
            head: head.as_str(),
            widget: widget.as_str(),
            locale: self.lang.code(),
            title: &title,
            tenant_name: &self.branding.name,
            logo_url: self.branding.logo_url.as_deref(),
            primary_color: &self.branding.primary_color,
        };
        let html = match self.state.theme.render(&parts) {
            Some(themed) => themed,
            None => Html::render(&views::Document {
                lang: self.lang.code(),
                head: &head,
                widget: &widget,
            })?
            .into_string(),
        };
        Ok(html_response(status, html, csp, self.cookie.clone()))
    }

    /// A page that says one thing (see `views::Message`), titled by its heading.
    fn message(&self, status: StatusCode, view: &views::Message<'_>) -> Response {
        self.render(status, view.heading, view, &[])
    }

    /// The "email me a link" form for `connection`.
    fn forgot_form<'a>(
        &self,
        connection: &'a str,
        error: Option<&'a str>,
        button: &'a str,
    ) -> views::ForgotForm<'a> {
        views::ForgotForm {
            csrf: self.csrf(reset::FORGOT_PURPOSE),
            connection,
            error,
            button,
        }
    }
}
