//! The records the prelude's `api` object sends to Rust (one JSON object per call), and their
//! mapping to [`ActionCommand`]s and cache writes.

use crate::cache::CacheOp;
use latchkey_core::actions::ActionCommand;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Record {
    Deny {
        #[serde(default)]
        reason: String,
    },
    Redirect {
        url: String,
        #[serde(default)]
        query: Vec<(String, String)>,
    },
    IdTokenClaim {
        name: String,
        #[serde(default)]
        value: Value,
    },
    AccessTokenClaim {
        name: String,
        #[serde(default)]
        value: Value,
    },
    EnableMultifactor {
        provider: String,
    },
    ChallengeWith {
        #[serde(default)]
        factors: Vec<String>,
    },
    SetAppMetadata {
        name: String,
        #[serde(default)]
        value: Value,
    },
    SetUserMetadata {
        name: String,
        #[serde(default)]
        value: Value,
    },
    CacheSet {
        key: String,
        value: String,
        expires_at: u64,
    },
    CacheDelete {
        key: String,
    },
}

/// What one api call amounts to.
#[derive(Debug, PartialEq)]
pub enum Recorded {
    Command(ActionCommand),
    Cache(CacheOp),
}

/// Parses one record; `None` for anything malformed (only the prelude produces these).
pub fn parse(json: &str) -> Option<Recorded> {
    let record: Record = match serde_json::from_str(json) {
        Ok(r) => r,
        Err(err) => {
            tracing::warn!(%err, "ignoring a malformed api record from the actions prelude");
            return None;
        }
    };
    Some(match record {
        Record::Deny { reason } => Recorded::Command(ActionCommand::Deny { reason }),
        Record::Redirect { url, query } => {
            Recorded::Command(ActionCommand::Redirect { url, query })
        }
        Record::IdTokenClaim { name, value } => {
            Recorded::Command(ActionCommand::IdTokenClaim { name, value })
        }
        Record::AccessTokenClaim { name, value } => {
            Recorded::Command(ActionCommand::AccessTokenClaim { name, value })
        }
        Record::EnableMultifactor { provider } => {
            Recorded::Command(ActionCommand::EnableMultifactor { provider })
        }
        Record::ChallengeWith { factors } => {
            Recorded::Command(ActionCommand::ChallengeWith { factors })
        }
        Record::SetAppMetadata { name, value } => {
            Recorded::Command(ActionCommand::SetAppMetadata { name, value })
        }
        Record::SetUserMetadata { name, value } => {
            Recorded::Command(ActionCommand::SetUserMetadata { name, value })
        }
        Record::CacheSet {
            key,
            value,
            expires_at,
        } => Recorded::Cache(CacheOp::Set {
            key,
            value,
            expires_at_ms: expires_at,
        }),
        Record::CacheDelete { key } => Recorded::Cache(CacheOp::Delete { key }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_commands_and_cache_writes() {
        assert_eq!(
            parse(r#"{"kind":"redirect","url":"https://x","query":[["a","1"]]}"#),
            Some(Recorded::Command(ActionCommand::Redirect {
                url: "https://x".into(),
                query: vec![("a".into(), "1".into())],
            }))
        );
        assert_eq!(
            parse(r#"{"kind":"id_token_claim","name":"n"}"#),
            Some(Recorded::Command(ActionCommand::IdTokenClaim {
                name: "n".into(),
                value: json!(null),
            }))
        );
        assert_eq!(
            parse(r#"{"kind":"cache_delete","key":"k"}"#),
            Some(Recorded::Cache(CacheOp::Delete { key: "k".into() }))
        );
        assert_eq!(parse(r#"{"kind":"nope"}"#), None);
    }
}
