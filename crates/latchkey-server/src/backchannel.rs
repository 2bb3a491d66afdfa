//! The HTTP client that delivers OpenID Connect Back-Channel Logout tokens (core's
//! `FormPoster`): reqwest over rustls, no redirects followed, bounded by the caller's timeout.

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
            .user_agent(concat!("latchkey/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { http })
    }
}

#[async_trait::async_trait]
impl FormPoster for ReqwestPoster {
    async fn post_form(&self, url: &str, body: String, timeout: Duration) -> Result<u16, String> {
        let sent = self
            .http
            .post(url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .timeout(timeout)
            .body(body)
            .send()
            .await;
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
