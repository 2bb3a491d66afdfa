//! The HTTP GET behind the breached-password range service (core's `RangeFetcher`): reqwest
//! over rustls, no redirects followed (a mirror that moves is misconfigured, and a redirect
//! could send the hash prefix elsewhere), bounded by the configured timeout.

use latchkey_core::password::breach::RangeFetcher;
use std::time::Duration;

pub struct ReqwestRangeFetcher {
    http: reqwest::Client,
}

impl ReqwestRangeFetcher {
    pub fn new() -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("latchkey/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { http })
    }
}

/// A range answer lists at most a few thousand 40-byte lines; more is not a range service.
const MAX_BODY: usize = 1 << 20;

#[async_trait::async_trait]
impl RangeFetcher for ReqwestRangeFetcher {
    async fn get(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<String, String> {
        let mut request = self.http.get(url).timeout(timeout);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut response = request.send().await.map_err(|e| {
            if e.is_timeout() {
                "timed out".to_owned()
            } else {
                format!("no answer: {e}")
            }
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("answered {}", status.as_u16()));
        }
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_BODY {
                        return Err("answered more than 1 MiB".into());
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) if e.is_timeout() => return Err("timed out".into()),
                Err(e) => return Err(format!("broke off: {e}")),
            }
        }
        String::from_utf8(body).map_err(|_| "answered something that is not text".to_owned())
    }
}
