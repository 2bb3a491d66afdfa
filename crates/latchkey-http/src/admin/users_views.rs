//! The users' view models: one struct per template in `templates/console/users/`.

use crate::web::Moment;
use crate::web::views::RuleLine;
use askama::Template;

/// One user in the list.
pub(super) struct ListRow {
    pub(super) path: String,
    pub(super) label: String,
    pub(super) id: String,
    pub(super) connection: String,
    pub(super) logins: i64,
    pub(super) last_login: Option<Moment>,
    pub(super) blocked: bool,
}

/// The search, one page of users and the pager.
#[derive(Template)]
#[template(path = "console/users/list.html")]
pub(super) struct List<'a> {
    pub(super) search: &'a str,
    pub(super) rows: Vec<ListRow>,
    /// The query strings of the previous and next pages, when there are.
    pub(super) previous: Option<String>,
    pub(super) next: Option<String>,
    /// 1-based.
    pub(super) page: u32,
    pub(super) pages: u64,
    pub(super) total: u64,
}

pub(super) struct SessionRow {
    pub(super) started: Moment,
    pub(super) last_seen: Moment,
    pub(super) ip: String,
    pub(super) browser: String,
}

pub(super) struct MethodRow {
    pub(super) name: String,
    pub(super) kind: String,
    pub(super) created: Moment,
}

pub(super) struct BlockRow {
    pub(super) ip: String,
    pub(super) since: Moment,
}

pub(super) struct LogRow {
    pub(super) date: Moment,
    pub(super) kind: String,
    pub(super) description: String,
    pub(super) ip: String,
}

/// The user's page: profile, Change Password, reset links, sessions, MFA, blocks, recent
/// log and delete.
#[derive(Template)]
#[template(path = "console/users/detail.html")]
pub(super) struct Detail<'a> {
    /// `/admin/users/{id}`, the actions' base.
    pub(super) path: &'a str,
    pub(super) csrf: String,
    pub(super) id: &'a str,
    pub(super) email: Option<&'a str>,
    pub(super) email_verified: bool,
    pub(super) name: String,
    pub(super) connection: &'a str,
    pub(super) created: Moment,
    pub(super) updated: Moment,
    pub(super) last_login: Option<Moment>,
    pub(super) last_ip: Option<&'a str>,
    pub(super) logins: i64,
    pub(super) last_reset: Option<Moment>,
    pub(super) blocked: bool,
    /// The Change Password form's error, and its rules (marked once a password was tried).
    pub(super) password_error: Option<&'a str>,
    pub(super) rules: Vec<RuleLine>,
    /// A password-change link just created, to copy.
    pub(super) ticket: Option<&'a str>,
    pub(super) sessions: Vec<SessionRow>,
    pub(super) methods: Vec<MethodRow>,
    pub(super) blocks: Vec<BlockRow>,
    pub(super) logs: Vec<LogRow>,
    /// The user id as a query value (the link to their whole log).
    pub(super) logs_user: String,
    /// What Delete wants typed.
    pub(super) confirm_hint: &'a str,
}

/// No such user.
#[derive(Template)]
#[template(path = "console/users/missing.html")]
pub(super) struct Missing;

/// Create user: a database connection, the address, a password (the connection's rules) and
/// whether the address counts as verified.
#[derive(Template)]
#[template(path = "console/users/new.html")]
pub(super) struct New<'a> {
    pub(super) csrf: String,
    pub(super) connections: Vec<String>,
    pub(super) connection: &'a str,
    pub(super) email: &'a str,
    pub(super) email_verified: bool,
    pub(super) rules: Vec<RuleLine>,
    pub(super) error: Option<&'a str>,
    pub(super) email_error: Option<&'a str>,
    pub(super) password_error: Option<&'a str>,
}
