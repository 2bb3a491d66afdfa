use super::ClientId;
use crate::time::Timestamp;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppType {
    Native,
    Spa,
    RegularWeb,
    NonInteractive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuthMethod {
    None,
    ClientSecretPost,
    ClientSecretBasic,
}

/// The grants `/oauth/token` understands, by their wire names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantType {
    AuthorizationCode,
    ClientCredentials,
    Password,
    PasswordRealm,
    RefreshToken,
    MfaOtp,
    MfaRecoveryCode,
}

impl GrantType {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "authorization_code" => Self::AuthorizationCode,
            "client_credentials" => Self::ClientCredentials,
            "password" => Self::Password,
            "http://auth0.com/oauth/grant-type/password-realm" => Self::PasswordRealm,
            "refresh_token" => Self::RefreshToken,
            "http://auth0.com/oauth/grant-type/mfa-otp" => Self::MfaOtp,
            "http://auth0.com/oauth/grant-type/mfa-recovery-code" => Self::MfaRecoveryCode,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::ClientCredentials => "client_credentials",
            Self::Password => "password",
            Self::PasswordRealm => "http://auth0.com/oauth/grant-type/password-realm",
            Self::RefreshToken => "refresh_token",
            Self::MfaOtp => "http://auth0.com/oauth/grant-type/mfa-otp",
            Self::MfaRecoveryCode => "http://auth0.com/oauth/grant-type/mfa-recovery-code",
        }
    }
}

/// An application. The secret is kept retrievable because Auth0's Management API returns it to
/// holders of `read:client_keys`; it is compared in constant time.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Client {
    pub client_id: ClientId,
    #[serde(skip)]
    pub client_secret: Option<SecretString>,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub app_type: Option<AppType>,
    #[serde(default = "yes")]
    pub is_first_party: bool,
    #[serde(default)]
    pub oidc_conformant: bool,
    #[serde(default)]
    pub callbacks: Vec<String>,
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    #[serde(default)]
    pub web_origins: Vec<String>,
    #[serde(default)]
    pub allowed_logout_urls: Vec<String>,
    #[serde(default)]
    pub grant_types: Vec<String>,
    pub token_endpoint_auth_method: TokenEndpointAuthMethod,
    /// `jwt_configuration.lifetime_in_seconds`: the id_token lifetime.
    #[serde(default = "default_id_token_lifetime")]
    pub id_token_lifetime_secs: i64,
    #[serde(default)]
    pub initiate_login_uri: Option<String>,
    #[serde(default)]
    pub logo_uri: Option<String>,
    #[serde(default)]
    pub client_metadata: Map<String, Value>,
    /// `refresh_token.token_lifetime`: absolute lifetime of a refresh token family.
    #[serde(default = "default_refresh_lifetime")]
    pub refresh_token_lifetime_secs: i64,
    /// `refresh_token.rotation_type`: rotating (the default here) or non-rotating.
    #[serde(default = "yes")]
    pub refresh_token_rotation: bool,
    #[serde(default = "Timestamp::now")]
    pub created_at: Timestamp,
    /// True for the Management API client made at bootstrap; it cannot be deleted by itself.
    #[serde(default)]
    pub is_global: bool,
}

fn yes() -> bool {
    true
}
fn default_id_token_lifetime() -> i64 {
    36_000
}
fn default_refresh_lifetime() -> i64 {
    2_592_000
}

impl Client {
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.iter().any(|g| g == grant.as_str())
    }
    /// Constant-time comparison of a presented secret.
    pub fn secret_matches(&self, presented: &str) -> bool {
        match &self.client_secret {
            Some(secret) => bool::from(
                secret
                    .expose_secret()
                    .as_bytes()
                    .ct_eq(presented.as_bytes()),
            ),
            None => false,
        }
    }
    pub fn is_public(&self) -> bool {
        self.token_endpoint_auth_method == TokenEndpointAuthMethod::None
    }
}

/// Permission for a client to obtain tokens for an API (`audience`) with at most `scope`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientGrant {
    pub id: String,
    pub client_id: ClientId,
    pub audience: String,
    pub scope: Vec<String>,
}
