//! The database section's view models (`templates/console/database/`): plain values, escaped
//! by the templates.

use super::database::PolicyFields;
use crate::web::views::RuleLine;
use askama::Template;

/// One database connection: its password policy form beside the rules as users see them.
#[derive(Template)]
#[template(path = "console/database/connection.html")]
pub(super) struct Connection<'a> {
    /// A link back to the list (when there is more than one connection).
    pub(super) back: bool,
    pub(super) path: String,
    pub(super) csrf: String,
    /// The strength levels: (value, label).
    pub(super) levels: &'a [(&'a str, &'a str)],
    /// The strength estimate's scores: (value, label).
    pub(super) scores: &'a [(&'a str, &'a str)],
    pub(super) fields: &'a PolicyFields,
    pub(super) rules: Vec<RuleLine>,
    /// The checks besides the rules, one sentence each.
    pub(super) other: Vec<String>,
}

/// A row of the connections list.
pub(super) struct Row {
    pub(super) path: String,
    pub(super) name: String,
    pub(super) id: String,
    pub(super) level: &'static str,
    pub(super) rules: String,
}

#[derive(Template)]
#[template(path = "console/database/list.html")]
pub(super) struct List {
    pub(super) rows: Vec<Row>,
}

#[derive(Template)]
#[template(path = "console/database/empty.html")]
pub(super) struct Empty;

#[derive(Template)]
#[template(path = "console/database/not_found.html")]
pub(super) struct NotFound;
