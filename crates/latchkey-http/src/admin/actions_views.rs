//! The Actions section's view models: one struct per template in `templates/console/actions/`,
//! holding plain values. Templates escape every value.

use askama::Template;

/// One action bound to a trigger, in the trigger's order.
pub(super) struct BoundItem<'a> {
    pub(super) path: String,
    pub(super) name: &'a str,
    pub(super) action_id: &'a str,
    /// "Version N" or "not deployed".
    pub(super) version: String,
    /// A draft saved since the deploy.
    pub(super) changes: bool,
}

/// A trigger's panel: its bound actions (reorder, remove) and the "add" form.
pub(super) struct TriggerPanel<'a> {
    pub(super) id: &'static str,
    pub(super) label: &'static str,
    pub(super) hint: &'static str,
    pub(super) bound: Vec<BoundItem<'a>>,
    /// Deployed actions for this trigger not bound yet: (id, name).
    pub(super) candidates: Vec<(&'a str, &'a str)>,
    /// The "add" select's id, and its error's.
    pub(super) select_id: &'static str,
    pub(super) error_id: String,
    pub(super) error: Option<&'a str>,
}

/// One action in "All actions".
pub(super) struct ActionRow<'a> {
    pub(super) path: String,
    pub(super) name: &'a str,
    pub(super) triggers: String,
    pub(super) deployed: String,
    pub(super) changes: bool,
    pub(super) updated: String,
}

/// A trigger in the "New action" form's select.
pub(super) struct TriggerOption {
    pub(super) id: &'static str,
    pub(super) label: &'static str,
    pub(super) selected: bool,
}

/// The overview: triggers with their bindings, the actions, "New action".
#[derive(Template)]
#[template(path = "console/actions/overview.html")]
pub(super) struct Overview<'a> {
    pub(super) csrf: String,
    pub(super) triggers: Vec<TriggerPanel<'a>>,
    pub(super) actions: Vec<ActionRow<'a>>,
    pub(super) new_name: &'a str,
    pub(super) name_error: Option<&'a str>,
    pub(super) options: Vec<TriggerOption>,
    pub(super) trigger_error: Option<&'a str>,
}

/// What a "Test" run reported (`test_action`'s `payload`).
pub(super) struct TestReport {
    pub(super) status: String,
    pub(super) error: Option<String>,
    pub(super) logs: String,
    /// What the action asked for, as pretty JSON; `None` when it asked for nothing.
    pub(super) commands: Option<String>,
    /// Milliseconds, one decimal.
    pub(super) duration: Option<String>,
}

pub(super) struct SecretRow<'a> {
    pub(super) name: &'a str,
    pub(super) updated: String,
}

pub(super) struct VersionRow {
    pub(super) number: i64,
    pub(super) created: String,
    /// The deployed version.
    pub(super) current: bool,
}

/// One action: code, test, secrets, versions, delete.
#[derive(Template)]
#[template(path = "console/actions/edit.html")]
pub(super) struct Edit<'a> {
    pub(super) csrf: String,
    pub(super) path: String,
    pub(super) name: &'a str,
    pub(super) triggers: String,
    pub(super) deployed: String,
    pub(super) changes: bool,
    /// The ids of the triggers the action is bound to.
    pub(super) bound: Vec<&'static str>,
    pub(super) runtime: &'a str,
    pub(super) created: String,
    pub(super) updated: String,
    /// The handler the code must export.
    pub(super) handler: &'static str,
    pub(super) code: &'a str,
    pub(super) code_error: Option<&'a str>,
    pub(super) event: &'a str,
    pub(super) event_error: Option<&'a str>,
    pub(super) test: Option<&'a TestReport>,
    pub(super) secrets: Vec<SecretRow<'a>>,
    pub(super) secret_name: &'a str,
    pub(super) secret_name_error: Option<&'a str>,
    pub(super) secret_value_error: Option<&'a str>,
    pub(super) versions: Vec<VersionRow>,
    pub(super) confirm: &'a str,
    pub(super) confirm_error: Option<&'a str>,
}

/// No such action, or no such trigger (`what`).
#[derive(Template)]
#[template(path = "console/actions/missing.html")]
pub(super) struct Missing<'a> {
    pub(super) what: &'a str,
}
