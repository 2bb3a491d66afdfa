//! Resource servers (Auth0's "APIs", `/api/v2/resource-servers`): what an `audience` names.
//! The Management API is one, built from the issuer (`ResourceServer::management_api`); the
//! others are stored. Latchkey signs access tokens with RS256 only.

use super::ParseError;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// The Management API's `id` (it is not stored: its identifier follows the issuer).
pub const MANAGEMENT_API_ID: &str = "latchkey-management-api";
/// The name Auth0 gives it; auth0-deploy-cli recognises the Management API by it.
pub const MANAGEMENT_API_NAME: &str = "Auth0 Management API";

pub const DEFAULT_TOKEN_LIFETIME: u32 = 86_400;
pub const DEFAULT_TOKEN_LIFETIME_FOR_WEB: u32 = 7_200;
/// Auth0's maximum access token lifetime (30 days).
pub const MAX_TOKEN_LIFETIME: u32 = 2_592_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceServerScope {
    pub value: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceServer {
    pub id: String,
    pub name: String,
    pub identifier: String,
    pub scopes: Vec<ResourceServerScope>,
    pub allow_offline_access: bool,
    pub skip_consent_for_verifiable_first_party_clients: bool,
    /// Seconds.
    pub token_lifetime: u32,
    /// Seconds, for tokens issued to browsers (implicit, SPA).
    pub token_lifetime_for_web: u32,
    pub created_at: Timestamp,
    /// Only the Management API.
    #[serde(default)]
    pub is_system: bool,
}

/// The fields a create or update may set (Auth0's names); absent fields are left alone.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceServerInput {
    pub name: Option<String>,
    pub identifier: Option<String>,
    pub scopes: Option<Vec<ResourceServerScope>>,
    pub signing_alg: Option<String>,
    pub signing_secret: Option<String>,
    pub allow_offline_access: Option<bool>,
    pub skip_consent_for_verifiable_first_party_clients: Option<bool>,
    pub token_lifetime: Option<u32>,
    pub token_lifetime_for_web: Option<u32>,
    pub enforce_policies: Option<bool>,
    pub token_dialect: Option<String>,
}

impl ResourceServerInput {
    /// A value Latchkey cannot honour, named (answered 400, never stored).
    pub fn unsupported(&self) -> Option<String> {
        if let Some(alg) = self.signing_alg.as_deref().filter(|a| *a != "RS256") {
            return Some(format!(
                "Latchkey signs access tokens with RS256 only: signing_alg {alg} is not supported"
            ));
        }
        if self.signing_secret.is_some() {
            return Some(
                "signing_secret is only used by HS256, which Latchkey does not sign with".into(),
            );
        }
        if self.enforce_policies == Some(true) {
            return Some("RBAC (enforce_policies) is not available in Latchkey".into());
        }
        if let Some(d) = self
            .token_dialect
            .as_deref()
            .filter(|d| *d != "access_token")
        {
            return Some(format!(
                "Latchkey issues the access_token dialect only: token_dialect {d} is not supported"
            ));
        }
        None
    }

    /// Applies the set fields to `rs`, checking each.
    pub fn apply(self, rs: &mut ResourceServer) -> Result<(), ParseError> {
        if let Some(name) = self.name {
            if name.trim().is_empty() || name.chars().count() > 200 {
                return Err(ParseError::new("name", "must be 1 to 200 characters"));
            }
            rs.name = name;
        }
        if let Some(identifier) = self.identifier {
            check_identifier(&identifier)?;
            rs.identifier = identifier;
        }
        if let Some(scopes) = self.scopes {
            for s in &scopes {
                if s.value.is_empty()
                    || s.value.len() > 280
                    || s.value.chars().any(|c| c.is_whitespace() || c.is_control())
                {
                    return Err(ParseError::new(
                        "scopes",
                        format!(
                            "scope values must be 1 to 280 characters without spaces: {:?}",
                            s.value
                        ),
                    ));
                }
            }
            let mut values: Vec<&str> = scopes.iter().map(|s| s.value.as_str()).collect();
            values.sort_unstable();
            if values.windows(2).any(|w| w[0] == w[1]) {
                return Err(ParseError::new("scopes", "scope values must be unique"));
            }
            rs.scopes = scopes;
        }
        if let Some(v) = self.allow_offline_access {
            rs.allow_offline_access = v;
        }
        if let Some(v) = self.skip_consent_for_verifiable_first_party_clients {
            rs.skip_consent_for_verifiable_first_party_clients = v;
        }
        if let Some(v) = self.token_lifetime {
            rs.token_lifetime = lifetime("token_lifetime", v)?;
        }
        if let Some(v) = self.token_lifetime_for_web {
            rs.token_lifetime_for_web = lifetime("token_lifetime_for_web", v)?;
        }
        Ok(())
    }
}

fn lifetime(field: &'static str, seconds: u32) -> Result<u32, ParseError> {
    if (1..=MAX_TOKEN_LIFETIME).contains(&seconds) {
        Ok(seconds)
    } else {
        Err(ParseError::new(
            field,
            format!("must be between 1 and {MAX_TOKEN_LIFETIME} seconds"),
        ))
    }
}

/// An identifier is any non-blank string up to 600 characters without spaces (Auth0 suggests a
/// URL but does not require one).
fn check_identifier(identifier: &str) -> Result<(), ParseError> {
    if identifier.is_empty()
        || identifier.len() > 600
        || identifier
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(ParseError::new(
            "identifier",
            "must be 1 to 600 characters without spaces",
        ));
    }
    Ok(())
}

impl ResourceServer {
    /// A new resource server with Auth0's defaults, before the create's fields are applied.
    pub fn new(id: String, created_at: Timestamp) -> Self {
        Self {
            id,
            name: String::new(),
            identifier: String::new(),
            scopes: Vec::new(),
            allow_offline_access: false,
            skip_consent_for_verifiable_first_party_clients: false,
            token_lifetime: DEFAULT_TOKEN_LIFETIME,
            token_lifetime_for_web: DEFAULT_TOKEN_LIFETIME_FOR_WEB,
            created_at,
            is_system: false,
        }
    }

    /// The Management API at `audience` (`{issuer}api/v2/`), with Latchkey's scopes.
    pub fn management_api(audience: String, scopes: &[&str]) -> Self {
        Self {
            id: MANAGEMENT_API_ID.into(),
            name: MANAGEMENT_API_NAME.into(),
            identifier: audience,
            scopes: scopes
                .iter()
                .map(|s| ResourceServerScope {
                    value: (*s).to_owned(),
                    description: String::new(),
                })
                .collect(),
            allow_offline_access: false,
            skip_consent_for_verifiable_first_party_clients: false,
            token_lifetime: DEFAULT_TOKEN_LIFETIME,
            token_lifetime_for_web: DEFAULT_TOKEN_LIFETIME_FOR_WEB,
            created_at: Timestamp::from_millis(0),
            is_system: true,
        }
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s.value == scope)
    }
}
