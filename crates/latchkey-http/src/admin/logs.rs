//! The tenant log: filters (type, user, dates), pages, and each entry in full. Entries written
//! for console actions name the acting administrator (`details.admin`).

use super::logs_views::{Entry, List, Missing, Row, TypeOption};
use super::{Console, Notice};
use crate::AppState;
use crate::web::{Moment, failed};
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
const TYPES: [(&str, &str); 22] = [
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
    ("sv", "Email verified"),
    ("fv", "Email verification failed"),
    ("svr", "Verification mail sent"),
    ("fvr", "Verification mail failed"),
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
        match console.state.services.directory.list_logs(&query).await {
            Ok(r) => r,
            Err(err) => {
                return failed("listing the log in the console", err);
            }
        }
    } else {
        (Vec::new(), 0)
    };
    let types = std::iter::once(("", "Any type"))
        .chain(TYPES.iter().copied())
        .map(|(code, label)| TypeOption {
            code,
            label: if code.is_empty() {
                label.to_owned()
            } else {
                format!("{label} ({code})")
            },
            selected: type_code.as_deref().unwrap_or_default() == code,
        })
        .collect();
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
    let view = List {
        types,
        user: user.as_deref().unwrap_or_default(),
        from: from.as_deref().unwrap_or_default(),
        to: to.as_deref().unwrap_or_default(),
        rows: entries.iter().map(row).collect(),
        newer: (page > 0).then(|| filter_query(page - 1)),
        older: (u64::from(page + 1) < pages).then(|| filter_query(page + 1)),
        page: page + 1,
        pages,
        total,
    };
    let (status, notice) = match problems.first() {
        Some(p) => (StatusCode::BAD_REQUEST, Some(Notice::Error(p))),
        None => (StatusCode::OK, None),
    };
    console.render(status, SECTION, "Logs", notice, &view)
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

fn row(v: &Value) -> Row {
    Row {
        id_segment: crate::web::url_component(text(v, "log_id")),
        date: Moment::written(text(v, "date")),
        kind: text(v, "type").to_owned(),
        description: text(v, "description").to_owned(),
        user: v["user_id"].as_str().map(|id| {
            let name = text(v, "user_name");
            (
                crate::web::url_component(id),
                if name.is_empty() { id } else { name }.to_owned(),
            )
        }),
        by: actor(v),
        ip: text(v, "ip").to_owned(),
    }
}

async fn entry(console: Console, Path(id): Path<String>) -> Response {
    match console.state.services.directory.get_log(&id).await {
        Ok(v) => {
            let by = actor(&v);
            let view = Entry {
                date: Moment::written(text(&v, "date")),
                kind: text(&v, "type"),
                description: text(&v, "description"),
                user: text(&v, "user_name"),
                by: if by.is_empty() { "—" } else { &by },
                ip: text(&v, "ip"),
                pretty: serde_json::to_string_pretty(&v).unwrap_or_default(),
            };
            console.render(StatusCode::OK, SECTION, "Log entry", None, &view)
        }
        Err(ServiceError::NotFound { .. }) => console.render(
            StatusCode::NOT_FOUND,
            SECTION,
            "Log entry",
            Some(Notice::Error("There is no such log entry.")),
            &Missing,
        ),
        Err(err) => failed("reading a log entry in the console", err),
    }
}
