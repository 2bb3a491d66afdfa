//! Users: search and paging, the user's page (profile, sign-in facts, sessions, MFA, blocks,
//! recent log), and the actions on it. Each action calls the service function the
//! Management API calls, with the administrator as the caller (logged as such).

use super::e;
use super::{Console, ConsoleForm, NoFields, Notice, done, rules_list};
use crate::AppState;
use crate::extract::Meta;
use crate::web::error_page;
use axum::Router;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use latchkey_core::ErrorCode;
use latchkey_core::ServiceError;
use latchkey_core::domain::{Password, User, UserId};
use latchkey_core::password::RuleReport;
use latchkey_core::services::{
    Caller, NewPasswordTicket, PasswordChangeReason, PasswordResetRequest, UserPatch,
};
use latchkey_core::store::UserQuery;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(list))
        .route("/admin/users/{id}", get(detail))
        .route("/admin/users/{id}/password", post(change_password))
        .route("/admin/users/{id}/send-reset", post(send_reset))
        .route("/admin/users/{id}/ticket", post(ticket))
        .route("/admin/users/{id}/reset-mfa", post(reset_mfa))
        .route("/admin/users/{id}/block", post(block))
        .route("/admin/users/{id}/unblock", post(unblock))
        .route("/admin/users/{id}/lift-blocks", post(lift_blocks))
        .route("/admin/users/{id}/revoke-sessions", post(revoke_sessions))
        .route("/admin/users/{id}/delete", post(delete))
}

const SECTION: &str = "/admin/users";
const PER_PAGE: u32 = 25;

fn user_path(id: &UserId) -> String {
    format!("/admin/users/{}", super::path_segment(id.as_str()))
}

fn when(t: Option<latchkey_core::time::Timestamp>) -> String {
    t.map_or_else(|| "never".to_owned(), |t| t.to_iso())
}

#[derive(Deserialize, Default)]
struct ListQuery {
    q: Option<String>,
    page: Option<u32>,
    done: Option<String>,
}

async fn list(console: Console, Query(q): Query<ListQuery>) -> Response {
    let search = q.q.unwrap_or_default().trim().to_owned();
    let page = q.page.unwrap_or(0);
    let mut query = UserQuery {
        page,
        per_page: PER_PAGE,
        ..UserQuery::default()
    };
    // An id looks like `connection|id`; anything else searches addresses, usernames and names.
    if search.contains('|') {
        query.user_id = Some(search.clone());
    } else if !search.is_empty() {
        query.text = Some(search.clone());
    }
    let (users, total) = match console.state.services.list_users(&query).await {
        Ok(r) => r,
        Err(err) => {
            tracing::error!(error = ?err, "listing users in the console");
            return error_page();
        }
    };
    let rows: String = users
        .iter()
        .map(|u| {
            format!(
                r#"<tr><td><a href="{path}">{email}</a></td><td><code>{id}</code></td><td>{conn}</td><td>{logins}</td><td>{last}</td><td>{status}</td></tr>"#,
                path = e(&user_path(&u.user_id)),
                email = e(&u.email.as_ref().map_or_else(|| u.display_name(), |m| m.as_str().to_owned())),
                id = e(u.user_id.as_str()),
                conn = e(&u.connection),
                logins = u.logins_count,
                last = e(&when(u.last_login)),
                status = if u.blocked { r#"<span class="badge bad">Blocked</span>"# } else { "" },
            )
        })
        .collect();
    let pages = total.div_ceil(u64::from(PER_PAGE)).max(1);
    let link = |p: u32, label: &str| {
        format!(
            r#"<a href="/admin/users?q={}&amp;page={p}">{label}</a>"#,
            url::form_urlencoded::byte_serialize(search.as_bytes()).collect::<String>()
        )
    };
    let prev = if page > 0 {
        link(page - 1, "← Previous")
    } else {
        String::new()
    };
    let next = if u64::from(page + 1) < pages {
        link(page + 1, "Next →")
    } else {
        String::new()
    };
    let table = if users.is_empty() {
        r#"<p class="empty">No user matches.</p>"#.to_owned()
    } else {
        format!(
            r#"<table><thead><tr><th scope="col">User</th><th scope="col">Id</th><th scope="col">Connection</th><th scope="col">Logins</th><th scope="col">Last login</th><th scope="col"><span class="sr-only">Status</span></th></tr></thead><tbody>{rows}</tbody></table>
<nav class="pager" aria-label="Pages">{prev}<span>Page {current} of {pages} · {total} {noun}</span>{next}</nav>"#,
            current = page + 1,
            noun = if total == 1 { "user" } else { "users" },
        )
    };
    let body = format!(
        r#"<form method="get" action="/admin/users" class="search" role="search">
<label for="q">Search by email, name or user id</label>
<div class="row"><input id="q" name="q" type="search" value="{search}"><button type="submit">Search</button></div></form>
{table}"#,
        search = e(&search),
    );
    let notice = (q.done.as_deref() == Some("deleted")).then_some(Notice::Ok("User deleted."));
    console.page(StatusCode::OK, SECTION, "Users", notice, &body)
}

#[derive(Deserialize, Default)]
struct DetailQuery {
    done: Option<String>,
}

fn no_such_user() -> Response {
    super::refused(StatusCode::NOT_FOUND, "There is no such user.")
}

/// Text for the `?done=` codes of this page.
fn notice_text(code: &str) -> Option<&'static str> {
    Some(match code {
        "password" => {
            "Password changed. The user was not told; their sessions and refresh tokens were revoked."
        }
        "reset-sent" => "A reset link is on its way to the user's address.",
        "mfa" => "Second factors removed: the user enrols again at the next login.",
        "blocked" => "User blocked: they can no longer sign in.",
        "unblocked" => "User unblocked.",
        "lifted" => "Brute-force blocks lifted.",
        "sessions" => "Every session of the user was ended.",
        _ => return None,
    })
}

/// What the user page shows beside the user, and what the last action left to show.
#[derive(Default)]
struct Extra {
    /// A ticket link just created, to copy.
    ticket: Option<String>,
    /// The Change Password form's error and the rules as the attempt met them.
    password_error: Option<String>,
    checked_rules: Option<Vec<RuleReport>>,
}

async fn user_page(
    console: &Console,
    user: &User,
    notice: Option<Notice<'_>>,
    extra: Extra,
    status: StatusCode,
) -> Response {
    let services = &console.state.services;
    let gathered = async {
        let rules = services.password_rules_for(user).await?;
        let sessions = services.user_sessions(&user.user_id).await?;
        let methods = services.authentication_methods(&user.user_id).await?;
        let blocks = services.user_blocks(&user.user_id).await?;
        let (logs, _) = services.user_logs(&user.user_id, 0, 10).await?;
        Ok::<_, ServiceError>((rules, sessions, methods, blocks, logs))
    };
    let (rules, sessions, methods, blocks, logs) = match gathered.await {
        Ok(v) => v,
        Err(err) => {
            tracing::error!(error = ?err, "loading a user page in the console");
            return error_page();
        }
    };
    let path = user_path(&user.user_id);
    let csrf = console.csrf_field();
    let email = user.email.as_ref().map(|m| m.as_str().to_owned());
    let action = |what: &str, label: &str, class: &str| {
        format!(
            r#"<form method="post" action="{path}/{what}" class="inline">{csrf}<button type="submit" class="{class}">{label}</button></form>"#,
            path = e(&path),
        )
    };
    let facts = format!(
        r#"<dl class="facts">
<dt>User id</dt><dd><code>{id}</code></dd>
<dt>Email</dt><dd>{email} {verified}</dd>
<dt>Name</dt><dd>{name}</dd>
<dt>Identities</dt><dd>{connection} <span class="hint">(auth0, database)</span></dd>
<dt>Created</dt><dd>{created}</dd>
<dt>Updated</dt><dd>{updated}</dd>
<dt>Last login</dt><dd>{last_login}{last_ip}</dd>
<dt>Logins</dt><dd>{logins}</dd>
<dt>Last password reset</dt><dd>{last_reset}</dd>
<dt>Status</dt><dd>{status}</dd>
</dl>"#,
        id = e(user.user_id.as_str()),
        email = e(email.as_deref().unwrap_or("—")),
        verified = if user.email_verified {
            r#"<span class="badge ok">verified</span>"#
        } else {
            r#"<span class="badge">not verified</span>"#
        },
        name = e(&user.display_name()),
        connection = e(&user.connection),
        created = e(&user.created_at.to_iso()),
        updated = e(&user.updated_at.to_iso()),
        last_login = e(&when(user.last_login)),
        last_ip = user
            .last_ip
            .as_deref()
            .map_or(String::new(), |ip| format!(" from {}", e(ip))),
        logins = user.logins_count,
        last_reset = e(&when(user.last_password_reset)),
        status = if user.blocked {
            r#"<span class="badge bad">Blocked</span>"#
        } else {
            r#"<span class="badge ok">Active</span>"#
        },
    );
    let password_error = extra.password_error.as_deref().map_or(String::new(), |m| {
        format!(
            r#"<div id="password-error" class="alert error" role="alert">{}</div>"#,
            e(m)
        )
    });
    let checked = extra.checked_rules.is_some();
    let shown_rules = extra.checked_rules.unwrap_or(rules);
    let change_password = format!(
        r#"<section class="panel" aria-labelledby="cp"><h2 id="cp">Change Password</h2>
<p class="hint">Sets the password now. The user is not told (no mail goes out); every session and refresh token they have ends.</p>
{password_error}<form method="post" action="{path}/password" novalidate>{csrf}
<input type="text" name="username" autocomplete="off" value="{email}" hidden>
<label for="newPassword">New password</label>
<input id="newPassword" name="newPassword" type="password" autocomplete="new-password" required aria-invalid="{invalid}" aria-describedby="{described}user-rules">
<div id="user-rules">{rules}</div>
<label for="confirmNewPassword">Confirm new password</label>
<input id="confirmNewPassword" name="confirmNewPassword" type="password" autocomplete="new-password" required>
<button type="submit">Change Password</button></form></section>"#,
        path = e(&path),
        email = e(email.as_deref().unwrap_or_default()),
        rules = rules_list(&shown_rules, checked),
        invalid = extra.password_error.is_some(),
        described = if extra.password_error.is_some() {
            "password-error "
        } else {
            ""
        },
    );
    let ticket = extra.ticket.as_deref().map_or(String::new(), |t| {
        format!(
            r#"<div class="alert ok" role="status"><label for="ticket-url">Password-change link (valid 7 days, works once). Copy it and send it to the user:</label>
<input id="ticket-url" type="text" readonly value="{}"></div>"#,
            e(t)
        )
    });
    let reset_actions = format!(
        r#"<section class="panel" aria-labelledby="ra"><h2 id="ra">Reset by link</h2>{ticket}
<div class="actions">{send}{create}</div></section>"#,
        send = if email.is_some() {
            action("send-reset", "Send reset email", "secondary")
        } else {
            String::new()
        },
        create = action("ticket", "Create a password-change link", "secondary"),
    );
    let session_rows: String = sessions
        .iter()
        .map(|s| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                e(&s.created_at.to_iso()),
                e(&s.last_seen_at.to_iso()),
                e(s.ip.as_deref().unwrap_or("—")),
                e(s.user_agent.as_deref().unwrap_or("—"))
            )
        })
        .collect();
    let sessions_html = if sessions.is_empty() {
        r#"<p class="empty">No live session.</p>"#.to_owned()
    } else {
        format!(
            r#"<table><thead><tr><th scope="col">Started</th><th scope="col">Last seen</th><th scope="col">IP</th><th scope="col">Browser</th></tr></thead><tbody>{session_rows}</tbody></table><div class="actions">{}</div>"#,
            action("revoke-sessions", "End every session", "secondary")
        )
    };
    let method_rows: String = methods
        .iter()
        .map(|m| {
            format!(
                "<li>{} <span class=\"hint\">{} · {}</span></li>",
                e(m.name.as_deref().unwrap_or(&m.kind)),
                e(&m.kind),
                e(&m.created_at.to_iso())
            )
        })
        .collect();
    let mfa_html = if methods.is_empty() {
        r#"<p class="empty">No second factor enrolled.</p>"#.to_owned()
    } else {
        format!(
            r#"<ul class="plain">{method_rows}</ul><div class="actions">{}</div>"#,
            action("reset-mfa", "Reset MFA", "secondary")
        )
    };
    let blocked_for = blocks["blocked_for"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let blocks_html = if blocked_for.is_empty() {
        r#"<p class="empty">No brute-force block.</p>"#.to_owned()
    } else {
        let items: String = blocked_for
            .iter()
            .map(|b| {
                format!(
                    "<li>{} <span class=\"hint\">since {}</span></li>",
                    e(b["ip"].as_str().unwrap_or_default()),
                    e(b["blocked_at"].as_str().unwrap_or_default())
                )
            })
            .collect();
        format!(
            r#"<ul class="plain">{items}</ul><div class="actions">{}</div>"#,
            action("lift-blocks", "Lift brute-force blocks", "secondary")
        )
    };
    let log_rows: String = logs
        .iter()
        .map(|l| {
            format!(
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                e(l["date"].as_str().unwrap_or_default()),
                e(l["type"].as_str().unwrap_or_default()),
                e(l["description"].as_str().unwrap_or_default()),
                e(l["ip"].as_str().unwrap_or_default())
            )
        })
        .collect();
    let logs_html = if logs.is_empty() {
        r#"<p class="empty">Nothing logged yet.</p>"#.to_owned()
    } else {
        format!(
            r#"<table><thead><tr><th scope="col">Date</th><th scope="col">Type</th><th scope="col">Description</th><th scope="col">IP</th></tr></thead><tbody>{log_rows}</tbody></table>
<p><a href="/admin/logs?user={}">All of this user's log</a></p>"#,
            e(
                &url::form_urlencoded::byte_serialize(user.user_id.as_str().as_bytes())
                    .collect::<String>()
            )
        )
    };
    let confirm_hint = email.as_deref().unwrap_or(user.user_id.as_str());
    let body = format!(
        r#"<p><a href="/admin/users">← Users</a></p>
<div class="grid">
<section class="panel" aria-labelledby="pf"><h2 id="pf">Profile</h2>{facts}
<div class="actions">{block}</div></section>
{change_password}
{reset_actions}
<section class="panel" aria-labelledby="ss"><h2 id="ss">Sessions</h2>{sessions_html}</section>
<section class="panel" aria-labelledby="mf"><h2 id="mf">Multi-factor authentication</h2>{mfa_html}</section>
<section class="panel" aria-labelledby="bf"><h2 id="bf">Brute-force protection</h2>{blocks_html}</section>
<section class="panel wide" aria-labelledby="lg"><h2 id="lg">Recent activity</h2>{logs_html}</section>
<section class="panel danger" aria-labelledby="dl"><h2 id="dl">Delete user</h2>
<p>This removes the user and everything they own here. It cannot be undone.</p>
<form method="post" action="{path}/delete">{csrf}<label for="confirm">Type <strong>{confirm_hint}</strong> to confirm</label>
<input id="confirm" name="confirm" type="text" autocomplete="off" required><button type="submit" class="danger">Delete user</button></form></section>
</div>"#,
        block = if user.blocked {
            action("unblock", "Unblock user", "secondary")
        } else {
            action("block", "Block user", "secondary")
        },
        path = e(&path),
        confirm_hint = e(confirm_hint),
    );
    let title = email.unwrap_or_else(|| user.display_name());
    console.page(status, SECTION, &title, notice, &body)
}

async fn detail(
    console: Console,
    Path(raw): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Response {
    let Ok(id) = UserId::parse(&raw) else {
        return no_such_user();
    };
    let user = match console.state.services.get_user(&id).await {
        Ok(u) => u,
        Err(ServiceError::NotFound { .. }) => {
            return console.page(
                StatusCode::NOT_FOUND,
                SECTION,
                "User not found",
                None,
                r#"<p>There is no such user. <a href="/admin/users">Back to users</a></p>"#,
            );
        }
        Err(err) => {
            tracing::error!(error = ?err, "loading a user in the console");
            return error_page();
        }
    };
    let notice = q.done.as_deref().and_then(notice_text).map(Notice::Ok);
    user_page(&console, &user, notice, Extra::default(), StatusCode::OK).await
}

/// The common start of every action: the user the path names.
async fn begin(console: Console, raw: &str) -> Result<(Console, User), Response> {
    let id = UserId::parse(raw).map_err(|_| no_such_user())?;
    match console.state.services.get_user(&id).await {
        Ok(user) => Ok((console, user)),
        Err(ServiceError::NotFound { .. }) => Err(no_such_user()),
        Err(err) => {
            tracing::error!(error = ?err, "loading a user in the console");
            Err(error_page())
        }
    }
}

/// Maps an action's failure to the user page with the service's message.
async fn failed(console: &Console, user: &User, err: ServiceError) -> Response {
    let (status, message) = match &err {
        ServiceError::BadRequest { message, .. }
        | ServiceError::NotFound { message, .. }
        | ServiceError::Conflict { message, .. } => (StatusCode::BAD_REQUEST, message.clone()),
        ServiceError::TooManyRequests(m) => (StatusCode::TOO_MANY_REQUESTS, m.clone()),
        ServiceError::Invalid(p) => (StatusCode::BAD_REQUEST, p.to_string()),
        _ => {
            tracing::error!(error = ?err, "a console action on a user");
            return error_page();
        }
    };
    user_page(
        console,
        user,
        Some(Notice::Error(&message)),
        Extra::default(),
        status,
    )
    .await
}

#[derive(Deserialize)]
struct PasswordFields {
    #[serde(rename = "newPassword", default)]
    new_password: String,
    #[serde(rename = "confirmNewPassword", default)]
    confirm: String,
}

async fn change_password(
    Meta(meta): Meta,
    Path(raw): Path<String>,
    ConsoleForm(console, f): ConsoleForm<PasswordFields>,
) -> Response {
    let (console, user) = match begin(console, &raw).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let refuse = |message: &str, rules: Option<Vec<RuleReport>>| Extra {
        password_error: Some(message.to_owned()),
        checked_rules: rules,
        ..Extra::default()
    };
    if f.new_password != f.confirm {
        let extra = refuse("The two passwords are not the same.", None);
        return user_page(&console, &user, None, extra, StatusCode::BAD_REQUEST).await;
    }
    let password = match Password::parse(f.new_password.clone()) {
        Ok(p) => p,
        Err(err) => {
            let extra = refuse(&err.to_string(), None);
            return user_page(&console, &user, None, extra, StatusCode::BAD_REQUEST).await;
        }
    };
    let caller = console.admin.caller(meta);
    match console
        .state
        .services
        .set_password(
            &user.user_id,
            password,
            PasswordChangeReason::Dashboard,
            &caller,
        )
        .await
    {
        Ok(_) => done(&user_path(&user.user_id), "password"),
        Err(ServiceError::PasswordPolicy(v)) => {
            let extra = refuse(v.name.message(), Some(v.rules.clone()));
            user_page(&console, &user, None, extra, StatusCode::BAD_REQUEST).await
        }
        Err(err) => failed(&console, &user, err).await,
    }
}

async fn ticket(
    Meta(meta): Meta,
    Path(raw): Path<String>,
    ConsoleForm(console, _): ConsoleForm<NoFields>,
) -> Response {
    let (console, user) = match begin(console, &raw).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let request = NewPasswordTicket {
        user_id: Some(user.user_id.clone()),
        ttl_sec: Some(7 * 24 * 3600),
        mark_email_as_verified: true,
        ..NewPasswordTicket::default()
    };
    let caller = console.admin.caller(meta);
    match console
        .state
        .services
        .create_password_ticket(request, &caller)
        .await
    {
        Ok(url) => {
            let extra = Extra {
                ticket: Some(url),
                ..Extra::default()
            };
            user_page(&console, &user, None, extra, StatusCode::OK).await
        }
        Err(err) => failed(&console, &user, err).await,
    }
}

/// The simple actions: run one service call, then back to the user page with its notice.
macro_rules! simple_action {
    ($name:ident, $code:literal, |$services:ident, $user:ident, $caller:ident| $call:expr) => {
        async fn $name(
            Meta(meta): Meta,
            Path(raw): Path<String>,
            ConsoleForm(console, _): ConsoleForm<NoFields>,
        ) -> Response {
            let (console, $user) = match begin(console, &raw).await {
                Ok(v) => v,
                Err(r) => return r,
            };
            let $caller = console.admin.caller(meta);
            let $services = console.state.services.clone();
            let result: Result<(), ServiceError> = $call.await.map(drop);
            match result {
                Ok(()) => done(&user_path(&$user.user_id), $code),
                Err(err) => failed(&console, &$user, err).await,
            }
        }
    };
}

simple_action!(send_reset, "reset-sent", |services, user, caller| async {
    let email = user.email.clone().ok_or_else(|| {
        ServiceError::bad_request(ErrorCode::NoEmail, "This user has no email address.")
    })?;
    let request = PasswordResetRequest {
        client_id: None,
        connection: user.connection.clone(),
        email,
        password: None,
    };
    services
        .request_password_reset(request, &caller)
        .await
        .result
});
simple_action!(reset_mfa, "mfa", |services, user, caller| services
    .delete_authenticators(&user.user_id, &caller));
simple_action!(block, "blocked", |services, user, caller| services
    .update_user(
        &user.user_id,
        UserPatch {
            blocked: Some(true),
            ..UserPatch::default()
        },
        &caller
    ));
simple_action!(unblock, "unblocked", |services, user, caller| services
    .update_user(
        &user.user_id,
        UserPatch {
            blocked: Some(false),
            ..UserPatch::default()
        },
        &caller
    ));
simple_action!(lift_blocks, "lifted", |services, user, caller| services
    .unblock_user(&user.user_id, &caller));
simple_action!(revoke_sessions, "sessions", |services, user, caller| {
    services.revoke_user_sessions(&user.user_id, &caller)
});

#[derive(Deserialize)]
struct DeleteFields {
    #[serde(default)]
    confirm: String,
}

async fn delete(
    Meta(meta): Meta,
    Path(raw): Path<String>,
    ConsoleForm(console, f): ConsoleForm<DeleteFields>,
) -> Response {
    let (console, user) = match begin(console, &raw).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let expected = user.email.as_ref().map_or_else(
        || user.user_id.as_str().to_owned(),
        |m| m.as_str().to_owned(),
    );
    if f.confirm.trim() != expected {
        let err = ServiceError::bad_request(
            ErrorCode::NotConfirmed,
            format!("Nothing was deleted: type {expected} to confirm."),
        );
        return failed(&console, &user, err).await;
    }
    let caller: Caller = console.admin.caller(meta);
    match console
        .state
        .services
        .delete_user(&user.user_id, &caller)
        .await
    {
        Ok(()) => Redirect::to("/admin/users?done=deleted").into_response(),
        Err(err) => failed(&console, &user, err).await,
    }
}
