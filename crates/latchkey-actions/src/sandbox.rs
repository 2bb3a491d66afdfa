//! One execution, start to finish, on the calling (blocking) thread: a fresh QuickJS runtime
//! and context with memory, stack and time limits, the prelude, the action's module, and the
//! job-queue loop that drives its handler's promise.
//!
//! Nothing here holds a JavaScript value beyond the `Context::with` call that created it; the
//! functions given to the prelude capture only Rust data (`Rc<RefCell<…>>`). QuickJS checks
//! that no object is still referenced when its runtime is freed, and would abort the process
//! otherwise, so that discipline is what keeps a bad action from taking the
//! server down.

use crate::cache::{self, ActionCache, CacheOp};
use crate::deadline::Deadline;
use crate::fetch::Fetcher;
use crate::host::ManagementBridge;
use crate::logs::{self, LogBuffer};
use crate::prelude;
use crate::records::{self, Recorded};
use crate::script::{self, ScriptInputs};
use latchkey_core::actions::{
    ActionCommand, ActionExecution, ActionOutcome, ActionReport, Entry, HostCall, ScriptResult,
};
use rquickjs::context::EvalOptions;
use rquickjs::promise::PromiseState;
use rquickjs::{Coerced, Context, Ctx, Exception, FromJs, Function, Object, Promise, Runtime};
use secrecy::ExposeSecret;
use serde_json::{Map, Value};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;
use tokio::runtime::Handle;
use tokio::sync::mpsc;

/// QuickJS's own stack limit; well under the 2 MiB of tokio's blocking threads.
const MAX_STACK_BYTES: usize = 512 * 1024;
/// Handler name for a post-login action resumed through `/continue`.
const CONTINUE_HANDLER: &str = "onContinuePostLogin";

thread_local! {
    /// Set once this thread has run an execution: the first one pays for page faults, caches
    /// and QuickJS's first allocations.
    static WARM: Cell<bool> = const { Cell::new(false) };
}

/// What an execution shares with the rest of the runtime.
pub struct Env {
    pub handle: Handle,
    pub cache: Arc<ActionCache>,
    pub http: Option<reqwest::Client>,
}

/// What the action's calls produce while it runs, kept on the Rust side as they happen, so a
/// failing, timed-out or out-of-memory action still reports what it did before that.
struct Effects {
    logs: LogBuffer,
    commands: Vec<ActionCommand>,
    cache_ops: Vec<CacheOp>,
}

impl Effects {
    fn new(max_log_bytes: usize) -> Self {
        Self {
            logs: LogBuffer::new(max_log_bytes),
            commands: Vec::new(),
            cache_ops: Vec::new(),
        }
    }

    fn empty() -> Self {
        Self::new(0)
    }
}

/// How the JavaScript side ended, before classification.
pub enum Settled {
    /// The promise resolved; for a script, with the JSON of its callback's answer.
    Completed(Option<String>),
    /// The handler (or module) threw or rejected.
    Rejected {
        message: String,
        /// The prelude's formatter failed: it catches everything itself, so this means there
        /// was no memory left to build a string.
        unformatted: bool,
        /// `throw null` — what QuickJS throws when it cannot even allocate the error.
        null_reason: bool,
    },
    /// The job queue ran dry with the handler's promise still pending.
    Pending,
    /// The deadline passed while the handler was still running.
    Interrupted,
    /// The module did not compile, or the sandbox could not be set up.
    Crashed(String),
    /// The script has no function of the requested name.
    Missing(String),
}

/// Runs `execution` to the end. Never panics; every failure becomes an [`ActionOutcome`].
pub fn execute(execution: ActionExecution, host: mpsc::Sender<HostCall>, env: Env) -> ActionReport {
    let started = Instant::now();
    let cold = !WARM.with(|warm| warm.replace(true));
    let deadline = Deadline::new(started + execution.limits.timeout);
    let effects = Rc::new(RefCell::new(Effects::new(execution.limits.max_log_bytes)));

    let (outcome, script_result) = run(&execution, &effects, host, &env, &deadline);
    let (outcome, script_result) = if deadline.timed_out() {
        (ActionOutcome::TimedOut, None)
    } else {
        (outcome, script_result)
    };

    // The runtime (and with it every host function holding a clone) is gone by now.
    let Effects {
        logs,
        commands,
        cache_ops,
    } = match Rc::try_unwrap(effects) {
        Ok(cell) => cell.into_inner(),
        Err(shared) => shared
            .try_borrow_mut()
            .map(|mut e| std::mem::replace(&mut *e, Effects::empty()))
            .unwrap_or_else(|_| Effects::empty()),
    };
    env.cache
        .apply(&execution.action_id, cache_ops, cache::now_ms());

    let secrets: Vec<&str> = execution
        .secrets
        .iter()
        .map(|(_, value)| value.expose_secret())
        .collect();
    let outcome = match outcome {
        ActionOutcome::Failed { message } => ActionOutcome::Failed {
            message: logs::redact(&message, &secrets),
        },
        ActionOutcome::Crashed { message } => ActionOutcome::Crashed {
            message: logs::redact(&message, &secrets),
        },
        other => other,
    };
    ActionReport {
        outcome,
        commands,
        logs: logs.finish(&secrets),
        duration: started.elapsed(),
        cold,
        script_result,
    }
}

/// What to run: an action's module, or a custom-database script's function.
enum Program {
    Action(Inputs),
    Script(ScriptInputs),
}

/// The outcome, and for a script that completed, its callback's answer.
fn run(
    execution: &ActionExecution,
    effects: &Rc<RefCell<Effects>>,
    host: mpsc::Sender<HostCall>,
    env: &Env,
    deadline: &Deadline,
) -> (ActionOutcome, Option<ScriptResult>) {
    let crashed = |message: String| (ActionOutcome::Crashed { message }, None);
    let limit = execution.limits.memory_bytes;
    // Declared before the context so it is dropped after it.
    let runtime = match Runtime::new() {
        Ok(rt) => rt,
        Err(err) => return crashed(format!("could not start the JavaScript runtime: {err}")),
    };
    runtime.set_memory_limit(limit);
    runtime.set_max_stack_size(MAX_STACK_BYTES);
    let interrupt = deadline.clone();
    runtime.set_interrupt_handler(Some(Box::new(move || interrupt.expired())));
    prelude::prepare(&runtime);
    let context = match Context::full(&runtime) {
        Ok(ctx) => ctx,
        Err(rquickjs::Error::Allocation) => return (ActionOutcome::OutOfMemory, None),
        Err(err) => return crashed(format!("could not create the JavaScript context: {err}")),
    };

    let bridge = ManagementBridge::new(host, env.handle.clone(), deadline.clone());
    let fetcher = Fetcher::new(
        env.http.clone(),
        env.handle.clone(),
        execution.limits.fetch_allowed_hosts.clone(),
        execution.limits.fetch_timeout,
        deadline.clone(),
    );
    let program = match &execution.script {
        None => Inputs::new(execution, &env.cache).map(Program::Action),
        Some(call) => ScriptInputs::new(execution, call).map(Program::Script),
    };
    let program = match program {
        Ok(program) => program,
        Err(message) => return crashed(message),
    };

    let settled = context.with(|ctx| drive(&ctx, &program, effects, bridge, fetcher, deadline));
    match program {
        Program::Action(_) => (
            classify(settled, "the action's promise never settled"),
            None,
        ),
        Program::Script(_) => match settled {
            Settled::Completed(answer) => match answer.as_deref().and_then(script::answer) {
                Some(result) => (ActionOutcome::Completed, Some(result)),
                None => crashed("the script's answer could not be read".into()),
            },
            other => (
                classify(other, "the script never called its callback"),
                None,
            ),
        },
    }
}

/// Turns the JavaScript ending into the reported outcome. Out-of-memory shows up as an
/// `InternalError: out of memory` (or `string too long`) thrown inside the action, which the
/// action may have caught and rethrown, so it is searched for anywhere in the message; or, when
/// even that error could not be allocated, as `null` thrown (QuickJS's fallback; by the time
/// the promise settles the action's garbage may already be freed, so the heap size proves
/// nothing). An action that literally does `throw null` is reported as out of memory too: rare,
/// and harmless.
/// `pending` is the failure message for a promise that can never settle.
fn classify(settled: Settled, pending: &str) -> ActionOutcome {
    match settled {
        Settled::Completed(_) => ActionOutcome::Completed,
        Settled::Interrupted => ActionOutcome::TimedOut,
        Settled::Pending => ActionOutcome::Failed {
            message: pending.into(),
        },
        Settled::Missing(message) => ActionOutcome::Crashed { message },
        Settled::Rejected {
            message,
            unformatted,
            null_reason,
        } => {
            if is_out_of_memory(&message) || unformatted || null_reason {
                ActionOutcome::OutOfMemory
            } else {
                ActionOutcome::Failed { message }
            }
        }
        Settled::Crashed(message) => {
            if is_out_of_memory(&message) {
                ActionOutcome::OutOfMemory
            } else {
                ActionOutcome::Crashed { message }
            }
        }
    }
}

/// `string too long` counts too: QuickJS concatenates with ropes, so `s += s` reaches the
/// engine's 2^30-character string limit without touching the heap limit; it is the same kind
/// of runaway allocation (Node reports it as "Invalid string length").
fn is_out_of_memory(message: &str) -> bool {
    message.contains("InternalError: out of memory")
        || message.contains("InternalError: string too long")
        || message.contains("Allocation failed while creating object")
}

/// The strings handed to the prelude's `start`.
struct Inputs {
    module_source: String,
    event: String,
    secrets: String,
    cache: String,
    trigger: &'static str,
    handler: &'static str,
}

impl Inputs {
    fn new(execution: &ActionExecution, cache: &ActionCache) -> Result<Self, String> {
        let event = serde_json::to_string(&execution.event)
            .map_err(|e| format!("the event could not be serialized: {e}"))?;
        let secrets: Map<String, Value> = execution
            .secrets
            .iter()
            .map(|(name, value)| (name.clone(), Value::String(value.expose_secret().into())))
            .collect();
        let handler = match execution.entry {
            Entry::Continue => CONTINUE_HANDLER,
            Entry::Execute => execution.trigger.handler(),
        };
        Ok(Self {
            // CommonJS wrapper, as Node's; the code starts on the wrapper's first line so error
            // positions match the action's own line numbers.
            module_source: format!(
                "(function (exports, module, require) {{{}\n}})",
                execution.code
            ),
            event,
            secrets: Value::Object(secrets).to_string(),
            cache: cache
                .snapshot(&execution.action_id, cache::now_ms())
                .to_string(),
            trigger: execution.trigger.id(),
            handler,
        })
    }
}

pub fn eval_options(filename: &str) -> EvalOptions {
    let mut options = EvalOptions::default();
    options.global = true;
    // CommonJS modules are sloppy-mode code in Node too.
    options.strict = false;
    options.filename = Some(filename.to_owned());
    options
}

/// Everything that touches JavaScript values, inside one `Context::with`.
fn drive<'js>(
    ctx: &Ctx<'js>,
    program: &Program,
    effects: &Rc<RefCell<Effects>>,
    bridge: ManagementBridge,
    fetcher: Fetcher,
    deadline: &Deadline,
) -> Settled {
    let kit = match install(ctx, effects, bridge, fetcher) {
        Ok(kit) => kit,
        Err(err) => {
            return Settled::Crashed(format!(
                "the actions prelude failed: {}",
                error_text(ctx, err)
            ));
        }
    };
    let launched = match program {
        Program::Action(inputs) => launch_action(ctx, &kit.start, inputs),
        Program::Script(inputs) => script::launch(ctx, &kit.start_script, inputs),
    };
    let promise = match launched {
        Ok(promise) => promise,
        Err(settled) => return settled,
    };
    let describe = kit.describe;

    // Drive the job queue until the handler's promise settles. Host calls are synchronous, so
    // an empty queue with the promise still pending means nothing can ever settle it.
    loop {
        if promise.state() != PromiseState::Pending {
            break;
        }
        if deadline.timed_out() || deadline.expired() {
            return Settled::Interrupted;
        }
        if !ctx.execute_pending_job() {
            return Settled::Pending;
        }
    }
    if promise.state() == PromiseState::Resolved {
        // Actions resolve with `undefined`, scripts with their answer's JSON.
        let answer = match promise.result::<Option<String>>() {
            Some(Ok(answer)) => answer,
            _ => None,
        };
        return Settled::Completed(answer);
    }
    let reason = match promise.result::<rquickjs::Value<'js>>() {
        Some(Err(rquickjs::Error::Exception)) => ctx.catch(),
        _ => rquickjs::Value::new_undefined(ctx.clone()),
    };
    let null_reason = reason.is_null();
    match describe.call::<_, Option<String>>((reason.clone(),)) {
        Ok(Some(message)) => Settled::Rejected {
            message,
            unformatted: false,
            null_reason,
        },
        failed => {
            if failed.is_err() {
                // Clear whatever the formatter threw.
                let _ = ctx.catch();
            }
            Settled::Rejected {
                message: value_text(ctx, reason),
                unformatted: true,
                null_reason,
            }
        }
    }
}

/// Loads the action's module and calls its handler through the prelude's `start`.
fn launch_action<'js>(
    ctx: &Ctx<'js>,
    start: &Function<'js>,
    inputs: &Inputs,
) -> Result<Promise<'js>, Settled> {
    let module: Function<'js> =
        match ctx.eval_with_options(inputs.module_source.as_str(), eval_options("action.js")) {
            Ok(f) => f,
            Err(err) => return Err(Settled::Crashed(error_text(ctx, err))),
        };
    start
        .call((
            module,
            inputs.event.as_str(),
            inputs.secrets.as_str(),
            inputs.trigger,
            inputs.handler,
            inputs.cache.as_str(),
        ))
        .map_err(|err| Settled::Crashed(error_text(ctx, err)))
}

/// The prelude's entry points.
struct Kit<'js> {
    start: Function<'js>,
    start_script: Function<'js>,
    describe: Function<'js>,
}

/// Gives the prelude its host functions; returns its entry points.
fn install<'js>(
    ctx: &Ctx<'js>,
    effects: &Rc<RefCell<Effects>>,
    bridge: ManagementBridge,
    fetcher: Fetcher,
) -> rquickjs::Result<Kit<'js>> {
    let host = Object::new(ctx.clone())?;

    let sink = Rc::clone(effects);
    host.set(
        "log",
        Function::new(ctx.clone(), move |line: String| {
            if let Ok(mut effects) = sink.try_borrow_mut() {
                effects.logs.push(line);
            }
        })?,
    )?;

    let sink = Rc::clone(effects);
    host.set(
        "record",
        Function::new(ctx.clone(), move |json: String| {
            let Some(recorded) = records::parse(&json) else {
                return;
            };
            if let Ok(mut effects) = sink.try_borrow_mut() {
                match recorded {
                    Recorded::Command(command) => effects.commands.push(command),
                    Recorded::Cache(op) => effects.cache_ops.push(op),
                }
            }
        })?,
    )?;

    host.set(
        "call",
        Function::new(ctx.clone(), move |json: String| bridge.call(&json))?,
    )?;
    host.set(
        "fetch",
        Function::new(ctx.clone(), move |json: String| fetcher.fetch(&json))?,
    )?;

    let prelude = prelude::load(ctx)?;
    let kit: Object<'js> = prelude.call((host,))?;
    Ok(Kit {
        start: kit.get("start")?,
        start_script: kit.get("startScript")?,
        describe: kit.get("describe")?,
    })
}

/// The text of an rquickjs error, taking the pending exception if it is one.
pub fn error_text(ctx: &Ctx<'_>, err: rquickjs::Error) -> String {
    if let rquickjs::Error::Exception = err {
        value_text(ctx, ctx.catch())
    } else {
        err.to_string()
    }
}

/// `Name: message` plus the stack for errors, `String(value)` for anything else.
fn value_text<'js>(ctx: &Ctx<'js>, value: rquickjs::Value<'js>) -> String {
    if let Some(exception) = value.as_exception() {
        let head = match Coerced::<String>::from_js(ctx, value.clone()) {
            Ok(Coerced(text)) => text,
            Err(_) => {
                let _ = ctx.catch();
                exception.message().unwrap_or_else(|| "Error".into())
            }
        };
        return with_stack(head, exception);
    }
    match Coerced::<String>::from_js(ctx, value) {
        Ok(Coerced(text)) => text,
        Err(_) => {
            let _ = ctx.catch();
            "an error that could not be converted to a string".into()
        }
    }
}

fn with_stack(head: String, exception: &Exception<'_>) -> String {
    match exception.stack() {
        Some(stack) if !stack.trim().is_empty() => {
            format!("{head}\n{}", stack.trim_end())
        }
        _ => head,
    }
}
