use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantFlags {
    /// The legacy change-password flow where `change_password` carries the new password and the
    /// mail confirms it. Off by default: it lets anyone who knows an email queue a password.
    #[serde(default)]
    pub change_pwd_flow_v1: bool,
    #[serde(default)]
    pub enable_public_signup_user_exists_error: bool,
    #[serde(default)]
    pub revoke_refresh_token_grant: bool,
    #[serde(default)]
    pub disable_clickjack_protection_headers: bool,
    #[serde(default = "yes")]
    pub enable_client_connections: bool,
    #[serde(default)]
    pub remove_alg_from_jwks: bool,
    /// Latchkey's own: by default a user with a second factor must pass it before a reset link
    /// shows the new-password form; this turns that off.
    #[serde(default)]
    pub skip_mfa_on_password_reset: bool,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn yes() -> bool {
    true
}

impl Default for TenantFlags {
    fn default() -> Self {
        Self {
            change_pwd_flow_v1: false,
            enable_public_signup_user_exists_error: false,
            revoke_refresh_token_grant: false,
            disable_clickjack_protection_headers: false,
            enable_client_connections: true,
            remove_alg_from_jwks: false,
            skip_mfa_on_password_reset: false,
            extra: Map::new(),
        }
    }
}

/// Which second factors are on, and when they are required.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MfaPolicy {
    #[serde(default)]
    pub otp_enabled: bool,
    /// Guardian policies: `all-applications` makes every login use a second factor (users
    /// without one enrol at their next login).
    #[serde(default)]
    pub policies: Vec<String>,
}

impl MfaPolicy {
    pub fn required(&self) -> bool {
        self.otp_enabled && self.policies.iter().any(|p| p == "all-applications")
    }
}

/// `GET/PATCH /api/v2/tenants/settings`. Unknown settings are kept so clients can round-trip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantSettings {
    #[serde(default)]
    pub friendly_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_redirection_uri: Option<String>,
    #[serde(default)]
    pub allowed_logout_urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_audience: Option<String>,
    /// The connection used by the password grant when no `realm` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_directory: Option<String>,
    /// Hours.
    #[serde(default = "default_session_lifetime")]
    pub session_lifetime: f64,
    /// Hours.
    #[serde(default = "default_idle_session_lifetime")]
    pub idle_session_lifetime: f64,
    #[serde(default)]
    pub flags: TenantFlags,
    /// MFA as `PUT /api/v2/guardian/factors/otp` and `/guardian/policies` set it.
    #[serde(default)]
    pub mfa: MfaPolicy,
    #[serde(default)]
    pub enabled_locales: Vec<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn default_session_lifetime() -> f64 {
    168.0
}
fn default_idle_session_lifetime() -> f64 {
    72.0
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            friendly_name: "Latchkey".into(),
            picture_url: None,
            support_email: None,
            support_url: None,
            default_redirection_uri: None,
            allowed_logout_urls: Vec::new(),
            default_audience: None,
            default_directory: None,
            session_lifetime: default_session_lifetime(),
            idle_session_lifetime: default_idle_session_lifetime(),
            flags: TenantFlags::default(),
            enabled_locales: vec!["en".into()],
            mfa: MfaPolicy::default(),
            extra: Map::new(),
        }
    }
}
