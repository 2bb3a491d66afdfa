//! The one place HTML answers get their security headers: a strict CSP (no script, no
//! framing), `no-store` (pages carry tickets and CSRF tokens) and `no-referrer` (links carry
//! tickets). Hosted pages and the console both answer through `html_response`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A page's Content-Security-Policy. `form_targets` are the origins a form on the page may
/// post to or be redirected to after posting (Chromium checks redirects against
/// `form-action`), besides the page's own.
#[derive(Default)]
pub(crate) struct Csp<'a> {
    pub(crate) form_targets: &'a [String],
}

impl Csp<'_> {
    fn header_value(&self) -> String {
        let mut targets = vec!["'self'"];
        targets.extend(self.form_targets.iter().map(String::as_str));
        format!(
            "default-src 'none'; style-src 'self'; img-src 'self' https: data:; form-action {}; frame-ancestors 'none'; base-uri 'none'",
            targets.join(" ")
        )
    }
}

/// An HTML answer with the security headers and any cookies to set.
pub(crate) fn html_response(
    status: StatusCode,
    html: String,
    csp: &Csp<'_>,
    cookies: impl IntoIterator<Item = String>,
) -> Response {
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
    if let Ok(v) = HeaderValue::from_str(&csp.header_value()) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    for cookie in cookies {
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            h.append(header::SET_COOKIE, v);
        }
    }
    res
}
