//! The log's view models: one struct per template in `templates/console/logs/`.

use crate::web::Moment;
use askama::Template;

/// One choice of the type filter.
pub(super) struct TypeOption {
    pub(super) code: &'static str,
    pub(super) label: String,
    pub(super) selected: bool,
}

/// One entry in the list.
pub(super) struct Row {
    /// The log id as a path segment.
    pub(super) id_segment: String,
    pub(super) date: Moment,
    pub(super) kind: String,
    pub(super) description: String,
    /// The user's id as a path segment, and the name to show.
    pub(super) user: Option<(String, String)>,
    pub(super) by: String,
    pub(super) ip: String,
}

/// The filters, one page of entries and the pager.
#[derive(Template)]
#[template(path = "console/logs/list.html")]
pub(super) struct List<'a> {
    pub(super) types: Vec<TypeOption>,
    pub(super) user: &'a str,
    pub(super) from: &'a str,
    pub(super) to: &'a str,
    pub(super) rows: Vec<Row>,
    /// The query strings of the newer and older pages, when there are.
    pub(super) newer: Option<String>,
    pub(super) older: Option<String>,
    /// 1-based.
    pub(super) page: u32,
    pub(super) pages: u64,
    pub(super) total: u64,
}

/// One entry in full.
#[derive(Template)]
#[template(path = "console/logs/entry.html")]
pub(super) struct Entry<'a> {
    pub(super) date: Moment,
    pub(super) kind: &'a str,
    pub(super) description: &'a str,
    pub(super) user: &'a str,
    pub(super) by: &'a str,
    pub(super) ip: &'a str,
    pub(super) pretty: String,
}

/// No such entry: the notice says so; the body leads back.
#[derive(Template)]
#[template(path = "console/logs/missing.html")]
pub(super) struct Missing;
