//! Settings the services need, resolved by the binary from file, environment and flags.

#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Public URL with a trailing `/`, e.g. `https://id.example.com/`.
    pub issuer: String,
    /// Lifetime of access tokens issued to users and of Management API tokens.
    pub access_token_lifetime_secs: i64,
    /// How long other nodes' configuration changes may take to be seen here (see
    /// `services::config_cache`).
    pub config_cache_ttl: std::time::Duration,
}

impl CoreConfig {
    pub fn management_audience(&self) -> String {
        format!("{}api/v2/", self.issuer)
    }
    pub fn userinfo_audience(&self) -> String {
        format!("{}userinfo", self.issuer)
    }
}
