use crate::domain::Scope;
use crate::keys::JwtError;
use crate::services::TenantConfig;
use crate::time::Timestamp;
use serde_json::Value;

/// A verified Management API caller.
#[derive(Debug, Clone)]
pub struct ManagementPrincipal {
    pub client_id: String,
    pub subject: String,
    pub scopes: Scope,
}

impl ManagementPrincipal {
    pub fn has_any(&self, scopes: &[&str]) -> bool {
        scopes.iter().any(|s| self.scopes.contains(s))
    }
}

/// Why a bearer token was refused, with Auth0's messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManagementAuthError {
    #[error("Invalid token")]
    Invalid,
    #[error("Invalid signature received for JSON Web Token validation.")]
    BadSignature,
    #[error("Expired token received for JSON Web Token validation")]
    Expired,
    #[error("Bad audience: {0}")]
    BadAudience(String),
    #[error("Issuer is invalid: {0}")]
    BadIssuer(String),
}

impl TenantConfig {
    /// Verifies a Management API access token: our signature, our issuer, the `api/v2/`
    /// audience, not expired (60 s leeway for clock skew between nodes).
    pub async fn authenticate_management(
        &self,
        token: &str,
    ) -> Result<ManagementPrincipal, ManagementAuthError> {
        let mut verified = self.keys.verify(token);
        // A key this node has not seen may have been rotated in by another node.
        if verified == Err(JwtError::UnknownKey)
            && self
                .keys
                .reload_if_older_than(std::time::Duration::from_secs(1))
                .await
                .unwrap_or(false)
        {
            verified = self.keys.verify(token);
        }
        let claims = verified.map_err(|e| match e {
            JwtError::Signature => ManagementAuthError::BadSignature,
            _ => ManagementAuthError::Invalid,
        })?;
        let iss = claims
            .get("iss")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if iss != self.config.issuer {
            return Err(ManagementAuthError::BadIssuer(iss.to_owned()));
        }
        let audience = self.config.management_audience();
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => *a == audience,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(audience.as_str())),
            _ => false,
        };
        if !aud_ok {
            let shown = match claims.get("aud") {
                Some(Value::String(a)) => a.clone(),
                Some(Value::Array(l)) => l
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" "),
                _ => String::new(),
            };
            return Err(ManagementAuthError::BadAudience(shown));
        }
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or(ManagementAuthError::Invalid)?;
        if exp + 60 < Timestamp::now().seconds() {
            return Err(ManagementAuthError::Expired);
        }
        Ok(ManagementPrincipal {
            client_id: claims
                .get("azp")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            subject: claims
                .get("sub")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            scopes: Scope::parse(
                claims
                    .get("scope")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            ),
        })
    }
}
