//! The emails section's view models (`templates/console/emails/`): plain values, escaped by
//! the templates. A template's Liquid source is one of those values: the editor shows it as
//! text, it is never template syntax here.

use super::emails::{ProviderValues, TemplateValues, preview_markup};
use askama::Template;

/// The provider's state beside its heading.
pub(super) enum ProviderState {
    NotConfigured,
    Enabled,
    Disabled,
}

/// The route mail takes.
pub(super) enum Route {
    /// `LATCHKEY_SMTP_URL` is set.
    SmtpUrl,
    /// The enabled provider.
    Provider,
    /// `.eml` files in this directory.
    Outbox(String),
}

/// A row of the templates table.
pub(super) struct TemplateRow {
    pub(super) path: String,
    pub(super) label: &'static str,
    pub(super) name: String,
    pub(super) subject: String,
    pub(super) enabled: bool,
    /// Saved by the tenant (else Latchkey's built-in default).
    pub(super) stored: bool,
}

/// The overview: provider, test mail, templates.
#[derive(Template)]
#[template(path = "console/emails/overview.html")]
pub(super) struct Overview<'a> {
    pub(super) csrf: String,
    pub(super) provider: ProviderState,
    pub(super) route: Route,
    pub(super) values: &'a ProviderValues,
    pub(super) has_password: bool,
    pub(super) default_from: &'a str,
    pub(super) test_to: &'a str,
    pub(super) rows: Vec<TemplateRow>,
}

/// The mail's rendered body as shown in the preview panel: only [`MailMarkup::sanitized`]
/// makes one, so the markup the template writes unescaped is always the sanitised body.
pub(super) struct MailMarkup(String);

impl MailMarkup {
    /// The body between `<body>` and `</body>`, without what would act on the console page
    /// (see `emails::preview_markup`).
    pub(super) fn sanitized(html: &str) -> Self {
        Self(preview_markup(html))
    }

    pub(super) fn as_str(&self) -> &str {
        &self.0
    }
}

/// The preview panel under the template form.
pub(super) enum Preview {
    Rendered {
        subject: String,
        markup: MailMarkup,
        /// The rendered HTML, shown as text.
        source: String,
    },
    Failed(String),
    None,
}

/// One template: the edit form and the preview.
#[derive(Template)]
#[template(path = "console/emails/template.html")]
pub(super) struct TemplatePage<'a> {
    pub(super) path: String,
    pub(super) csrf: String,
    pub(super) stored: bool,
    pub(super) values: &'a TemplateValues,
    /// The body is marked invalid (the page shows an error).
    pub(super) invalid: bool,
    pub(super) preview: Preview,
}

#[derive(Template)]
#[template(path = "console/emails/not_found.html")]
pub(super) struct NotFound;
