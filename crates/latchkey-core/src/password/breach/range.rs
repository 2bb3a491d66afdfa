//! A Have I Been Pwned compatible range service (a self-hosted mirror of
//! `api.pwnedpasswords.com/range/`): k-anonymity, only the first five hex digits of the
//! password's SHA-1 leave the server, and the answer lists every suffix under that prefix as
//! `SUFFIX:COUNT` lines. Padding lines (`COUNT` 0, sent when asked with `Add-Padding: true`) are
//! not breaches. Off unless configured; consulted after the bundled and local corpora.

use super::Sha1;
use crate::random::upper_hex;
use std::sync::Arc;
use std::time::Duration;

/// The HTTP GET the range lookup needs (reqwest in the server).
#[async_trait::async_trait]
pub trait RangeFetcher: Send + Sync {
    /// The body of a 200 answer to `url`, sent with `headers`; anything else is an error naming
    /// why (status, timeout, refused), never the body.
    async fn get(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<String, String>;
}

/// What to do when the range service does not answer in time or answers wrongly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeFailure {
    /// The password counts as not found (logged and counted).
    Open,
    /// A new password cannot be accepted until the service answers again (503). Logins are
    /// never refused for it: the stored password was accepted when it was set.
    Closed,
}

/// A configured range service.
pub struct RangeService {
    /// Ends with `/`; the prefix is appended.
    base: String,
    timeout: Duration,
    pub on_failure: RangeFailure,
    fetcher: Arc<dyn RangeFetcher>,
}

impl RangeService {
    /// `base` must be an http(s) URL; the five-digit prefix is appended to it (a trailing `/`
    /// is added when missing).
    pub fn new(
        base: &str,
        timeout: Duration,
        on_failure: RangeFailure,
        fetcher: Arc<dyn RangeFetcher>,
    ) -> anyhow::Result<Self> {
        let parsed = url::Url::parse(base)
            .map_err(|e| anyhow::anyhow!("breached_range_url {base:?} is not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https")
            || parsed.query().is_some()
            || parsed.fragment().is_some()
        {
            anyhow::bail!(
                "breached_range_url must be an http(s) URL without query or fragment, e.g. https://pwned.example.internal/range/"
            );
        }
        if timeout.is_zero() {
            anyhow::bail!("breached_range_timeout_ms must be more than 0");
        }
        let mut base = parsed.to_string();
        if !base.ends_with('/') {
            base.push('/');
        }
        Ok(Self {
            base,
            timeout,
            on_failure,
            fetcher,
        })
    }

    /// The service's URL, for the start-up log.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Whether the service lists `hash`.
    pub async fn contains(&self, hash: &Sha1) -> Result<bool, String> {
        let hex = upper_hex(hash);
        let (prefix, suffix) = hex.split_at(5);
        let url = format!("{}{prefix}", self.base);
        let body = self
            .fetcher
            .get(&url, &[("Add-Padding", "true")], self.timeout)
            .await?;
        listed(&body, suffix)
    }
}

/// Whether a range answer lists `suffix` (35 upper-case hex digits) with a count above zero.
/// An answer with a line that is not `SUFFIX:COUNT` is refused as a whole: it is not a range
/// service (a login page, a proxy's error), and trusting part of it would hide that.
fn listed(body: &str, suffix: &str) -> Result<bool, String> {
    let mut found = false;
    for line in body.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let Some((hex, count)) = line.split_once(':') else {
            return Err("the answer is not a list of SUFFIX:COUNT lines".into());
        };
        let count: u64 = count
            .trim()
            .parse()
            .map_err(|_| "the answer has a count that is not a number".to_owned())?;
        if hex.len() != 35 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("the answer has a suffix that is not 35 hex digits".into());
        }
        if count > 0 && hex.eq_ignore_ascii_case(suffix) {
            found = true;
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUFFIX: &str = "1E4C9B93F3F0682250B6CF8331B7EE68FD8";

    #[test]
    fn answers_are_read_as_the_range_api_writes_them() {
        let body = format!("0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n{SUFFIX}:3861493\r\n");
        assert_eq!(listed(&body, SUFFIX), Ok(true));
        // Padding (count 0) is not a breach; the case of the hex does not matter.
        let padded = format!("{}:0\n", SUFFIX.to_lowercase());
        assert_eq!(listed(&padded, SUFFIX), Ok(false));
        assert_eq!(listed("", SUFFIX), Ok(false));
        assert!(listed("<html>login</html>", SUFFIX).is_err());
        assert!(listed(&format!("{SUFFIX}:many"), SUFFIX).is_err());
        assert!(listed("ABC:1", SUFFIX).is_err());
    }
}
