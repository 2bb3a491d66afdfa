//! Running a trigger: every bound action in order, each in the sandbox, with the calls it makes
//! into the Management API served here, on the caller's task. Records each run for
//! `GET /actions/executions/{id}`. What the actions asked for (`ActionCommand`s) is returned
//! to the flow that ran the trigger, which decides what they mean.

use crate::actions::{
    ActionCommand, ActionExecution, ActionOutcome, ActionReport, Entry, HostCall, HostCallError,
    ManagementCall, Trigger,
};
use crate::domain::{ActionExecutionRecord, ActionResult, ActionVersion};
use crate::error::ServiceResult;
use crate::services::Actions;
use crate::time::Timestamp;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Serves the Management API calls actions make (`require("auth0").ManagementClient`). The
/// HTTP layer implements it by sending the call through the real Management API router with a
/// token the action's client credentials earn, so every check, shape and error is the API's own.
#[async_trait::async_trait]
pub trait ManagementGateway: Send + Sync {
    async fn call(&self, call: ManagementCall) -> Result<Value, HostCallError>;
}

/// What a trigger's actions asked for, in order.
#[derive(Debug, Default)]
pub(crate) struct TriggerRun {
    pub commands: Vec<ActionCommand>,
    /// The binding that redirected the user (post-login): the run resumes after it.
    pub suspended_at: Option<usize>,
    /// An action failed (threw, timed out, ran out of memory): its name and what happened.
    pub failure: Option<(String, ActionOutcome)>,
    /// The execution record's id (`GET /api/v2/actions/executions/{id}`), if any action ran.
    pub execution_id: Option<String>,
}

impl TriggerRun {
    pub fn denied(&self) -> Option<&str> {
        self.commands.iter().find_map(|c| match c {
            ActionCommand::Deny { reason } => Some(reason.as_str()),
            _ => None,
        })
    }
}

/// A deployed action bound to a trigger, in order: what the trigger runs.
#[derive(Debug, Clone)]
pub(crate) struct BoundAction {
    pub action_id: String,
    pub name: String,
    pub version: ActionVersion,
}

impl Actions {
    /// What `trigger` runs, in order (cached like the other configuration; any change to
    /// actions or bindings through this node forgets it).
    async fn bound_actions(&self, trigger: Trigger) -> ServiceResult<Arc<Vec<BoundAction>>> {
        if let Some(b) = self.cache.triggers.get(&trigger.id(), self.cache.ttl()) {
            return Ok(b);
        }
        let mut bound = Vec::new();
        for (_, action) in self.trigger_bindings(trigger).await? {
            let Some(deployed) = &action.deployed else {
                continue;
            };
            if let Some(version) = self.store.get_action_version(&deployed.version_id).await? {
                bound.push(BoundAction {
                    action_id: action.id.clone(),
                    name: action.name.clone(),
                    version,
                });
            }
        }
        let bound = Arc::new(bound);
        if self.cache.enabled() {
            self.cache.triggers.put(trigger.id(), bound.clone());
        }
        Ok(bound)
    }

    /// After any change to actions or bindings.
    pub(crate) fn forget_bound_actions(&self) {
        self.cache.triggers.forget_where(|_| true);
    }

    /// Hands the Management API to actions. Installed once by the binary after start-up.
    pub fn install_management_gateway(&self, gateway: Arc<dyn ManagementGateway>) {
        let _ = self.management_gateway.set(gateway);
    }

    /// Whether any action is bound to `trigger` (flows skip building events otherwise).
    pub(crate) async fn trigger_has_actions(&self, trigger: Trigger) -> ServiceResult<bool> {
        Ok(!self.bound_actions(trigger).await?.is_empty())
    }

    /// Runs `trigger`'s bound actions from binding `from` on, calling the first with `entry`.
    /// Stops at the first failure, at a deny, and (with `stop_on_redirect`) after an action
    /// that redirected the user.
    pub(crate) async fn run_trigger(
        &self,
        trigger: Trigger,
        event: &Value,
        from: usize,
        entry: Entry,
        stop_on_redirect: bool,
    ) -> ServiceResult<TriggerRun> {
        let bound = self.bound_actions(trigger).await?;
        let now = Timestamp::now();
        let mut record = ActionExecutionRecord {
            id: crate::random::uuid_v4()?,
            trigger,
            status: "final".into(),
            results: Vec::new(),
            created_at: now,
            updated_at: now,
        };
        let mut run = TriggerRun::default();
        for (
            index,
            BoundAction {
                action_id,
                name,
                version,
            },
        ) in bound.iter().enumerate().skip(from)
        {
            let entry = if index == from { entry } else { Entry::Execute };
            let started_at = Timestamp::now();
            let report = self
                .execute_version(version, name, trigger, entry, event.clone())
                .await;
            let secrets = self.open_secrets(&version.action_id, &version.secrets);
            let error = (!report.outcome.is_success())
                .then(|| redact(&report.outcome.describe(), &secrets));
            crate::metrics::METRICS.action_execution(trigger.id(), error.is_none());
            record.results.push(ActionResult {
                action_id: action_id.clone(),
                action_name: name.clone(),
                error: error.clone(),
                started_at,
                ended_at: Timestamp::now(),
                duration_ms: report.duration.as_secs_f64() * 1000.0,
                cold_start: report.cold,
                logs: report.logs.clone(),
            });
            if let Some(error) = error {
                tracing::warn!(action = %name, trigger = trigger.id(), %error, "an action failed");
                record.status = "partial".into();
                run.failure = Some((name.clone(), report.outcome));
                break;
            }
            let redirected = report
                .commands
                .iter()
                .any(|c| matches!(c, ActionCommand::Redirect { .. }));
            let denied = report
                .commands
                .iter()
                .any(|c| matches!(c, ActionCommand::Deny { .. }));
            run.commands.extend(report.commands);
            if denied {
                break;
            }
            if redirected && stop_on_redirect {
                record.status = "suspended".into();
                run.suspended_at = Some(index);
                break;
            }
        }
        if !record.results.is_empty() {
            run.execution_id = Some(record.id.clone());
            record.updated_at = Timestamp::now();
            if let Err(e) = self.store.put_execution(&record).await {
                tracing::warn!(error = %e, "could not record an action execution");
            }
        }
        Ok(run)
    }

    /// Runs one deployed version, serving its Management API calls until it ends.
    pub(crate) async fn execute_version(
        &self,
        version: &ActionVersion,
        name: &str,
        trigger: Trigger,
        entry: Entry,
        event: Value,
    ) -> ActionReport {
        let execution = ActionExecution {
            action_id: version.action_id.clone(),
            action_name: name.to_owned(),
            trigger,
            entry,
            code: version.code.clone(),
            event,
            secrets: self.open_secrets(&version.action_id, &version.secrets),
            limits: self.config.actions.clone(),
            script: None,
        };
        self.run_execution(execution).await
    }

    /// Runs code in the sandbox, serving its Management API calls until it ends.
    pub(crate) async fn run_execution(&self, execution: ActionExecution) -> ActionReport {
        let (host, mut calls) = mpsc::channel::<HostCall>(4);
        let run = self.action_runtime.run(execution, host);
        tokio::pin!(run);
        loop {
            tokio::select! {
                report = &mut run => return report,
                Some(HostCall { call, reply }) = calls.recv() => {
                    let answer = self.serve_management_call(call).await;
                    let _ = reply.send(answer);
                }
            }
        }
    }

    async fn serve_management_call(&self, call: ManagementCall) -> Result<Value, HostCallError> {
        match self.management_gateway.get() {
            Some(gateway) => gateway.call(call).await,
            None => Err(HostCallError {
                status: 503,
                error: "Service Unavailable".into(),
                message: "The Management API is not available to actions on this node.".into(),
            }),
        }
    }

    /// `event.request` from what the flow knows of the request.
    pub(crate) fn action_request(&self, meta: &crate::audit::RequestMeta, extra: Value) -> Value {
        let mut request = json!({
            "ip": meta.ip.clone().unwrap_or_default(),
            "user_agent": meta.user_agent,
            "hostname": self.issuer_host(),
            "geoip": {},
            "language": "en",
        });
        if let (Value::Object(m), Value::Object(e)) = (&mut request, extra) {
            m.extend(e);
        }
        request
    }

    /// `event.tenant`.
    pub(crate) fn action_tenant(&self) -> Value {
        json!({"id": self.issuer_host()})
    }

    fn issuer_host(&self) -> String {
        url::Url::parse(&self.config.issuer)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// `POST /actions/actions/{id}/test`: runs the action's draft once with `event` and
    /// reports what it did; nothing it asks for is acted on.
    pub async fn test_action(&self, id: &str, event: Value) -> ServiceResult<Value> {
        let action = self.get_action(id).await?;
        let Some(trigger) = action.supported_triggers.first().copied() else {
            return Ok(json!({"payload": {}}));
        };
        let version = ActionVersion {
            id: String::new(),
            action_id: action.id.clone(),
            number: 0,
            code: action.code.clone(),
            dependencies: action.dependencies.clone(),
            runtime: action.runtime.clone(),
            secrets: action.secrets.clone(),
            supported_triggers: action.supported_triggers.clone(),
            created_at: Timestamp::now(),
        };
        let report = self
            .execute_version(&version, &action.name, trigger, Entry::Execute, event)
            .await;
        let secrets = self.open_secrets(&action.id, &action.secrets);
        // Commands may carry secret values too (a claim set from `event.secrets`).
        let commands = Value::Array(report.commands.iter().map(command_json).collect());
        let commands = serde_json::from_str::<Value>(&redact(&commands.to_string(), &secrets))
            .unwrap_or(Value::Array(Vec::new()));
        Ok(json!({"payload": {
            "status": if report.outcome.is_success() { "completed" } else { "failed" },
            "error": (!report.outcome.is_success()).then(|| redact(&report.outcome.describe(), &secrets)),
            "logs": report.logs.join("\n"),
            "commands": commands,
            "stats": {"total_ms": report.duration.as_secs_f64() * 1000.0, "cold_start": report.cold},
        }}))
    }
}

/// A command as the test button shows it.
pub(crate) fn command_json(c: &ActionCommand) -> Value {
    match c {
        ActionCommand::Deny { reason } => json!({"name": "access.deny", "reason": reason}),
        ActionCommand::Redirect { url, query } => {
            let query: serde_json::Map<String, Value> = query
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            json!({"name": "redirect.sendUserTo", "url": url, "query": query})
        }
        ActionCommand::IdTokenClaim { name, value } => {
            json!({"name": "idToken.setCustomClaim", "claim": name, "value": value})
        }
        ActionCommand::AccessTokenClaim { name, value } => {
            json!({"name": "accessToken.setCustomClaim", "claim": name, "value": value})
        }
        ActionCommand::EnableMultifactor { provider } => {
            json!({"name": "multifactor.enable", "provider": provider})
        }
        ActionCommand::ChallengeWith { factors } => {
            json!({"name": "authentication.challengeWith", "factors": factors})
        }
        ActionCommand::SetAppMetadata { name, value } => {
            json!({"name": "user.setAppMetadata", "key": name, "value": value})
        }
        ActionCommand::SetUserMetadata { name, value } => {
            json!({"name": "user.setUserMetadata", "key": name, "value": value})
        }
    }
}

/// `text` with every secret value replaced: an error message may quote one.
fn redact(text: &str, secrets: &[(String, secrecy::SecretString)]) -> String {
    let mut out = text.to_owned();
    for (_, v) in secrets {
        let v = v.expose_secret();
        if v.len() >= 4 {
            out = out.replace(v, "[redacted]");
        }
    }
    out
}
