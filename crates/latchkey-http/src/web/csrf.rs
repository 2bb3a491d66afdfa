//! Signed double-submit CSRF: an `HttpOnly; SameSite=Strict` nonce cookie, and a form field
//! carrying HMAC(tenant key, nonce + purpose). No server-side state; a token cannot move to
//! another browser or another form (the purpose names the ticket, transaction or session).

use crate::AppState;
use axum::http::{HeaderMap, header};

pub(crate) const CSRF_COOKIE: &str = "lk_csrf";

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
    state
        .services
        .credentials
        .csrf_valid(&nonce, purpose, token)
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
