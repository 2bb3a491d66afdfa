//! `/api/v2/email-templates`: the mails Latchkey sends, as Auth0 configures them. Templates are
//! checked when saved, so a broken one is refused with its parse error, never found at send time.

use super::{Caller, Services};
use crate::domain::{EmailTemplate, EmailTemplateName, ParseError};
use crate::error::{ServiceError, ServiceResult};
use crate::store::StoreError;

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
    ServiceError::not_found("inexistent_email_template", "Template not found.")
}

impl Services {
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
                ServiceError::bad_request("invalid_body", format!("Error in template {part}: {e}"))
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
                    "email_template_conflict",
                    format!("Template {} already exists.", name.as_str()),
                ),
                other => other.into(),
            })?;
        self.record(caller.api_log("Create an email template"));
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
        self.record(caller.api_log("Set an email template"));
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
                "inexistent_email_template",
                "Template not found and cannot be updated.",
            )
        })?;
        Self::apply(&mut t, patch);
        self.validate_template(&t)?;
        self.store.put_email_template(&t).await?;
        self.cache.forget_template(t.template);
        self.record(caller.api_log("Update an email template"));
        Ok(t)
    }
}
