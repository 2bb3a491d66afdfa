//! The tenant log: filters (type, user, dates), pages, and each entry in full. Entries written
//! for console actions name the acting administrator (`details.admin`).

use super::e;
use super::{Console, Notice};
use crate::AppState;
use crate::web::error_page;
use axum::Router;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use latchkey_core::ServiceError;
use latchkey_core::store::LogQuery;
use latchkey_core::time::Timestamp;
use serde::Deserialize;
use serde_json::Value;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/logs", get(list))
        .route("/admin/logs/{id}", get(entry))
}

const SECTION: &str = "/admin/logs";
const PER_PAGE: u32 = 50;

/// The event types Latchkey writes, with Auth0's codes.
const TYPES: [(&str, &str); 18] = [
    ("s", "Successful login"),
    ("f", "Failed login"),
    ("fp", "Failed login (wrong password)"),
    ("fu", "Failed login (unknown user)"),
    ("limit_wc", "Blocked after failed logins"),
    ("ublkdu", "Block released"),
    ("ss", "Successful sign-up"),
    ("scp", "Password changed"),
    ("fcp", "Password change failed"),
    ("scpr", "Password reset requested"),
    ("fcpr", "Password reset request failed"),
    ("gd_enrollment_complete", "MFA enrolment"),
    ("gd_auth_failed", "Wrong MFA code"),
    ("slo", "Logout"),
    ("seacft", "Code exchanged for tokens"),
    ("sertft", "Refresh token exchanged"),
    ("seccft", "Client credentials exchanged"),
    ("sapi", "Management operation"),
];

#[derive(Deserialize, Default)]
struct Filters {
    #[serde(rename = "type")]
    type_code: Option<String>,
    user: Option<String>,
    from: Option<String>,
    to: Option<String>,
    page: Option<u32>,
}

/// `YYYY-MM-DD` as the UTC midnight starting that day.
fn day_start(s: &str) -> Option<Timestamp> {
    let mut parts = s.trim().splitn(3, '-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    let date =
        time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()?;
    Some(Timestamp::from_millis(
        date.midnight().assume_utc().unix_timestamp() * 1000,
    ))
}

fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

async fn list(console: Console, Query(f): Query<Filters>) -> Response {
    let (type_code, user, from, to) = (
        non_empty(&f.type_code),
        non_empty(&f.user),
        non_empty(&f.from),
        non_empty(&f.to),
    );
    let mut problems = Vec::new();
    let since = from.as_deref().and_then(|d| {
        let t = day_start(d);
        if t.is_none() {
            problems.push("From must be a date (YYYY-MM-DD).");
        }
        t
    });
    // "To" includes that whole day.
    let until = to.as_deref().and_then(|d| {
        let t = day_start(d).map(|t| t.plus_seconds(86_400));
        if t.is_none() {
            problems.push("To must be a date (YYYY-MM-DD).");
        }
        t
    });
    let page = f.page.unwrap_or(0);
    let query = LogQuery {
        user_id: user.clone(),
        type_code: type_code.clone(),
        since,
        until,
        page,
        per_page: PER_PAGE,
    };
    let (entries, total) = if problems.is_empty() {
        match console.state.services.list_logs(&query).await {
            Ok(r) => r,
            Err(err) => {
                tracing::error!(error = ?err, "listing the log in the console");
                return error_page();
            }
        }
    } else {
        (Vec::new(), 0)
    };
    let options: String = std::iter::once(("", "Any type"))
        .chain(TYPES.iter().copied())
        .map(|(code, label)| {
            let selected = if type_code.as_deref().unwrap_or_default() == code {
                " selected"
            } else {
                ""
            };
            let text = if code.is_empty() {
                label.to_owned()
            } else {
                format!("{label} ({code})")
            };
            format!(r#"<option value="{code}"{selected}>{}</option>"#, e(&text))
        })
        .collect();
    let rows: String = entries.iter().map(row).collect();
    let filter_query = |p: u32| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("type", &type_code),
            ("user", &user),
            ("from", &from),
            ("to", &to),
        ] {
            if let Some(v) = v {
                q.append_pair(k, v);
            }
        }
        q.append_pair("page", &p.to_string());
        q.finish()
    };
    let pages = total.div_ceil(u64::from(PER_PAGE)).max(1);
    let prev = if page > 0 {
        format!(
            r#"<a href="/admin/logs?{}">← Newer</a>"#,
            e(&filter_query(page - 1))
        )
    } else {
        String::new()
    };
    let next = if u64::from(page + 1) < pages {
        format!(
            r#"<a href="/admin/logs?{}">Older →</a>"#,
            e(&filter_query(page + 1))
        )
    } else {
        String::new()
    };
    let table = if entries.is_empty() {
        r#"<p class="empty">No entry matches.</p>"#.to_owned()
    } else {
        format!(
            r#"<table><thead><tr><th scope="col">Date (UTC)</th><th scope="col">Event</th><th scope="col">User</th><th scope="col">By</th><th scope="col">IP</th></tr></thead><tbody>{rows}</tbody></table>
<nav class="pager" aria-label="Pages">{prev}<span>Page {} of {pages} · {total} entries</span>{next}</nav>"#,
            page + 1
        )
    };
    let body = format!(
        r#"<form method="get" action="/admin/logs" class="panel filters">
<div class="grid">
<div><label for="type">Type</label><select id="type" name="type">{options}</select></div>
<div><label for="user">User id</label><input id="user" name="user" type="text" value="{user}" placeholder="auth0|…"></div>
<div><label for="from">From (UTC date)</label><input id="from" name="from" type="text" inputmode="numeric" value="{from}" placeholder="YYYY-MM-DD"></div>
<div><label for="to">To (UTC date)</label><input id="to" name="to" type="text" inputmode="numeric" value="{to}" placeholder="YYYY-MM-DD"></div>
</div><button type="submit">Filter</button></form>
{table}"#,
        user = e(user.as_deref().unwrap_or_default()),
        from = e(from.as_deref().unwrap_or_default()),
        to = e(to.as_deref().unwrap_or_default()),
    );
    let (status, notice) = match problems.first() {
        Some(p) => (StatusCode::BAD_REQUEST, Some(Notice::Error(p))),
        None => (StatusCode::OK, None),
    };
    console.page(status, SECTION, "Logs", notice, &body)
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_default()
}

/// Who acted: the console administrator or the Management API client, when recorded.
fn actor(v: &Value) -> String {
    if let Some(admin) = v["details"]["admin"].as_str() {
        return format!("{admin} (console)");
    }
    match (v["client_name"].as_str(), v["client_id"].as_str()) {
        (Some(name), _) if !name.is_empty() => name.to_owned(),
        (_, Some(id)) => id.to_owned(),
        _ => String::new(),
    }
}

fn row(v: &Value) -> String {
    let user = match v["user_id"].as_str() {
        Some(id) => format!(
            r#"<a href="/admin/users/{}">{}</a>"#,
            e(&super::path_segment(id)),
            e(if text(v, "user_name").is_empty() {
                id
            } else {
                text(v, "user_name")
            })
        ),
        None => String::new(),
    };
    format!(
        r#"<tr><td><a href="/admin/logs/{id}">{date}</a></td><td><code>{kind}</code> {desc}</td><td>{user}</td><td>{by}</td><td>{ip}</td></tr>"#,
        id = e(&super::path_segment(text(v, "log_id"))),
        date = e(text(v, "date")),
        kind = e(text(v, "type")),
        desc = e(text(v, "description")),
        by = e(&actor(v)),
        ip = e(text(v, "ip")),
    )
}

async fn entry(console: Console, Path(id): Path<String>) -> Response {
    match console.state.services.get_log(&id).await {
        Ok(v) => {
            let pretty = serde_json::to_string_pretty(&v).unwrap_or_default();
            let by = actor(&v);
            let body = format!(
                r#"<p><a href="/admin/logs">← Logs</a></p>
<section class="panel"><dl class="facts">
<dt>Date (UTC)</dt><dd>{date}</dd><dt>Type</dt><dd><code>{kind}</code> {desc}</dd>
<dt>User</dt><dd>{user}</dd><dt>By</dt><dd>{by}</dd><dt>IP</dt><dd>{ip}</dd></dl></section>
<section class="panel"><h2>Entry</h2><pre class="json">{pretty}</pre></section>"#,
                date = e(text(&v, "date")),
                kind = e(text(&v, "type")),
                desc = e(text(&v, "description")),
                user = e(text(&v, "user_name")),
                by = e(if by.is_empty() { "—" } else { &by }),
                ip = e(text(&v, "ip")),
                pretty = e(&pretty),
            );
            console.page(StatusCode::OK, SECTION, "Log entry", None, &body)
        }
        Err(ServiceError::NotFound { .. }) => console.page(
            StatusCode::NOT_FOUND,
            SECTION,
            "Log entry",
            Some(Notice::Error("There is no such log entry.")),
            r#"<p><a href="/admin/logs">← Logs</a></p>"#,
        ),
        Err(err) => {
            tracing::error!(error = ?err, "reading a log entry in the console");
            error_page()
        }
    }
}
