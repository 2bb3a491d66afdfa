//! Latchkey's Actions runtime: [`QuickJsRuntime`] runs customer JavaScript (Auth0-style
//! Actions, CommonJS modules) in QuickJS via rquickjs, and implements
//! [`latchkey_core::actions::ActionRuntime`].
//!
//! Why QuickJS: it builds in seconds with no downloads, and gives both a memory limit and an
//! interrupt handler for wall-clock limits. Each execution gets
//! a fresh runtime and context (about a hundred microseconds), so nothing leaks between actions
//! or tenants; only `api.cache` deliberately persists, in Rust memory.
//!
//! Layout: `sandbox` runs one execution (an action, or with `script` a custom-database script's
//! function); `prelude.js` builds everything the code can reach (`console`, `fetch`,
//! `require("auth0")`, `api`, the scripts' globals) on four string-in/string-out host functions;
//! `host` and `fetch` serve those calls; `cache`, `logs` and `records` hold what the action
//! leaves behind.

mod cache;
mod deadline;
mod fetch;
mod host;
mod logs;
mod prelude;
mod records;
mod sandbox;
mod script;

use latchkey_core::actions::{
    ActionExecution, ActionOutcome, ActionReport, ActionRuntime, HostCall,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};

pub use cache::{MAX_ENTRIES_PER_ACTION, MAX_TTL_MS};
pub use fetch::MAX_BODY_BYTES;
pub use logs::{REDACTED, TRUNCATED_MARKER};

/// The QuickJS-backed [`ActionRuntime`].
///
/// Executions run on tokio's blocking pool, at most `max_concurrent` at a time (a semaphore
/// bounds the pool; callers beyond it wait their turn without holding a thread). The JavaScript
/// thread blocks on host calls and `fetch`, which the async side serves: the caller of `run`
/// must answer the `HostCall`s arriving on its channel *while* awaiting `run` (e.g. `join!` the
/// two). The channel's receiver sees `None` once the execution is over, and an unanswered call
/// is given up at the execution's deadline.
pub struct QuickJsRuntime {
    permits: Arc<Semaphore>,
    cache: Arc<cache::ActionCache>,
    /// One client for every execution; `None` if it could not be built (then `fetch` rejects).
    http: Option<reqwest::Client>,
}

impl QuickJsRuntime {
    /// A runtime running at most `max_concurrent` (at least one) actions at once.
    pub fn new(max_concurrent: usize) -> Self {
        let http = match fetch::client() {
            Ok(client) => Some(client),
            Err(err) => {
                tracing::error!(%err, "actions: the fetch HTTP client could not be built");
                None
            }
        };
        Self {
            permits: Arc::new(Semaphore::new(
                max_concurrent.clamp(1, Semaphore::MAX_PERMITS),
            )),
            cache: Arc::new(cache::ActionCache::default()),
            http,
        }
    }
}

impl std::fmt::Debug for QuickJsRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuickJsRuntime")
            .field("available_permits", &self.permits.available_permits())
            .finish_non_exhaustive()
    }
}

fn crashed(message: &str) -> ActionReport {
    ActionReport {
        outcome: ActionOutcome::Crashed {
            message: message.to_owned(),
        },
        commands: Vec::new(),
        logs: Vec::new(),
        duration: Duration::ZERO,
        cold: false,
        script_result: None,
    }
}

#[async_trait::async_trait]
impl ActionRuntime for QuickJsRuntime {
    async fn run(&self, execution: ActionExecution, host: mpsc::Sender<HostCall>) -> ActionReport {
        let Ok(permit) = Arc::clone(&self.permits).acquire_owned().await else {
            return crashed("the actions pool is closed");
        };
        // Host calls and fetch are async; the blocking thread drives them through this handle.
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return crashed("the actions runtime needs a tokio runtime");
        };
        let env = sandbox::Env {
            handle,
            cache: Arc::clone(&self.cache),
            http: self.http.clone(),
        };
        let action_id = execution.action_id.clone();
        // The permit moves into the task: if the caller stops waiting, the slot stays taken
        // until the JavaScript thread has really finished.
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            sandbox::execute(execution, host, env)
        });
        match task.await {
            Ok(report) => report,
            Err(err) => {
                tracing::error!(%err, action_id, "actions: the execution thread failed");
                crashed(&format!("the action's execution thread failed: {err}"))
            }
        }
    }
}
