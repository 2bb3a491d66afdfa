use super::{ClientId, ConnectionId, ParseError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Auth0's five password strength levels (password-sheriff).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PasswordPolicyLevel {
    #[default]
    None,
    Low,
    Fair,
    Good,
    Excellent,
}

/// What kind of identity provider a connection is. Only `auth0` (database) connections hold
/// passwords; every other strategy is somebody else's credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    Database,
    Other(String),
}

impl Strategy {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        match s {
            "auth0" => Ok(Self::Database),
            other if !other.is_empty() && other.len() <= 64 => Ok(Self::Other(other.to_owned())),
            _ => Err(ParseError::new(
                "strategy",
                "must be a non-empty strategy name",
            )),
        }
    }
    pub fn as_str(&self) -> &str {
        match self {
            Self::Database => "auth0",
            Self::Other(s) => s,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ComplexityOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HistoryOptions {
    pub enable: bool,
    #[serde(default = "default_history_size")]
    pub size: u32,
}

fn default_history_size() -> u32 {
    5
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DictionaryOptions {
    pub enable: bool,
    #[serde(default)]
    pub dictionary: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EnableOption {
    pub enable: bool,
}

/// Latchkey's strength estimate (not in Auth0): a new password must reach `min_score` on
/// zxcvbn's 0–4 scale (how many guesses an attacker needs, from patterns, dictionaries, the
/// user's own details), and a refusal says why and what would help.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrengthEstimateOptions {
    pub enable: bool,
    #[serde(default = "default_min_score")]
    pub min_score: u8,
}

fn default_min_score() -> u8 {
    3
}

/// `options` of a database connection. Unknown keys are kept and returned as they came.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnectionOptions {
    #[serde(
        rename = "passwordPolicy",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub password_policy: Option<PasswordPolicyLevel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_complexity_options: Option<ComplexityOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_history: Option<HistoryOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_dictionary: Option<DictionaryOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_no_personal_info: Option<EnableOption>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_strength_estimate: Option<StrengthEstimateOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brute_force_protection: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires_username: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_signup: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_self_service_change_password: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_mode: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ConnectionOptions {
    /// Parses and range-checks an `options` object as the Management API receives it.
    pub fn from_json(v: Value) -> Result<Self, ParseError> {
        let v = match v {
            Value::Null => Value::Object(Map::new()),
            Value::Object(_) => v,
            _ => return Err(ParseError::new("options", "must be an object")),
        };
        let mut opts: Self = serde_json::from_value(v)
            .map_err(|e| ParseError::new("options", format!("is invalid: {e}")))?;
        // `false` is the default: kept as absent, so a tool that fills in schema defaults
        // (auth0-deploy-cli) does not change what the connection shows.
        if opts.disable_self_service_change_password == Some(false) {
            opts.disable_self_service_change_password = None;
        }
        if let Some(min) = opts
            .password_complexity_options
            .as_ref()
            .and_then(|c| c.min_length)
            && !(1..=128).contains(&min)
        {
            return Err(ParseError::new(
                "options.password_complexity_options.min_length",
                "must be between 1 and 128",
            ));
        }
        if let Some(h) = &opts.password_history
            && h.size > 24
        {
            return Err(ParseError::new(
                "options.password_history.size",
                "must be between 0 and 24",
            ));
        }
        if let Some(e) = &opts.password_strength_estimate
            && !(1..=4).contains(&e.min_score)
        {
            return Err(ParseError::new(
                "options.password_strength_estimate.min_score",
                "must be between 1 and 4",
            ));
        }
        if let Some(d) = &opts.password_dictionary {
            if d.dictionary.len() > 200 {
                return Err(ParseError::new(
                    "options.password_dictionary.dictionary",
                    "must hold at most 200 entries",
                ));
            }
            if d.dictionary.iter().any(|w| w.chars().count() > 50) {
                return Err(ParseError::new(
                    "options.password_dictionary.dictionary",
                    "entries must be at most 50 characters",
                ));
            }
        }
        Ok(opts)
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Object(Map::new()))
    }

    pub fn policy_level(&self) -> PasswordPolicyLevel {
        self.password_policy.unwrap_or_default()
    }
    pub fn requires_username(&self) -> bool {
        self.requires_username.unwrap_or(false)
    }
    pub fn history_depth(&self) -> usize {
        match &self.password_history {
            Some(h) if h.enable => h.size as usize,
            _ => 0,
        }
    }
    /// The zxcvbn score a new password must reach, when the estimate is on.
    pub fn min_strength_score(&self) -> Option<u8> {
        self.password_strength_estimate
            .as_ref()
            .filter(|e| e.enable)
            .map(|e| e.min_score)
    }
}

#[derive(Debug, Clone)]
pub struct Connection {
    pub id: ConnectionId,
    pub name: String,
    pub strategy: Strategy,
    pub display_name: Option<String>,
    pub options: ConnectionOptions,
    pub enabled_clients: Vec<ClientId>,
    pub realms: Vec<String>,
    pub is_domain_connection: bool,
    pub metadata: Map<String, Value>,
}

impl Connection {
    pub fn is_database(&self) -> bool {
        self.strategy == Strategy::Database
    }
    pub fn is_enabled_for(&self, client: &ClientId) -> bool {
        self.enabled_clients.iter().any(|c| c == client)
    }
    /// Auth0's rule for connection names: `^[a-zA-Z0-9](-[a-zA-Z0-9]|[a-zA-Z0-9])*$`, ≤ 128.
    pub fn validate_name(name: &str) -> Result<(), ParseError> {
        let bytes = name.as_bytes();
        let ok = !bytes.is_empty()
            && bytes.len() <= 128
            && bytes[0].is_ascii_alphanumeric()
            && bytes[bytes.len() - 1].is_ascii_alphanumeric()
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
            && !name.contains("--");
        if ok {
            Ok(())
        } else {
            Err(ParseError::new(
                "name",
                "must match ^[a-zA-Z0-9](-[a-zA-Z0-9]|[a-zA-Z0-9])*$ and be at most 128 characters",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn options_round_trip_and_keep_unknown_keys() {
        let v = json!({"passwordPolicy": "good", "password_complexity_options": {"min_length": 12},
                       "custom": {"a": 1}});
        let o = ConnectionOptions::from_json(v.clone()).unwrap();
        assert_eq!(o.policy_level(), PasswordPolicyLevel::Good);
        assert_eq!(o.to_json(), v);
    }

    #[test]
    fn out_of_range_options_are_refused() {
        for bad in [
            json!({"passwordPolicy": "strong"}),
            json!({"password_complexity_options": {"min_length": 0}}),
            json!({"password_complexity_options": {"min_length": 129}}),
            json!({"password_history": {"enable": true, "size": 25}}),
            json!({"password_strength_estimate": {"enable": true, "min_score": 5}}),
            json!({"password_strength_estimate": {"enable": true, "min_score": 0}}),
            json!({"password_strength_estimate": {"enable": true, "bogus": 1}}),
            json!([1]),
        ] {
            assert!(ConnectionOptions::from_json(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn connection_names_follow_auth0s_pattern() {
        assert!(Connection::validate_name("Username-Password-Authentication").is_ok());
        for bad in ["", "-a", "a-", "a--b", "a b", "a_b"] {
            assert!(Connection::validate_name(bad).is_err(), "{bad}");
        }
    }
}
