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
    /// `oidc_logout`: OpenID Connect Back-Channel Logout. Stored in the client's JSON like
    /// every other setting (rows written before it existed read as `None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc_logout: Option<OidcLogout>,
    /// `cross_origin_authentication`: embedded login (Lock, auth0-js `login`) may post
    /// credentials to `/co/authenticate` from the client's origins. Off unless asked for, as
    /// Auth0's documentation has it toggled on per application.
    #[serde(default)]
    pub cross_origin_authentication: bool,
    /// `cross_origin_loc`: the application's page that runs auth0-js `crossOriginVerification`
    /// (the fallback when the browser blocks third-party cookies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_origin_loc: Option<String>,
}

/// Why a session ended, by Auth0's initiator names (`selected_initiators`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoutInitiator {
    /// `GET /v2/logout`: the application (relying party) asked.
    RpLogout,
    /// The user's password changed: every session ends through the credential epoch.
    PasswordChanged,
    /// An administrator ended the user's sessions (Management API, console).
    SessionRevoked,
}

impl LogoutInitiator {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RpLogout => "rp-logout",
            Self::PasswordChanged => "password-changed",
            Self::SessionRevoked => "session-revoked",
        }
    }
}

/// Every initiator Auth0 accepts in `selected_initiators` (Latchkey raises only some of them).
pub const KNOWN_LOGOUT_INITIATORS: [&str; 9] = [
    "rp-logout",
    "idp-logout",
    "password-changed",
    "session-expired",
    "session-revoked",
    "account-deleted",
    "email-identifier-changed",
    "mfa-phone-unenrolled",
    "account-deactivated",
];

/// A client's `oidc_logout`: where logout tokens go, and for which events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcLogout {
    #[serde(default)]
    pub backchannel_logout_urls: Vec<String>,
    /// `None` means every event. Auth0's default is `rp-logout` and `idp-logout` only;
    /// Latchkey tells a client with a back-channel URL about every ended session unless the
    /// administrator narrows it: every ended session is announced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_initiators: Option<LogoutInitiators>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoutInitiators {
    pub mode: InitiatorMode,
    #[serde(default)]
    pub selected_initiators: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InitiatorMode {
    /// Only `selected_initiators` (and `rp-logout`, which Auth0 keeps subscribed).
    Custom,
    /// Every initiator, current and future.
    All,
}

impl OidcLogout {
    /// Whether a session ended by `initiator` is announced to this client.
    pub fn notifies(&self, initiator: &str) -> bool {
        if self.backchannel_logout_urls.is_empty() {
            return false;
        }
        match &self.backchannel_logout_initiators {
            None => true,
            Some(i) => match i.mode {
                InitiatorMode::All => true,
                InitiatorMode::Custom => {
                    initiator == LogoutInitiator::RpLogout.as_str()
                        || i.selected_initiators.iter().any(|s| s == initiator)
                }
            },
        }
    }
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

/// The grant type that lets `/authorize` answer with tokens (the implicit and hybrid flows);
/// it is no grant of `/oauth/token`, so it is not among `GrantType`'s.
pub const IMPLICIT_GRANT: &str = "implicit";

impl Client {
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.iter().any(|g| g == grant.as_str())
    }
    pub fn allows_implicit(&self) -> bool {
        self.grant_types.iter().any(|g| g == IMPLICIT_GRANT)
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
    /// Whether this client takes back-channel logout tokens for sessions ended by `initiator`.
    pub fn wants_backchannel_logout(&self, initiator: LogoutInitiator) -> bool {
        self.oidc_logout
            .as_ref()
            .is_some_and(|o| o.notifies(initiator.as_str()))
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
