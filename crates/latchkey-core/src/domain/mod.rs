//! Domain types. Each newtype is parsed once at the boundary and is valid from then on.

mod action;
pub mod attack_protection;
mod client;
mod connection;
mod email;
mod email_provider;
mod email_template;
mod ids;
mod import_report;
mod log_stream;
pub mod prompts;
mod render;
mod resource_server;
mod scope;
mod tenant;
mod user;

pub use action::{
    Action, ActionBinding, ActionExecutionRecord, ActionResult, ActionSecret, ActionVersion,
    DeployedRef,
};
pub use client::{
    AppType, Client, ClientGrant, GrantType, IMPLICIT_GRANT, InitiatorMode,
    KNOWN_LOGOUT_INITIATORS, LogoutInitiator, LogoutInitiators, OidcLogout,
    TokenEndpointAuthMethod,
};
pub use connection::{
    ComplexityOptions, Connection, ConnectionOptions, PasswordPolicyLevel, Strategy,
};
pub use email::Email;
pub use email_provider::EmailProvider;
pub use email_template::{EmailTemplate, EmailTemplateName};
pub use ids::{ClientId, ConnectionId, ParseError, UserId};
pub use import_report::{ImportError, ImportErrorCode};
pub use log_stream::{
    ContentFormat, FILTER_CATEGORIES, HttpSink, LogStream, LogStreamStatus, category_of,
};
pub use resource_server::{
    MANAGEMENT_API_ID, MANAGEMENT_API_NAME, ResourceServer, ResourceServerInput,
    ResourceServerScope,
};
pub use scope::Scope;
pub use tenant::{TenantFlags, TenantSettings};
pub use user::{Identity, PasswordHash, Profile, User};

use secrecy::{ExposeSecret, SecretString};

/// A plaintext password on its way to the hasher or the policy. Never printed: `Debug` is
/// redacted by `secrecy`, and there is no `Display`.
pub struct Password(SecretString);

impl Password {
    /// Any non-empty string up to 1024 bytes is a candidate; whether it is *acceptable* is the
    /// connection's policy's call, which is separate because it depends on the connection.
    pub fn parse(s: String) -> Result<Self, ParseError> {
        if s.is_empty() {
            return Err(ParseError::new("password", "must not be empty"));
        }
        if s.len() > 1024 {
            return Err(ParseError::new("password", "is longer than 1024 bytes"));
        }
        Ok(Self(SecretString::from(s)))
    }
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password([REDACTED])")
    }
}

/// `#rrggbb`: the only colour form the hosted pages use.
pub fn is_hex_colour(c: &str) -> bool {
    c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|ch| ch.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn password_never_debug_prints_its_value() {
        let p = Password::parse("hunter2-Secret".into()).unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
        assert!(Password::parse(String::new()).is_err());
        assert!(Password::parse("x".repeat(1025)).is_err());
    }
}
