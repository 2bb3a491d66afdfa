//! Actions: tenant JavaScript run at the triggers of `crate::actions::Trigger`. An action has a
//! draft (what the Management API edits) and deployed versions (what runs); bindings put
//! deployed actions in order on a trigger.

use crate::actions::Trigger;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A secret as stored: the value sealed with the tenant's secret key, never in clear.
#[derive(Clone, Serialize, Deserialize)]
pub struct ActionSecret {
    pub name: String,
    pub sealed_value: String,
    pub updated_at: Timestamp,
}

impl std::fmt::Debug for ActionSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActionSecret")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The deployed version an action currently runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeployedRef {
    pub version_id: String,
    pub number: i64,
    pub deployed_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Action {
    pub id: String,
    pub name: String,
    #[serde(with = "trigger_list")]
    pub supported_triggers: Vec<Trigger>,
    pub code: String,
    /// npm dependencies as Auth0 records them (`{name, version}`); only `auth0` is served.
    pub dependencies: Vec<Value>,
    pub runtime: String,
    pub secrets: Vec<ActionSecret>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub deployed: Option<DeployedRef>,
    /// Whether the draft equals the deployed version.
    pub all_changes_deployed: bool,
}

/// An immutable snapshot of an action, made by `deploy`: what bindings execute.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActionVersion {
    pub id: String,
    pub action_id: String,
    pub number: i64,
    pub code: String,
    pub dependencies: Vec<Value>,
    pub runtime: String,
    pub secrets: Vec<ActionSecret>,
    #[serde(with = "trigger_list")]
    pub supported_triggers: Vec<Trigger>,
    pub created_at: Timestamp,
}

/// An action's place on a trigger.
#[derive(Debug, Clone)]
pub struct ActionBinding {
    pub id: String,
    pub trigger: Trigger,
    pub action_id: String,
    pub display_name: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One trigger run (every bound action, in order), kept for `GET /actions/executions/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActionExecutionRecord {
    pub id: String,
    #[serde(with = "trigger_id")]
    pub trigger: Trigger,
    /// Auth0's statuses: `final` (every action completed), `partial` (one failed),
    /// `suspended` (waiting for the user to come back through `/continue`).
    pub status: String,
    pub results: Vec<ActionResult>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One action's part in an execution.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActionResult {
    pub action_id: String,
    pub action_name: String,
    /// `None` when the action completed.
    pub error: Option<String>,
    pub started_at: Timestamp,
    pub ended_at: Timestamp,
    pub duration_ms: f64,
    pub cold_start: bool,
    /// Captured `console.*` lines, secrets redacted.
    pub logs: Vec<String>,
}

mod trigger_id {
    use crate::actions::Trigger;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Trigger, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(t.id())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Trigger, D::Error> {
        let id = String::deserialize(d)?;
        Trigger::parse(&id).ok_or_else(|| serde::de::Error::custom(format!("unknown trigger {id}")))
    }
}

mod trigger_list {
    use crate::actions::Trigger;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &[Trigger], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(t.iter().map(|t| t.id()))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Trigger>, D::Error> {
        let ids = Vec::<String>::deserialize(d)?;
        ids.iter()
            .map(|id| {
                Trigger::parse(id)
                    .ok_or_else(|| serde::de::Error::custom(format!("unknown trigger {id}")))
            })
            .collect()
    }
}
