//! Which browser origins may call the Authentication API cross-origin (CORS): the union of every
//! client's `allowed_origins` and `web_origins`, as Auth0 configures them per application.

use crate::error::ServiceResult;
use crate::services::TenantConfig;

/// Whether `origin` (`scheme://host[:port]`) matches `pattern`: exactly, or through a `*.`
/// wildcard standing for one or more leading labels (`https://*.example.com`).
pub fn origin_matches(pattern: &str, origin: &str) -> bool {
    let pattern = pattern.trim_end_matches('/');
    if pattern.eq_ignore_ascii_case(origin) {
        return true;
    }
    let Some((scheme, rest)) = pattern.split_once("://*.") else {
        return false;
    };
    let Some(host) = origin
        .strip_prefix(scheme)
        .and_then(|o| o.strip_prefix("://"))
    else {
        return false;
    };
    let suffix = format!(".{}", rest.to_ascii_lowercase());
    let host = host.to_ascii_lowercase();
    host.len() > suffix.len()
        && host.ends_with(&suffix)
        && !host[..host.len() - suffix.len()].is_empty()
}

impl TenantConfig {
    pub async fn is_allowed_origin(&self, origin: &str) -> ServiceResult<bool> {
        let patterns = match self.cache.origins() {
            Some(p) => p,
            None => {
                let clients = self.store.list_clients().await?;
                let patterns: Vec<String> = clients
                    .into_iter()
                    .flat_map(|c| c.allowed_origins.into_iter().chain(c.web_origins))
                    .collect();
                self.cache.keep_origins(&patterns);
                patterns
            }
        };
        Ok(patterns.iter().any(|p| origin_matches(p, origin)))
    }
}

#[cfg(test)]
mod tests {
    use super::origin_matches;

    #[test]
    fn origins_match_exactly_or_by_subdomain_wildcard() {
        assert!(origin_matches(
            "http://localhost:3000",
            "http://localhost:3000"
        ));
        assert!(origin_matches(
            "http://localhost:3000/",
            "http://localhost:3000"
        ));
        assert!(!origin_matches(
            "http://localhost:3000",
            "http://localhost:3001"
        ));
        assert!(origin_matches(
            "https://*.example.com",
            "https://app.example.com"
        ));
        assert!(origin_matches(
            "https://*.example.com",
            "https://a.b.example.com"
        ));
        assert!(!origin_matches(
            "https://*.example.com",
            "https://example.com"
        ));
        assert!(!origin_matches(
            "https://*.example.com",
            "http://app.example.com"
        ));
        assert!(!origin_matches(
            "https://*.example.com",
            "https://evil-example.com"
        ));
        assert!(!origin_matches(
            "https://*.example.com",
            "https://app.example.com.evil.io"
        ));
    }
}
