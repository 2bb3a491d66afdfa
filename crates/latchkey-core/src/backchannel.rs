//! What the services need to call other systems over HTTP (OpenID Connect Back-Channel Logout,
//! log stream webhooks); implemented by the binary with its HTTP client, so the core carries
//! none.

use std::time::Duration;

/// POSTs to URLs an administrator registered.
#[async_trait::async_trait]
pub trait FormPoster: Send + Sync {
    /// POSTs `body` to `url` with `content_type` and the extra `headers` (name, value), giving
    /// up after `timeout`, without following redirects. Returns the response's status; `Err`
    /// says why none came (connection refused, timeout, TLS, a header that is not valid),
    /// never with the body or a header's value in it.
    async fn post(
        &self,
        url: &str,
        content_type: &str,
        headers: &[(String, String)],
        body: String,
        timeout: Duration,
    ) -> Result<u16, String>;

    /// `post` of a body that is already `application/x-www-form-urlencoded`.
    async fn post_form(&self, url: &str, body: String, timeout: Duration) -> Result<u16, String> {
        self.post(url, "application/x-www-form-urlencoded", &[], body, timeout)
            .await
    }
}
