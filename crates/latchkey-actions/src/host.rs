//! Glue between `require("auth0")`'s ManagementClient in the prelude and the services: each
//! SDK call becomes a [`HostCall`] sent to the caller of `ActionRuntime::run`, and the
//! JavaScript thread blocks until the reply arrives (or the execution's deadline passes).

use crate::deadline::Deadline;
use latchkey_core::actions::{HostCall, ManagementCall};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};

/// What the prelude sends: `{method, credentials, args}`.
#[derive(Debug, Deserialize)]
struct Request {
    method: String,
    credentials: Credentials,
    #[serde(default)]
    args: Vec<Value>,
}

/// The options the action's `new ManagementClient({...})` was given (already strings).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Credentials {
    #[serde(default)]
    domain: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    scope: Option<String>,
}

enum Undelivered {
    Closed,
    Dropped,
}

/// Sends one execution's Management API calls to its host channel.
pub struct ManagementBridge {
    sender: mpsc::Sender<HostCall>,
    handle: Handle,
    deadline: Deadline,
}

impl ManagementBridge {
    pub fn new(sender: mpsc::Sender<HostCall>, handle: Handle, deadline: Deadline) -> Self {
        Self {
            sender,
            handle,
            deadline,
        }
    }

    /// Serves the prelude's `host.call(json)`. The reply is JSON: `{"ok": body}`,
    /// `{"error": {status, error, message}}` (an API error, rejected like the SDK's), or
    /// `{"fail": message}` (the call could not be made at all).
    pub fn call(&self, request: &str) -> String {
        self.call_value(request).to_string()
    }

    fn call_value(&self, request: &str) -> Value {
        let request: Request = match serde_json::from_str(request) {
            Ok(r) => r,
            Err(err) => return fail(&format!("invalid Management API call: {err}")),
        };
        // Waiting is bounded by the execution's own deadline: the interrupt handler cannot
        // fire while this thread is parked outside the interpreter.
        let Some(remaining) = self.deadline.remaining() else {
            return fail("the action ran past its time limit");
        };
        let (reply, answer) = oneshot::channel();
        let call = HostCall {
            call: ManagementCall {
                domain: request.credentials.domain,
                client_id: request.credentials.client_id,
                client_secret: SecretString::from(request.credentials.client_secret),
                scope: request.credentials.scope,
                method: request.method,
                args: request.args,
            },
            reply,
        };
        let sender = self.sender.clone();
        let outcome = self.handle.block_on(async move {
            tokio::time::timeout(remaining, async move {
                sender.send(call).await.map_err(|_| Undelivered::Closed)?;
                answer.await.map_err(|_| Undelivered::Dropped)
            })
            .await
        });
        match outcome {
            Ok(Ok(Ok(body))) => json!({ "ok": body }),
            Ok(Ok(Err(err))) => json!({
                "error": { "status": err.status, "error": err.error, "message": err.message }
            }),
            Ok(Err(Undelivered::Closed)) => {
                fail("the Management API is not available to this action")
            }
            Ok(Err(Undelivered::Dropped)) => fail("the Management API call was abandoned"),
            Err(_elapsed) => {
                self.deadline.mark_timed_out();
                fail("the Management API call did not finish within the action's time limit")
            }
        }
    }
}

fn fail(message: &str) -> Value {
    json!({ "fail": message })
}
