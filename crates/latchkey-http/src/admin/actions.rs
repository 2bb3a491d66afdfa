//! Actions: the triggers with their bound actions in order (reorder, remove, bind a deployed
//! action), the list of actions and a "New action" form; each action's page edits its draft
//! code, its secrets (names only: a value is write-only), deploys, runs the draft once with a
//! sample event ("Test") and deletes. Every form calls the service the Management API's
//! `/actions/*` endpoints call, with the administrator as the caller.

use super::actions_views::{
    self as views, ActionRow, BoundItem, SecretRow, TestReport, TriggerOption, TriggerPanel,
    VersionRow,
};
use super::{Console, ConsoleForm, Notice, done};
use crate::AppState;
use crate::extract::Meta;
use crate::web::failed;
use crate::web::url_component;
use axum::Router;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use latchkey_core::ServiceError;
use latchkey_core::actions::Trigger;
use latchkey_core::domain::{Action, ActionBinding, ActionVersion, ParseError};
use latchkey_core::services::{ActionPatch, BindingRef, NewAction, SecretInput};
use latchkey_core::time::Timestamp;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/actions", get(overview).post(create))
        .route("/admin/actions/bindings/{trigger}", post(bind))
        .route("/admin/actions/{id}", get(edit).post(save))
        .route("/admin/actions/{id}/secrets", post(set_secret))
        .route("/admin/actions/{id}/secrets/remove", post(remove_secret))
        .route("/admin/actions/{id}/test", post(test))
        .route("/admin/actions/{id}/delete", post(delete))
}

const SECTION: &str = "/admin/actions";

fn action_path(id: &str) -> String {
    format!("{SECTION}/{}", url_component(id))
}

/// Auth0's names for the triggers, and when each runs.
fn trigger_label(t: Trigger) -> &'static str {
    match t {
        Trigger::PostLogin => "Login / Post Login",
        Trigger::PostChangePassword => "Post Change Password",
        Trigger::PasswordResetPostChallenge => "Password Reset / Post Challenge",
    }
}

fn trigger_hint(t: Trigger) -> &'static str {
    match t {
        Trigger::PostLogin => {
            "Runs after a user signs in, before the application gets its tokens: it can deny the login, add claims, redirect the user or ask for a second factor."
        }
        Trigger::PostChangePassword => {
            "Runs after a user's password changed (reset link, Change Password, Management API)."
        }
        Trigger::PasswordResetPostChallenge => {
            "Runs after a user opened a password-reset link, before they choose the new password: it can deny the reset or ask for a second factor."
        }
    }
}

/// The code a new action starts from: the trigger's handler, empty.
fn template(trigger: Trigger) -> String {
    let (flow, api, what) = match trigger {
        Trigger::PostLogin => ("PostLogin", "PostLoginAPI", "the login"),
        Trigger::PostChangePassword => ("PostChangePassword", "PostChangePasswordAPI", "the flow"),
        Trigger::PasswordResetPostChallenge => (
            "Password Reset / Post Challenge",
            "PostChallengeAPI",
            "the reset",
        ),
    };
    let mut code = format!(
        "/**\n * Handler that will be called during the execution of a {flow} flow.\n *\n * @param {{Event}} event - Details about the user and the context of the request.\n * @param {{{api}}} api - Interface whose methods can be used to change the behavior of {what}.\n */\nexports.{handler} = async (event, api) => {{\n}};\n",
        handler = trigger.handler(),
    );
    if trigger == Trigger::PostLogin {
        code.push_str(
            "\n/**\n * Handler that will be invoked when this action is resuming after an external redirect. If your\n * onExecutePostLogin function does not perform a redirect, this function can be safely ignored.\n *\n * @param {Event} event - Details about the user and the context in which they are logging in.\n * @param {PostLoginAPI} api - Interface whose methods can be used to change the behavior of the login.\n */\n// exports.onContinuePostLogin = async (event, api) => {\n// };\n",
        );
    }
    code
}

/// The event the Test form starts with: the shape the trigger's flow builds, with sample values.
fn sample_event(trigger: Trigger, issuer: &str) -> String {
    let host = url::Url::parse(issuer)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "localhost".into());
    let now = Timestamp::now().to_iso();
    let user = json!({
        "user_id": "auth0|5f7c8ec7c33c6c004bbafe82",
        "email": "j+smith@example.com",
        "email_verified": true,
        "name": "J Smith",
        "nickname": "j+smith",
        "picture": "https://example.com/avatar.png",
        "created_at": now,
        "updated_at": now,
        "app_metadata": {},
        "user_metadata": {},
        "identities": [{"connection": "Username-Password-Authentication", "provider": "auth0",
                        "user_id": "5f7c8ec7c33c6c004bbafe82", "isSocial": false}],
    });
    let client = json!({"client_id": "sample-client-id", "name": "My application", "metadata": {}});
    let connection = json!({"id": "con_sample0000000000", "name": "Username-Password-Authentication",
                            "strategy": "auth0", "metadata": {}});
    let request = |method: &str| {
        json!({"ip": "203.0.113.10", "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
               "hostname": host, "geoip": {}, "language": "en", "method": method})
    };
    let event = match trigger {
        Trigger::PostLogin => json!({
            "transaction": {
                "requested_scopes": ["openid", "profile", "email"],
                "protocol": "oidc-basic-profile",
                "redirect_uri": "https://app.example.com/callback",
                "state": "sample-state",
                "prompt": [],
                "acr_values": [],
                "ui_locales": [],
                "locale": "en",
                "response_mode": "query",
                "response_type": ["code"],
            },
            "request": request("GET"),
            "user": user,
            "client": client,
            "connection": connection,
            "authentication": {"methods": [{"name": "pwd", "timestamp": now}]},
            "stats": {"logins_count": 1},
            "tenant": {"id": host},
            "authorization": {"roles": []},
        }),
        Trigger::PostChangePassword => json!({
            "user": {"user_id": user["user_id"], "email": user["email"],
                     "email_verified": true, "last_password_reset": now, "phone_verified": false},
            "connection": connection,
            "request": request("POST"),
            "tenant": {"id": host},
        }),
        Trigger::PasswordResetPostChallenge => json!({
            "user": user,
            "client": client,
            "authentication": {"methods": [{"name": "email", "timestamp": now}]},
            "request": request("GET"),
            "tenant": {"id": host},
            "transaction": {"locale": "en"},
        }),
    };
    serde_json::to_string_pretty(&event).unwrap_or_else(|_| "{}".into())
}

#[derive(Deserialize, Default)]
struct DoneQuery {
    done: Option<String>,
}

fn notice_text(code: &str) -> Option<&'static str> {
    Some(match code {
        "created" => "Action created. Write its code, save the draft, then deploy it.",
        "saved" => "Draft saved. The trigger keeps running the deployed version until you deploy.",
        "deployed" => "Deployed. Every binding of this action runs the new version from now on.",
        "secret-saved" => {
            "Secret saved. The deployed version keeps the secrets it was deployed with until you deploy again."
        }
        "secret-removed" => {
            "Secret removed from the draft. The deployed version keeps it until you deploy again."
        }
        "deleted" => "Action deleted.",
        "bound" => "Action bound: the trigger runs it from now on.",
        "moved" => "Order saved: the trigger runs its actions in this order.",
        "unbound" => "Binding removed: the trigger no longer runs that action.",
        _ => return None,
    })
}

/// A refusal shown next to the field it is about (`field` is the input's id).
struct FieldError {
    field: &'static str,
    message: String,
}

fn error_for<'a>(errors: &'a [FieldError], field: &str) -> Option<&'a str> {
    errors
        .iter()
        .find(|f| f.field == field)
        .map(|f| f.message.as_str())
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn parse_message(p: &ParseError) -> String {
    match p.field {
        "name" => format!("The name {}.", p.reason),
        "code" => format!("The code {}.", p.reason),
        "supported_triggers" => "Choose a trigger.".to_owned(),
        _ => format!("{}.", capitalized(&p.reason)),
    }
}

/// A refusal the page shows: the form field it is about (if any) and the message; `None` for
/// our own failures.
fn refusal(err: &ServiceError) -> Option<(Option<&'static str>, String)> {
    match err {
        ServiceError::Invalid(p) => Some((Some(p.field), parse_message(p))),
        ServiceError::BadRequest { message, .. } | ServiceError::Conflict { message, .. } => {
            Some((None, message.clone()))
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// The overview: triggers with their bindings, the actions, "New action".

/// What the overview's forms show after a refusal.
#[derive(Default)]
struct OverviewForms<'a> {
    new_name: &'a str,
    new_trigger: Option<Trigger>,
    errors: Vec<FieldError>,
}

fn deployed_text(a: &Action) -> String {
    match &a.deployed {
        Some(d) => format!("Version {}", d.number),
        None => "not deployed".to_owned(),
    }
}

/// A draft saved since the deploy: the page says "changes not deployed".
fn changes_not_deployed(a: &Action) -> bool {
    a.deployed.is_some() && !a.all_changes_deployed
}

fn triggers_text(a: &Action) -> String {
    a.supported_triggers
        .iter()
        .map(|t| t.id())
        .collect::<Vec<_>>()
        .join(", ")
}

fn trigger_panel<'a>(
    trigger: Trigger,
    bound: &'a [(ActionBinding, Action)],
    actions: &'a [Action],
    errors: &'a [FieldError],
) -> TriggerPanel<'a> {
    let select_id = bind_field(trigger);
    TriggerPanel {
        id: trigger.id(),
        label: trigger_label(trigger),
        hint: trigger_hint(trigger),
        bound: bound
            .iter()
            .map(|(b, a)| BoundItem {
                path: action_path(&a.id),
                name: &b.display_name,
                action_id: &a.id,
                version: deployed_text(a),
                changes: changes_not_deployed(a),
            })
            .collect(),
        candidates: actions
            .iter()
            .filter(|a| a.supported_triggers.contains(&trigger) && a.deployed.is_some())
            .filter(|a| !bound.iter().any(|(b, _)| b.action_id == a.id))
            .map(|a| (a.id.as_str(), a.name.as_str()))
            .collect(),
        select_id,
        error_id: format!("{select_id}-error"),
        error: error_for(errors, select_id),
    }
}

/// The id of a trigger's "add" select (a `FieldError`'s field).
fn bind_field(trigger: Trigger) -> &'static str {
    match trigger {
        Trigger::PostLogin => "bind-post-login",
        Trigger::PostChangePassword => "bind-post-change-password",
        Trigger::PasswordResetPostChallenge => "bind-password-reset-post-challenge",
    }
}

async fn overview_page(
    console: &Console,
    forms: OverviewForms<'_>,
    notice: Option<Notice<'_>>,
    status: StatusCode,
) -> Response {
    let services = &console.state.services;
    let gathered = async {
        let actions = services.actions.list_actions(None, None, None).await?;
        let mut bindings = Vec::with_capacity(Trigger::ALL.len());
        for t in Trigger::ALL {
            bindings.push((t, services.actions.trigger_bindings(t).await?));
        }
        Ok::<_, ServiceError>((actions, bindings))
    };
    let (mut actions, bindings) = match gathered.await {
        Ok(v) => v,
        Err(err) => {
            return failed("loading the actions page in the console", err);
        }
    };
    actions.sort_by_cached_key(|a| a.name.to_lowercase());
    let view = views::Overview {
        csrf: console.csrf(),
        triggers: bindings
            .iter()
            .map(|(t, bound)| trigger_panel(*t, bound, &actions, &forms.errors))
            .collect(),
        actions: actions
            .iter()
            .map(|a| ActionRow {
                path: action_path(&a.id),
                name: &a.name,
                triggers: triggers_text(a),
                deployed: deployed_text(a),
                changes: changes_not_deployed(a),
                updated: a.updated_at.to_iso(),
            })
            .collect(),
        new_name: forms.new_name,
        name_error: error_for(&forms.errors, "new-name"),
        options: Trigger::ALL
            .iter()
            .map(|t| TriggerOption {
                id: t.id(),
                label: trigger_label(*t),
                selected: forms.new_trigger == Some(*t),
            })
            .collect(),
        trigger_error: error_for(&forms.errors, "new-trigger"),
    };
    console.render(status, SECTION, "Actions", notice, &view)
}

async fn overview(console: Console, Query(q): Query<DoneQuery>) -> Response {
    let notice = q.done.as_deref().and_then(notice_text).map(Notice::Ok);
    overview_page(&console, OverviewForms::default(), notice, StatusCode::OK).await
}

#[derive(Deserialize)]
struct NewFields {
    #[serde(default)]
    name: String,
    #[serde(default)]
    trigger: String,
}

async fn create(Meta(meta): Meta, ConsoleForm(console, f): ConsoleForm<NewFields>) -> Response {
    let trigger = Trigger::parse(&f.trigger);
    let refused = |field: &'static str, message: String| {
        let forms = OverviewForms {
            new_name: &f.name,
            new_trigger: trigger,
            errors: vec![FieldError { field, message }],
        };
        let console = &console;
        async move {
            overview_page(
                console,
                forms,
                Some(Notice::Error("The action was not created: see below.")),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    };
    let Some(trigger) = trigger else {
        return refused("new-trigger", "Choose a trigger.".to_owned()).await;
    };
    let new = NewAction {
        name: f.name.clone(),
        supported_triggers: vec![trigger],
        code: template(trigger),
        dependencies: Vec::new(),
        runtime: None,
        secrets: Vec::new(),
    };
    let caller = console.admin.caller(meta);
    match console
        .state
        .services
        .actions
        .create_action(new, &caller)
        .await
    {
        Ok(action) => done(&action_path(&action.id), "created"),
        Err(err) => match refusal(&err) {
            Some((Some("supported_triggers"), message)) => refused("new-trigger", message).await,
            // A bad name, or one already taken (a conflict).
            Some((_, message)) => refused("new-name", message).await,
            None => failed("creating an action in the console", err),
        },
    }
}

#[derive(Deserialize)]
struct BindFields {
    #[serde(default)]
    action: String,
    #[serde(default)]
    op: String,
}

async fn bind(
    Meta(meta): Meta,
    Path(trigger): Path<String>,
    ConsoleForm(console, f): ConsoleForm<BindFields>,
) -> Response {
    let Some(trigger) = Trigger::parse(&trigger) else {
        return console.render(
            StatusCode::NOT_FOUND,
            SECTION,
            "Trigger not found",
            None,
            &views::Missing { what: "trigger" },
        );
    };
    let refused = |field: Option<&'static str>, message: String| {
        let console = &console;
        async move {
            let notice = match field {
                Some(_) => "Nothing changed: see below.".to_owned(),
                None => message.clone(),
            };
            let forms = OverviewForms {
                errors: field
                    .map(|field| vec![FieldError { field, message }])
                    .unwrap_or_default(),
                ..OverviewForms::default()
            };
            overview_page(
                console,
                forms,
                Some(Notice::Error(&notice)),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    };
    let current = match console
        .state
        .services
        .actions
        .trigger_bindings(trigger)
        .await
    {
        Ok(b) => b,
        Err(err) => {
            return failed("reading trigger bindings in the console", err);
        }
    };
    // (action id, display name), in the trigger's order.
    let mut order: Vec<(String, Option<String>)> = current
        .iter()
        .map(|(b, _)| (b.action_id.clone(), Some(b.display_name.clone())))
        .collect();
    let at = order.iter().position(|(id, _)| *id == f.action);
    let code = match (f.op.as_str(), at) {
        ("add", _) if f.action.is_empty() => {
            return refused(
                Some(bind_field(trigger)),
                "Choose the action to add.".to_owned(),
            )
            .await;
        }
        ("add", Some(_)) => {
            return refused(
                Some(bind_field(trigger)),
                "This action is already bound to this trigger.".to_owned(),
            )
            .await;
        }
        ("add", None) => {
            order.push((f.action.clone(), None));
            "bound"
        }
        ("up", Some(i)) => {
            if i > 0 {
                order.swap(i, i - 1);
            }
            "moved"
        }
        ("down", Some(i)) => {
            if i + 1 < order.len() {
                order.swap(i, i + 1);
            }
            "moved"
        }
        ("remove", Some(i)) => {
            order.remove(i);
            "unbound"
        }
        ("up" | "down" | "remove", None) => {
            return refused(
                None,
                "Nothing changed: that action is no longer bound to this trigger. The current order is below.".to_owned(),
            )
            .await;
        }
        _ => {
            return refused(
                None,
                "Nothing changed: this form could not be read.".to_owned(),
            )
            .await;
        }
    };
    let refs = order
        .into_iter()
        .map(|(value, display_name)| BindingRef {
            by_name: false,
            value,
            display_name,
        })
        .collect();
    let caller = console.admin.caller(meta);
    match console
        .state
        .services
        .actions
        .set_trigger_bindings(trigger, refs, &caller)
        .await
    {
        Ok(_) => done(SECTION, code),
        Err(err) => match refusal(&err) {
            Some((_, message)) if f.op == "add" => {
                refused(Some(bind_field(trigger)), message).await
            }
            Some((_, message)) => refused(None, message).await,
            None => failed("saving trigger bindings in the console", err),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// One action: code, secrets, deploy, test, versions, delete.

/// What a "Test" run reported (`test_action`'s `payload`).
fn test_report(result: &Value) -> TestReport {
    let p = &result["payload"];
    let commands = p["commands"].as_array().filter(|c| !c.is_empty());
    TestReport {
        status: p["status"].as_str().unwrap_or("unknown").to_owned(),
        error: p["error"].as_str().map(str::to_owned),
        logs: p["logs"].as_str().unwrap_or_default().to_owned(),
        commands: commands.map(|c| serde_json::to_string_pretty(c).unwrap_or_default()),
        duration: p["stats"]["total_ms"].as_f64().map(|ms| format!("{ms:.1}")),
    }
}

/// What the action's page shows besides the action.
#[derive(Default)]
struct EditForms<'a> {
    /// The code as typed (after a refused save); otherwise the draft's.
    code: Option<&'a str>,
    /// The test event as typed; otherwise the trigger's sample.
    event: Option<&'a str>,
    secret_name: Option<&'a str>,
    confirm: Option<&'a str>,
    test: Option<TestReport>,
    errors: Vec<FieldError>,
}

fn no_such_action(console: &Console) -> Response {
    console.render(
        StatusCode::NOT_FOUND,
        SECTION,
        "Action not found",
        None,
        &views::Missing { what: "action" },
    )
}

async fn find(console: &Console, id: &str) -> Result<Action, Response> {
    match console.state.services.actions.get_action(id).await {
        Ok(a) => Ok(a),
        Err(ServiceError::NotFound { .. }) => Err(no_such_action(console)),
        Err(err) => Err(failed("loading an action in the console", err)),
    }
}

/// The triggers `action` is bound to.
async fn bound_to(console: &Console, action: &Action) -> Result<Vec<Trigger>, ServiceError> {
    let mut out = Vec::new();
    for t in Trigger::ALL {
        let bound = console.state.services.actions.trigger_bindings(t).await?;
        if bound.iter().any(|(b, _)| b.action_id == action.id) {
            out.push(t);
        }
    }
    Ok(out)
}

async fn edit_page(
    console: &Console,
    action: &Action,
    forms: EditForms<'_>,
    notice: Option<Notice<'_>>,
    status: StatusCode,
) -> Response {
    let gathered = async {
        let versions = console
            .state
            .services
            .actions
            .action_versions(&action.id)
            .await?;
        let bound = bound_to(console, action).await?;
        Ok::<_, ServiceError>((versions, bound))
    };
    let (versions, bound): (Vec<ActionVersion>, Vec<Trigger>) = match gathered.await {
        Ok(v) => v,
        Err(err) => {
            return failed("loading an action's page in the console", err);
        }
    };
    let trigger = action.supported_triggers.first().copied();
    let sample = trigger.map_or_else(
        || "{}".to_owned(),
        |t| sample_event(t, &console.state.services.config().issuer),
    );
    let errors = &forms.errors;
    let view = views::Edit {
        csrf: console.csrf(),
        path: action_path(&action.id),
        name: &action.name,
        triggers: triggers_text(action),
        deployed: deployed_text(action),
        changes: changes_not_deployed(action),
        bound: bound.iter().map(|t| t.id()).collect(),
        runtime: &action.runtime,
        created: action.created_at.to_iso(),
        updated: action.updated_at.to_iso(),
        handler: trigger.map_or("onExecute…", Trigger::handler),
        code: forms.code.unwrap_or(&action.code),
        code_error: error_for(errors, "code"),
        event: forms.event.unwrap_or(&sample),
        event_error: error_for(errors, "event"),
        test: forms.test.as_ref(),
        secrets: action
            .secrets
            .iter()
            .map(|s| SecretRow {
                name: &s.name,
                updated: s.updated_at.to_iso(),
            })
            .collect(),
        secret_name: forms.secret_name.unwrap_or_default(),
        secret_name_error: error_for(errors, "secret-name"),
        secret_value_error: error_for(errors, "secret-value"),
        versions: versions
            .iter()
            .map(|v| VersionRow {
                number: v.number,
                created: v.created_at.to_iso(),
                current: action
                    .deployed
                    .as_ref()
                    .is_some_and(|d| d.version_id == v.id),
            })
            .collect(),
        confirm: forms.confirm.unwrap_or_default(),
        confirm_error: error_for(errors, "confirm"),
    };
    console.render(status, SECTION, &action.name, notice, &view)
}

async fn edit(console: Console, Path(id): Path<String>, Query(q): Query<DoneQuery>) -> Response {
    let action = match find(&console, &id).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let notice = q.done.as_deref().and_then(notice_text).map(Notice::Ok);
    edit_page(
        &console,
        &action,
        EditForms::default(),
        notice,
        StatusCode::OK,
    )
    .await
}

/// The action's page again with `message`, a 400 and, when `field` is set, the message beside
/// that field.
async fn refused_edit(
    console: &Console,
    action: &Action,
    mut forms: EditForms<'_>,
    field: Option<&'static str>,
    message: String,
) -> Response {
    let notice = match field {
        Some(_) => "Nothing changed: see below.".to_owned(),
        None => message.clone(),
    };
    if let Some(field) = field {
        forms.errors.push(FieldError { field, message });
    }
    edit_page(
        console,
        action,
        forms,
        Some(Notice::Error(&notice)),
        StatusCode::BAD_REQUEST,
    )
    .await
}

#[derive(Deserialize)]
struct CodeFields {
    #[serde(default)]
    code: String,
    #[serde(default)]
    intent: String,
}

async fn save(
    Meta(meta): Meta,
    Path(id): Path<String>,
    ConsoleForm(console, f): ConsoleForm<CodeFields>,
) -> Response {
    let action = match find(&console, &id).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    // Browsers send a textarea's lines with CRLF; the code keeps the usual LF.
    let code = f.code.replace("\r\n", "\n");
    let deploy = f.intent == "deploy";
    let caller = console.admin.caller(meta);
    let services = console.state.services.clone();
    let patch = ActionPatch {
        code: Some(code.clone()),
        ..ActionPatch::default()
    };
    let result = async {
        let saved = services
            .actions
            .update_action(&action.id, patch, &caller)
            .await?;
        if deploy {
            services.actions.deploy_action(&saved.id, &caller).await?;
        }
        Ok::<_, ServiceError>(saved)
    }
    .await;
    match result {
        Ok(saved) => done(
            &action_path(&saved.id),
            if deploy { "deployed" } else { "saved" },
        ),
        Err(ServiceError::NotFound { .. }) => no_such_action(&console),
        Err(err) => match refusal(&err) {
            Some((field, message)) => {
                // The draft may have been saved before a refused deploy: show it as it is now.
                let action = match find(&console, &id).await {
                    Ok(a) => a,
                    Err(r) => return r,
                };
                let forms = EditForms {
                    code: Some(&code),
                    ..EditForms::default()
                };
                // The code is the form's only field: a refused value is about it.
                let field = field.map(|_| "code");
                refused_edit(&console, &action, forms, field, message).await
            }
            None => failed("saving an action in the console", err),
        },
    }
}

#[derive(Deserialize)]
struct SecretFields {
    #[serde(default)]
    secret_name: String,
    #[serde(default)]
    secret_value: String,
}

/// The draft's secrets as `SecretInput`s that keep every stored value.
fn kept_secrets(action: &Action) -> Vec<SecretInput> {
    action
        .secrets
        .iter()
        .map(|s| SecretInput {
            name: s.name.clone(),
            value: None,
        })
        .collect()
}

async fn set_secret(
    Meta(meta): Meta,
    Path(id): Path<String>,
    ConsoleForm(console, f): ConsoleForm<SecretFields>,
) -> Response {
    let action = match find(&console, &id).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let name = f.secret_name.trim().to_owned();
    let forms = || EditForms {
        secret_name: Some(&f.secret_name),
        ..EditForms::default()
    };
    if name.is_empty() {
        return refused_edit(
            &console,
            &action,
            forms(),
            Some("secret-name"),
            "Enter the secret's name.".to_owned(),
        )
        .await;
    }
    if f.secret_value.is_empty() {
        return refused_edit(
            &console,
            &action,
            forms(),
            Some("secret-value"),
            "Enter the secret's value.".to_owned(),
        )
        .await;
    }
    let mut secrets = kept_secrets(&action);
    let value = Some(SecretString::from(f.secret_value.clone()));
    match secrets.iter_mut().find(|s| s.name == name) {
        Some(s) => s.value = value,
        None => secrets.push(SecretInput {
            name: name.clone(),
            value,
        }),
    }
    // The value is never shown back: only the name stays in the form.
    save_secrets(
        &console,
        meta,
        &action,
        secrets,
        "secret-saved",
        forms(),
        Some("secret-name"),
    )
    .await
}

/// Saves an action's new set of secrets (`flash` on success); a refusal shows `forms` again.
async fn save_secrets(
    console: &Console,
    meta: latchkey_core::audit::RequestMeta,
    action: &Action,
    secrets: Vec<SecretInput>,
    flash: &str,
    forms: EditForms<'_>,
    field: Option<&'static str>,
) -> Response {
    let patch = ActionPatch {
        secrets: Some(secrets),
        ..ActionPatch::default()
    };
    let caller = console.admin.caller(meta);
    match console
        .state
        .services
        .actions
        .update_action(&action.id, patch, &caller)
        .await
    {
        Ok(saved) => done(&action_path(&saved.id), flash),
        Err(ServiceError::NotFound { .. }) => no_such_action(console),
        Err(err) => match refusal(&err) {
            Some((_, message)) => refused_edit(console, action, forms, field, message).await,
            None => failed("saving an action's secrets in the console", err),
        },
    }
}

#[derive(Deserialize)]
struct RemoveSecretFields {
    #[serde(default)]
    name: String,
}

async fn remove_secret(
    Meta(meta): Meta,
    Path(id): Path<String>,
    ConsoleForm(console, f): ConsoleForm<RemoveSecretFields>,
) -> Response {
    let action = match find(&console, &id).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let mut secrets = kept_secrets(&action);
    let before = secrets.len();
    secrets.retain(|s| s.name != f.name);
    if secrets.len() == before {
        return refused_edit(
            &console,
            &action,
            EditForms::default(),
            None,
            "Nothing changed: the action has no such secret.".to_owned(),
        )
        .await;
    }
    save_secrets(
        &console,
        meta,
        &action,
        secrets,
        "secret-removed",
        EditForms::default(),
        None,
    )
    .await
}

#[derive(Deserialize)]
struct TestFields {
    #[serde(default)]
    event: String,
}

async fn test(
    Path(id): Path<String>,
    ConsoleForm(console, f): ConsoleForm<TestFields>,
) -> Response {
    let action = match find(&console, &id).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let event = match serde_json::from_str::<Value>(&f.event) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => {
            return refused_edit(
                &console,
                &action,
                EditForms {
                    event: Some(&f.event),
                    ..EditForms::default()
                },
                Some("event"),
                "The event must be a JSON object ({ … }).".to_owned(),
            )
            .await;
        }
        Err(err) => {
            return refused_edit(
                &console,
                &action,
                EditForms {
                    event: Some(&f.event),
                    ..EditForms::default()
                },
                Some("event"),
                format!("The event is not valid JSON: {err}."),
            )
            .await;
        }
    };
    match console
        .state
        .services
        .actions
        .test_action(&action.id, event)
        .await
    {
        Ok(result) => {
            let forms = EditForms {
                event: Some(&f.event),
                test: Some(test_report(&result)),
                ..EditForms::default()
            };
            edit_page(
                &console,
                &action,
                forms,
                Some(Notice::Ok("Test run: the result is under Test.")),
                StatusCode::OK,
            )
            .await
        }
        Err(ServiceError::NotFound { .. }) => no_such_action(&console),
        Err(err) => match refusal(&err) {
            Some((_, message)) => {
                let forms = EditForms {
                    event: Some(&f.event),
                    ..EditForms::default()
                };
                refused_edit(&console, &action, forms, Some("event"), message).await
            }
            None => failed("testing an action in the console", err),
        },
    }
}

#[derive(Deserialize)]
struct DeleteFields {
    #[serde(default)]
    confirm: String,
}

async fn delete(
    Meta(meta): Meta,
    Path(id): Path<String>,
    ConsoleForm(console, f): ConsoleForm<DeleteFields>,
) -> Response {
    let action = match find(&console, &id).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    if f.confirm.trim() != action.name {
        let forms = EditForms {
            confirm: Some(&f.confirm),
            ..EditForms::default()
        };
        return refused_edit(
            &console,
            &action,
            forms,
            Some("confirm"),
            format!(
                "Type the action's name, {}, to confirm the deletion.",
                action.name
            ),
        )
        .await;
    }
    let bound = match bound_to(&console, &action).await {
        Ok(b) => !b.is_empty(),
        Err(err) => {
            return failed("reading an action's bindings in the console", err);
        }
    };
    let caller = console.admin.caller(meta);
    match console
        .state
        .services
        .actions
        .delete_action(&action.id, bound, &caller)
        .await
    {
        Ok(()) => done(SECTION, "deleted"),
        Err(ServiceError::NotFound { .. }) => no_such_action(&console),
        Err(err) => match refusal(&err) {
            Some((_, message)) => {
                refused_edit(&console, &action, EditForms::default(), None, message).await
            }
            None => failed("deleting an action in the console", err),
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn templates_export_their_triggers_handler() {
        for t in Trigger::ALL {
            let code = template(t);
            assert!(
                code.contains(&format!(
                    "exports.{} = async (event, api) => {{\n}};\n",
                    t.handler()
                )),
                "{code}"
            );
            assert!(code.contains("behavior of the"), "{code}");
            assert!(!code.contains(".}"), "{code}");
            let event: Value =
                serde_json::from_str(&sample_event(t, "https://id.example.com/")).unwrap();
            assert_eq!(event["tenant"]["id"], "id.example.com");
            assert!(event["user"]["user_id"].is_string());
        }
        assert!(template(Trigger::PostLogin).contains("@param {PostLoginAPI} api - Interface"));
    }
}
