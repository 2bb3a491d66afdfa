//! What the services need to call applications back over HTTP (OpenID Connect Back-Channel
//! Logout); implemented by the binary with its HTTP client, so the core carries none.

use std::time::Duration;

/// POSTs a form to a URL an administrator registered.
#[async_trait::async_trait]
pub trait FormPoster: Send + Sync {
    /// Sends `body` (already `application/x-www-form-urlencoded`) to `url`, giving up after
    /// `timeout`, without following redirects. Returns the response's status; `Err` says why
    /// none came (connection refused, timeout, TLS), never with the body in it.
    async fn post_form(&self, url: &str, body: String, timeout: Duration) -> Result<u16, String>;
}
