//! Emails: the SMTP provider (its password is write-only: never shown back), a test mail sent
//! at once, and the templates: sender, subject, redirect URL, URL lifetime, the Liquid body
//! (checked on save, errors shown with the parser's message), enabled, and a preview rendered
//! with sample data. Saving calls the services the Management API calls, with the
//! administrator as the caller.

use super::emails_views as views;
use super::{Console, ConsoleForm, Notice, done};
use crate::AppState;
use crate::extract::Meta;
use crate::web::failed;
use axum::Router;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use latchkey_core::ServiceError;
use latchkey_core::domain::{EmailProvider, EmailTemplate, EmailTemplateName};
use latchkey_core::services::{EmailProviderPatch, EmailTemplatePatch};
use secrecy::SecretString;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/emails", get(overview))
        .route("/admin/emails/provider", post(save_provider))
        .route("/admin/emails/test", post(test_mail))
        .route(
            "/admin/emails/{template}",
            get(template_page).post(save_template),
        )
}

const SECTION: &str = "/admin/emails";

fn template_path(name: EmailTemplateName) -> String {
    format!("{SECTION}/{}", name.as_str())
}

/// What the console calls each template (the Auth0 name is shown beside it).
fn template_label(name: EmailTemplateName) -> &'static str {
    match name {
        EmailTemplateName::ResetEmail => "Password reset link",
        EmailTemplateName::ChangePassword => "Password change confirmation",
        EmailTemplateName::PasswordChanged => "Password changed notice",
        EmailTemplateName::VerifyEmail => "Email verification link",
        EmailTemplateName::BlockedAccount => "Blocked account",
        EmailTemplateName::PasswordReset => "Password reset (legacy)",
        EmailTemplateName::ResetEmailByCode => "Password reset code",
        EmailTemplateName::VerifyEmailByCode => "Email verification code",
        EmailTemplateName::AuthEmailByCode => "Sign-in code",
        EmailTemplateName::WelcomeEmail => "Welcome",
        EmailTemplateName::StolenCredentials => "Stolen credentials",
        EmailTemplateName::EnrollmentEmail => "MFA enrollment",
        EmailTemplateName::MfaOobCode => "MFA code",
        EmailTemplateName::UserInvitation => "User invitation",
        EmailTemplateName::AsyncApproval => "Asynchronous approval",
    }
}

/// The message of an error the administrator can fix; `None` for our own failures.
fn user_message(err: &ServiceError) -> Option<String> {
    match err {
        ServiceError::BadRequest { message, .. }
        | ServiceError::NotFound { message, .. }
        | ServiceError::Conflict { message, .. }
        | ServiceError::TooManyRequests(message) => Some(message.clone()),
        ServiceError::Invalid(p) => Some(p.to_string()),
        _ => None,
    }
}

#[derive(Deserialize, Default)]
struct DoneQuery {
    done: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// The overview: provider, test mail, templates.

/// What the provider form shows: the stored values or the ones just posted; never a password.
pub(super) struct ProviderValues {
    pub(super) host: String,
    pub(super) port: String,
    pub(super) user: String,
    pub(super) from: String,
    pub(super) enabled: bool,
}

impl ProviderValues {
    fn of(p: &EmailProvider) -> Self {
        Self {
            host: p.smtp_host.clone(),
            port: p.smtp_port.to_string(),
            user: p.smtp_user.clone().unwrap_or_default(),
            from: p.default_from_address.clone().unwrap_or_default(),
            enabled: p.enabled,
        }
    }
    fn blank() -> Self {
        Self {
            host: String::new(),
            port: "587".to_owned(),
            user: String::new(),
            from: String::new(),
            enabled: true,
        }
    }
}

fn overview_notice(code: &str) -> Option<&'static str> {
    Some(match code {
        "provider-saved" => "Email provider saved.",
        "test-sent" => "Test mail sent, by the route shown under Provider.",
        _ => return None,
    })
}

/// The overview page. `posted` are the provider form's values after a refused save; `test_to`
/// the address typed for the test mail.
async fn overview_page(
    console: &Console,
    notice: Option<Notice<'_>>,
    posted: Option<ProviderValues>,
    test_to: Option<&str>,
    status: StatusCode,
) -> Response {
    let services = &console.state.services;
    let gathered = async {
        let provider = match services.tenant.email_provider().await {
            Ok(p) => Some(p),
            Err(ServiceError::NotFound { .. }) => None,
            Err(err) => return Err(err),
        };
        let templates = services.tenant.effective_email_templates().await?;
        Ok::<_, ServiceError>((provider, templates))
    };
    let (provider, templates) = match gathered.await {
        Ok(v) => v,
        Err(err) => {
            return failed("loading the emails page in the console", err);
        }
    };
    let config = services.config();
    let values = posted.unwrap_or_else(|| {
        provider
            .as_ref()
            .map_or_else(ProviderValues::blank, ProviderValues::of)
    });
    let route = if config.mail.smtp_url.is_some() {
        views::Route::SmtpUrl
    } else if provider.as_ref().is_some_and(|p| p.enabled) {
        views::Route::Provider
    } else {
        views::Route::Outbox(config.mail.outbox_dir.display().to_string())
    };
    let rows = templates
        .iter()
        .map(|(t, stored)| views::TemplateRow {
            path: template_path(t.template),
            label: template_label(t.template),
            name: t.template.as_str().to_string(),
            subject: t.subject.clone(),
            enabled: t.enabled,
            stored: *stored,
        })
        .collect();
    let view = views::Overview {
        csrf: console.csrf(),
        provider: match &provider {
            None => views::ProviderState::NotConfigured,
            Some(p) if p.enabled => views::ProviderState::Enabled,
            Some(_) => views::ProviderState::Disabled,
        },
        route,
        values: &values,
        has_password: provider.as_ref().is_some_and(|p| p.smtp_pass.is_some()),
        default_from: &config.mail.default_from,
        test_to: test_to.unwrap_or(&console.admin.email),
        rows,
    };
    console.render(status, SECTION, "Emails", notice, &view)
}

async fn overview(console: Console, Query(q): Query<DoneQuery>) -> Response {
    let notice = q.done.as_deref().and_then(overview_notice).map(Notice::Ok);
    overview_page(&console, notice, None, None, StatusCode::OK).await
}

#[derive(Deserialize)]
struct ProviderFields {
    #[serde(default)]
    smtp_host: String,
    #[serde(default)]
    smtp_port: String,
    #[serde(default)]
    smtp_user: String,
    #[serde(default)]
    smtp_pass: String,
    clear_password: Option<String>,
    #[serde(default)]
    default_from_address: String,
    enabled: Option<String>,
}

fn optional(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

async fn save_provider(
    Meta(meta): Meta,
    ConsoleForm(console, f): ConsoleForm<ProviderFields>,
) -> Response {
    let posted = ProviderValues {
        host: f.smtp_host.trim().to_owned(),
        port: f.smtp_port.trim().to_owned(),
        user: f.smtp_user.trim().to_owned(),
        from: f.default_from_address.trim().to_owned(),
        enabled: f.enabled.is_some(),
    };
    let Ok(port) = posted.port.parse::<u16>() else {
        let notice = Notice::Error("The port must be a number from 1 to 65535.");
        return overview_page(
            &console,
            Some(notice),
            Some(posted),
            None,
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    let password = if f.clear_password.is_some() {
        Some(None)
    } else if f.smtp_pass.is_empty() {
        None
    } else {
        Some(Some(SecretString::from(f.smtp_pass)))
    };
    let patch = EmailProviderPatch {
        name: None,
        enabled: Some(posted.enabled),
        default_from_address: Some(optional(&posted.from)),
        smtp_host: Some(posted.host.clone()),
        smtp_port: Some(port),
        smtp_user: Some(optional(&posted.user)),
        smtp_pass: password,
        settings: None,
    };
    let caller = console.admin.caller(meta);
    match console
        .state
        .services
        .tenant
        .save_email_provider(patch, &caller)
        .await
    {
        Ok(_) => done(SECTION, "provider-saved"),
        Err(err) => match user_message(&err) {
            Some(message) => {
                overview_page(
                    &console,
                    Some(Notice::Error(&message)),
                    Some(posted),
                    None,
                    StatusCode::BAD_REQUEST,
                )
                .await
            }
            None => failed("saving the email provider in the console", err),
        },
    }
}

#[derive(Deserialize)]
struct TestFields {
    #[serde(default)]
    to: String,
}

async fn test_mail(Meta(meta): Meta, ConsoleForm(console, f): ConsoleForm<TestFields>) -> Response {
    let caller = console.admin.caller(meta);
    match console
        .state
        .services
        .mailer
        .send_test_mail(&f.to, &caller)
        .await
    {
        Ok(()) => done(SECTION, "test-sent"),
        Err(err) => match user_message(&err) {
            Some(message) => {
                overview_page(
                    &console,
                    Some(Notice::Error(&message)),
                    None,
                    Some(&f.to),
                    StatusCode::BAD_REQUEST,
                )
                .await
            }
            None => failed("sending a test mail from the console", err),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// One template: the edit form and the preview.

/// What the template form shows: the template's values or the ones just posted.
pub(super) struct TemplateValues {
    pub(super) from: String,
    pub(super) subject: String,
    pub(super) result_url: String,
    pub(super) lifetime: String,
    pub(super) body: String,
    pub(super) enabled: bool,
}

impl TemplateValues {
    fn of(t: &EmailTemplate) -> Self {
        Self {
            from: t.from.clone(),
            subject: t.subject.clone(),
            result_url: t.result_url.clone().unwrap_or_default(),
            lifetime: t.url_lifetime_secs.to_string(),
            body: t.body.clone(),
            enabled: t.enabled,
        }
    }
}

/// The preview to show: the rendered subject and body, or why there is none.
enum Preview {
    Rendered { subject: String, html: String },
    Failed(String),
    None,
}

fn template_view(
    console: &Console,
    name: EmailTemplateName,
    stored: bool,
    values: &TemplateValues,
    preview: Preview,
    notice: Option<Notice<'_>>,
    status: StatusCode,
) -> Response {
    let preview = match preview {
        Preview::Rendered { subject, html } => views::Preview::Rendered {
            subject,
            markup: views::MailMarkup::sanitized(&html),
            source: html,
        },
        Preview::Failed(message) => views::Preview::Failed(message),
        Preview::None => views::Preview::None,
    };
    let view = views::TemplatePage {
        path: template_path(name),
        csrf: console.csrf(),
        stored,
        values,
        invalid: matches!(&notice, Some(Notice::Error(_))),
        preview,
    };
    let title = format!("{} ({})", template_label(name), name.as_str());
    console.render(status, SECTION, &title, notice, &view)
}

fn template_notice(code: &str) -> Option<&'static str> {
    (code == "saved").then_some("Template saved. The preview below shows it as saved.")
}

fn no_such_template(console: &Console) -> Response {
    console.render(
        StatusCode::NOT_FOUND,
        SECTION,
        "Template not found",
        None,
        &views::NotFound,
    )
}

/// The template (stored, else built in) for a console page, or the page saying why not.
async fn load_template(
    console: &Console,
    raw: &str,
) -> Result<(EmailTemplateName, EmailTemplate, bool), Response> {
    let Ok(name) = EmailTemplateName::parse(raw) else {
        return Err(no_such_template(console));
    };
    match console
        .state
        .services
        .tenant
        .effective_email_template(name)
        .await
    {
        Ok((t, stored)) => Ok((name, t, stored)),
        Err(ServiceError::NotFound { .. }) => Err(no_such_template(console)),
        Err(err) => Err(failed("loading an email template in the console", err)),
    }
}

/// Renders the preview; the service's message when the template does not render.
async fn render_preview(console: &Console, subject: &str, body: &str) -> Result<Preview, Response> {
    match console
        .state
        .services
        .tenant
        .preview_email_template(subject, body)
        .await
    {
        Ok((subject, html)) => Ok(Preview::Rendered { subject, html }),
        Err(err) => match user_message(&err) {
            Some(message) => Ok(Preview::Failed(message)),
            None => Err(failed("previewing an email template in the console", err)),
        },
    }
}

async fn template_page(
    console: Console,
    Path(raw): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let (name, template, stored) = match load_template(&console, &raw).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let preview = match render_preview(&console, &template.subject, &template.body).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let notice = q.done.as_deref().and_then(template_notice).map(Notice::Ok);
    template_view(
        &console,
        name,
        stored,
        &TemplateValues::of(&template),
        preview,
        notice,
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
struct TemplateFields {
    #[serde(default)]
    from: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    result_url: String,
    #[serde(default)]
    url_lifetime: String,
    #[serde(default)]
    body: String,
    enabled: Option<String>,
    #[serde(default)]
    action: String,
}

async fn save_template(
    Meta(meta): Meta,
    Path(raw): Path<String>,
    ConsoleForm(console, f): ConsoleForm<TemplateFields>,
) -> Response {
    let (name, current, stored) = match load_template(&console, &raw).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let values = TemplateValues {
        from: f.from.trim().to_owned(),
        subject: f.subject,
        result_url: f.result_url.trim().to_owned(),
        lifetime: f.url_lifetime.trim().to_owned(),
        body: f.body,
        enabled: f.enabled.is_some(),
    };
    let refuse = |message: &str| {
        template_view(
            &console,
            name,
            stored,
            &values,
            Preview::None,
            Some(Notice::Error(message)),
            StatusCode::BAD_REQUEST,
        )
    };
    if f.action == "preview" {
        // Renders what was typed; nothing is saved.
        return match render_preview(&console, &values.subject, &values.body).await {
            Ok(Preview::Failed(message)) => refuse(&message),
            Ok(preview) => template_view(
                &console,
                name,
                stored,
                &values,
                preview,
                Some(Notice::Ok(
                    "Preview of the changes below: nothing was saved yet.",
                )),
                StatusCode::OK,
            ),
            Err(r) => r,
        };
    }
    let lifetime = if values.lifetime.is_empty() {
        None
    } else {
        match values.lifetime.parse::<i64>() {
            Ok(v) => Some(v),
            Err(_) => {
                return refuse(
                    "Nothing was saved: the URL lifetime must be a whole number of seconds.",
                );
            }
        }
    };
    let patch = EmailTemplatePatch {
        body: Some(values.body.clone()),
        from: Some(values.from.clone()),
        subject: Some(values.subject.clone()),
        syntax: Some("liquid".to_owned()),
        result_url: Some(optional(&values.result_url)),
        url_lifetime_secs: lifetime,
        include_email_in_redirect: Some(current.include_email_in_redirect),
        enabled: Some(values.enabled),
    };
    let caller = console.admin.caller(meta);
    match console
        .state
        .services
        .tenant
        .replace_email_template(name, patch, &caller)
        .await
    {
        Ok(_) => done(&template_path(name), "saved"),
        Err(err) => match user_message(&err) {
            Some(message) => refuse(&format!("Nothing was saved. {message}")),
            None => failed("saving an email template in the console", err),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// The preview's markup.

/// The rendered body as markup for the preview panel: what lies between `<body>` and
/// `</body>`, without the elements that would act on the console page instead of showing the
/// mail (scripts, styles, frames, forms and their fields, `<meta>` refreshes, `<base>`). The
/// variables were escaped by the renderer; the console's CSP (`default-src 'none'`) blocks
/// scripts and inline handlers besides.
pub(super) fn preview_markup(html: &str) -> String {
    let mut s = inner_body(html).to_owned();
    // Until nothing changes: removing one tag must not join the pieces of another.
    for _ in 0..64 {
        let next = strip_once(&s);
        if next == s {
            break;
        }
        s = next;
    }
    s
}

fn strip_once(s: &str) -> String {
    let mut s = s.to_owned();
    for name in [
        "script", "style", "head", "title", "iframe", "object", "embed", "noscript", "template",
        "textarea", "select", "svg", "math", "frameset", "noembed", "noframes", "xmp",
    ] {
        s = drop_elements(&s, name);
    }
    for name in [
        "!doctype",
        "html",
        "/html",
        "body",
        "/body",
        "meta",
        "link",
        "base",
        "form",
        "/form",
        "input",
        "button",
        "/button",
        "frame",
        "plaintext",
    ] {
        s = drop_tags(&s, name);
    }
    // Inline styles: the CSP refuses them anyway (and says so in the browser's console).
    drop_style_attributes(&s)
}

/// Drops ` style="…"` / ` style='…'` attributes.
fn drop_style_attributes(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    let mut out = String::with_capacity(s.len());
    let mut at = 0;
    while let Some(i) = lower[at..].find(" style=") {
        let start = at + i;
        let value = start + " style=".len();
        let end = match lower.as_bytes().get(value) {
            Some(q @ (b'"' | b'\'')) => lower[value + 1..]
                .find(char::from(*q))
                .map_or(s.len(), |j| value + 1 + j + 1),
            _ => lower[value..]
                .find(|c: char| c.is_ascii_whitespace() || c == '>')
                .map_or(s.len(), |j| value + j),
        };
        out.push_str(&s[at..start]);
        at = end;
    }
    out.push_str(&s[at..]);
    out
}

/// Between `<body …>` and `</body>` when there is a body tag, else all of it.
fn inner_body(html: &str) -> &str {
    let lower = html.to_ascii_lowercase();
    let Some(open) = find_tag(&lower, "body", 0) else {
        return html;
    };
    let start = lower[open..].find('>').map_or(html.len(), |i| open + i + 1);
    let end = lower[start..]
        .rfind("</body")
        .map_or(html.len(), |i| start + i);
    &html[start..end]
}

/// Where the next `<name` tag starts at or after `from` (the name must end there).
fn find_tag(lower: &str, name: &str, from: usize) -> Option<usize> {
    let pattern = format!("<{name}");
    let mut at = from;
    while let Some(i) = lower.get(at..).and_then(|rest| rest.find(&pattern)) {
        let start = at + i;
        let end = start + pattern.len();
        match lower.as_bytes().get(end) {
            None => return Some(start),
            Some(b) if b.is_ascii_whitespace() || matches!(b, b'>' | b'/') => return Some(start),
            Some(_) => at = end,
        }
    }
    None
}

/// Drops `<name …>…</name>` (to the end when never closed).
fn drop_elements(s: &str, name: &str) -> String {
    // ASCII lowercasing keeps every byte offset, so offsets found in `lower` cut `s`.
    let lower = s.to_ascii_lowercase();
    let mut out = String::with_capacity(s.len());
    let mut at = 0;
    while let Some(start) = find_tag(&lower, name, at) {
        out.push_str(&s[at..start]);
        at = match find_tag(&lower, &format!("/{name}"), start + 1) {
            Some(close) => lower[close..].find('>').map_or(s.len(), |i| close + i + 1),
            None => s.len(),
        };
    }
    out.push_str(&s[at..]);
    out
}

/// Drops every `<name …>` tag, keeping what follows it.
fn drop_tags(s: &str, name: &str) -> String {
    let lower = s.to_ascii_lowercase();
    let mut out = String::with_capacity(s.len());
    let mut at = 0;
    while let Some(start) = find_tag(&lower, name, at) {
        out.push_str(&s[at..start]);
        at = lower[start..].find('>').map_or(s.len(), |i| start + i + 1);
    }
    out.push_str(&s[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::preview_markup;

    #[test]
    fn the_preview_keeps_the_mail_and_drops_what_would_act_on_the_page() {
        let html = r#"<!doctype html><html><head><title>T</title><meta http-equiv="refresh" content="0;url=https://x"><style>p{}</style></head><body style="margin:0"><p>Hello <b>Jane</b></p><SCRIPT>alert(1)</script><scr<script></script>ipt>alert(2)</script><form action="/admin/logout"><input name="a"><button>Go</button></form><a href="https://x">link</a></body></html>"#;
        let out = preview_markup(html);
        assert!(out.contains("<p>Hello <b>Jane</b></p>"), "{out}");
        assert!(out.contains(r#"<a href="https://x">link</a>"#), "{out}");
        let lower = out.to_ascii_lowercase();
        for bad in [
            "<script", "<meta", "<style", "<form", "<input", "<button", "<body", "<html", "<title",
        ] {
            assert!(!lower.contains(bad), "{bad} in {out}");
        }
        assert_eq!(preview_markup("<p>x</p><script>never closed"), "<p>x</p>");
    }
}
