//! End-to-end tests of the QuickJS actions runtime through the `ActionRuntime` trait.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use latchkey_actions::{QuickJsRuntime, REDACTED, TRUNCATED_MARKER};
use latchkey_core::actions::{
    ActionCommand, ActionExecution, ActionLimits, ActionOutcome, ActionReport, ActionRuntime,
    Entry, HostCall, HostCallError, ManagementCall, ScriptCall, ScriptResult, Trigger,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

fn execution(code: &str, event: Value) -> ActionExecution {
    ActionExecution {
        action_id: "act_test".into(),
        action_name: "test action".into(),
        trigger: Trigger::PostLogin,
        entry: Entry::Execute,
        code: code.into(),
        event,
        secrets: vec![
            ("API_KEY".into(), SecretString::from("sk_live_abcdef123456")),
            (
                "YOUR_CLIENT_SECRET".into(),
                SecretString::from("m2m-secret-value"),
            ),
        ],
        limits: ActionLimits::default(),
        script: None,
    }
}

/// What a host call looked like when it arrived, with the secret exposed for assertions.
#[derive(Debug, Clone)]
struct Seen {
    domain: String,
    client_id: String,
    client_secret: String,
    scope: Option<String>,
    method: String,
    args: Vec<Value>,
}

impl From<&ManagementCall> for Seen {
    fn from(call: &ManagementCall) -> Self {
        Self {
            domain: call.domain.clone(),
            client_id: call.client_id.clone(),
            client_secret: call.client_secret.expose_secret().to_owned(),
            scope: call.scope.clone(),
            method: call.method.clone(),
            args: call.args.clone(),
        }
    }
}

type Responder = Arc<dyn Fn(&ManagementCall) -> Result<Value, HostCallError> + Send + Sync>;

/// Runs `execution`, answering its host calls with `responder` (after `delay`).
async fn run_with_host(
    runtime: &QuickJsRuntime,
    execution: ActionExecution,
    responder: Responder,
    delay: Duration,
) -> (ActionReport, Vec<Seen>) {
    let (tx, mut rx) = mpsc::channel::<HostCall>(4);
    let server = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(HostCall { call, reply }) = rx.recv().await {
            seen.push(Seen::from(&call));
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let _ = reply.send(responder(&call));
        }
        seen
    });
    let report = runtime.run(execution, tx).await;
    let seen = server.await.unwrap();
    (report, seen)
}

async fn run(runtime: &QuickJsRuntime, execution: ActionExecution) -> ActionReport {
    let responder: Responder = Arc::new(|_| Ok(json!({})));
    run_with_host(runtime, execution, responder, Duration::ZERO)
        .await
        .0
}

fn assert_completed(report: &ActionReport) {
    assert_eq!(
        report.outcome,
        ActionOutcome::Completed,
        "logs: {:?}",
        report.logs
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_login_api_calls_become_commands_in_order() {
    let runtime = QuickJsRuntime::new(2);
    let code = r#"
        exports.onExecutePostLogin = async (event, api) => {
          api.idToken.setCustomClaim("https://example.com/roles", ["admin", "ops"])
             .accessToken.setCustomClaim("tenant", event.user.app_metadata.tenant);
          api.user.setAppMetadata("plan", "gold");
          api.user.setUserMetadata("theme", null);
          api.multifactor.enable("any", { allowRememberBrowser: true });
          api.authentication.challengeWith({ type: "otp" }, { additionalFactors: [{ type: "email" }] });
          api.authentication.challengeWithAny([{ type: "webauthn-roaming" }, { type: "phone" }]);
          api.redirect.sendUserTo("https://consent.example.com/start", { query: { step: 2, user: event.user.user_id } });
          if (event.user.blocked_reason) api.access.deny(event.user.blocked_reason);
        };
    "#;
    let report = run(
        &runtime,
        execution(
            code,
            json!({"user": {"user_id": "auth0|1", "app_metadata": {"tenant": "acme"}, "blocked_reason": "no entry"}}),
        ),
    )
    .await;
    assert_completed(&report);
    assert_eq!(
        report.commands,
        vec![
            ActionCommand::IdTokenClaim {
                name: "https://example.com/roles".into(),
                value: json!(["admin", "ops"]),
            },
            ActionCommand::AccessTokenClaim {
                name: "tenant".into(),
                value: json!("acme"),
            },
            ActionCommand::SetAppMetadata {
                name: "plan".into(),
                value: json!("gold"),
            },
            ActionCommand::SetUserMetadata {
                name: "theme".into(),
                value: Value::Null,
            },
            ActionCommand::EnableMultifactor {
                provider: "any".into()
            },
            ActionCommand::ChallengeWith {
                factors: vec!["otp".into(), "email".into()]
            },
            ActionCommand::ChallengeWith {
                factors: vec!["webauthn-roaming".into(), "phone".into()]
            },
            ActionCommand::Redirect {
                url: "https://consent.example.com/start".into(),
                query: vec![
                    ("step".into(), "2".into()),
                    ("user".into(), "auth0|1".into())
                ],
            },
            ActionCommand::Deny {
                reason: "no entry".into()
            },
        ]
    );
    assert!(report.duration > Duration::ZERO);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_surface_depends_on_the_trigger_and_missing_handlers_complete() {
    let runtime = QuickJsRuntime::new(2);
    let code = r#"
        exports.onExecutePostChangePassword = async (event, api) => {
          console.log(Object.keys(api).join(","));
        };
        exports.onExecutePostChallenge = async (event, api) => {
          console.log(Object.keys(api).sort().join(","));
          api.authentication.challengeWithAny([{ type: "otp" }]);
          api.access.deny("nope");
        };
        exports.onContinuePostLogin = async (event, api) => {
          api.idToken.setCustomClaim("continued", true);
        };
    "#;
    let mut exec = execution(code, json!({}));
    exec.trigger = Trigger::PostChangePassword;
    let report = run(&runtime, exec).await;
    assert_completed(&report);
    assert_eq!(report.logs, vec!["cache"]);

    let mut exec = execution(code, json!({}));
    exec.trigger = Trigger::PasswordResetPostChallenge;
    let report = run(&runtime, exec).await;
    assert_completed(&report);
    assert_eq!(report.logs, vec!["access,authentication,cache"]);
    assert_eq!(report.commands.len(), 2);

    let mut exec = execution(code, json!({}));
    exec.entry = Entry::Continue;
    let report = run(&runtime, exec).await;
    assert_completed(&report);
    assert_eq!(
        report.commands,
        vec![ActionCommand::IdTokenClaim {
            name: "continued".into(),
            value: json!(true)
        }]
    );

    // No onExecutePostLogin export: nothing to do.
    let report = run(&runtime, execution(code, json!({}))).await;
    assert_completed(&report);
    assert!(report.commands.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_is_captured_formatted_and_secrets_redacted() {
    let runtime = QuickJsRuntime::new(2);
    let code = r#"
        exports.onExecutePostLogin = async (event, api) => {
          console.log("key is", event.secrets.API_KEY);
          console.info({ a: 1, b: [true, null] }, 42, undefined);
          console.warn("%s has %d items", "cart", 3);
          console.error(new Error("bad " + event.secrets.YOUR_CLIENT_SECRET));
          const cyclic = {}; cyclic.self = cyclic;
          console.debug(cyclic);
          api.idToken.setCustomClaim("secret_length", event.secrets.API_KEY.length);
        };
    "#;
    let report = run(&runtime, execution(code, json!({}))).await;
    assert_completed(&report);
    assert_eq!(report.logs.len(), 5, "{:?}", report.logs);
    assert_eq!(report.logs[0], format!("key is {REDACTED}"));
    assert_eq!(report.logs[1], r#"{"a":1,"b":[true,null]} 42 undefined"#);
    assert_eq!(report.logs[2], "cart has 3 items");
    assert!(
        report.logs[3].starts_with(&format!("Error: bad {REDACTED}")),
        "{}",
        report.logs[3]
    );
    assert_eq!(report.logs[4], "[object Object]");
    assert!(report.logs.iter().all(|l| !l.contains("sk_live")));
    assert_eq!(
        report.commands,
        vec![ActionCommand::IdTokenClaim {
            name: "secret_length".into(),
            value: json!(20)
        }]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_are_capped_with_a_marker() {
    let runtime = QuickJsRuntime::new(1);
    let mut exec = execution(
        r#"exports.onExecutePostLogin = async () => { for (let i = 0; i < 1000; i++) console.log("line " + i); };"#,
        json!({}),
    );
    exec.limits.max_log_bytes = 100;
    let report = run(&runtime, exec).await;
    assert_completed(&report);
    assert_eq!(
        report.logs.last().map(String::as_str),
        Some(TRUNCATED_MARKER)
    );
    let kept: usize = report.logs[..report.logs.len() - 1]
        .iter()
        .map(String::len)
        .sum();
    assert!(kept <= 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infinite_loop_times_out_without_blocking_other_executions() {
    let runtime = Arc::new(QuickJsRuntime::new(2));
    let mut spin = execution(
        "exports.onExecutePostLogin = async () => { while (true) {} };",
        json!({}),
    );
    // Generous bounds: CI runs this next to argon2-heavy tests on two cores.
    spin.limits.timeout = Duration::from_millis(1500);

    let started = Instant::now();
    let spinning = {
        let runtime = Arc::clone(&runtime);
        tokio::spawn(async move {
            let report = run(&runtime, spin).await;
            (report, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    let quick_started = Instant::now();
    let quick = run(
        &runtime,
        execution(
            r#"exports.onExecutePostLogin = async (e, api) => { api.idToken.setCustomClaim("x", 1); };"#,
            json!({}),
        ),
    )
    .await;
    let quick_elapsed = quick_started.elapsed();
    assert_completed(&quick);
    // The quick one finished while the loop was still spinning.
    assert!(!spinning.is_finished(), "{quick_elapsed:?}");

    let (report, elapsed) = spinning.await.unwrap();
    assert_eq!(report.outcome, ActionOutcome::TimedOut);
    assert!(elapsed >= Duration::from_millis(1500), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(3500), "{elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promise_that_never_settles_fails() {
    let runtime = QuickJsRuntime::new(1);
    let report = run(
        &runtime,
        execution(
            "exports.onExecutePostLogin = () => new Promise(() => {});",
            json!({}),
        ),
    )
    .await;
    assert_eq!(
        report.outcome,
        ActionOutcome::Failed {
            message: "the action's promise never settled".into()
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_bombs_run_out_of_memory_and_the_process_survives() {
    let runtime = QuickJsRuntime::new(2);
    let bombs = [
        "exports.onExecutePostLogin = async () => { let a = []; while (true) a.push(new Array(1e6).fill(1)); };",
        "exports.onExecutePostLogin = async () => { let s = 'x'; while (true) s += s; };",
        // The same, with the string materialized each round (QuickJS otherwise keeps a rope).
        "exports.onExecutePostLogin = async () => { let s = 'x'; while (true) { s += s; s.charCodeAt(s.length - 1); s = s.split('').join(''); } };",
        // Top-level, kept alive by a global, and a catch that tries to carry on.
        "globalThis.keep = []; while (true) keep.push({ n: keep.length, pad: 'y'.repeat(64) });",
        "exports.onExecutePostLogin = async () => { try { let a = []; while (true) a.push(new Array(1e5).fill(2)); } catch (e) { throw new Error('gave up: ' + e); } };",
    ];
    for bomb in bombs {
        let mut exec = execution(bomb, json!({}));
        exec.limits.memory_bytes = 16 * 1024 * 1024;
        let report = run(&runtime, exec).await;
        assert_eq!(report.outcome, ActionOutcome::OutOfMemory, "{bomb}");
    }
    let report = run(
        &runtime,
        execution("exports.onExecutePostLogin = async () => {};", json!({})),
    )
    .await;
    assert_completed(&report);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syntax_errors_crash_and_throws_fail() {
    let runtime = QuickJsRuntime::new(2);
    let report = run(
        &runtime,
        execution(
            "exports.onExecutePostLogin = async (event, api) => {",
            json!({}),
        ),
    )
    .await;
    let ActionOutcome::Crashed { message } = &report.outcome else {
        panic!("{:?}", report.outcome)
    };
    assert!(message.contains("SyntaxError"), "{message}");

    let report = run(
        &runtime,
        execution(
            r#"exports.onExecutePostLogin = async (event, api) => {
                 api.idToken.setCustomClaim("before", 1);
                 throw new TypeError("boom " + event.secrets.API_KEY);
               };"#,
            json!({}),
        ),
    )
    .await;
    let ActionOutcome::Failed { message } = &report.outcome else {
        panic!("{:?}", report.outcome)
    };
    assert!(
        message.starts_with(&format!("TypeError: boom {REDACTED}")),
        "{message}"
    );
    assert!(message.contains("action.js"), "stack expected: {message}");
    assert_eq!(
        report.commands.len(),
        1,
        "commands before the throw are kept"
    );

    // Runaway recursion hits QuickJS's stack limit, not the thread's.
    let report = run(
        &runtime,
        execution(
            "function f(n) { return f(n + 1) + 1; } exports.onExecutePostLogin = async () => f(0);",
            json!({}),
        ),
    )
    .await;
    assert!(
        matches!(report.outcome, ActionOutcome::Failed { ref message } if message.contains("stack")),
        "{:?}",
        report.outcome
    );

    // An error whose getters throw is still described.
    let report = run(
        &runtime,
        execution(
            "exports.onExecutePostLogin = async () => { const e = new Error('x'); Object.defineProperty(e, 'stack', { get() { throw 1; } }); e.toString = () => { throw 2; }; throw e; };",
            json!({}),
        ),
    )
    .await;
    assert!(
        matches!(report.outcome, ActionOutcome::Failed { .. }),
        "{:?}",
        report.outcome
    );

    // A synchronous handler that throws, and a rejection with a non-Error.
    let report = run(
        &runtime,
        execution("exports.onExecutePostLogin = () => { null.x; };", json!({})),
    )
    .await;
    assert!(
        matches!(report.outcome, ActionOutcome::Failed { ref message } if message.contains("TypeError"))
    );
    let report = run(
        &runtime,
        execution(
            "exports.onExecutePostLogin = () => Promise.reject('plain reason');",
            json!({}),
        ),
    )
    .await;
    assert_eq!(
        report.outcome,
        ActionOutcome::Failed {
            message: "plain reason".into()
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_persists_across_executions_of_the_same_action() {
    let runtime = QuickJsRuntime::new(2);
    let code = r#"
        exports.onExecutePostLogin = async (event, api) => {
          const hit = api.cache.get("token");
          console.log(hit ? "hit " + hit.value : "miss");
          if (!hit) {
            const r = api.cache.set("token", "abc123", { ttl: 60000 });
            console.log(r.type);
            console.log(JSON.stringify(api.cache.set("big", "x".repeat(2049))));
            console.log(JSON.stringify(api.cache.set("num", 5)));
            api.cache.set("gone", "soon");
            api.cache.delete("gone");
            throw new Error("fails after writing");
          }
          console.log(String(api.cache.get("gone")));
        };
    "#;
    let first = run(&runtime, execution(code, json!({}))).await;
    assert!(matches!(first.outcome, ActionOutcome::Failed { .. }));
    assert_eq!(first.logs[0], "miss");
    assert_eq!(first.logs[1], "success");
    assert!(
        first.logs[2].contains(r#""type":"error""#),
        "{:?}",
        first.logs
    );
    assert!(
        first.logs[3].contains(r#""type":"error""#),
        "{:?}",
        first.logs
    );

    let second = run(&runtime, execution(code, json!({}))).await;
    assert_completed(&second);
    assert_eq!(second.logs, vec!["hit abc123", "undefined"]);

    let mut other = execution(code, json!({}));
    other.action_id = "act_other".into();
    let third = run(&runtime, other).await;
    assert_eq!(third.logs[0], "miss", "the cache is per action");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_auth0_can_be_required_and_node_globals_are_absent() {
    let runtime = QuickJsRuntime::new(2);
    let code = r#"
        exports.onExecutePostLogin = async (event, api) => {
          console.log(typeof process, typeof globalThis.require, typeof require, typeof std, typeof os);
          try { require("fs"); } catch (e) { console.log(e.message, e.code); }
          try { require("child_process"); } catch (e) { console.log(e.message); }
          console.log(typeof require("auth0").ManagementClient);
          try { await import("fs"); } catch (e) { console.log("import failed"); }
          const prelude = await import("latchkey:prelude");
          console.log(typeof prelude.default);
          globalThis.cycle = { fn: () => globalThis.cycle };
        };
    "#;
    let report = run(&runtime, execution(code, json!({}))).await;
    assert_completed(&report);
    assert_eq!(
        report.logs,
        vec![
            "undefined undefined function undefined undefined",
            "Cannot find module 'fs' MODULE_NOT_FOUND",
            "Cannot find module 'child_process'",
            "function",
            "import failed",
            "function",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn management_client_calls_reach_the_host() {
    let runtime = QuickJsRuntime::new(2);
    let code = r#"
        const { ManagementClient } = require("auth0");
        exports.onExecutePostLogin = async (event, api) => {
          const m = new ManagementClient({ domain: "tenant.example.com", clientId: "m2m", clientSecret: event.secrets.YOUR_CLIENT_SECRET, scope: "read:users update:users" });
          const user = await m.getUser({ id: "auth0|1" });
          api.idToken.setCustomClaim("legacy", user.email);
          const res = await m.users.get({ id: "auth0|1" });
          api.idToken.setCustomClaim("v4", res.data.email);
          api.idToken.setCustomClaim("v5", res.email);
          api.idToken.setCustomClaim("status", res.status);
          api.idToken.setCustomClaim("json", JSON.stringify(res));
          await m.updateUser({ id: "auth0|1" }, { app_metadata: { seen: true } });
          const ticket = await m.tickets.changePassword({ user_id: "auth0|1" });
          api.idToken.setCustomClaim("ticket_status", ticket.status);
          await new Promise((resolve) => m.getUsersByEmail("a@example.com", (err, users) => { api.idToken.setCustomClaim("cb", users.length); resolve(); }));
          try {
            await m.usersByEmail.getByEmail({ email: "missing@example.com" });
          } catch (err) {
            api.idToken.setCustomClaim("err", [err instanceof Error, err.statusCode, err.error, err.message]);
          }
        };
    "#;
    let responder: Responder = Arc::new(|call| match call.method.as_str() {
        "usersByEmail.getByEmail" => Err(HostCallError {
            status: 404,
            error: "Not Found".into(),
            message: "The user does not exist.".into(),
        }),
        "getUsersByEmail" => Ok(json!([{"user_id": "auth0|1"}])),
        "tickets.changePassword" => Ok(json!({"ticket": "https://t"})),
        _ => Ok(json!({"user_id": "auth0|1", "email": "a@example.com"})),
    });
    let (report, seen) = run_with_host(
        &runtime,
        execution(code, json!({})),
        responder,
        Duration::ZERO,
    )
    .await;
    assert_completed(&report);
    let methods: Vec<&str> = seen.iter().map(|s| s.method.as_str()).collect();
    assert_eq!(
        methods,
        vec![
            "getUser",
            "users.get",
            "updateUser",
            "tickets.changePassword",
            "getUsersByEmail",
            "usersByEmail.getByEmail"
        ]
    );
    let first = &seen[0];
    assert_eq!(first.domain, "tenant.example.com");
    assert_eq!(first.client_id, "m2m");
    assert_eq!(first.client_secret, "m2m-secret-value");
    assert_eq!(first.scope.as_deref(), Some("read:users update:users"));
    assert_eq!(first.args, vec![json!({"id": "auth0|1"})]);
    assert_eq!(
        seen[2].args,
        vec![
            json!({"id": "auth0|1"}),
            json!({"app_metadata": {"seen": true}})
        ]
    );
    assert_eq!(seen[4].args, vec![json!("a@example.com")]);
    let claim = |name: &str| {
        report
            .commands
            .iter()
            .find_map(|c| match c {
                ActionCommand::IdTokenClaim { name: n, value } if n == name => Some(value.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no claim {name}: {:?}", report.commands))
    };
    assert_eq!(claim("legacy"), json!("a@example.com"));
    assert_eq!(claim("v4"), json!("a@example.com"));
    assert_eq!(claim("v5"), json!("a@example.com"));
    assert_eq!(claim("status"), json!(200));
    assert_eq!(
        claim("json"),
        json!(r#"{"email":"a@example.com","user_id":"auth0|1"}"#)
    );
    assert_eq!(claim("ticket_status"), json!(201));
    assert_eq!(claim("cb"), json!(1));
    assert_eq!(
        claim("err"),
        json!([true, 404, "Not Found", "The user does not exist."])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_calls_are_bounded_by_the_deadline() {
    let runtime = QuickJsRuntime::new(1);
    let code = r#"
        const { ManagementClient } = require("auth0");
        exports.onExecutePostLogin = async () => {
          const m = new ManagementClient({ domain: "d", clientId: "c", clientSecret: "s" });
          try { await m.getUser({ id: "x" }); } catch (e) {}
          while (true) {}
        };
    "#;
    let mut exec = execution(code, json!({}));
    exec.limits.timeout = Duration::from_millis(300);
    let responder: Responder = Arc::new(|_| Ok(json!({})));
    let started = Instant::now();
    let (report, seen) = run_with_host(&runtime, exec, responder, Duration::from_millis(600)).await;
    assert_eq!(report.outcome, ActionOutcome::TimedOut);
    assert_eq!(seen.len(), 1);
    assert!(started.elapsed() < Duration::from_secs(3));

    // A host call that returns in time still leaves the deadline in force afterwards.
    let mut exec = execution(code, json!({}));
    exec.limits.timeout = Duration::from_millis(300);
    let responder: Responder = Arc::new(|_| Ok(json!({})));
    let (report, _) = run_with_host(&runtime, exec, responder, Duration::from_millis(50)).await;
    assert_eq!(report.outcome, ActionOutcome::TimedOut);

    // Nobody serving the channel: the call rejects, the action carries on.
    let (tx, rx) = mpsc::channel::<HostCall>(1);
    drop(rx);
    let report = runtime
        .run(
            execution(
                r#"const { ManagementClient } = require("auth0");
                   exports.onExecutePostLogin = async () => {
                     try { await new ManagementClient({}).getUser({ id: "x" }); }
                     catch (e) { console.log(e instanceof Error, e.message); }
                   };"#,
                json!({}),
            ),
            tx,
        )
        .await;
    assert_completed(&report);
    assert_eq!(
        report.logs,
        vec!["true the Management API is not available to this action"]
    );
}

const AUTH0_SAMPLE: &str = r#"const auth0Sdk = require("auth0");

exports.onExecutePostLogin = async (event, api) => {

  const ManagementClient = auth0Sdk.ManagementClient;

  // This will make a Management API call
  const managementClientInstance = new ManagementClient({
    // These come from a machine-to-machine application
    domain: 'YOUR_DOMAIN',
    clientId: 'YOUR_CLIENT_ID',
    clientSecret: event.secrets.YOUR_CLIENT_SECRET,
    scope: "create:user_tickets"
  });

  if(event.transaction?.requested_scopes?.includes('update:password') && 'max_age' in event.request.query){
    try {
      let ticket = await managementClientInstance.createPasswordChangeTicket({
        user_id: event.user.user_id,
        client_id: event.client.client_id
      });
    console.log(ticket);
    api.redirect.sendUserTo(ticket.ticket);
    } catch (err) {
      console.log(err);
    }
  }
};
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth0_sample_post_login_action_redirects_to_the_ticket() {
    let runtime = QuickJsRuntime::new(2);
    let event = json!({
        "transaction": {"requested_scopes": ["openid", "update:password"]},
        "request": {"query": {"max_age": "0", "scope": "openid update:password"}},
        "user": {"user_id": "auth0|42"},
        "client": {"client_id": "spa-client"},
    });
    let ticket_url = "https://login.example.com/lo/reset?ticket=abc#";
    let responder: Responder = Arc::new(move |_| Ok(json!({ "ticket": ticket_url })));
    let (report, seen) = run_with_host(
        &runtime,
        execution(AUTH0_SAMPLE, event.clone()),
        responder,
        Duration::ZERO,
    )
    .await;
    assert_completed(&report);
    assert_eq!(
        report.commands,
        vec![ActionCommand::Redirect {
            url: ticket_url.into(),
            query: vec![]
        }]
    );
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "createPasswordChangeTicket");
    assert_eq!(seen[0].domain, "YOUR_DOMAIN");
    assert_eq!(seen[0].client_id, "YOUR_CLIENT_ID");
    assert_eq!(seen[0].client_secret, "m2m-secret-value");
    assert_eq!(seen[0].scope.as_deref(), Some("create:user_tickets"));
    assert_eq!(
        seen[0].args,
        vec![json!({"user_id": "auth0|42", "client_id": "spa-client"})]
    );
    assert_eq!(report.logs, vec![format!(r#"{{"ticket":"{ticket_url}"}}"#)]);

    // The host refusing the call: the sample logs the error and carries on.
    let responder: Responder = Arc::new(|_| {
        Err(HostCallError {
            status: 403,
            error: "Forbidden".into(),
            message: "Insufficient scope, expected: create:user_tickets".into(),
        })
    });
    let (report, _) = run_with_host(
        &runtime,
        execution(AUTH0_SAMPLE, event),
        responder,
        Duration::ZERO,
    )
    .await;
    assert_completed(&report);
    assert!(report.commands.is_empty());
    assert!(
        report.logs[0].starts_with("Error: Insufficient scope"),
        "{:?}",
        report.logs
    );
    assert!(report.logs[0].contains(r#""statusCode":403"#));
}

/// A one-shot-per-connection HTTP server answering JSON about the request it got.
async fn spawn_http_server() -> std::net::SocketAddr {
    spawn_server(|method, path, head, body| {
        let custom = head
            .lines()
            .find_map(|l| l.strip_prefix("x-custom: "))
            .unwrap_or_default();
        let payload = json!({"method": method, "path": path, "body": body, "custom": custom});
        (200, payload.to_string())
    })
    .await
}

/// A one-shot-per-connection HTTP server; `respond(method, path, head, body)` gives the status
/// and the JSON body of the reply.
async fn spawn_server(
    respond: impl Fn(&str, &str, &str, &str) -> (u16, String) + Send + Sync + 'static,
) -> std::net::SocketAddr {
    let respond = Arc::new(respond);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let respond = Arc::clone(&respond);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut len = 0;
                loop {
                    let Ok(n) = socket.read(&mut buf[len..]).await else {
                        return;
                    };
                    if n == 0 {
                        break;
                    }
                    len += n;
                    let text = String::from_utf8_lossy(&buf[..len]);
                    if let Some(end) = text.find("\r\n\r\n") {
                        let content_length = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if len >= end + 4 + content_length {
                            break;
                        }
                    }
                }
                let text = String::from_utf8_lossy(&buf[..len]).into_owned();
                let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
                let request_line = head.lines().next().unwrap_or_default();
                let mut parts = request_line.split(' ');
                let method = parts.next().unwrap_or_default();
                let path = parts.next().unwrap_or_default();
                let (status, payload) = respond(method, path, head, body);
                let response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\nx-reply: yes\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
                    payload.len(),
                    payload
                );
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_is_limited_to_allowed_hosts() {
    let runtime = QuickJsRuntime::new(2);
    let addr = spawn_http_server().await;
    let code = format!(
        r#"
        exports.onExecutePostLogin = async (event, api) => {{
          try {{ await fetch("https://evil.example.net/steal"); }}
          catch (e) {{ console.log(e instanceof TypeError, e.message); }}
          try {{ await fetch("http://localhost:{port}/"); }}
          catch (e) {{ console.log(e.message); }}
          const res = await fetch("http://127.0.0.1:{port}/hook?x=1", {{
            method: "post", headers: {{ "x-custom": "hello", "content-type": "application/json" }},
            body: JSON.stringify({{ user: event.user.user_id }}),
          }});
          const data = await res.json();
          console.log(res.ok, res.status, res.headers.get("X-Reply"), data.method, data.path, data.custom, data.body);
          const again = await fetch("http://127.0.0.1:{port}/plain");
          console.log((await again.text()).length > 0);
        }};
        "#,
        port = addr.port()
    );
    let mut exec = execution(&code, json!({"user": {"user_id": "auth0|7"}}));
    exec.limits.fetch_allowed_hosts = vec!["127.0.0.1".into(), "*.example.com".into()];
    let report = run(&runtime, exec).await;
    assert_completed(&report);
    assert_eq!(
        report.logs,
        vec![
            "true fetch to evil.example.net is not allowed".to_owned(),
            "fetch to localhost is not allowed".to_owned(),
            r#"true 200 yes POST /hook?x=1 hello {"user":"auth0|7"}"#.to_owned(),
            "true".to_owned(),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_cold_and_warm_timings() {
    let runtime = QuickJsRuntime::new(1);
    let code = r#"exports.onExecutePostLogin = async (event, api) => { api.idToken.setCustomClaim("n", event.n); };"#;
    let mut durations = Vec::new();
    let mut colds = 0;
    for n in 0..50 {
        let report = run(&runtime, execution(code, json!({ "n": n }))).await;
        assert_completed(&report);
        if report.cold {
            colds += 1;
        }
        durations.push((report.cold, report.duration));
    }
    assert!(colds >= 1, "the first execution on a thread is cold");
    let cold: Vec<Duration> = durations.iter().filter(|d| d.0).map(|d| d.1).collect();
    let warm: Vec<Duration> = durations.iter().filter(|d| !d.0).map(|d| d.1).collect();
    let avg = |v: &[Duration]| v.iter().sum::<Duration>() / u32::try_from(v.len().max(1)).unwrap();
    println!(
        "actions timing: {} cold (avg {:?}), {} warm (avg {:?}, min {:?})",
        cold.len(),
        avg(&cold),
        warm.len(),
        avg(&warm),
        warm.iter().min()
    );
}

// ---- custom-database scripts ----------------------------------------------------------------

/// A custom-database script call, with `configuration` as the connection's configuration.
fn script(
    code: &str,
    function: &str,
    args: Value,
    configuration: &[(&str, &str)],
) -> ActionExecution {
    let Value::Array(args) = args else {
        panic!("args must be an array")
    };
    let mut exec = execution(code, json!({}));
    exec.secrets = configuration
        .iter()
        .map(|(k, v)| ((*k).to_owned(), SecretString::from(*v)))
        .collect();
    exec.script = Some(ScriptCall {
        function: function.into(),
        args,
    });
    exec
}

fn assert_answer(report: &ActionReport, expected: ScriptResult) {
    assert_eq!(
        (&report.outcome, report.script_result.as_ref()),
        (&ActionOutcome::Completed, Some(&expected)),
        "logs: {:?}",
        report.logs
    );
}

const STORE_KEY: &str = "store-api-key-0123456789";

const LOGIN_SCRIPT: &str = r#"
function login(email, password, callback) {
  fetch(configuration.STORE_URL + "/login", {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": configuration.API_KEY },
    body: JSON.stringify({ email, password }),
  })
    .then(res => res.status === 401
      ? callback(new WrongUsernameOrPasswordError(email))
      : res.json().then(u => callback(null, { user_id: u.id, email: u.email, email_verified: true, name: u.name })))
    .catch(err => callback(err));
}
"#;

/// A legacy user store: `POST /login` with the right key and password answers the user.
async fn spawn_user_store() -> String {
    let addr = spawn_server(|method, path, head, body| {
        if !head.contains(&format!("x-api-key: {STORE_KEY}")) {
            return (403, "{}".into());
        }
        let body: Value = serde_json::from_str(body).unwrap_or_default();
        match (method, path) {
            ("POST", "/login") if body["password"] == "correct horse" => (
                200,
                json!({"id": "legacy-42", "email": body["email"], "name": "Ada Lovelace"})
                    .to_string(),
            ),
            _ => (401, "{}".into()),
        }
    })
    .await;
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_login_fetches_from_the_user_store() {
    let runtime = QuickJsRuntime::new(2);
    let store = spawn_user_store().await;
    let config = [("STORE_URL", store.as_str()), ("API_KEY", STORE_KEY)];
    let login = |password: &str| {
        let mut exec = script(
            LOGIN_SCRIPT,
            "login",
            json!(["ada@example.com", password]),
            &config,
        );
        exec.limits.fetch_allowed_hosts = vec!["127.0.0.1".into()];
        exec
    };

    let report = run(&runtime, login("correct horse")).await;
    assert_answer(
        &report,
        ScriptResult::Value(json!({
            "user_id": "legacy-42",
            "email": "ada@example.com",
            "email_verified": true,
            "name": "Ada Lovelace",
        })),
    );
    assert!(report.commands.is_empty());

    let report = run(&runtime, login("wrong")).await;
    assert_answer(
        &report,
        ScriptResult::Error {
            name: "WrongUsernameOrPasswordError".into(),
            message: "Wrong email or password.".into(),
        },
    );

    // Without the allowlist, fetch rejects and the script passes the TypeError on.
    let mut exec = login("correct horse");
    exec.limits.fetch_allowed_hosts.clear();
    let report = run(&runtime, exec).await;
    assert_answer(
        &report,
        ScriptResult::Error {
            name: "TypeError".into(),
            message: "fetch to 127.0.0.1 is not allowed".into(),
        },
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_callbacks_answer_values_nulls_and_errors() {
    let runtime = QuickJsRuntime::new(2);
    let code = r#"
        function getByEmail(email, callback) {
          if (email === "known@example.com") return callback(null, { user_id: "1", email });
          callback(null);
        }
        const get_user = (email, callback) => callback();
        function changePassword(email, newPassword, callback) {
          setTimeoutLike(() => callback(null, newPassword.length > 3));
          callback(null, false); // too late: only the first call counts
        }
        function setTimeoutLike(f) { Promise.resolve().then(f); }
        function change_password(email, newPassword, callback) {
          Promise.resolve().then(() => callback(null, true)).then(() => callback(new Error("ignored")));
        }
        function create(user, callback) {
          if (!user.email.includes("@")) return callback(new ValidationError("invalid_email", "That is not an email."));
          callback(new ValidationError("user_exists"));
        }
        function verify(email, callback) { callback(new UnauthorizedError("blocked")); }
        function remove(id, callback) { callback("plain string " + id); }
        async function getUser(email, callback) { throw new Error("async failure"); }
        function login(email, password, callback) { throw new TypeError("sync failure"); }
        function globals(callback) {
          callback(null, [typeof api, typeof event, typeof exports, typeof module, typeof require("auth0").ManagementClient,
            new WrongUsernameOrPasswordError("x", "custom").message, new ValidationError("c", "m").code]);
        }
    "#;
    let call = |function: &str, args: Value| script(code, function, args, &[]);

    let report = run(&runtime, call("getByEmail", json!(["known@example.com"]))).await;
    assert_answer(
        &report,
        ScriptResult::Value(json!({"user_id": "1", "email": "known@example.com"})),
    );
    let report = run(&runtime, call("getByEmail", json!(["nobody@example.com"]))).await;
    assert_answer(&report, ScriptResult::Value(Value::Null));
    let report = run(&runtime, call("get_user", json!(["nobody@example.com"]))).await;
    assert_answer(&report, ScriptResult::Value(Value::Null));

    let report = run(
        &runtime,
        call("change_password", json!(["a@b.c", "s3cret!"])),
    )
    .await;
    assert_answer(&report, ScriptResult::Value(json!(true)));
    let report = run(
        &runtime,
        call("changePassword", json!(["a@b.c", "s3cret!"])),
    )
    .await;
    assert_answer(&report, ScriptResult::Value(json!(false)));

    let report = run(&runtime, call("create", json!([{"email": "nope"}]))).await;
    assert_answer(
        &report,
        ScriptResult::Error {
            name: "ValidationError".into(),
            message: "That is not an email.".into(),
        },
    );
    let report = run(&runtime, call("create", json!([{"email": "a@b.c"}]))).await;
    assert_answer(
        &report,
        ScriptResult::Error {
            name: "ValidationError".into(),
            message: "user_exists".into(),
        },
    );
    let report = run(&runtime, call("verify", json!(["a@b.c"]))).await;
    assert_answer(
        &report,
        ScriptResult::Error {
            name: "UnauthorizedError".into(),
            message: "blocked".into(),
        },
    );
    let report = run(&runtime, call("remove", json!(["u1"]))).await;
    assert_answer(
        &report,
        ScriptResult::Error {
            name: "Error".into(),
            message: "plain string u1".into(),
        },
    );
    let report = run(&runtime, call("globals", json!([]))).await;
    assert_answer(
        &report,
        ScriptResult::Value(json!([
            "undefined",
            "undefined",
            "undefined",
            "undefined",
            "function",
            "custom",
            "c"
        ])),
    );

    // Throwing (synchronously, or from an async function) before calling back fails.
    let report = run(&runtime, call("login", json!(["a@b.c", "pw"]))).await;
    assert!(
        matches!(&report.outcome, ActionOutcome::Failed { message } if message.starts_with("TypeError: sync failure") && message.contains("script.js")),
        "{:?}",
        report.outcome
    );
    assert_eq!(report.script_result, None);
    let report = run(&runtime, call("getUser", json!(["a@b.c"]))).await;
    assert!(
        matches!(&report.outcome, ActionOutcome::Failed { message } if message.starts_with("Error: async failure")),
        "{:?}",
        report.outcome
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_that_never_call_back_fail_and_loops_time_out() {
    let runtime = QuickJsRuntime::new(2);
    let code = r#"
        function get_user(email, callback) { Promise.resolve().then(() => console.log("forgot")); }
        function login(email, password, callback) { while (true) {} }
    "#;
    let report = run(&runtime, script(code, "get_user", json!(["a@b.c"]), &[])).await;
    assert_eq!(
        report.outcome,
        ActionOutcome::Failed {
            message: "the script never called its callback".into()
        }
    );
    assert_eq!(report.script_result, None);
    assert_eq!(report.logs, vec!["forgot"]);

    let mut exec = script(code, "login", json!(["a@b.c", "pw"]), &[]);
    exec.limits.timeout = Duration::from_millis(200);
    let started = Instant::now();
    let report = run(&runtime, exec).await;
    assert_eq!(report.outcome, ActionOutcome::TimedOut);
    assert_eq!(report.script_result, None);
    assert!(started.elapsed() < Duration::from_secs(2));

    // Top-level code runs too, under the same limits.
    let mut exec = script("while (true) {}", "login", json!([]), &[]);
    exec.limits.timeout = Duration::from_millis(200);
    assert_eq!(run(&runtime, exec).await.outcome, ActionOutcome::TimedOut);
    let mut exec = script(
        "let a = []; while (true) a.push(new Array(1e5).fill(1)); function login(e, p, cb) { cb(); }",
        "login",
        json!([]),
        &[],
    );
    exec.limits.memory_bytes = 16 * 1024 * 1024;
    assert_eq!(
        run(&runtime, exec).await.outcome,
        ActionOutcome::OutOfMemory
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn script_configuration_is_visible_but_redacted_from_logs() {
    let runtime = QuickJsRuntime::new(1);
    let code = r#"
        function login(email, password, callback) {
          console.log("connecting with", configuration.DB_PASSWORD, "to", configuration.DB_HOST);
          callback(null, { user_id: email, password_length: configuration.DB_PASSWORD.length, host: configuration.DB_HOST });
        }
    "#;
    let config = [
        ("DB_PASSWORD", "pg-pass-998877"),
        ("DB_HOST", "db.internal"),
    ];
    let report = run(
        &runtime,
        script(code, "login", json!(["u1", "pw"]), &config),
    )
    .await;
    assert_answer(
        &report,
        ScriptResult::Value(json!({"user_id": "u1", "password_length": 14, "host": "db.internal"})),
    );
    assert_eq!(
        report.logs,
        vec![format!("connecting with {REDACTED} to {REDACTED}")]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_without_the_function_crash() {
    let runtime = QuickJsRuntime::new(2);
    let code =
        "function login(email, password, callback) { callback(null, {}); }\nvar get_user = 42;";
    for name in ["create", "get_user", "delete", "fetch", "toString", "a-b"] {
        let report = run(&runtime, script(code, name, json!([]), &[])).await;
        assert_eq!(
            report.outcome,
            ActionOutcome::Crashed {
                message: format!("the script has no {name} function")
            },
            "{name}"
        );
        assert_eq!(report.script_result, None);
    }
    let report = run(&runtime, script("function login(", "login", json!([]), &[])).await;
    assert!(
        matches!(&report.outcome, ActionOutcome::Crashed { message } if message.contains("SyntaxError")),
        "{:?}",
        report.outcome
    );
}
