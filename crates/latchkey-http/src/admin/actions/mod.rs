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

mod action_page;
mod overview;

pub fn router() -> Router<AppState> {
    overview::routes().merge(action_page::routes())
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

pub(super) fn deployed_text(a: &Action) -> String {
    match &a.deployed {
        Some(d) => format!("Version {}", d.number),
        None => "not deployed".to_owned(),
    }
}

/// A draft saved since the deploy: the page says "changes not deployed".
pub(super) fn changes_not_deployed(a: &Action) -> bool {
    a.deployed.is_some() && !a.all_changes_deployed
}

pub(super) fn triggers_text(a: &Action) -> String {
    a.supported_triggers
        .iter()
        .map(|t| t.id())
        .collect::<Vec<_>>()
        .join(", ")
}
