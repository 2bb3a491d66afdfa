//! The console's view models: one struct per template in `templates/console/`.

use super::Notice;
use crate::web::Html;
use askama::Template;

/// Every signed-in console page: the top bar, the navigation and the notice around a body.
#[derive(Template)]
#[template(path = "console/layout.html")]
pub(super) struct Layout<'a> {
    pub(super) title: &'a str,
    pub(super) tenant: &'a str,
    pub(super) csrf: String,
    pub(super) who: &'a str,
    pub(super) sections: &'a [(&'a str, &'a str)],
    pub(super) section: &'a str,
    pub(super) notice: Option<Notice<'a>>,
    pub(super) body: &'a Html,
}

/// The narrow card of the sign-in, forgot-password and reset pages.
#[derive(Template)]
#[template(path = "console/card.html")]
pub(super) struct Card<'a> {
    pub(super) title: &'a str,
    pub(super) body: &'a Html,
}

#[derive(Template)]
#[template(path = "console/refused.html")]
pub(super) struct Refused<'a> {
    pub(super) message: &'a str,
}

#[derive(Template)]
#[template(path = "console/not_found.html")]
pub(super) struct NotFound<'a> {
    pub(super) path: &'a str,
}
