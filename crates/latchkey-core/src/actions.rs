//! The contract between the services and the JavaScript runtime that executes Actions (the
//! `latchkey-actions` crate implements it with QuickJS). The services decide which action runs,
//! with which event; the runtime runs the code in a sandbox and reports what the code asked
//! for (`ActionCommand`s) without acting on anything itself. Calls an action makes into
//! Latchkey (`require("auth0")`'s ManagementClient) come back to the services as `HostCall`s,
//! so they are served by the same service functions, on the caller's async task.

use secrecy::SecretString;
use serde_json::Value;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// The triggers Latchkey runs, with Auth0's ids, handler names and trigger versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trigger {
    PostLogin,
    PostChangePassword,
    PasswordResetPostChallenge,
}

impl Trigger {
    pub const ALL: [Trigger; 3] = [
        Trigger::PostLogin,
        Trigger::PostChangePassword,
        Trigger::PasswordResetPostChallenge,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Self::PostLogin => "post-login",
            Self::PostChangePassword => "post-change-password",
            Self::PasswordResetPostChallenge => "password-reset-post-challenge",
        }
    }

    pub fn parse(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.id() == id)
    }

    /// The trigger version Auth0 currently serves.
    pub fn version(self) -> &'static str {
        match self {
            Self::PostLogin => "v3",
            Self::PostChangePassword => "v2",
            Self::PasswordResetPostChallenge => "v1",
        }
    }

    /// The export the runtime calls: `exports.onExecutePostLogin = async (event, api) => …`.
    pub fn handler(self) -> &'static str {
        match self {
            Self::PostLogin => "onExecutePostLogin",
            Self::PostChangePassword => "onExecutePostChangePassword",
            Self::PasswordResetPostChallenge => "onExecutePostChallenge",
        }
    }
}

/// Which export to call: the trigger's `onExecute…`, or a post-login action's
/// `onContinuePostLogin` when the user comes back through `/continue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    Execute,
    Continue,
}

/// Bounds on one execution.
#[derive(Debug, Clone)]
pub struct ActionLimits {
    /// QuickJS heap limit.
    pub memory_bytes: usize,
    /// Wall-clock limit for the whole execution (enforced by an interrupt handler).
    pub timeout: Duration,
    /// Each `fetch` call's own limit.
    pub fetch_timeout: Duration,
    /// Hosts `fetch` may reach (exact names, or `*.example.com`); empty: no `fetch`.
    pub fetch_allowed_hosts: Vec<String>,
    /// `console.log` output kept per execution; the rest is cut with a marker.
    pub max_log_bytes: usize,
}

impl Default for ActionLimits {
    fn default() -> Self {
        Self {
            memory_bytes: 32 * 1024 * 1024,
            timeout: Duration::from_secs(5),
            fetch_timeout: Duration::from_secs(3),
            fetch_allowed_hosts: Vec::new(),
            max_log_bytes: 16 * 1024,
        }
    }
}

/// One run of one action's code.
pub struct ActionExecution {
    pub action_id: String,
    pub action_name: String,
    pub trigger: Trigger,
    pub entry: Entry,
    /// The deployed source, a CommonJS module.
    pub code: String,
    /// The event object, without `secrets` (the runtime adds them from `secrets`).
    pub event: Value,
    /// `event.secrets`, decrypted. The runtime replaces their values in captured logs.
    pub secrets: Vec<(String, SecretString)>,
    pub limits: ActionLimits,
    /// A custom-database script instead of an action: `code` declares Auth0's callback-style
    /// functions (`function login(email, password, callback) {…}`); the runtime calls
    /// `script.function` with `script.args` and a Node-style callback, with the connection's
    /// `options.configuration` as the global `configuration` (from `secrets`). `trigger` and
    /// `entry` are ignored, and there is no `api` or `event`.
    pub script: Option<ScriptCall>,
}

/// Which custom-database function to call, with which arguments (the callback is added).
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptCall {
    pub function: String,
    pub args: Vec<Value>,
}

/// What a custom-database script passed to its callback.
#[derive(Debug, Clone, PartialEq)]
pub enum ScriptResult {
    /// `callback(null, value)`; `value` is `Null` for `callback(null)` / `callback()`.
    Value(Value),
    /// `callback(error)`: the error's `name` (`WrongUsernameOrPasswordError`,
    /// `ValidationError`, `Error`, …) and message.
    Error { name: String, message: String },
}

impl std::fmt::Debug for ActionExecution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActionExecution")
            .field("action_id", &self.action_id)
            .field("trigger", &self.trigger)
            .field("entry", &self.entry)
            .finish_non_exhaustive()
    }
}

/// What the code asked the `api` object to do, in call order. The services act on these.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionCommand {
    /// `api.access.deny(reason)`.
    Deny { reason: String },
    /// `api.redirect.sendUserTo(url, {query})`.
    Redirect {
        url: String,
        query: Vec<(String, String)>,
    },
    /// `api.idToken.setCustomClaim(name, value)`.
    IdTokenClaim { name: String, value: Value },
    /// `api.accessToken.setCustomClaim(name, value)`.
    AccessTokenClaim { name: String, value: Value },
    /// `api.multifactor.enable(provider, options)`.
    EnableMultifactor { provider: String },
    /// `api.authentication.challengeWith({type}, {additionalFactors})` and `challengeWithAny`:
    /// the factor types offered.
    ChallengeWith { factors: Vec<String> },
    /// `api.user.setAppMetadata(name, value)` (`value` null deletes).
    SetAppMetadata { name: String, value: Value },
    /// `api.user.setUserMetadata(name, value)`.
    SetUserMetadata { name: String, value: Value },
}

/// How an execution ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionOutcome {
    /// The handler's promise resolved (or the module has no handler for this entry).
    Completed,
    /// The handler threw or rejected: the error's message and stack.
    Failed { message: String },
    /// Stopped by the wall-clock limit.
    TimedOut,
    /// Stopped by the memory limit.
    OutOfMemory,
    /// The runtime could not run it at all (pool closed, code did not compile, …).
    Crashed { message: String },
}

impl ActionOutcome {
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Completed)
    }

    /// A short text for logs and execution records.
    pub fn describe(&self) -> String {
        match self {
            Self::Completed => "completed".into(),
            Self::Failed { message } => message.clone(),
            Self::TimedOut => "the action ran past its time limit".into(),
            Self::OutOfMemory => "the action ran out of memory".into(),
            Self::Crashed { message } => message.clone(),
        }
    }
}

/// What the runtime reports after an execution.
#[derive(Debug, Clone)]
pub struct ActionReport {
    pub outcome: ActionOutcome,
    pub commands: Vec<ActionCommand>,
    /// Captured `console.*` lines, secrets replaced by `[redacted]`.
    pub logs: Vec<String>,
    /// Time spent in the runtime, queueing excluded.
    pub duration: Duration,
    /// Whether this execution paid for a cold start (first on its worker thread).
    pub cold: bool,
    /// For a script: what it passed to its callback (`None` if it never called it, or failed).
    pub script_result: Option<ScriptResult>,
}

/// A call from an action into Latchkey: one Management API method, with the credentials the
/// action's `ManagementClient` was constructed with. Checked against that client's real grant.
pub struct ManagementCall {
    pub domain: String,
    pub client_id: String,
    pub client_secret: SecretString,
    /// The scopes the constructor asked for (`scope: "create:user_tickets"`), if any.
    pub scope: Option<String>,
    /// The SDK method name as called, e.g. `createPasswordChangeTicket`, `tickets.changePassword`,
    /// `users.get`, `getUser`, `updateUser`.
    pub method: String,
    /// The method's arguments, as JSON (`[params, data]`).
    pub args: Vec<Value>,
}

impl std::fmt::Debug for ManagementCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagementCall")
            .field("client_id", &self.client_id)
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

/// A failed host call, shaped like the SDK's errors (`err.statusCode`, `err.message`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCallError {
    pub status: u16,
    pub error: String,
    pub message: String,
}

/// A host call in flight: the runtime sends it and blocks its (JavaScript) thread on `reply`.
pub struct HostCall {
    pub call: ManagementCall,
    pub reply: oneshot::Sender<Result<Value, HostCallError>>,
}

/// Runs action code. Implementations execute on their own bounded pool of threads and must not
/// block the async caller.
#[async_trait::async_trait]
pub trait ActionRuntime: Send + Sync {
    /// Runs `execution`; while it runs, its Management API calls arrive on `host` and the
    /// caller answers them. Never fails: every failure is an `ActionOutcome`.
    async fn run(&self, execution: ActionExecution, host: mpsc::Sender<HostCall>) -> ActionReport;
}

/// Claims post-login actions added (`api.idToken.setCustomClaim`, `api.accessToken.setCustomClaim`):
/// they travel with the authorization code to the token endpoint.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CustomClaims {
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub id_token: serde_json::Map<String, Value>,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub access_token: serde_json::Map<String, Value>,
}

impl CustomClaims {
    pub fn is_empty(&self) -> bool {
        self.id_token.is_empty() && self.access_token.is_empty()
    }
}
