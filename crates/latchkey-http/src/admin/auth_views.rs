//! The sign-in, forgot-password and reset pages' view models (`templates/console/auth/`),
//! each shown in the console's card: plain values, escaped by the templates.

use super::Notice;
use crate::web::views::RuleLine;
use askama::Template;

#[derive(Template)]
#[template(path = "console/auth/login.html")]
pub(super) struct Login<'a> {
    /// A confirmation (mail sent, signed out…) or the reason the sign-in failed.
    pub(super) message: Option<Notice<'a>>,
    /// The fields are marked invalid (the message is an error).
    pub(super) invalid: bool,
    pub(super) csrf: String,
    pub(super) next: &'a str,
    pub(super) email: &'a str,
}

/// Sign-in's second step: the authenticator app's code.
#[derive(Template)]
#[template(path = "console/auth/login_code.html")]
pub(super) struct LoginCode<'a> {
    pub(super) error: Option<&'a str>,
    pub(super) csrf: String,
    pub(super) pending: &'a str,
    pub(super) next: &'a str,
}

#[derive(Template)]
#[template(path = "console/auth/forgot.html")]
pub(super) struct Forgot<'a> {
    pub(super) error: Option<&'a str>,
    pub(super) csrf: String,
}

#[derive(Template)]
#[template(path = "console/auth/reset_invalid.html")]
pub(super) struct ResetInvalid;

/// The reset link's code step, for an administrator with an authenticator.
#[derive(Template)]
#[template(path = "console/auth/reset_code.html")]
pub(super) struct ResetCode<'a> {
    pub(super) error: Option<&'a str>,
    pub(super) csrf: String,
    pub(super) ticket: &'a str,
    /// The tenant's support email or URL, for a lost authenticator.
    pub(super) support: Option<String>,
}

/// The reset link's new-password form.
#[derive(Template)]
#[template(path = "console/auth/reset_form.html")]
pub(super) struct ResetForm<'a> {
    pub(super) email: &'a str,
    pub(super) error: Option<&'a str>,
    pub(super) csrf: String,
    pub(super) ticket: &'a str,
    pub(super) rules: Vec<RuleLine>,
}
