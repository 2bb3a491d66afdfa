//! Database: each database connection's password policy (level, minimum length, history,
//! dictionary with custom words, no personal information) beside a preview of the rules as end
//! users see them. Saving builds the `options` object the Management API's
//! `PATCH /connections/{id}` takes and calls the same service, which checks it.

use super::database_views as views;
use super::{Console, ConsoleForm, Notice, done};
use crate::AppState;
use crate::extract::Meta;
use crate::web::failed;
use crate::web::views::RuleLine;
use axum::Router;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use latchkey_core::ServiceError;
use latchkey_core::domain::{Connection, ConnectionOptions, PasswordPolicyLevel};
use latchkey_core::password::PasswordPolicy;
use latchkey_core::services::ConnectionPatch;
use serde::Deserialize;
use serde_json::{Map, Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/database", get(index))
        .route("/admin/database/{id}", get(show).post(save))
}

const SECTION: &str = "/admin/database";

fn connection_path(id: &str) -> String {
    format!("/admin/database/{}", crate::web::url_component(id))
}

#[derive(Deserialize, Default)]
struct DoneQuery {
    done: Option<String>,
}

fn notice_text(code: &str) -> Option<&'static str> {
    Some(match code {
        "saved" => {
            "Password policy saved. It applies to every password set from now on; passwords already set keep working."
        }
        _ => return None,
    })
}

/// The policy form's fields, as posted (and as shown: from the saved options or the attempt).
#[derive(Deserialize, Default)]
pub(super) struct PolicyFields {
    #[serde(default)]
    pub(super) level: String,
    #[serde(default)]
    pub(super) min_length: String,
    #[serde(default)]
    pub(super) history: Option<String>,
    #[serde(default)]
    pub(super) history_size: String,
    #[serde(default)]
    pub(super) dictionary: Option<String>,
    #[serde(default)]
    pub(super) words: String,
    #[serde(default)]
    pub(super) no_personal_info: Option<String>,
    #[serde(default)]
    pub(super) estimate: Option<String>,
    #[serde(default)]
    pub(super) min_score: String,
}

fn checked(v: &Option<String>) -> bool {
    v.is_some()
}

impl PolicyFields {
    fn from_options(o: &ConnectionOptions) -> Self {
        let on = |b: bool| b.then(|| "on".to_owned());
        Self {
            level: level_name(o.policy_level()).to_owned(),
            min_length: o
                .password_complexity_options
                .as_ref()
                .and_then(|c| c.min_length)
                .map(|m| m.to_string())
                .unwrap_or_default(),
            history: on(o.password_history.as_ref().is_some_and(|h| h.enable)),
            history_size: o
                .password_history
                .as_ref()
                .map_or_else(|| "5".to_owned(), |h| h.size.to_string()),
            dictionary: on(o.password_dictionary.as_ref().is_some_and(|d| d.enable)),
            words: o
                .password_dictionary
                .as_ref()
                .map(|d| d.dictionary.join("\n"))
                .unwrap_or_default(),
            no_personal_info: on(o
                .password_no_personal_info
                .as_ref()
                .is_some_and(|p| p.enable)),
            estimate: on(o.min_strength_score().is_some()),
            min_score: o
                .password_strength_estimate
                .as_ref()
                .map_or_else(|| "3".to_owned(), |e| e.min_score.to_string()),
        }
    }

    /// The connection's `options` with the policy keys replaced by the form's: what a
    /// Management API client would send in `PATCH /connections/{id}` (`options` replaces the
    /// whole object there, so every other option is carried over as it is).
    fn options(&self, current: &ConnectionOptions) -> Value {
        let mut o = match current.to_json() {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        o.insert("passwordPolicy".into(), json!(self.level.trim()));
        let mut complexity = match o.remove("password_complexity_options") {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        if self.min_length.trim().is_empty() {
            complexity.remove("min_length");
        } else {
            complexity.insert("min_length".into(), number_or_text(&self.min_length));
        }
        if !complexity.is_empty() {
            o.insert(
                "password_complexity_options".into(),
                Value::Object(complexity),
            );
        }
        let mut history = Map::new();
        history.insert("enable".into(), json!(checked(&self.history)));
        if !self.history_size.trim().is_empty() {
            history.insert("size".into(), number_or_text(&self.history_size));
        }
        o.insert("password_history".into(), Value::Object(history));
        o.insert(
            "password_dictionary".into(),
            json!({"enable": checked(&self.dictionary), "dictionary": words(&self.words)}),
        );
        o.insert(
            "password_no_personal_info".into(),
            json!({"enable": checked(&self.no_personal_info)}),
        );
        // Left out while it was never turned on, so the options stay as Auth0 knows them.
        if checked(&self.estimate) || o.contains_key("password_strength_estimate") {
            o.insert(
                "password_strength_estimate".into(),
                json!({"enable": checked(&self.estimate), "min_score": number_or_text(&self.min_score)}),
            );
        }
        Value::Object(o)
    }
}

/// A whole number as a JSON number; anything else as the text typed, for the service to refuse
/// with its own message.
fn number_or_text(s: &str) -> Value {
    let s = s.trim();
    s.parse::<i64>().map_or_else(|_| json!(s), |n| json!(n))
}

/// Custom words: one a line, trimmed, blank lines dropped.
fn words(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

fn level_name(level: PasswordPolicyLevel) -> &'static str {
    match level {
        PasswordPolicyLevel::None => "none",
        PasswordPolicyLevel::Low => "low",
        PasswordPolicyLevel::Fair => "fair",
        PasswordPolicyLevel::Good => "good",
        PasswordPolicyLevel::Excellent => "excellent",
    }
}

/// zxcvbn's scores a connection may require, as the console offers them.
const SCORES: [(&str, &str); 4] = [
    (
        "1",
        "1: stops the most guessable (top passwords, short patterns)",
    ),
    ("2", "2: somewhat guessable passwords refused"),
    ("3", "3: safely unguessable online (recommended)"),
    ("4", "4: very unguessable, even offline"),
];

const LEVELS: [(&str, &str); 5] = [
    ("none", "None: at least 1 character"),
    ("low", "Low: at least 6 characters"),
    (
        "fair",
        "Fair: 8 characters with lower case, upper case and numbers",
    ),
    ("good", "Good: 8 characters with 3 of 4 kinds of characters"),
    (
        "excellent",
        "Excellent: 10 characters with 3 of 4 kinds, no more than 2 identical in a row",
    ),
];

fn no_such_connection(console: &Console) -> Response {
    console.render(
        StatusCode::NOT_FOUND,
        SECTION,
        "Connection not found",
        None,
        &views::NotFound,
    )
}

/// The checks a new password passes besides the listed rules (users are told only when one
/// fails), one sentence each.
fn other_checks(o: &ConnectionOptions) -> Vec<String> {
    let mut items = Vec::new();
    if let Some(d) = o.password_dictionary.as_ref().filter(|d| d.enable) {
        let custom = match d.dictionary.len() {
            0 => String::new(),
            1 => " or the custom word".to_owned(),
            n => format!(" or one of the {n} custom words"),
        };
        items.push(format!(
            "Not one of the 10,000 most common passwords{custom} (“Password is too common”)."
        ));
    }
    if o.password_no_personal_info
        .as_ref()
        .is_some_and(|p| p.enable)
    {
        items.push(
            "Nothing of the user's name, username or email address before the @ (“Password contains user information”)."
                .to_owned(),
        );
    }
    let depth = o.history_depth();
    if depth > 0 {
        items.push(format!(
            "Not one of the user's last {depth} passwords (“Password has previously been used”)."
        ));
    }
    items
}

fn connection_page(
    console: &Console,
    conn: &Connection,
    fields: &PolicyFields,
    notice: Option<Notice<'_>>,
    status: StatusCode,
    several: bool,
) -> Response {
    let rules = PasswordPolicy::from_options(&conn.options).describe();
    let view = views::Connection {
        back: several,
        path: connection_path(conn.id.as_str()),
        csrf: console.csrf(),
        levels: &LEVELS,
        scores: &SCORES,
        fields,
        rules: RuleLine::list(&rules, false),
        other: other_checks(&conn.options),
    };
    let title = conn.display_name.as_deref().unwrap_or(&conn.name);
    console.render(status, SECTION, title, notice, &view)
}

async fn database_connections(console: &Console) -> Result<Vec<Connection>, Response> {
    match console.state.services.tenant.list_connections().await {
        Ok(all) => Ok(all.into_iter().filter(Connection::is_database).collect()),
        Err(err) => Err(failed("listing connections in the console", err)),
    }
}

async fn index(console: Console, Query(q): Query<DoneQuery>) -> Response {
    let connections = match database_connections(&console).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let notice = q.done.as_deref().and_then(notice_text).map(Notice::Ok);
    match connections.as_slice() {
        [] => console.render(StatusCode::OK, SECTION, "Database", notice, &views::Empty),
        [only] => {
            let fields = PolicyFields::from_options(&only.options);
            connection_page(&console, only, &fields, notice, StatusCode::OK, false)
        }
        several => {
            let rows = several
                .iter()
                .map(|c| views::Row {
                    path: connection_path(c.id.as_str()),
                    name: c.display_name.as_deref().unwrap_or(&c.name).to_owned(),
                    id: c.id.as_str().to_owned(),
                    level: level_name(c.options.policy_level()),
                    rules: PasswordPolicy::from_options(&c.options)
                        .describe()
                        .iter()
                        .map(|r| r.text())
                        .collect::<Vec<_>>()
                        .join(" · "),
                })
                .collect();
            let view = views::List { rows };
            console.render(StatusCode::OK, SECTION, "Database", notice, &view)
        }
    }
}

/// The database connection `id`, or the page to answer with.
async fn find(console: &Console, id: &str) -> Result<(Connection, bool), Response> {
    let conn = match console.state.services.tenant.get_connection(id).await {
        Ok(c) if c.is_database() => c,
        Ok(_) | Err(ServiceError::NotFound { .. }) => return Err(no_such_connection(console)),
        Err(err) => {
            return Err(failed("loading a connection in the console", err));
        }
    };
    let several = database_connections(console).await?.len() > 1;
    Ok((conn, several))
}

async fn show(console: Console, Path(id): Path<String>, Query(q): Query<DoneQuery>) -> Response {
    let (conn, several) = match find(&console, &id).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let notice = q.done.as_deref().and_then(notice_text).map(Notice::Ok);
    let fields = PolicyFields::from_options(&conn.options);
    connection_page(&console, &conn, &fields, notice, StatusCode::OK, several)
}

async fn save(
    Meta(meta): Meta,
    Path(id): Path<String>,
    ConsoleForm(console, f): ConsoleForm<PolicyFields>,
) -> Response {
    let (conn, several) = match find(&console, &id).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let patch = ConnectionPatch {
        options: Some(f.options(&conn.options)),
        ..ConnectionPatch::default()
    };
    let caller = console.admin.caller(meta);
    match console
        .state
        .services
        .tenant
        .update_connection(conn.id.as_str(), patch, &caller)
        .await
    {
        Ok(saved) => done(&connection_path(saved.id.as_str()), "saved"),
        Err(err) => {
            let (status, message) = match &err {
                ServiceError::Invalid(p) => (StatusCode::BAD_REQUEST, p.to_string()),
                ServiceError::BadRequest { message, .. }
                | ServiceError::Conflict { message, .. } => {
                    (StatusCode::BAD_REQUEST, message.clone())
                }
                ServiceError::NotFound { .. } => return no_such_connection(&console),
                _ => {
                    return failed("saving a password policy in the console", err);
                }
            };
            connection_page(
                &console,
                &conn,
                &f,
                Some(Notice::Error(&message)),
                status,
                several,
            )
        }
    }
}
