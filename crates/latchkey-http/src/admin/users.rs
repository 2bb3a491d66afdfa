//! Users: search and paging, the user's page (profile, sign-in facts, sessions, MFA, blocks,
//! recent log), and the actions on it. Each action calls the service function the
//! Management API calls, with the administrator as the caller (logged as such).

use super::users_views::{
    BlockRow, Detail, List, ListRow, LogRow, MethodRow, Missing, New, SessionRow,
};
use super::{Console, ConsoleForm, NoFields, Notice, done};
use crate::AppState;
use crate::extract::Meta;
use crate::web::Moment;
use crate::web::views::RuleLine;
use axum::Router;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use latchkey_core::ErrorCode;
use latchkey_core::ServiceError;
use latchkey_core::domain::{Email, Password, Profile, User, UserId};
use latchkey_core::password::{PasswordPolicy, RuleReport};
use latchkey_core::services::{
    Caller, DEFAULT_CONNECTION, NewPasswordTicket, NewUser, PasswordChangeReason,
    PasswordResetRequest, UserPatch,
};
use latchkey_core::store::UserQuery;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(list))
        .route("/admin/users/new", get(new_form).post(create))
        .route("/admin/users/{id}", get(detail))
        .route("/admin/users/{id}/password", post(change_password))
        .route("/admin/users/{id}/send-reset", post(send_reset))
        .route(
            "/admin/users/{id}/send-verification",
            post(send_verification),
        )
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
    format!("/admin/users/{}", crate::web::url_component(id.as_str()))
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
    let (users, total) = match console.state.services.directory.list_users(&query).await {
        Ok(r) => r,
        Err(err) => {
            return crate::web::failed("listing users in the console", err);
        }
    };
    let rows = users
        .iter()
        .map(|u| ListRow {
            path: user_path(&u.user_id),
            label: u
                .email
                .as_ref()
                .map_or_else(|| u.display_name(), |m| m.as_str().to_owned()),
            id: u.user_id.as_str().to_owned(),
            connection: u.connection.clone(),
            logins: u.logins_count,
            last_login: u.last_login.map(Moment::of),
            blocked: u.blocked,
        })
        .collect();
    let pages = total.div_ceil(u64::from(PER_PAGE)).max(1);
    let page_query = |p: u32| {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("q", &search)
            .append_pair("page", &p.to_string())
            .finish()
    };
    let view = List {
        search: &search,
        rows,
        previous: (page > 0).then(|| page_query(page - 1)),
        next: (u64::from(page + 1) < pages).then(|| page_query(page + 1)),
        page: page + 1,
        pages,
        total,
    };
    let notice = (q.done.as_deref() == Some("deleted")).then_some(Notice::Ok("User deleted."));
    console.render(StatusCode::OK, SECTION, "Users", notice, &view)
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
        "verification-sent" => "A verification link is on its way to the user's address.",
        "mfa" => "Second factors removed: the user enrols again at the next login.",
        "blocked" => "User blocked: they can no longer sign in.",
        "unblocked" => "User unblocked.",
        "lifted" => "Brute-force blocks lifted.",
        "sessions" => "Every session of the user was ended.",
        "created" => "User created.",
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
        let rules = services.credentials.password_rules_for(user).await?;
        let sessions = services.sessions.user_sessions(&user.user_id).await?;
        let methods = services.mfa.authentication_methods(&user.user_id).await?;
        let blocks = services.login.user_blocks(&user.user_id).await?;
        let (logs, _) = services.directory.user_logs(&user.user_id, 0, 10).await?;
        Ok::<_, ServiceError>((rules, sessions, methods, blocks, logs))
    };
    let (rules, sessions, methods, blocks, logs) = match gathered.await {
        Ok(v) => v,
        Err(err) => {
            return crate::web::failed("loading a user page in the console", err);
        }
    };
    let path = user_path(&user.user_id);
    let email = user.email.as_ref().map(|m| m.as_str());
    let checked = extra.checked_rules.is_some();
    let shown_rules = extra.checked_rules.unwrap_or(rules);
    let blocks = blocks["blocked_for"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|b| BlockRow {
                    ip: b["ip"].as_str().unwrap_or_default().to_owned(),
                    since: Moment::written(b["blocked_at"].as_str().unwrap_or_default()),
                })
                .collect()
        })
        .unwrap_or_default();
    let text = |v: &serde_json::Value, key: &str| v[key].as_str().unwrap_or_default().to_owned();
    let view = Detail {
        path: &path,
        csrf: console.csrf(),
        id: user.user_id.as_str(),
        email,
        email_verified: user.email_verified,
        name: user.display_name(),
        connection: &user.connection,
        created: Moment::of(user.created_at),
        updated: Moment::of(user.updated_at),
        last_login: user.last_login.map(Moment::of),
        last_ip: user.last_ip.as_deref(),
        logins: user.logins_count,
        last_reset: user.last_password_reset.map(Moment::of),
        blocked: user.blocked,
        password_error: extra.password_error.as_deref(),
        rules: RuleLine::list(&shown_rules, checked),
        ticket: extra.ticket.as_deref(),
        sessions: sessions
            .iter()
            .map(|s| SessionRow {
                started: Moment::of(s.created_at),
                last_seen: Moment::of(s.last_seen_at),
                ip: s.ip.as_deref().unwrap_or("—").to_owned(),
                browser: s.user_agent.as_deref().unwrap_or("—").to_owned(),
            })
            .collect(),
        methods: methods
            .iter()
            .map(|m| MethodRow {
                name: m.name.as_deref().unwrap_or(&m.kind).to_owned(),
                kind: m.kind.clone(),
                created: Moment::of(m.created_at),
            })
            .collect(),
        blocks,
        logs: logs
            .iter()
            .map(|l| LogRow {
                date: Moment::written(l["date"].as_str().unwrap_or_default()),
                kind: text(l, "type"),
                description: text(l, "description"),
                ip: text(l, "ip"),
            })
            .collect(),
        logs_user: url::form_urlencoded::byte_serialize(user.user_id.as_str().as_bytes()).collect(),
        confirm_hint: email.unwrap_or(user.user_id.as_str()),
    };
    let title = email.map_or_else(|| user.display_name(), str::to_owned);
    console.render(status, SECTION, &title, notice, &view)
}

async fn detail(
    console: Console,
    Path(raw): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Response {
    let Ok(id) = UserId::parse(&raw) else {
        return no_such_user();
    };
    let user = match console.state.services.directory.get_user(&id).await {
        Ok(u) => u,
        Err(ServiceError::NotFound { .. }) => {
            return console.render(
                StatusCode::NOT_FOUND,
                SECTION,
                "User not found",
                None,
                &Missing,
            );
        }
        Err(err) => {
            return crate::web::failed("loading a user in the console", err);
        }
    };
    let notice = q.done.as_deref().and_then(notice_text).map(Notice::Ok);
    user_page(&console, &user, notice, Extra::default(), StatusCode::OK).await
}

/// The common start of every action: the user the path names.
async fn begin(console: Console, raw: &str) -> Result<(Console, User), Response> {
    let id = UserId::parse(raw).map_err(|_| no_such_user())?;
    match console.state.services.directory.get_user(&id).await {
        Ok(user) => Ok((console, user)),
        Err(ServiceError::NotFound { .. }) => Err(no_such_user()),
        Err(err) => Err(crate::web::failed("loading a user in the console", err)),
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
            return crate::web::failed("a console action on a user", err);
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
        .credentials
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
        .credentials
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
        .credentials
        .request_password_reset(request, &caller)
        .await
        .result
});
simple_action!(
    send_verification,
    "verification-sent",
    |services, user, caller| {
        services.credentials.start_verification_email_job(
            latchkey_core::services::NewVerificationJob {
                user_id: Some(user.user_id.clone()),
                ..Default::default()
            },
            &caller,
        )
    }
);
simple_action!(reset_mfa, "mfa", |services, user, caller| services
    .mfa
    .delete_authenticators(&user.user_id, &caller));
simple_action!(block, "blocked", |services, user, caller| services
    .users
    .update_user(
        &user.user_id,
        UserPatch {
            blocked: Some(true),
            ..UserPatch::default()
        },
        &caller
    ));
simple_action!(unblock, "unblocked", |services, user, caller| services
    .users
    .update_user(
        &user.user_id,
        UserPatch {
            blocked: Some(false),
            ..UserPatch::default()
        },
        &caller
    ));
simple_action!(lift_blocks, "lifted", |services, user, caller| services
    .login
    .unblock_user(&user.user_id, &caller));
simple_action!(revoke_sessions, "sessions", |services, user, caller| {
    services
        .sessions
        .revoke_user_sessions(&user.user_id, &caller)
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
        .users
        .delete_user(&user.user_id, &caller)
        .await
    {
        Ok(()) => Redirect::to("/admin/users?done=deleted").into_response(),
        Err(err) => failed(&console, &user, err).await,
    }
}

#[derive(Deserialize, Default)]
struct NewUserQuery {
    connection: Option<String>,
}

/// What the Create user form shows besides its fields.
#[derive(Default)]
struct NewUserErrors<'a> {
    form: Option<&'a str>,
    email: Option<String>,
    password: Option<String>,
    /// The rules as a refused password met them.
    checked_rules: Option<Vec<RuleReport>>,
}

/// The Create user form for `connection` (the default one if there is no such database
/// connection), with the fields as typed.
async fn new_user_page(
    console: &Console,
    fields: &NewUserFields,
    errors: NewUserErrors<'_>,
    status: StatusCode,
) -> Response {
    let connections = match console.state.services.tenant.list_connections().await {
        Ok(list) => list,
        Err(err) => {
            return crate::web::failed("listing connections for Create user", err);
        }
    };
    let databases: Vec<_> = connections.iter().filter(|c| c.is_database()).collect();
    let chosen = databases
        .iter()
        .find(|c| c.name == fields.connection)
        .or_else(|| databases.iter().find(|c| c.name == DEFAULT_CONNECTION))
        .or_else(|| databases.first());
    let connection = chosen.map_or(DEFAULT_CONNECTION, |c| c.name.as_str());
    let rules = match (&errors.checked_rules, chosen) {
        (Some(checked), _) => RuleLine::list(checked, true),
        (None, Some(c)) => {
            RuleLine::list(&PasswordPolicy::from_options(&c.options).describe(), false)
        }
        (None, None) => Vec::new(),
    };
    let view = New {
        csrf: console.csrf(),
        connections: databases.iter().map(|c| c.name.clone()).collect(),
        connection,
        email: fields.email.trim(),
        email_verified: fields.email_verified.is_some(),
        rules,
        error: errors.form,
        email_error: errors.email.as_deref(),
        password_error: errors.password.as_deref(),
    };
    console.render(status, SECTION, "Create user", None, &view)
}

async fn new_form(console: Console, Query(q): Query<NewUserQuery>) -> Response {
    let fields = NewUserFields {
        connection: q.connection.unwrap_or_default(),
        ..NewUserFields::default()
    };
    new_user_page(&console, &fields, NewUserErrors::default(), StatusCode::OK).await
}

#[derive(Deserialize, Default)]
struct NewUserFields {
    #[serde(default)]
    connection: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    /// A checkbox: present when ticked.
    email_verified: Option<String>,
}

/// `POST /admin/users/new`: the service function `POST /api/v2/users` calls, with the
/// administrator as the caller.
async fn create(Meta(meta): Meta, ConsoleForm(console, f): ConsoleForm<NewUserFields>) -> Response {
    let email = Email::parse(&f.email);
    let password = Password::parse(f.password.clone());
    if email.is_err() || password.is_err() {
        let errors = NewUserErrors {
            email: email
                .as_ref()
                .err()
                .map(|e| format!("The email address {}.", e.reason)),
            password: password
                .as_ref()
                .err()
                .map(|e| format!("The password {}.", e.reason)),
            ..NewUserErrors::default()
        };
        return new_user_page(&console, &f, errors, StatusCode::BAD_REQUEST).await;
    }
    let connection = match f.connection.trim() {
        "" => DEFAULT_CONNECTION.to_owned(),
        name => name.to_owned(),
    };
    let new = NewUser {
        connection,
        email: email.ok(),
        email_verified: f.email_verified.is_some(),
        username: None,
        password: password.ok(),
        user_id: None,
        profile: Profile::default(),
        user_metadata: serde_json::Map::new(),
        app_metadata: serde_json::Map::new(),
        blocked: false,
        // The console's form has no "send verification email" choice yet: none is sent.
        verify_email: false,
    };
    let caller = console.admin.caller(meta);
    match console.state.services.users.create_user(new, &caller).await {
        Ok(user) => done(&user_path(&user.user_id), "created"),
        Err(ServiceError::PasswordPolicy(v)) => {
            let errors = NewUserErrors {
                password: Some(v.name.message().to_owned()),
                checked_rules: Some(v.rules),
                ..NewUserErrors::default()
            };
            new_user_page(&console, &f, errors, StatusCode::BAD_REQUEST).await
        }
        Err(
            ServiceError::Conflict { message, .. }
            | ServiceError::BadRequest { message, .. }
            | ServiceError::NotFound { message, .. },
        ) => {
            let errors = NewUserErrors {
                form: Some(&message),
                ..NewUserErrors::default()
            };
            new_user_page(&console, &f, errors, StatusCode::BAD_REQUEST).await
        }
        Err(ServiceError::Invalid(p)) => {
            let message = p.to_string();
            let errors = NewUserErrors {
                form: Some(&message),
                ..NewUserErrors::default()
            };
            new_user_page(&console, &f, errors, StatusCode::BAD_REQUEST).await
        }
        Err(err) => crate::web::failed("creating a user in the console", err),
    }
}
