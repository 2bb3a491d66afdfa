//! The settings page's view model (`templates/console/settings/`): plain values, escaped by
//! the template.

use super::settings::GeneralFields;
use askama::Template;

/// The settings page: the tenant form (from the settings or what was just typed), the
/// change-password flow and multi-factor authentication.
#[derive(Template)]
#[template(path = "console/settings/page.html")]
pub(super) struct Settings<'a> {
    pub(super) csrf: String,
    pub(super) general: &'a GeneralFields,
    /// The change-password flow is v1 (legacy).
    pub(super) flow_v1: bool,
    /// The authenticator-app factor is on.
    pub(super) otp: bool,
    /// The policy asks for MFA on every login.
    pub(super) all_apps: bool,
}
