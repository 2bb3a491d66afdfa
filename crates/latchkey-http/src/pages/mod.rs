//! Hosted pages (Auth0's Classic `/lo/*`): server-rendered HTML that works without JavaScript.
//! Every page sends a strict CSP, no-store, no-referrer (links carry tickets), and every form a
//! signed double-submit CSRF token (`lk_csrf` cookie + hidden field bound to the form).

mod i18n;
mod login;
mod reset;
mod theme;
mod unblock;

pub use theme::PageTheme;

use crate::AppState;
use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use latchkey_core::services::{Branding, escape_html};

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(reset::router())
        .merge(login::router())
        .merge(unblock::router())
        .route("/lo/style.css", get(stylesheet))
        .route("/lo/custom.css", get(custom_stylesheet))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
}

const STYLE: &str = include_str!("style.css");
pub(crate) const CSRF_COOKIE: &str = "lk_csrf";

async fn stylesheet(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    let primary = state
        .services
        .branding()
        .await
        .map_or_else(|_| "#635bff".to_owned(), |b| b.primary_color);
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=60"),
        ],
        format!(":root{{--primary:{primary}}}\n{STYLE}"),
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

/// An `otpauth://` URI as a QR code: SVG, base64 for a `data:` image (rendered here, so the
/// key never reaches a third party).
pub(crate) fn qr_svg_base64(uri: &str) -> String {
    use base64::Engine as _;
    let svg = qrcode::QrCode::new(uri.as_bytes())
        .map(|q| {
            q.render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .build()
        })
        .unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(svg)
}

/// A base32 key in groups of four, as authenticator apps show keys for manual entry.
pub(crate) fn grouped_key(secret: &str) -> String {
    secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A password policy's rules as `<li>` items. Once a password was tried (`checked`), each rule
/// (and each character class) says whether it was met, in colour and in words for screen
/// readers.
pub(crate) fn rule_items(rules: &[latchkey_core::password::RuleReport], checked: bool) -> String {
    use latchkey_core::password::RuleReport;
    let rule_line = |r: &RuleReport, sub: &str| {
        let (class, mark) = match (checked, r.verified) {
            (false, _) => ("", ""),
            (true, true) => ("ok", r#"<span class="sr-only">Met: </span>"#),
            (true, false) => ("bad", r#"<span class="sr-only">Not met: </span>"#),
        };
        format!(r#"<li class="{class}">{mark}{}{sub}</li>"#, e(&r.text()))
    };
    rules
        .iter()
        .map(|r| {
            let items: String = r.items.iter().flatten().map(|i| rule_line(i, "")).collect();
            let sub = if items.is_empty() {
                String::new()
            } else {
                format!("<ul>{items}</ul>")
            };
            rule_line(r, &sub)
        })
        .collect()
}

/// Escapes text for HTML.
pub(crate) fn e(s: &str) -> String {
    escape_html(s)
}

/// A complete page around `body`, with the tenant's branding, in the tenant's own layout when
/// it has one (`theme.rs`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn page(
    status: StatusCode,
    theme: &PageTheme,
    lang: i18n::Lang,
    branding: &Branding,
    title: &str,
    body: &str,
    form_targets: &[String],
    cookie: Option<String>,
) -> Response {
    let logo = branding
        .logo_url
        .as_deref()
        .map_or(String::new(), |u| format!(r#"<img src="{}" alt="">"#, e(u)));
    let title = lang.tr(title);
    let custom_css = if theme.custom_css().is_some() {
        r#"<link rel="stylesheet" href="/lo/custom.css">"#
    } else {
        ""
    };
    let head = format!(
        r#"<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>{title} · {name}</title><link rel="stylesheet" href="/lo/style.css">{custom_css}"#,
        title = e(&title),
        name = e(&branding.name),
    );
    let widget = format!(
        "<main><header>{logo}<p>{name}</p></header>\n{body}\n</main>",
        name = e(&branding.name),
        body = i18n::translate_html(lang, body),
    );
    let html = theme
        .render(&theme::LayoutParts {
            head: &head,
            widget: &widget,
            locale: lang.code(),
            title: &title,
            tenant_name: &branding.name,
            logo_url: branding.logo_url.as_deref(),
            primary_color: &branding.primary_color,
        })
        .unwrap_or_else(|| {
            format!(
                "<!doctype html>\n<html lang=\"{lang}\"><head>{head}</head>\n<body>{widget}</body></html>",
                lang = lang.code()
            )
        });
    // form-action must also allow where a successful form redirects (Chromium checks redirects).
    let mut targets = vec!["'self'".to_owned()];
    targets.extend(form_targets.iter().cloned());
    let csp = format!(
        "default-src 'none'; style-src 'self'; img-src 'self' https: data:; form-action {}; frame-ancestors 'none'; base-uri 'none'",
        targets.join(" ")
    );
    let mut res = (status, html).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        h.insert(header::SET_COOKIE, c);
    }
    res
}

/// The browser's CSRF nonce, and the `Set-Cookie` that issues one when it has none.
pub(crate) fn csrf_nonce(headers: &HeaderMap, secure: bool) -> (String, Option<String>) {
    if let Some(n) = read_cookie(headers, CSRF_COOKIE).filter(|n| n.len() == 32) {
        return (n, None);
    }
    let nonce = latchkey_core::random::alnum(32).unwrap_or_default();
    let cookie = format!(
        "{CSRF_COOKIE}={nonce}; Path=/; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    );
    (nonce, Some(cookie))
}

/// Whether `token` is the CSRF token of `purpose` for this browser's `lk_csrf` nonce.
pub(crate) fn csrf_matches(
    state: &AppState,
    headers: &HeaderMap,
    purpose: &str,
    token: &str,
) -> bool {
    let nonce = read_cookie(headers, CSRF_COOKIE).unwrap_or_default();
    state.services.csrf_valid(&nonce, purpose, token)
}

pub(crate) fn read_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The origin of an absolute URL, for CSP `form-action`.
pub(crate) fn origin_of(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    let origin = u.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

/// What every hosted page handler starts with: the tenant's branding and the browser's CSRF
/// nonce (issuing one when it has none).
pub(crate) struct Ctx {
    pub(crate) state: AppState,
    pub(crate) branding: Branding,
    pub(crate) nonce: String,
    pub(crate) cookie: Option<String>,
    pub(crate) lang: i18n::Lang,
}

impl Ctx {
    pub(crate) async fn new(state: AppState, headers: &HeaderMap) -> Result<Self, Response> {
        let branding = state.services.branding().await.map_err(|err| {
            tracing::error!(error = ?err, "loading the tenant's branding");
            error_page()
        })?;
        let secure = state.services.config().issuer.starts_with("https://");
        let (nonce, cookie) = csrf_nonce(headers, secure);
        Ok(Self {
            state,
            branding,
            nonce,
            cookie,
            lang: i18n::Lang::detect(headers),
        })
    }

    /// A form submission: refused with a 403 page unless its CSRF token matches the browser's
    /// cookie for this form.
    pub(crate) async fn for_post(
        state: AppState,
        headers: &HeaderMap,
        purpose: &str,
        csrf: &str,
    ) -> Result<Self, Response> {
        let ctx = Self::new(state, headers).await?;
        if csrf_matches(&ctx.state, headers, purpose, csrf) {
            Ok(ctx)
        } else {
            Err(csrf_refused(&ctx))
        }
    }

    pub(crate) fn page(
        &self,
        status: StatusCode,
        title: &str,
        body: &str,
        targets: &[String],
    ) -> Response {
        page(
            status,
            &self.state.theme,
            self.lang,
            &self.branding,
            title,
            body,
            targets,
            self.cookie.clone(),
        )
    }
}

/// The answer when something on our side failed (already logged by the caller).
pub(crate) fn error_page() -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        "Something went wrong on our side. Please try again in a moment.",
    )
        .into_response()
}

pub(crate) fn csrf_refused(ctx: &Ctx) -> Response {
    ctx.page(
        StatusCode::FORBIDDEN,
        "Please try again",
        r#"<h1>Please try again</h1><p class="lead">This form expired or was opened in another browser. Go back and try again.</p>"#,
        &[],
    )
}
