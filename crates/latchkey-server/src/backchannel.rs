//! The HTTP client that delivers OpenID Connect Back-Channel Logout tokens and log stream
//! webhooks (core's `FormPoster`): reqwest over rustls, no redirects followed, bounded by the
//! caller's timeout.

use latchkey_core::backchannel::FormPoster;
use std::time::Duration;

pub struct ReqwestPoster {
    http: reqwest::Client,
}

impl ReqwestPoster {
    pub fn new() -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            // A redirect could send the token somewhere the administrator did not register.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            // A backstop: every call also gives its own, shorter timeout (log streams:
            // `log_streams.timeout_secs`), so an endpoint that accepts and never answers holds
            // a worker slot for seconds, not forever.
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("latchkey/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { http })
    }
}

#[async_trait::async_trait]
impl FormPoster for ReqwestPoster {
    async fn post(
        &self,
        url: &str,
        content_type: &str,
        headers: &[(String, String)],
        body: String,
        timeout: Duration,
    ) -> Result<u16, String> {
        let mut request = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, content_type);
        for (name, value) in headers {
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("the header name {name:?} is not valid"))?;
            // The value may be a credential: the error never quotes it.
            let mut value = reqwest::header::HeaderValue::from_str(value)
                .map_err(|_| format!("the value of header {name} is not valid"))?;
            value.set_sensitive(true);
            request = request.header(name, value);
        }
        let sent = request.timeout(timeout).body(body).send().await;
        match sent {
            Ok(response) => Ok(response.status().as_u16()),
            Err(e) => {
                // The cause (refused, timed out, TLS) is in the chain; the body never is.
                let mut reason = if e.is_timeout() {
                    "timed out".to_owned()
                } else {
                    "no answer".to_owned()
                };
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    reason.push_str(": ");
                    reason.push_str(&s.to_string());
                    source = s.source();
                }
                Err(reason)
            }
        }
    }
}
