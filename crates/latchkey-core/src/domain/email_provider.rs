use super::ParseError;
use secrecy::SecretString;
use serde_json::{Map, Value, json};

/// Where mail goes: an SMTP relay. The password is write-only: it is stored and used, never
/// shown back (`GET /emails/provider` omits it, as Auth0 does), never printed (`SecretString`).
#[derive(Debug, Clone)]
pub struct EmailProvider {
    pub enabled: bool,
    pub default_from_address: Option<String>,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_user: Option<String>,
    pub smtp_pass: Option<SecretString>,
    pub settings: Map<String, Value>,
}

impl EmailProvider {
    /// Auth0's provider names other than `smtp` are HTTP APIs of mail vendors; Latchkey speaks
    /// SMTP (every one of those vendors also offers an SMTP relay).
    pub fn check_name(name: &str) -> Result<(), ParseError> {
        if name == "smtp" {
            return Ok(());
        }
        Err(ParseError::new(
            "name",
            format!(
                "{name} is not supported: Latchkey delivers mail over SMTP; use name \"smtp\" with your provider's SMTP relay"
            ),
        ))
    }

    pub fn check_host(host: &str) -> Result<(), ParseError> {
        let ok = !host.is_empty()
            && host.len() <= 253
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
        if ok {
            Ok(())
        } else {
            Err(ParseError::new(
                "credentials.smtp_host",
                "must be a host name or address",
            ))
        }
    }

    /// The Management API representation: no secret in it.
    pub fn to_auth0_json(&self) -> Value {
        let mut credentials = json!({"smtp_host": self.smtp_host, "smtp_port": self.smtp_port});
        if let (Some(user), Some(m)) = (&self.smtp_user, credentials.as_object_mut()) {
            m.insert("smtp_user".into(), json!(user));
        }
        let mut v = json!({"name": "smtp", "enabled": self.enabled, "credentials": credentials, "settings": self.settings});
        if let (Some(from), Some(m)) = (&self.default_from_address, v.as_object_mut()) {
            m.insert("default_from_address".into(), json!(from));
        }
        v
    }
}
