//! Actions as the Management API and the console manage them: drafts, deploys (immutable
//! versions), trigger bindings and execution records. Running them is in `runs.rs`.

use crate::actions::Trigger;
use crate::domain::{
    Action, ActionBinding, ActionExecutionRecord, ActionSecret, ActionVersion, DeployedRef,
    ParseError,
};
use crate::error::{ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::services::{Actions, Caller};
use crate::store::StoreError;
use crate::time::Timestamp;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

/// Source larger than this is refused (Auth0 allows 100 KB).
const MAX_CODE_BYTES: usize = 100 * 1024;
const MAX_SECRETS: usize = 50;
const RUNTIMES: [&str; 3] = ["node22", "node18-actions", "node18"];

/// A secret as the caller sends it: a value sets it; no value keeps the stored one.
pub struct SecretInput {
    pub name: String,
    pub value: Option<SecretString>,
}

/// `POST /api/v2/actions/actions`.
pub struct NewAction {
    pub name: String,
    pub supported_triggers: Vec<Trigger>,
    pub code: String,
    pub dependencies: Vec<Value>,
    pub runtime: Option<String>,
    pub secrets: Vec<SecretInput>,
}

/// `PATCH /api/v2/actions/actions/{id}`: absent fields stay.
#[derive(Default)]
pub struct ActionPatch {
    pub name: Option<String>,
    pub supported_triggers: Option<Vec<Trigger>>,
    pub code: Option<String>,
    pub dependencies: Option<Vec<Value>>,
    pub runtime: Option<String>,
    /// Replaces the set of secrets (names not listed are removed).
    pub secrets: Option<Vec<SecretInput>>,
}

/// One entry of `PATCH /actions/triggers/{id}/bindings`: the action by id or by name.
pub struct BindingRef {
    pub by_name: bool,
    pub value: String,
    pub display_name: Option<String>,
}

fn action_not_found() -> ServiceError {
    ServiceError::not_found(ErrorCode::NotFound, "The action does not exist.")
}

fn invalid(field: &'static str, message: &str) -> ServiceError {
    ServiceError::from(ParseError::new(field, message))
}

fn check_name(name: &str) -> ServiceResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 255 || name.chars().any(char::is_control) {
        return Err(invalid("name", "must be 1 to 255 characters"));
    }
    Ok(name.to_owned())
}

fn check_code(code: String) -> ServiceResult<String> {
    if code.len() > MAX_CODE_BYTES {
        return Err(invalid("code", "must be at most 100 KB"));
    }
    Ok(code)
}

fn check_triggers(triggers: Vec<Trigger>) -> ServiceResult<Vec<Trigger>> {
    if triggers.len() != 1 {
        return Err(invalid(
            "supported_triggers",
            "must name exactly one trigger",
        ));
    }
    Ok(triggers)
}

fn check_runtime(runtime: Option<String>) -> ServiceResult<String> {
    match runtime {
        None => Ok(RUNTIMES[0].to_owned()),
        Some(r) if RUNTIMES.contains(&r.as_str()) => Ok(r),
        Some(_) => Err(invalid(
            "runtime",
            "must be node22, node18-actions or node18",
        )),
    }
}

impl Actions {
    fn seal_secrets(
        &self,
        action_id: &str,
        inputs: Vec<SecretInput>,
        existing: &[ActionSecret],
    ) -> ServiceResult<Vec<ActionSecret>> {
        if inputs.len() > MAX_SECRETS {
            return Err(invalid("secrets", "at most 50 secrets"));
        }
        let now = Timestamp::now();
        let mut out: Vec<ActionSecret> = Vec::with_capacity(inputs.len());
        for input in inputs {
            let name = input.name.trim().to_owned();
            let valid_name = !name.is_empty()
                && name.len() <= 255
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !valid_name {
                return Err(invalid(
                    "secrets",
                    "a secret's name must be letters, digits, '_' or '-'",
                ));
            }
            if out.iter().any(|s| s.name == name) {
                return Err(invalid("secrets", "secret names must be unique"));
            }
            let secret = match input.value {
                Some(v) => ActionSecret {
                    sealed_value: self
                        .tenant_keys
                        .seal_secret(&format!("{action_id}\0{name}"), v.expose_secret())?,
                    name,
                    updated_at: now,
                },
                None => existing
                    .iter()
                    .find(|s| s.name == name)
                    .cloned()
                    .ok_or_else(|| invalid("secrets", "a new secret needs a value"))?,
            };
            out.push(secret);
        }
        Ok(out)
    }

    /// The clear values of a version's secrets, for `event.secrets`. A value that no longer
    /// opens (a restored database with another key) is left out and logged.
    pub(crate) fn open_secrets(
        &self,
        action_id: &str,
        secrets: &[ActionSecret],
    ) -> Vec<(String, SecretString)> {
        secrets
            .iter()
            .filter_map(|s| {
                let opened = self
                    .tenant_keys
                    .open_secret(&format!("{action_id}\0{}", s.name), &s.sealed_value);
                if opened.is_none() {
                    tracing::warn!(action = %action_id, secret = %s.name, "an action secret could not be opened");
                }
                opened.map(|v| (s.name.clone(), v))
            })
            .collect()
    }

    pub async fn create_action(&self, new: NewAction, caller: &Caller) -> ServiceResult<Action> {
        let id = crate::random::uuid_v4()?;
        let now = Timestamp::now();
        let action = Action {
            name: check_name(&new.name)?,
            supported_triggers: check_triggers(new.supported_triggers)?,
            code: check_code(new.code)?,
            dependencies: new.dependencies,
            runtime: check_runtime(new.runtime)?,
            secrets: self.seal_secrets(&id, new.secrets, &[])?,
            id,
            created_at: now,
            updated_at: now,
            deployed: None,
            all_changes_deployed: false,
        };
        self.store
            .insert_action(&action)
            .await
            .map_err(action_conflict)?;
        self.audit.record_some(caller.api_log("Create an action"));
        Ok(action)
    }

    pub async fn list_actions(
        &self,
        trigger: Option<Trigger>,
        name: Option<&str>,
        deployed: Option<bool>,
    ) -> ServiceResult<Vec<Action>> {
        Ok(self
            .store
            .list_actions()
            .await?
            .into_iter()
            .filter(|a| trigger.is_none_or(|t| a.supported_triggers.contains(&t)))
            .filter(|a| name.is_none_or(|n| a.name == n))
            .filter(|a| deployed.is_none_or(|d| a.deployed.is_some() == d))
            .collect())
    }

    pub async fn get_action(&self, id: &str) -> ServiceResult<Action> {
        self.store
            .get_action(id)
            .await?
            .ok_or_else(action_not_found)
    }

    pub async fn update_action(
        &self,
        id: &str,
        patch: ActionPatch,
        caller: &Caller,
    ) -> ServiceResult<Action> {
        let mut action = self.get_action(id).await?;
        if let Some(name) = patch.name {
            action.name = check_name(&name)?;
        }
        if let Some(t) = patch.supported_triggers {
            let t = check_triggers(t)?;
            if t != action.supported_triggers && !self.bindings_of(&action.id).await?.is_empty() {
                return Err(ServiceError::bad_request(
                    ErrorCode::InvalidBody,
                    "A bound action cannot change its trigger; unbind it first.",
                ));
            }
            action.supported_triggers = t;
        }
        if let Some(code) = patch.code {
            action.code = check_code(code)?;
        }
        if let Some(d) = patch.dependencies {
            action.dependencies = d;
        }
        if let Some(r) = patch.runtime {
            action.runtime = check_runtime(Some(r))?;
        }
        if let Some(s) = patch.secrets {
            action.secrets = self.seal_secrets(&action.id, s, &action.secrets)?;
        }
        action.updated_at = Timestamp::now();
        action.all_changes_deployed = false;
        if !self
            .store
            .update_action(&action)
            .await
            .map_err(action_conflict)?
        {
            return Err(action_not_found());
        }
        self.forget_bound_actions();
        self.audit.record_some(caller.api_log("Update an action"));
        Ok(action)
    }

    /// Deletes an action. A bound action needs `force` (its bindings go with it).
    pub async fn delete_action(&self, id: &str, force: bool, caller: &Caller) -> ServiceResult<()> {
        let action = self.get_action(id).await?;
        if !force && !self.bindings_of(&action.id).await?.is_empty() {
            return Err(ServiceError::bad_request(
                ErrorCode::InvalidBody,
                "The action is bound to a trigger. Remove the binding first, or delete with force=true.",
            ));
        }
        if !self.store.delete_action(&action.id).await? {
            return Err(action_not_found());
        }
        self.forget_bound_actions();
        self.audit.record_some(caller.api_log("Delete an action"));
        Ok(())
    }

    /// `POST /actions/actions/{id}/deploy`: snapshots the draft as the next version, which
    /// every binding runs from now on.
    pub async fn deploy_action(&self, id: &str, caller: &Caller) -> ServiceResult<ActionVersion> {
        for _ in 0..3 {
            let mut action = self.get_action(id).await?;
            // From the versions themselves, not the action's copy (a concurrent draft save
            // may have written back an older `deployed`).
            let number = self
                .store
                .list_action_versions(&action.id)
                .await?
                .iter()
                .map(|v| v.number)
                .max()
                .unwrap_or(0)
                + 1;
            let now = Timestamp::now();
            let version = ActionVersion {
                id: crate::random::uuid_v4()?,
                action_id: action.id.clone(),
                number,
                code: action.code.clone(),
                dependencies: action.dependencies.clone(),
                runtime: action.runtime.clone(),
                secrets: action.secrets.clone(),
                supported_triggers: action.supported_triggers.clone(),
                created_at: now,
            };
            action.deployed = Some(DeployedRef {
                version_id: version.id.clone(),
                number,
                deployed_at: now,
            });
            action.all_changes_deployed = true;
            match self.store.deploy_action(&action, &version).await {
                Ok(()) => {
                    self.forget_bound_actions();
                    self.audit.record_some(caller.api_log("Deploy an action"));
                    return Ok(version);
                }
                // Two deploys raced for the number: read again and take the next one.
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::conflict(
            ErrorCode::Conflict,
            "The action was deployed concurrently; try again.",
        ))
    }

    pub async fn action_versions(&self, id: &str) -> ServiceResult<Vec<ActionVersion>> {
        let action = self.get_action(id).await?;
        Ok(self.store.list_action_versions(&action.id).await?)
    }

    pub async fn action_version(&self, id: &str, version_id: &str) -> ServiceResult<ActionVersion> {
        self.store
            .get_action_version(version_id)
            .await?
            .filter(|v| v.action_id == id)
            .ok_or_else(|| {
                ServiceError::not_found(ErrorCode::NotFound, "The action version does not exist.")
            })
    }

    async fn bindings_of(&self, action_id: &str) -> ServiceResult<Vec<ActionBinding>> {
        let mut out = Vec::new();
        for t in Trigger::ALL {
            out.extend(
                self.store
                    .list_bindings(t)
                    .await?
                    .into_iter()
                    .filter(|b| b.action_id == action_id),
            );
        }
        Ok(out)
    }

    /// A trigger's bindings in order, each with its action.
    pub async fn trigger_bindings(
        &self,
        trigger: Trigger,
    ) -> ServiceResult<Vec<(ActionBinding, Action)>> {
        let mut out = Vec::new();
        for b in self.store.list_bindings(trigger).await? {
            if let Some(a) = self.store.get_action(&b.action_id).await? {
                out.push((b, a));
            }
        }
        Ok(out)
    }

    /// `PATCH /actions/triggers/{id}/bindings`: the trigger runs these actions, in this order.
    /// Each must be deployed and support the trigger.
    pub async fn set_trigger_bindings(
        &self,
        trigger: Trigger,
        refs: Vec<BindingRef>,
        caller: &Caller,
    ) -> ServiceResult<Vec<(ActionBinding, Action)>> {
        if refs.len() > 20 {
            return Err(invalid("bindings", "at most 20 actions per trigger"));
        }
        let existing = self.store.list_bindings(trigger).await?;
        let now = Timestamp::now();
        let mut bindings = Vec::with_capacity(refs.len());
        for r in refs {
            let action = if r.by_name {
                self.store.find_action_by_name(&r.value).await?
            } else {
                self.store.get_action(&r.value).await?
            }
            .ok_or_else(|| {
                ServiceError::bad_request(
                    ErrorCode::InvalidBody,
                    format!("The action {} does not exist.", r.value),
                )
            })?;
            if !action.supported_triggers.contains(&trigger) {
                return Err(ServiceError::bad_request(
                    ErrorCode::InvalidBody,
                    format!(
                        "The action {} does not support the {} trigger.",
                        action.name,
                        trigger.id()
                    ),
                ));
            }
            if action.deployed.is_none() {
                return Err(ServiceError::bad_request(
                    ErrorCode::InvalidBody,
                    format!(
                        "The action {} must be deployed before it is bound.",
                        action.name
                    ),
                ));
            }
            if bindings
                .iter()
                .any(|(b, _): &(ActionBinding, Action)| b.action_id == action.id)
            {
                return Err(ServiceError::bad_request(
                    ErrorCode::InvalidBody,
                    format!("The action {} is bound twice.", action.name),
                ));
            }
            let kept = existing.iter().find(|b| b.action_id == action.id);
            let binding = ActionBinding {
                id: kept.map_or_else(crate::random::uuid_v4, |b| Ok(b.id.clone()))?,
                trigger,
                action_id: action.id.clone(),
                display_name: r.display_name.unwrap_or_else(|| action.name.clone()),
                created_at: kept.map_or(now, |b| b.created_at),
                updated_at: now,
            };
            bindings.push((binding, action));
        }
        let plain: Vec<ActionBinding> = bindings.iter().map(|(b, _)| b.clone()).collect();
        self.store.replace_bindings(trigger, &plain).await?;
        self.forget_bound_actions();
        self.audit
            .record_some(caller.api_log("Update trigger bindings"));
        Ok(bindings)
    }

    pub async fn action_execution(&self, id: &str) -> ServiceResult<ActionExecutionRecord> {
        self.store.get_execution(id).await?.ok_or_else(|| {
            ServiceError::not_found(ErrorCode::NotFound, "The execution does not exist.")
        })
    }
}

fn action_conflict(e: StoreError) -> ServiceError {
    match e {
        StoreError::Conflict(_) => ServiceError::conflict(
            ErrorCode::AlreadyExists,
            "An action with the same name already exists.",
        ),
        other => other.into(),
    }
}

impl Action {
    /// Auth0's action representation. Secrets show their names, never their values.
    pub fn to_auth0_json(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "name": self.name,
            "supported_triggers": triggers_json(&self.supported_triggers),
            "code": self.code,
            "dependencies": self.dependencies,
            "runtime": self.runtime,
            "secrets": secrets_json(&self.secrets),
            "status": "built",
            "all_changes_deployed": self.all_changes_deployed,
            "created_at": self.created_at.to_iso(),
            "updated_at": self.updated_at.to_iso(),
        });
        if let (Some(d), Value::Object(m)) = (&self.deployed, &mut v) {
            m.insert(
                "deployed_version".into(),
                json!({"id": d.version_id, "number": d.number, "deployed": true,
                       "status": "built", "created_at": d.deployed_at.to_iso(),
                       "built_at": d.deployed_at.to_iso()}),
            );
        }
        v
    }
}

impl ActionVersion {
    pub fn to_auth0_json(&self, deployed: bool) -> Value {
        json!({
            "id": self.id,
            "action_id": self.action_id,
            "number": self.number,
            "code": self.code,
            "dependencies": self.dependencies,
            "runtime": self.runtime,
            "secrets": secrets_json(&self.secrets),
            "supported_triggers": triggers_json(&self.supported_triggers),
            "deployed": deployed,
            "status": "built",
            "created_at": self.created_at.to_iso(),
            "updated_at": self.created_at.to_iso(),
            "built_at": self.created_at.to_iso(),
        })
    }
}

impl ActionBinding {
    pub fn to_auth0_json(&self, action: &Action) -> Value {
        json!({
            "id": self.id,
            "trigger_id": self.trigger.id(),
            "display_name": self.display_name,
            "action": action.to_auth0_json(),
            "created_at": self.created_at.to_iso(),
            "updated_at": self.updated_at.to_iso(),
        })
    }
}

impl ActionExecutionRecord {
    pub fn to_auth0_json(&self) -> Value {
        json!({
            "id": self.id,
            "trigger_id": self.trigger.id(),
            "status": self.status,
            "results": self.results.iter().map(|r| json!({
                "action_name": r.action_name,
                "error": r.error.as_ref().map(|e| json!({"id": "action_error", "msg": e})),
                "started_at": r.started_at.to_iso(),
                "ended_at": r.ended_at.to_iso(),
                "duration_ms": r.duration_ms,
                "cold_start": r.cold_start,
                "logs": r.logs,
            })).collect::<Vec<_>>(),
            "created_at": self.created_at.to_iso(),
            "updated_at": self.updated_at.to_iso(),
        })
    }
}

fn triggers_json(triggers: &[Trigger]) -> Value {
    Value::Array(
        triggers
            .iter()
            .map(|t| json!({"id": t.id(), "version": t.version()}))
            .collect(),
    )
}

fn secrets_json(secrets: &[ActionSecret]) -> Value {
    Value::Array(
        secrets
            .iter()
            .map(|s| json!({"name": s.name, "updated_at": s.updated_at.to_iso()}))
            .collect(),
    )
}
