//! Emails: the SMTP provider (its password is write-only: never shown back), a test mail sent
//! at once, and the templates: sender, subject, redirect URL, URL lifetime, the Liquid body
//! (checked on save, errors shown with the parser's message), enabled, and a preview rendered
//! with sample data. Saving calls the services the Management API calls, with the
//! administrator as the caller.

use super::e;
use super::{Console, ConsoleForm, Notice, done};
use crate::AppState;
use crate::extract::Meta;
use crate::web::error_page;
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
struct ProviderValues {
    host: String,
    port: String,
    user: String,
    from: String,
    enabled: bool,
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

fn checked(on: bool) -> &'static str {
    if on { " checked" } else { "" }
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
        let provider = match services.email_provider().await {
            Ok(p) => Some(p),
            Err(ServiceError::NotFound { .. }) => None,
            Err(err) => return Err(err),
        };
        let templates = services.effective_email_templates().await?;
        Ok::<_, ServiceError>((provider, templates))
    };
    let (provider, templates) = match gathered.await {
        Ok(v) => v,
        Err(err) => {
            tracing::error!(error = ?err, "loading the emails page in the console");
            return error_page();
        }
    };
    let csrf = console.csrf_field();
    let config = services.config();
    let values = posted.unwrap_or_else(|| {
        provider
            .as_ref()
            .map_or_else(ProviderValues::blank, ProviderValues::of)
    });
    let has_password = provider.as_ref().is_some_and(|p| p.smtp_pass.is_some());
    let state_badge = match &provider {
        None => r#"<span class="badge">Not configured</span>"#,
        Some(p) if p.enabled => r#"<span class="badge ok">Enabled</span>"#,
        Some(_) => r#"<span class="badge bad">Disabled</span>"#,
    };
    let route = if config.mail.smtp_url.is_some() {
        "<code>LATCHKEY_SMTP_URL</code> is set: mail goes through that server, not through this provider (the provider's default from address still applies).".to_owned()
    } else if provider.as_ref().is_some_and(|p| p.enabled) {
        "Mail goes out through this provider.".to_owned()
    } else {
        format!(
            "Without an enabled provider, mail is written as <code>.eml</code> files to <code>{}</code> (for development).",
            e(&config.mail.outbox_dir.display().to_string())
        )
    };
    let password_hint = if has_password {
        "A password is set. Leave empty to keep the current password."
    } else {
        "No password is set. Leave empty to keep it that way; a password is used only together with a user."
    };
    let clear_password = if has_password {
        r#"<label><input type="checkbox" name="clear_password" value="1"> Remove the stored password</label>"#
    } else {
        ""
    };
    let provider_panel = format!(
        r#"<section class="panel" aria-labelledby="pv"><h2 id="pv">Provider {state_badge}</h2>
<p class="hint">{route}</p>
<form method="post" action="/admin/emails/provider">{csrf}
<label for="smtp_host">SMTP host</label><input id="smtp_host" name="smtp_host" type="text" value="{host}" required>
<label for="smtp_port">Port</label><input id="smtp_port" name="smtp_port" type="number" min="1" max="65535" value="{port}" required>
<label for="smtp_user">User</label><input id="smtp_user" name="smtp_user" type="text" autocomplete="off" value="{user}">
<label for="smtp_pass">Password</label><input id="smtp_pass" name="smtp_pass" type="password" autocomplete="new-password" value="">
<p class="hint">{password_hint}</p>{clear_password}
<label for="default_from_address">Default from address</label><input id="default_from_address" name="default_from_address" type="email" value="{from}">
<p class="hint">Used when a template does not name its own sender. Empty: <code>{default_from}</code>.</p>
<label><input type="checkbox" name="enabled" value="1"{enabled}> Send mail through this provider</label>
<button type="submit">Save provider</button></form></section>"#,
        host = e(&values.host),
        port = e(&values.port),
        user = e(&values.user),
        from = e(&values.from),
        default_from = e(&config.mail.default_from),
        enabled = checked(values.enabled),
    );
    let test_panel = format!(
        r#"<section class="panel" aria-labelledby="tm"><h2 id="tm">Send a test mail</h2>
<p class="hint">Sends a short message now, by the route real mail takes, and shows what the mail server answered.</p>
<form method="post" action="/admin/emails/test">{csrf}
<label for="to">To</label><input id="to" name="to" type="email" value="{to}" required>
<button type="submit" class="secondary">Send test mail</button></form></section>"#,
        to = e(test_to.unwrap_or(&console.admin.email)),
    );
    let rows: String = templates
        .iter()
        .map(|(t, stored)| {
            format!(
                r#"<tr><td><a href="{path}">{label}</a> <code>{name}</code></td><td>{subject}</td><td>{status}{builtin}</td></tr>"#,
                path = e(&template_path(t.template)),
                label = e(template_label(t.template)),
                name = e(&t.template.as_str()),
                subject = e(&t.subject),
                status = if t.enabled {
                    r#"<span class="badge ok">Enabled</span>"#
                } else {
                    r#"<span class="badge bad">Disabled</span>"#
                },
                builtin = if *stored {
                    ""
                } else {
                    r#" <span class="badge">Built-in</span>"#
                },
            )
        })
        .collect();
    let body = format!(
        r#"<div class="grid">{provider_panel}{test_panel}
<section class="panel wide" aria-labelledby="tp"><h2 id="tp">Templates</h2>
<p class="hint">"Built-in" templates are Latchkey's defaults until you save your own.</p>
<table><thead><tr><th scope="col">Template</th><th scope="col">Subject</th><th scope="col">Status</th></tr></thead><tbody>{rows}</tbody></table></section></div>"#
    );
    console.page(status, SECTION, "Emails", notice, &body)
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
            None => {
                tracing::error!(error = ?err, "saving the email provider in the console");
                error_page()
            }
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
    match console.state.services.send_test_mail(&f.to, &caller).await {
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
            None => {
                tracing::error!(error = ?err, "sending a test mail from the console");
                error_page()
            }
        },
    }
}

// ---------------------------------------------------------------------------------------------
// One template: the edit form and the preview.

/// What the template form shows: the template's values or the ones just posted.
struct TemplateValues {
    from: String,
    subject: String,
    result_url: String,
    lifetime: String,
    body: String,
    enabled: bool,
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
    let path = template_path(name);
    let invalid = if matches!(&notice, Some(Notice::Error(_))) {
        r#" aria-invalid="true""#
    } else {
        ""
    };
    let origin = if stored {
        r#"<span class="badge">Saved</span> Your own template."#
    } else {
        r#"<span class="badge">Built-in</span> Latchkey's default: saving makes it your own."#
    };
    let form = format!(
        r#"<section class="panel" aria-labelledby="ed"><h2 id="ed">Template</h2><p class="hint">{origin}</p>
<form method="post" action="{path}">{csrf}
<label for="from">From</label><input id="from" name="from" type="text" value="{from}" required>
<p class="hint">An address, optionally with a name: <code>Shop &lt;no-reply@shop.example&gt;</code></p>
<label for="subject">Subject</label><input id="subject" name="subject" type="text" value="{subject}" required>
<label for="result_url">Redirect URL</label><input id="result_url" name="result_url" type="url" value="{result_url}">
<p class="hint">Where the user goes after following the link in the mail. Optional.</p>
<label for="url_lifetime">URL lifetime (seconds)</label><input id="url_lifetime" name="url_lifetime" type="number" min="0" max="31536000" value="{lifetime}">
<p class="hint">How long the link in the mail works; 0 means the default, 432000 (5 days).</p>
<label for="body">Body (Liquid)</label><textarea id="body" name="body" rows="20" spellcheck="false"{invalid}>
{body}</textarea>
<p class="hint">Variables: <code>{{{{ url }}}}</code>, <code>{{{{ user.email }}}}</code>, <code>{{{{ user.name }}}}</code>, <code>{{{{ user.given_name }}}}</code>, <code>{{{{ application.name }}}}</code>, <code>{{{{ friendly_name }}}}</code>, <code>{{{{ support_email }}}}</code>, <code>{{{{ ip }}}}</code>. Values users typed arrive HTML-escaped.</p>
<label><input type="checkbox" name="enabled" value="1"{enabled}> Enabled: send this mail</label>
<div class="actions"><button type="submit" name="action" value="save">Save</button><button type="submit" name="action" value="preview" class="secondary">Preview</button></div>
</form></section>"#,
        path = e(&path),
        csrf = console.csrf_field(),
        from = e(&values.from),
        subject = e(&values.subject),
        result_url = e(&values.result_url),
        lifetime = e(&values.lifetime),
        body = e(&values.body),
        enabled = checked(values.enabled),
    );
    let preview = match preview {
        Preview::Rendered { subject, html } => format!(
            r#"<section class="panel" aria-labelledby="pr"><h2 id="pr">Preview</h2>
<p class="hint">Rendered with sample data (Jane Doe, jane.doe@example.com, a sample link). The mail's own styles are not applied here.</p>
<dl class="facts"><dt>From</dt><dd>{from}</dd><dt>Subject</dt><dd id="preview-subject">{subject}</dd></dl>
<div class="preview">{markup}</div>
<details><summary>Rendered HTML</summary><pre><code>{source}</code></pre></details></section>"#,
            from = e(&values.from),
            subject = e(&subject),
            markup = preview_markup(&html),
            source = e(&html),
        ),
        Preview::Failed(message) => format!(
            r#"<section class="panel" aria-labelledby="pr"><h2 id="pr">Preview</h2><p class="empty">No preview: {}</p></section>"#,
            e(&message)
        ),
        Preview::None => String::new(),
    };
    let body = format!(
        r#"<p><a href="/admin/emails">← Emails</a></p>
{form}
{preview}"#
    );
    let title = format!("{} ({})", template_label(name), name.as_str());
    console.page(status, SECTION, &title, notice, &body)
}

fn template_notice(code: &str) -> Option<&'static str> {
    (code == "saved").then_some("Template saved. The preview below shows it as saved.")
}

fn no_such_template(console: &Console) -> Response {
    console.page(
        StatusCode::NOT_FOUND,
        SECTION,
        "Template not found",
        None,
        r#"<p>Latchkey has no such mail template. <a href="/admin/emails">Back to emails</a></p>"#,
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
    match console.state.services.effective_email_template(name).await {
        Ok((t, stored)) => Ok((name, t, stored)),
        Err(ServiceError::NotFound { .. }) => Err(no_such_template(console)),
        Err(err) => {
            tracing::error!(error = ?err, "loading an email template in the console");
            Err(error_page())
        }
    }
}

/// Renders the preview; the service's message when the template does not render.
async fn render_preview(console: &Console, subject: &str, body: &str) -> Result<Preview, Response> {
    match console
        .state
        .services
        .preview_email_template(subject, body)
        .await
    {
        Ok((subject, html)) => Ok(Preview::Rendered { subject, html }),
        Err(err) => match user_message(&err) {
            Some(message) => Ok(Preview::Failed(message)),
            None => {
                tracing::error!(error = ?err, "previewing an email template in the console");
                Err(error_page())
            }
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
        .replace_email_template(name, patch, &caller)
        .await
    {
        Ok(_) => done(&template_path(name), "saved"),
        Err(err) => match user_message(&err) {
            Some(message) => refuse(&format!("Nothing was saved. {message}")),
            None => {
                tracing::error!(error = ?err, "saving an email template in the console");
                error_page()
            }
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
fn preview_markup(html: &str) -> String {
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
