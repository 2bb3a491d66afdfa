//! What every HTML surface (hosted pages, console) shares: templates rendered with escaping on
//! by default (askama, checked at compile time), the security headers, CSRF tokens, cookies and
//! the page error type. Page handlers never build HTML from strings: a body is an [`Html`], and
//! only a template makes one.

pub(crate) mod csrf;
mod headers;
pub(crate) mod i18n;
pub(crate) mod views;

pub(crate) use csrf::{csrf_matches, csrf_nonce, read_cookie};
pub(crate) use headers::{Csp, ScriptHash, csp_hash, deny_framing, html_response};

use axum::http::{StatusCode, header};

/// The stylesheet family: `base.css` under both surfaces, then each surface's own.
pub(crate) const BASE_CSS: &str = include_str!("base.css");
pub(crate) const HOSTED_CSS: &str = include_str!("hosted.css");
pub(crate) const CONSOLE_CSS: &str = include_str!("console.css");
use axum::response::{IntoResponse, Response};

/// The templates' HTML escaper: `& < > "` as named entities. Every attribute in
/// `templates/` is double-quoted (a test checks), so `'` needs no escaping and a phrase like
/// "We've just sent you an email" reads the same in the HTML as on the screen.
#[derive(Clone, Copy)]
pub(crate) struct Entities;

impl askama::filters::Escaper for Entities {
    fn write_escaped_str<W: std::fmt::Write>(&self, mut dest: W, s: &str) -> std::fmt::Result {
        let mut last = 0;
        for (i, b) in s.bytes().enumerate() {
            let entity = match b {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => continue,
            };
            dest.write_str(&s[last..i])?;
            dest.write_str(entity)?;
            last = i + 1;
        }
        dest.write_str(&s[last..])
    }
}

/// HTML that came out of a template. Its constructor is the template engine, so a page body
/// is never a hand-built string that someone forgot to escape.
pub(crate) struct Html(String);

impl Html {
    /// Renders `view`; a failure (a formatting error inside a template) is logged and
    /// answered with the generic error page.
    pub(crate) fn render(view: &impl askama::Template) -> Result<Self, PageError> {
        view.render().map(Self).map_err(|err| {
            tracing::error!(error = %err, "rendering a page template");
            PageError::Internal
        })
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn into_string(self) -> String {
        self.0
    }

    /// The same HTML with its known phrases in `lang` (text nodes only; markup untouched).
    pub(crate) fn translated(self, lang: i18n::Lang) -> Self {
        Self(i18n::translate_html(lang, &self.0))
    }
}

/// Why an HTML surface did not answer with the page it meant to: our side failed (already
/// logged), or the request is answered by another page (expired form, refused CSRF token, a
/// sign-in redirect) that the handler returns as is.
pub(crate) enum PageError {
    Internal,
    /// The store is unreachable: 503 with `Retry-After`.
    Unavailable,
    Answer(Box<Response>),
}

impl From<Response> for PageError {
    fn from(res: Response) -> Self {
        Self::Answer(Box::new(res))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            Self::Internal => error_page(),
            Self::Unavailable => unavailable_page(),
            Self::Answer(res) => *res,
        }
    }
}

/// What an HTML handler returns.
pub(crate) type PageResult = Result<Response, PageError>;

/// Logs an unexpected service error once, for the page that hit it. An overloaded server
/// (the hashing queue is full) is not an error: a plain 503 with `Retry-After`.
pub(crate) fn internal(
    what: &'static str,
) -> impl FnOnce(latchkey_core::ServiceError) -> PageError {
    move |err| {
        if let latchkey_core::ServiceError::Overloaded { retry_after_secs } = err {
            return busy_page(retry_after_secs).into();
        }
        if err.is_unavailable() {
            tracing::warn!(error = %err, "{what}");
            return PageError::Unavailable;
        }
        tracing::error!(error = ?err, "{what}");
        PageError::Internal
    }
}

/// The console's answer to an unexpected service error: logged once and mapped like every
/// hosted page (`internal`): busy or unreachable store → 503 with `Retry-After`, else 500.
pub(crate) fn failed(what: &'static str, err: latchkey_core::ServiceError) -> Response {
    internal(what)(err).into_response()
}

/// The answer when the server is at capacity: plain text, 503, `Retry-After`.
pub(crate) fn busy_page(retry_after_secs: u64) -> Response {
    plain_503(
        "The server is busy. Please try again in a moment.",
        retry_after_secs,
    )
}

/// The answer while the store is unreachable. Plain text, like `error_page`.
pub(crate) fn unavailable_page() -> Response {
    plain_503(
        "The service is temporarily unavailable. Please try again in a moment.",
        crate::errors::UNAVAILABLE_RETRY_AFTER_SECS,
    )
}

fn plain_503(message: &'static str, retry_after_secs: u64) -> Response {
    let mut res = (
        StatusCode::SERVICE_UNAVAILABLE,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        message,
    )
        .into_response();
    crate::errors::retry_after(res.headers_mut(), Some(retry_after_secs));
    res
}

/// The answer when something on our side failed (already logged by the caller). Plain text:
/// it must not depend on anything that might have failed.
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

/// The origin of an absolute URL, for CSP `form-action`.
pub(crate) fn origin_of(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    let origin = u.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

/// A moment as a page shows it: `3 Dec 2026, 15:04 UTC`, and the ISO value for
/// `<time datetime="…">`.
pub(crate) struct Moment {
    pub(crate) iso: String,
    pub(crate) text: String,
}

impl Moment {
    pub(crate) fn of(t: latchkey_core::time::Timestamp) -> Self {
        Self {
            iso: t.to_iso(),
            text: human_utc(t),
        }
    }

    /// A date from a JSON document (a log entry, a block), as written if it is not ISO.
    pub(crate) fn written(iso: &str) -> Self {
        latchkey_core::time::Timestamp::parse_iso(iso).map_or_else(
            || Self {
                iso: iso.to_owned(),
                text: iso.to_owned(),
            },
            Self::of,
        )
    }
}

/// `t` for people: `3 Dec 2026, 15:04 UTC` (the ISO form if it cannot be written so).
pub(crate) fn human_utc(t: latchkey_core::time::Timestamp) -> String {
    let format = time::macros::format_description!(
        "[day padding:none] [month repr:short] [year], [hour]:[minute] UTC"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(t.millis()) * 1_000_000)
        .ok()
        .and_then(|dt| dt.format(&format).ok())
        .unwrap_or_else(|| t.to_iso())
}

/// `s` as one URL query or path component (spaces as `%20`: axum's `Path` does not read `+`).
pub(crate) fn url_component(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_escaper_writes_named_entities() {
        let mut out = String::new();
        askama::filters::Escaper::write_escaped_str(&Entities, &mut out, r#"<a href="x">&'</a>"#)
            .unwrap_or_default();
        assert_eq!(out, "&lt;a href=&quot;x&quot;&gt;&amp;'&lt;/a&gt;");
    }

    #[test]
    fn moments_read_in_utc() {
        let t = latchkey_core::time::Timestamp::parse_iso("2026-12-03T15:04:59.123Z")
            .unwrap_or(latchkey_core::time::Timestamp::from_millis(0));
        assert_eq!(human_utc(t), "3 Dec 2026, 15:04 UTC");
        let m = Moment::of(t);
        assert_eq!(m.iso, "2026-12-03T15:04:59.123Z");
        assert_eq!(Moment::written("yesterday").text, "yesterday");
        assert_eq!(Moment::written(&m.iso).text, m.text);
    }

    /// `'` is not escaped, so no attribute may be single-quoted or unquoted around a value.
    #[test]
    fn every_template_attribute_value_is_double_quoted() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut stack = vec![dir];
        let mut checked = 0;
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                checked += 1;
                let at = unquoted_attribute(&text);
                assert!(
                    at.is_none(),
                    "{}: attribute value not double-quoted near {:?}",
                    path.display(),
                    at.map(|at| &text[at.saturating_sub(30)..(at + 10).min(text.len())])
                );
            }
        }
        assert!(checked > 10, "templates found: {checked}");
    }

    #[test]
    fn the_quoting_check_finds_what_it_looks_for() {
        assert_eq!(unquoted_attribute(r#"<a href='{{ x }}'>"#), Some(7));
        assert_eq!(unquoted_attribute(r#"<a href={{ x }}>"#), Some(7));
        assert_eq!(unquoted_attribute(r#"<p>a = b</p>"#), None);
        assert_eq!(
            unquoted_attribute(r#"<meta content="width=device-width">{% if a == b %}"#),
            None
        );
    }

    /// The byte offset of an `=` inside an HTML tag (outside quotes and template tags) that
    /// is not followed by `"`.
    fn unquoted_attribute(text: &str) -> Option<usize> {
        let b = text.as_bytes();
        let (mut i, mut in_tag, mut quote) = (0, false, None::<u8>);
        while i < b.len() {
            if b[i] == b'{' && matches!(b.get(i + 1), Some(b'{' | b'%' | b'#')) {
                let close = match b[i + 1] {
                    b'{' => "}}",
                    b'%' => "%}",
                    _ => "#}",
                };
                i = text[i..].find(close).map_or(b.len(), |j| i + j + 2);
                continue;
            }
            match (quote, b[i]) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, b'<') => in_tag = b.get(i + 1).is_some_and(u8::is_ascii_alphabetic),
                (None, b'>') => in_tag = false,
                (None, b'"' | b'\'') if in_tag => quote = Some(b[i]),
                (None, b'=') if in_tag && b.get(i + 1) != Some(&b'"') => return Some(i),
                _ => {}
            }
            i += 1;
        }
        None
    }
}
