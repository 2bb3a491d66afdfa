//! The one place answers get their security headers: for HTML a strict CSP (no script but
//! the few the page names by hash, no framing but by the origins it names), `no-store` (pages
//! carry tickets and CSRF tokens) and `no-referrer` (links carry tickets); for every answer
//! `X-Frame-Options: DENY` unless its CSP lets someone frame it. Hosted pages and the console
//! both answer through `html_response`.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::Digest as _;

/// A page's Content-Security-Policy. `form_targets` are the origins a form on the page may
/// post to or be redirected to after posting (Chromium checks redirects against
/// `form-action`), besides the page's own; `scripts` the page's inline scripts (each allowed by
/// its hash, see `ScriptHash`); `frame_ancestors` the origins that may frame it (none: nobody).
#[derive(Default)]
pub(crate) struct Csp<'a> {
    pub(crate) form_targets: &'a [String],
    pub(crate) scripts: &'a [&'a ScriptHash],
    pub(crate) frame_ancestors: &'a [String],
}

impl Csp<'_> {
    fn header_value(&self) -> String {
        let mut targets = vec!["'self'"];
        targets.extend(self.form_targets.iter().map(String::as_str));
        let script_src = if self.scripts.is_empty() {
            String::new()
        } else {
            let hashes: Vec<&str> = self.scripts.iter().map(|s| s.source()).collect();
            format!("script-src {}; ", hashes.join(" "))
        };
        let ancestors = if self.frame_ancestors.is_empty() {
            "'none'".to_owned()
        } else {
            self.frame_ancestors.join(" ")
        };
        format!(
            "default-src 'none'; {script_src}style-src 'self'; img-src 'self' https: data:; form-action {}; frame-ancestors {ancestors}; base-uri 'none'",
            targets.join(" ")
        )
    }
}

/// An inline script and its CSP source (`'sha256-…'`), computed once from the very text the
/// template writes, so the two cannot drift apart.
pub(crate) struct ScriptHash {
    pub(crate) text: &'static str,
    source: std::sync::LazyLock<String>,
}

impl ScriptHash {
    pub(crate) const fn new(text: &'static str, hash: fn() -> String) -> Self {
        Self {
            text,
            source: std::sync::LazyLock::new(hash),
        }
    }
    fn source(&self) -> &str {
        &self.source
    }
}

/// `'sha256-…'` of a script's text, for `ScriptHash::new`.
pub(crate) fn csp_hash(text: &str) -> String {
    let digest = sha2::Sha256::digest(text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// Marks an answer whose CSP names who may frame it: it gets no `X-Frame-Options`.
#[derive(Clone, Copy)]
struct Framable;

/// Middleware: `X-Frame-Options: DENY` on every answer but those a CSP `frame-ancestors`
/// opens to named origins (browsers that know CSP ignore the older header anyway; the others
/// must not be allowed more).
pub(crate) async fn deny_framing(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    if res.extensions().get::<Framable>().is_none()
        && !res.headers().contains_key(header::X_FRAME_OPTIONS)
    {
        res.headers_mut()
            .insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    res
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
    if !csp.frame_ancestors.is_empty() {
        res.extensions_mut().insert(Framable);
    }
    res
}
