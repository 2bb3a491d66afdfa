//! The Applications section's view models: one struct per template in
//! `templates/console/applications/`, holding plain values. Templates escape every value.

use askama::Template;

/// One application in the list.
pub(super) struct AppRow<'a> {
    pub(super) path: String,
    /// The name, or the client ID when it has none.
    pub(super) name: &'a str,
    /// The Management API's own client.
    pub(super) global: bool,
    pub(super) id: &'a str,
    pub(super) kind: &'static str,
    /// The first callback URL, and how many more there are.
    pub(super) first_callback: Option<&'a str>,
    pub(super) more_callbacks: usize,
}

/// One API (resource server), read-only: APIs are managed with the Management API.
pub(super) struct ApiRow<'a> {
    pub(super) name: &'a str,
    pub(super) identifier: &'a str,
    pub(super) system: bool,
    pub(super) scopes: usize,
    pub(super) token_lifetime: u32,
    pub(super) offline: bool,
}

#[derive(Template)]
#[template(path = "console/applications/list.html")]
pub(super) struct List<'a> {
    pub(super) rows: Vec<AppRow<'a>>,
    pub(super) apis: Vec<ApiRow<'a>>,
}

/// One application: its facts, the URL form and "Rotate secret".
#[derive(Template)]
#[template(path = "console/applications/detail.html")]
pub(super) struct Detail<'a> {
    pub(super) csrf: String,
    pub(super) path: String,
    /// The secret just made by a rotation: shown this once.
    pub(super) new_secret: Option<&'a str>,
    pub(super) id: &'a str,
    pub(super) kind: &'static str,
    pub(super) description: &'a str,
    pub(super) grants: String,
    pub(super) method: &'static str,
    pub(super) created: String,
    pub(super) global: bool,
    /// The four URL lists, one a line (as typed after a refusal, otherwise as saved).
    pub(super) callbacks: &'a str,
    pub(super) allowed_logout_urls: &'a str,
    pub(super) web_origins: &'a str,
    pub(super) allowed_origins: &'a str,
    /// `cross_origin_authentication` and `cross_origin_loc` (embedded login).
    pub(super) cross_origin_authentication: bool,
    pub(super) cross_origin_loc: &'a str,
}

#[derive(Template)]
#[template(path = "console/applications/missing.html")]
pub(super) struct Missing;
