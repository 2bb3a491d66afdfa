//! `/api/v2/email-templates`: the mails Latchkey sends, as Auth0 configures them. Templates are
//! checked when saved, so a broken one is refused with its parse error, never found at send time.

use crate::domain::{EmailTemplate, EmailTemplateName, ParseError};
use crate::error::{ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::services::{Caller, TenantConfig};
use crate::store::StoreError;
use serde_json::{Value, json};

/// Every template name, in the order the console lists them.
const ALL_TEMPLATES: [EmailTemplateName; 15] = [
    EmailTemplateName::ResetEmail,
    EmailTemplateName::ChangePassword,
    EmailTemplateName::PasswordChanged,
    EmailTemplateName::VerifyEmail,
    EmailTemplateName::BlockedAccount,
    EmailTemplateName::PasswordReset,
    EmailTemplateName::ResetEmailByCode,
    EmailTemplateName::VerifyEmailByCode,
    EmailTemplateName::AuthEmailByCode,
    EmailTemplateName::WelcomeEmail,
    EmailTemplateName::StolenCredentials,
    EmailTemplateName::EnrollmentEmail,
    EmailTemplateName::MfaOobCode,
    EmailTemplateName::UserInvitation,
    EmailTemplateName::AsyncApproval,
];

/// The settable fields; for create and full replace, `body`, `from`, `subject`, `syntax` and
/// `enabled` are required.
#[derive(Debug, Default)]
pub struct EmailTemplatePatch {
    pub body: Option<String>,
    pub from: Option<String>,
    pub subject: Option<String>,
    pub syntax: Option<String>,
    pub result_url: Option<Option<String>>,
    pub url_lifetime_secs: Option<i64>,
    pub include_email_in_redirect: Option<bool>,
    pub enabled: Option<bool>,
}

fn not_found() -> ServiceError {
    ServiceError::not_found(ErrorCode::InexistentEmailTemplate, "Template not found.")
}

impl TenantConfig {
    fn validate_template(&self, t: &EmailTemplate) -> ServiceResult<()> {
        if t.syntax != "liquid" {
            return Err(ParseError::new("syntax", "must be liquid").into());
        }
        let from = t.from.trim();
        if from.is_empty() || from.len() > 512 || !from.contains('@') {
            return Err(ParseError::new(
                "from",
                "must be an address, optionally with a name: Shop <no-reply@shop.example>",
            )
            .into());
        }
        if t.subject.trim().is_empty() || t.subject.len() > 998 {
            return Err(ParseError::new("subject", "must be 1 to 998 characters").into());
        }
        if t.body.len() > 100 * 1024 {
            return Err(ParseError::new("body", "must be at most 100 KB").into());
        }
        if !(0..=31_536_000).contains(&t.url_lifetime_secs) {
            return Err(
                ParseError::new("urlLifetimeInSeconds", "must be between 0 and 31536000").into(),
            );
        }
        if let Some(u) = &t.result_url {
            let ok = url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
            if !ok {
                return Err(ParseError::new("resultUrl", "must be an http(s) URL").into());
            }
        }
        for (part, source) in [("subject", &t.subject), ("body", &t.body)] {
            self.templates.check(source).map_err(|e| {
                ServiceError::bad_request(
                    ErrorCode::InvalidBody,
                    format!("Error in template {part}: {e}"),
                )
            })?;
        }
        Ok(())
    }

    fn apply(t: &mut EmailTemplate, patch: EmailTemplatePatch) {
        let EmailTemplatePatch {
            body,
            from,
            subject,
            syntax,
            result_url,
            url_lifetime_secs,
            include_email_in_redirect,
            enabled,
        } = patch;
        if let Some(v) = body {
            t.body = v;
        }
        if let Some(v) = from {
            t.from = v;
        }
        if let Some(v) = subject {
            t.subject = v;
        }
        if let Some(v) = syntax {
            t.syntax = v;
        }
        if let Some(v) = result_url {
            t.result_url = v;
        }
        if let Some(v) = url_lifetime_secs {
            // Auth0 reads 0 as "the default lifetime".
            t.url_lifetime_secs = if v == 0 { 432_000 } else { v };
        }
        if let Some(v) = include_email_in_redirect {
            t.include_email_in_redirect = v;
        }
        if let Some(v) = enabled {
            t.enabled = v;
        }
    }

    /// A complete template from create/replace fields; the required ones must be present.
    fn complete(
        name: EmailTemplateName,
        patch: EmailTemplatePatch,
    ) -> ServiceResult<EmailTemplate> {
        let missing = |f: &'static str| ServiceError::from(ParseError::new(f, "is required"));
        let mut t = EmailTemplate {
            template: name,
            body: patch.body.clone().ok_or_else(|| missing("body"))?,
            from: patch.from.clone().ok_or_else(|| missing("from"))?,
            subject: patch.subject.clone().ok_or_else(|| missing("subject"))?,
            syntax: patch.syntax.clone().ok_or_else(|| missing("syntax"))?,
            result_url: None,
            url_lifetime_secs: 432_000,
            include_email_in_redirect: true,
            enabled: patch.enabled.ok_or_else(|| missing("enabled"))?,
        };
        Self::apply(&mut t, patch);
        Ok(t)
    }

    pub async fn email_template(&self, name: EmailTemplateName) -> ServiceResult<EmailTemplate> {
        self.store
            .get_email_template(name)
            .await?
            .ok_or_else(not_found)
    }

    pub async fn create_email_template(
        &self,
        name: EmailTemplateName,
        fields: EmailTemplatePatch,
        caller: &Caller,
    ) -> ServiceResult<EmailTemplate> {
        let t = Self::complete(name, fields)?;
        self.validate_template(&t)?;
        self.store
            .insert_email_template(&t)
            .await
            .inspect(|()| self.cache.forget_template(t.template))
            .map_err(|e| match e {
                StoreError::Conflict(_) => ServiceError::conflict(
                    ErrorCode::EmailTemplateConflict,
                    format!("Template {} already exists.", name.as_str()),
                ),
                other => other.into(),
            })?;
        self.audit
            .record_some(caller.api_log("Create an email template"));
        Ok(t)
    }

    pub async fn replace_email_template(
        &self,
        name: EmailTemplateName,
        fields: EmailTemplatePatch,
        caller: &Caller,
    ) -> ServiceResult<EmailTemplate> {
        let t = Self::complete(name, fields)?;
        self.validate_template(&t)?;
        self.store.put_email_template(&t).await?;
        self.cache.forget_template(t.template);
        self.audit
            .record_some(caller.api_log("Set an email template"));
        Ok(t)
    }

    pub async fn update_email_template(
        &self,
        name: EmailTemplateName,
        patch: EmailTemplatePatch,
        caller: &Caller,
    ) -> ServiceResult<EmailTemplate> {
        let mut t = self.store.get_email_template(name).await?.ok_or_else(|| {
            ServiceError::not_found(
                ErrorCode::InexistentEmailTemplate,
                "Template not found and cannot be updated.",
            )
        })?;
        Self::apply(&mut t, patch);
        self.validate_template(&t)?;
        self.store.put_email_template(&t).await?;
        self.cache.forget_template(t.template);
        self.audit
            .record_some(caller.api_log("Update an email template"));
        Ok(t)
    }
}

impl TenantConfig {
    /// The template as mail goes out with it: the stored one, else the built-in one (with the
    /// sender it would be sent from filled in); and whether it is stored. Not found when
    /// neither exists.
    pub async fn effective_email_template(
        &self,
        name: EmailTemplateName,
    ) -> ServiceResult<(EmailTemplate, bool)> {
        if let Some(t) = self.store.get_email_template(name).await? {
            return Ok((t, true));
        }
        let mut t =
            crate::services::tenant::mail_defaults::default_template(name).ok_or_else(not_found)?;
        if t.from.trim().is_empty() {
            t.from = self.default_sender().await?;
        }
        Ok((t, false))
    }

    /// Every template that is stored or built in, stored or not (see `effective_email_template`).
    pub async fn effective_email_templates(&self) -> ServiceResult<Vec<(EmailTemplate, bool)>> {
        let mut out = Vec::new();
        for name in ALL_TEMPLATES {
            match self.effective_email_template(name).await {
                Ok(found) => out.push(found),
                Err(ServiceError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The address a mail without its own sender goes out from: the enabled provider's
    /// default, else the configured one.
    async fn default_sender(&self) -> ServiceResult<String> {
        let provider = self.active_email_provider().await?.filter(|p| p.enabled);
        Ok(provider
            .and_then(|p| p.default_from_address)
            .unwrap_or_else(|| self.config.mail.default_from.clone()))
    }

    /// Renders a template's subject and body with sample data (a sample user, a sample link,
    /// the tenant's name), as a mail would be: the subject from the raw values, the body with
    /// every variable HTML-escaped. Nothing is saved. A syntax error is a bad request with the
    /// parser's message, as on save.
    pub async fn preview_email_template(
        &self,
        subject: &str,
        body: &str,
    ) -> ServiceResult<(String, String)> {
        for (part, source) in [("subject", subject), ("body", body)] {
            self.templates.check(source).map_err(|e| {
                ServiceError::bad_request(
                    ErrorCode::InvalidBody,
                    format!("Error in template {part}: {e}"),
                )
            })?;
        }
        let tenant = self.active_tenant().await?;
        let friendly = if tenant.friendly_name.is_empty() {
            "Latchkey".to_owned()
        } else {
            tenant.friendly_name.clone()
        };
        let url = self.config.reset_url("sample-ticket-0123456789");
        let vars = |escape: bool| -> Value {
            let t = |s: &str| {
                if escape {
                    crate::mail::escape_html(s)
                } else {
                    s.to_owned()
                }
            };
            json!({
                "url": url,
                "user": {
                    "email": t("jane.doe@example.com"),
                    "name": t("Jane Doe"),
                    "nickname": t("jane.doe"),
                    "given_name": t("Jane"),
                    "family_name": t("Doe"),
                    "user_id": t("auth0|5f7c8ec7c33c6c004bbafe82"),
                    "email_verified": true,
                    "user_metadata": if escape { Value::Null } else { json!({}) },
                },
                "application": {"name": t(&friendly), "clientID": Value::Null},
                "connection": {"name": t(crate::services::DEFAULT_CONNECTION)},
                "tenant": t(&friendly),
                "friendly_name": t(&friendly),
                "support_email": tenant.support_email.as_deref().map(&t),
                "support_url": tenant.support_url.as_deref().map(&t),
                "ip": t("203.0.113.7"),
            })
        };
        let render = |part: &str, source: &str, escape: bool| {
            self.templates.render(source, &vars(escape)).map_err(|e| {
                ServiceError::bad_request(
                    ErrorCode::InvalidBody,
                    format!("Error in template {part}: {e}"),
                )
            })
        };
        let subject = render("subject", subject, false)?.replace(['\r', '\n'], " ");
        let html = render("body", body, true)?;
        Ok((subject, html))
    }
}
