//! Database: each database connection's password policy (level, minimum length, history,
//! dictionary with custom words, no personal information) beside a preview of the rules as end
//! users see them. Saving builds the `options` object the Management API's
//! `PATCH /connections/{id}` takes and calls the same service, which checks it.

use super::e;
use super::{Console, ConsoleForm, Notice, done, rules_list};
use crate::AppState;
use crate::extract::Meta;
use crate::web::error_page;
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
    format!("/admin/database/{}", super::path_segment(id))
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
struct PolicyFields {
    #[serde(default)]
    level: String,
    #[serde(default)]
    min_length: String,
    #[serde(default)]
    history: Option<String>,
    #[serde(default)]
    history_size: String,
    #[serde(default)]
    dictionary: Option<String>,
    #[serde(default)]
    words: String,
    #[serde(default)]
    no_personal_info: Option<String>,
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
    console.page(
        StatusCode::NOT_FOUND,
        SECTION,
        "Connection not found",
        None,
        r#"<p>There is no such database connection. <a href="/admin/database">Back to database connections</a></p>"#,
    )
}

/// The checks a new password passes besides the listed rules (users are told only when one
/// fails).
fn other_checks(o: &ConnectionOptions) -> String {
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
    if items.is_empty() {
        r#"<p class="hint">No other check: any password that meets the rules above is accepted.</p>"#
            .to_owned()
    } else {
        let li: String = items.iter().map(|i| format!("<li>{}</li>", e(i))).collect();
        format!(
            r#"<p class="hint">Also checked when a password is set (the user sees the message in brackets if one fails):</p><ul class="rules">{li}</ul>"#
        )
    }
}

fn connection_page(
    console: &Console,
    conn: &Connection,
    fields: &PolicyFields,
    notice: Option<Notice<'_>>,
    status: StatusCode,
    several: bool,
) -> Response {
    let path = connection_path(conn.id.as_str());
    let rules = PasswordPolicy::from_options(&conn.options).describe();
    let options: String = LEVELS
        .iter()
        .map(|(value, label)| {
            let selected = if fields.level == *value {
                " selected"
            } else {
                ""
            };
            format!(r#"<option value="{value}"{selected}>{}</option>"#, e(label))
        })
        .collect();
    let check = |on: bool| if on { " checked" } else { "" };
    let back = if several {
        r#"<p><a href="/admin/database">← Database connections</a></p>"#
    } else {
        ""
    };
    let body = format!(
        r#"{back}<div class="grid">
<section class="panel" aria-labelledby="pp"><h2 id="pp">Password policy</h2>
<form method="post" action="{path}" novalidate>{csrf}
<label for="level">Password strength</label>
<select id="level" name="level">{options}</select>
<label for="min_length">Minimum length</label>
<input id="min_length" name="min_length" type="number" min="1" max="128" value="{min_length}" aria-describedby="min-hint">
<p id="min-hint" class="hint">1 to 128 characters. Leave empty to use the strength level's length; a value here replaces it.</p>
<label><input type="checkbox" name="history"{history}> Password history: refuse the user's previous passwords</label>
<label for="history_size">How many previous passwords</label>
<input id="history_size" name="history_size" type="number" min="0" max="24" value="{history_size}" aria-describedby="history-hint">
<p id="history-hint" class="hint">0 to 24.</p>
<label><input type="checkbox" name="dictionary"{dictionary}> Password dictionary: refuse the 10,000 most common passwords and the custom words below</label>
<label for="words">Custom words</label>
<textarea id="words" name="words" rows="6" aria-describedby="words-hint">{words}</textarea>
<p id="words-hint" class="hint">One a line, at most 200 words of 50 characters. A password equal to one of them (in any case) is refused.</p>
<label><input type="checkbox" name="no_personal_info"{no_personal_info}> Personal data: refuse passwords that contain the user's name, username or email address</label>
<button type="submit">Save</button></form></section>
<section class="panel" aria-labelledby="pv"><h2 id="pv">What users see</h2>
<p class="hint">The rules shown on the sign-up, reset and change-password pages, as saved:</p>
<div id="policy-preview">{rules}</div>
{other}</section>
</div>"#,
        csrf = console.csrf_field(),
        path = e(&path),
        min_length = e(&fields.min_length),
        history = check(checked(&fields.history)),
        history_size = e(&fields.history_size),
        dictionary = check(checked(&fields.dictionary)),
        words = e(&fields.words),
        no_personal_info = check(checked(&fields.no_personal_info)),
        rules = rules_list(&rules, false),
        other = other_checks(&conn.options),
    );
    let title = conn.display_name.as_deref().unwrap_or(&conn.name);
    console.page(status, SECTION, title, notice, &body)
}

async fn database_connections(console: &Console) -> Result<Vec<Connection>, Response> {
    match console.state.services.list_connections().await {
        Ok(all) => Ok(all.into_iter().filter(Connection::is_database).collect()),
        Err(err) => {
            tracing::error!(error = ?err, "listing connections in the console");
            Err(error_page())
        }
    }
}

async fn index(console: Console, Query(q): Query<DoneQuery>) -> Response {
    let connections = match database_connections(&console).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let notice = q.done.as_deref().and_then(notice_text).map(Notice::Ok);
    match connections.as_slice() {
        [] => console.page(
            StatusCode::OK,
            SECTION,
            "Database",
            notice,
            r#"<p class="empty">There is no database connection. Create one with the Management API (<code>POST /api/v2/connections</code>, strategy <code>auth0</code>).</p>"#,
        ),
        [only] => {
            let fields = PolicyFields::from_options(&only.options);
            connection_page(&console, only, &fields, notice, StatusCode::OK, false)
        }
        several => {
            let rows: String = several
                .iter()
                .map(|c| {
                    let policy = PasswordPolicy::from_options(&c.options);
                    format!(
                        r#"<tr><td><a href="{path}">{name}</a></td><td><code>{id}</code></td><td>{level}</td><td>{rules}</td></tr>"#,
                        path = e(&connection_path(c.id.as_str())),
                        name = e(c.display_name.as_deref().unwrap_or(&c.name)),
                        id = e(c.id.as_str()),
                        level = e(level_name(c.options.policy_level())),
                        rules = e(&policy
                            .describe()
                            .iter()
                            .map(|r| r.text())
                            .collect::<Vec<_>>()
                            .join(" · ")),
                    )
                })
                .collect();
            let body = format!(
                r#"<table><thead><tr><th scope="col">Connection</th><th scope="col">Id</th><th scope="col">Strength</th><th scope="col">Rules</th></tr></thead><tbody>{rows}</tbody></table>"#
            );
            console.page(StatusCode::OK, SECTION, "Database", notice, &body)
        }
    }
}

/// The database connection `id`, or the page to answer with.
async fn find(console: &Console, id: &str) -> Result<(Connection, bool), Response> {
    let conn = match console.state.services.get_connection(id).await {
        Ok(c) if c.is_database() => c,
        Ok(_) | Err(ServiceError::NotFound { .. }) => return Err(no_such_connection(console)),
        Err(err) => {
            tracing::error!(error = ?err, "loading a connection in the console");
            return Err(error_page());
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
                    tracing::error!(error = ?err, "saving a password policy in the console");
                    return error_page();
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
