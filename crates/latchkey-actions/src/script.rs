//! Custom-database scripts (Auth0's "Custom Database" action scripts): instead of a CommonJS
//! module with an `onExecute…` export, the code declares callback-style functions
//! (`function login(email, password, callback) {…}`), and one of them is called with the
//! given arguments plus a Node-style callback. The first call of the callback is the answer.
//!
//! The sandbox is the same as for actions (fresh runtime, deadline, memory limit, `console`,
//! `fetch`, `require("auth0")`); the differences are the globals the prelude's `startScript`
//! installs (`configuration`, `WrongUsernameOrPasswordError`, `ValidationError`,
//! `UnauthorizedError`) and how the ending is read.
//!
//! The script is evaluated inside a function whose last statement returns the requested
//! function (`return typeof login === "function" ? login : undefined;`), so declarations of any
//! kind (`function login`, `const login = …`) are found, and nothing the script declares
//! becomes a global.

use crate::sandbox::{self, Settled};
use latchkey_core::actions::{ActionExecution, ScriptCall, ScriptResult};
use rquickjs::{Ctx, Function, Promise};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{Map, Value};

/// Shown in stacks and syntax errors.
const FILENAME: &str = "script.js";

/// Words that cannot be used as a binding name; a function "named" one of them cannot exist.
const RESERVED: &[&str] = &[
    "arguments",
    "await",
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "debugger",
    "default",
    "delete",
    "do",
    "else",
    "enum",
    "eval",
    "export",
    "extends",
    "false",
    "finally",
    "for",
    "function",
    "if",
    "implements",
    "import",
    "in",
    "instanceof",
    "interface",
    "let",
    "new",
    "null",
    "package",
    "private",
    "protected",
    "public",
    "return",
    "static",
    "super",
    "switch",
    "this",
    "throw",
    "true",
    "try",
    "typeof",
    "var",
    "void",
    "while",
    "with",
    "yield",
];

/// The strings handed to the prelude's `startScript`.
pub struct ScriptInputs {
    /// The script wrapped in a function returning the requested function.
    source: String,
    /// `configuration`, from the execution's secrets.
    configuration: String,
    function: String,
    args: String,
}

impl ScriptInputs {
    pub fn new(execution: &ActionExecution, call: &ScriptCall) -> Result<Self, String> {
        let configuration: Map<String, Value> = execution
            .secrets
            .iter()
            .map(|(name, value)| (name.clone(), Value::String(value.expose_secret().into())))
            .collect();
        let args = serde_json::to_string(&call.args)
            .map_err(|e| format!("the script's arguments could not be serialized: {e}"))?;
        let lookup = if is_binding_name(&call.function) {
            format!(
                "typeof {name} === \"function\" ? {name} : undefined",
                name = call.function
            )
        } else {
            "undefined".to_owned()
        };
        Ok(Self {
            // Like the CommonJS wrapper: the code starts on the first line, so error positions
            // match the script's own line numbers.
            source: format!("(function () {{{}\n;return {lookup};\n}})", execution.code),
            configuration: Value::Object(configuration).to_string(),
            function: call.function.clone(),
            args,
        })
    }
}

/// Whether `name` can be written as an identifier reference (ASCII identifiers only: Auth0's
/// script functions are `login`, `getByEmail`, `changePassword`, …).
fn is_binding_name(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_' || first == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        && !RESERVED.contains(&name)
}

/// Evaluates the script and calls its function; the promise settles with the callback's
/// answer (see the prelude's `startScript`).
pub fn launch<'js>(
    ctx: &Ctx<'js>,
    start_script: &Function<'js>,
    inputs: &ScriptInputs,
) -> Result<Promise<'js>, Settled> {
    let wrapper: Function<'js> =
        match ctx.eval_with_options(inputs.source.as_str(), sandbox::eval_options(FILENAME)) {
            Ok(f) => f,
            Err(err) => return Err(Settled::Crashed(sandbox::error_text(ctx, err))),
        };
    let started: Option<Promise<'js>> = match start_script.call((
        wrapper,
        inputs.configuration.as_str(),
        inputs.function.as_str(),
        inputs.args.as_str(),
    )) {
        Ok(p) => p,
        Err(err) => return Err(Settled::Crashed(sandbox::error_text(ctx, err))),
    };
    started.ok_or_else(|| Settled::Missing(missing_function(&inputs.function)))
}

pub fn missing_function(name: &str) -> String {
    format!("the script has no {name} function")
}

/// The JSON `startScript`'s promise resolves with.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Answer {
    Value(Value),
    Error { name: String, message: String },
}

/// Reads the callback's answer; `None` for anything malformed (only the prelude produces it).
pub fn answer(json: &str) -> Option<ScriptResult> {
    match serde_json::from_str::<Answer>(json) {
        Ok(Answer::Value(value)) => Some(ScriptResult::Value(value)),
        Ok(Answer::Error { name, message }) => Some(ScriptResult::Error { name, message }),
        Err(err) => {
            tracing::warn!(%err, "ignoring a malformed script answer from the actions prelude");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn binding_names() {
        assert!(is_binding_name("login"));
        assert!(is_binding_name("get_user"));
        assert!(is_binding_name("$x1"));
        assert!(!is_binding_name("delete"));
        assert!(!is_binding_name("1x"));
        assert!(!is_binding_name("a-b"));
        assert!(!is_binding_name("x; y"));
        assert!(!is_binding_name(""));
    }

    #[test]
    fn parses_answers() {
        assert_eq!(
            answer(r#"{"value":{"a":1}}"#),
            Some(ScriptResult::Value(json!({"a": 1})))
        );
        assert_eq!(
            answer(r#"{"value":null}"#),
            Some(ScriptResult::Value(Value::Null))
        );
        assert_eq!(
            answer(r#"{"error":{"name":"ValidationError","message":"m"}}"#),
            Some(ScriptResult::Error {
                name: "ValidationError".into(),
                message: "m".into()
            })
        );
        assert_eq!(answer("{}"), None);
    }
}
