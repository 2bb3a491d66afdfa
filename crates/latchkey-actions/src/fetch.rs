//! The `fetch` global: an allowlisted HTTP client for actions.
//!
//! The JavaScript thread blocks on each request (QuickJS has no event loop of its own here), so
//! every request is bounded by both `limits.fetch_timeout` and the execution's deadline.
//! Redirects are not followed (a redirect could leave the allowlist); the 3xx response is
//! returned to the action as is.

use crate::deadline::Deadline;
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::runtime::Handle;

/// Largest response body an action may read.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// Builds the runtime's one HTTP client (connection pools are shared by all executions).
pub fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("latchkey-actions")
        .build()
}

/// Whether `host` (from a parsed URL) matches an allowlist entry: the exact name, or
/// `*.example.com` for any subdomain of example.com (not example.com itself). Wildcards never
/// match IP addresses, so loopback and other literal addresses need an explicit entry.
pub fn host_allowed(host: &url::Host<&str>, allowed: &[String]) -> bool {
    let (name, is_domain) = match host {
        url::Host::Domain(d) => (d.trim_end_matches('.').to_ascii_lowercase(), true),
        url::Host::Ipv4(ip) => (ip.to_string(), false),
        url::Host::Ipv6(ip) => (ip.to_string(), false),
    };
    allowed.iter().any(|entry| {
        let entry = entry
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        match entry.strip_prefix("*.") {
            Some(suffix) => {
                is_domain
                    && !suffix.is_empty()
                    && name.len() > suffix.len() + 1
                    && name.ends_with(&format!(".{suffix}"))
            }
            None => entry == name,
        }
    })
}

#[derive(Debug, Deserialize)]
struct Request {
    url: String,
    method: String,
    #[serde(default)]
    headers: Vec<(String, String)>,
    #[serde(default)]
    body: Option<String>,
}

/// Serves one execution's `fetch` calls.
pub struct Fetcher {
    client: Option<reqwest::Client>,
    handle: Handle,
    allowed_hosts: Vec<String>,
    timeout: Duration,
    deadline: Deadline,
}

impl Fetcher {
    pub fn new(
        client: Option<reqwest::Client>,
        handle: Handle,
        allowed_hosts: Vec<String>,
        timeout: Duration,
        deadline: Deadline,
    ) -> Self {
        Self {
            client,
            handle,
            allowed_hosts,
            timeout,
            deadline,
        }
    }

    /// Serves the prelude's `host.fetch(json)`: `{"ok": {status, statusText, url, headers,
    /// body}}` or `{"error": {name, message}}` (rejected as a `TypeError` like Node's fetch).
    pub fn fetch(&self, request: &str) -> String {
        match self.fetch_value(request) {
            Ok(response) => json!({ "ok": response }).to_string(),
            Err(message) => {
                json!({ "error": { "name": "TypeError", "message": message } }).to_string()
            }
        }
    }

    fn fetch_value(&self, request: &str) -> Result<Value, String> {
        let request: Request =
            serde_json::from_str(request).map_err(|e| format!("invalid fetch call: {e}"))?;
        let url = url::Url::parse(&request.url).map_err(|e| format!("Invalid URL: {e}"))?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(format!("fetch of {} URLs is not supported", url.scheme()));
        }
        let host = url
            .host()
            .ok_or_else(|| "Invalid URL: no host".to_owned())?;
        let host_name = url.host_str().unwrap_or_default().to_owned();
        if !host_allowed(&host, &self.allowed_hosts) {
            return Err(format!("fetch to {host_name} is not allowed"));
        }
        if !METHODS.contains(&request.method.as_str()) {
            return Err(format!("fetch method {} is not supported", request.method));
        }
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|_| format!("fetch method {} is not supported", request.method))?;
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in &request.headers {
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("invalid header name {name:?}"))?;
            let value = reqwest::header::HeaderValue::from_str(value)
                .map_err(|_| format!("invalid value for header {name}"))?;
            headers.append(name, value);
        }
        let Some(client) = self.client.clone() else {
            return Err("fetch is not available (the HTTP client failed to start)".to_owned());
        };
        let Some(remaining) = self.deadline.remaining() else {
            return Err("the action ran past its time limit".to_owned());
        };
        let limited_by_deadline = remaining < self.timeout;
        let wait = remaining.min(self.timeout);

        let mut builder = client.request(method, url).headers(headers);
        if let Some(body) = request.body {
            builder = builder.body(body);
        }
        let outcome = self.handle.block_on(async move {
            tokio::time::timeout(wait, async move {
                let mut response = builder.send().await.map_err(|e| describe(&e))?;
                let status = response.status();
                let final_url = response.url().to_string();
                let headers: Vec<(String, String)> = response
                    .headers()
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_str().to_owned(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect();
                let mut body = Vec::new();
                while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
                    if body.len() + chunk.len() > MAX_BODY_BYTES {
                        return Err("the response body is larger than 1 MiB".to_owned());
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(json!({
                    "status": status.as_u16(),
                    "statusText": status.canonical_reason().unwrap_or_default(),
                    "url": final_url,
                    "headers": headers,
                    "body": String::from_utf8_lossy(&body),
                }))
            })
            .await
        });
        match outcome {
            Ok(result) => result.map_err(|e| format!("fetch to {host_name} failed: {e}")),
            Err(_elapsed) => {
                if limited_by_deadline {
                    self.deadline.mark_timed_out();
                }
                Err(format!("fetch to {host_name} timed out"))
            }
        }
    }
}

/// reqwest's error plus its sources ("error sending request: connection refused").
fn describe(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(url: &str, list: &[&str]) -> bool {
        let list: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        url::Url::parse(url)
            .ok()
            .and_then(|u| u.host().map(|h| host_allowed(&h, &list)))
            .unwrap_or(false)
    }

    #[test]
    fn allowlist_matching() {
        assert!(allowed("https://api.example.com/x", &["api.example.com"]));
        assert!(allowed("https://API.Example.com/x", &["api.example.com"]));
        assert!(allowed("https://a.b.example.com/x", &["*.example.com"]));
        assert!(!allowed("https://example.com/x", &["*.example.com"]));
        assert!(!allowed("https://evilexample.com/x", &["*.example.com"]));
        assert!(!allowed(
            "http://127.0.0.1:8080/",
            &["*.0.0.1", "*.example.com"]
        ));
        assert!(allowed("http://127.0.0.1:8080/", &["127.0.0.1"]));
        assert!(!allowed("http://localhost/", &[]));
        assert!(allowed("http://localhost/", &["localhost"]));
        assert!(allowed("http://[::1]:80/", &["::1"]));
    }
}
