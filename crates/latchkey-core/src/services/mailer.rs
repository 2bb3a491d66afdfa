//! How a message reaches someone: a template rendered with the user's and the tenant's
//! values, sent on the configured route (`LATCHKEY_SMTP_URL`, else the Management API's
//! provider, else the development directory). The outbox's mail jobs, the console's own mail
//! and the provider's test mail all send through here.

use super::Caller;
use crate::config::CoreConfig;
use crate::domain::{Email, EmailTemplate, EmailTemplateName, User};
use crate::error::{ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::mail::{MailError, MailRoute, OutgoingMail, SmtpRelay, escape_html};
use serde_json::{Value, json};
use std::sync::Arc;

/// What a mail's variables carry besides the user and the tenant.
pub(crate) struct Rendering<'a> {
    pub(crate) url: Option<&'a str>,
    pub(crate) ip: Option<&'a str>,
    pub(crate) client_id: Option<&'a str>,
}

impl Mailer {
    /// The stored template, or the built-in one; `None` when the administrator disabled it.
    pub(crate) async fn template_for(
        &self,
        name: EmailTemplateName,
    ) -> ServiceResult<Option<EmailTemplate>> {
        let t = match self.tenant.stored_template(name).await? {
            Some(t) => t,
            None => crate::services::tenant::mail_defaults::default_template(name)
                .ok_or_else(|| anyhow::anyhow!("no template for {}", name.as_str()))?,
        };
        Ok(t.enabled.then_some(t))
    }

    /// Renders `template` for `user` and hands it to the transport. The outer error is ours
    /// (store, template); the inner one is the transport's.
    pub(crate) async fn send_templated(
        &self,
        template: &EmailTemplate,
        user: &User,
        mail: &Rendering<'_>,
    ) -> ServiceResult<Result<(), MailError>> {
        let (url, client_id) = (mail.url, mail.client_id);
        let Some(to) = user.email.as_ref() else {
            return Ok(Err(MailError::Permanent(
                "the user has no email address".into(),
            )));
        };
        let tenant = self.tenant.active_tenant().await?;
        let application = match client_id.and_then(|c| crate::domain::ClientId::parse(c).ok()) {
            Some(id) => self.tenant.active_client(&id).await?,
            None => None,
        };
        let e = escape_html;
        let friendly = if tenant.friendly_name.is_empty() {
            "Latchkey".to_owned()
        } else {
            tenant.friendly_name.clone()
        };
        let app_name = application
            .as_ref()
            .map_or_else(|| friendly.clone(), |c| c.name.clone());
        // Everything a user or administrator typed is escaped for the HTML body; the subject is
        // a header, rendered from the raw values.
        let vars = |escape: bool| -> Value {
            let t = |s: &str| if escape { e(s) } else { s.to_owned() };
            json!({
                "url": url.unwrap_or_default(),
                "user": {
                    "email": t(to.as_str()),
                    "name": t(&user.display_name()),
                    "nickname": t(user.profile.nickname.as_deref().unwrap_or_default()),
                    "given_name": t(user.profile.given_name.as_deref().unwrap_or_default()),
                    "family_name": t(user.profile.family_name.as_deref().unwrap_or_default()),
                    "user_id": t(user.user_id.as_str()),
                    "email_verified": user.email_verified,
                    "user_metadata": if escape { Value::Null } else { Value::Object(user.user_metadata.clone()) },
                },
                "application": {
                    "name": t(&app_name),
                    "clientID": application.as_ref().map(|c| c.client_id.as_str().to_owned()),
                },
                "connection": {"name": t(&user.connection)},
                "tenant": t(&friendly),
                "friendly_name": t(&friendly),
                "support_email": tenant.support_email.as_deref().map(&t),
                "support_url": tenant.support_url.as_deref().map(&t),
                "ip": t(mail.ip.unwrap_or("an unknown address")),
            })
        };
        let render = |source: &str, escape: bool| {
            self.templates
                .render(source, &vars(escape))
                .map_err(|err| anyhow::anyhow!("rendering {}: {err}", template.template.as_str()))
        };
        let subject = render(&template.subject, false)?;
        let html = render(&template.body, true)?;
        let from = if template.from.trim().is_empty() {
            None
        } else {
            Some(render(&template.from, false)?)
        };
        self.send_message(
            from,
            to.as_str(),
            &subject,
            html,
            &template.template.as_str(),
        )
        .await
    }

    /// Sends one message through the configured route: `LATCHKEY_SMTP_URL`, else the
    /// Management API's provider, else the development directory. The sender is `from`, else
    /// the provider's default, else the configured default. `label` names the mail in the log.
    pub(crate) async fn send_message(
        &self,
        from: Option<String>,
        to: &str,
        subject: &str,
        html: String,
        label: &str,
    ) -> ServiceResult<Result<(), MailError>> {
        let provider = self
            .tenant
            .active_email_provider()
            .await?
            .filter(|p| p.enabled);
        let from = from
            .or_else(|| {
                provider
                    .as_ref()
                    .and_then(|p| p.default_from_address.clone())
            })
            .unwrap_or_else(|| self.config.mail.default_from.clone());
        let route = match (&self.config.mail.smtp_url, provider) {
            (Some(url), _) => MailRoute::SmtpUrl(url.clone()),
            (None, Some(p)) => MailRoute::Smtp(SmtpRelay {
                host: p.smtp_host,
                port: p.smtp_port,
                user: p.smtp_user,
                password: p.smtp_pass,
            }),
            (None, None) => MailRoute::Directory(self.config.mail.outbox_dir.clone()),
        };
        let mail = OutgoingMail {
            id: crate::random::alnum(24)?,
            from,
            to: to.to_owned(),
            subject: subject.replace(['\r', '\n'], " "),
            html,
        };
        Ok(match self.mail.send(&route, &mail).await {
            Ok(where_to) => {
                tracing::info!(mail = %label, delivered = %where_to, "mail sent");
                Ok(())
            }
            Err(e) => Err(e),
        })
    }

    /// Sends a short test message to `to` through the route real mail takes (same sender, same
    /// transport), at once rather than through the outbox. A transport failure is a bad request
    /// carrying the transport's message.
    pub async fn send_test_mail(&self, to: &str, caller: &Caller) -> ServiceResult<()> {
        let to = Email::parse(to).map_err(|_| {
            ServiceError::bad_request(
                ErrorCode::InvalidEmail,
                "Enter the address to send the test mail to.",
            )
        })?;
        let tenant = self.tenant.active_tenant().await?;
        let friendly = if tenant.friendly_name.is_empty() {
            "Latchkey".to_owned()
        } else {
            tenant.friendly_name
        };
        let html = format!(
            "<!doctype html><html><body><p>This is a test mail from {}.</p><p>It arrived, so mail delivery works.</p></body></html>",
            crate::mail::escape_html(&friendly)
        );
        let subject = format!("Test mail from {friendly}");
        match self
            .send_message(None, to.as_str(), &subject, html, "test_mail")
            .await?
        {
            Ok(()) => {
                self.audit.record_some(caller.api_log("Send a test email"));
                Ok(())
            }
            Err(e) => Err(ServiceError::bad_request(
                ErrorCode::MailNotSent,
                format!("The test mail was not delivered: {e}"),
            )),
        }
    }
}

/// Renders and sends mail; reads the provider, templates and branding from the tenant.
pub struct Mailer {
    pub(in crate::services) audit: crate::audit::AuditLog,
    pub(in crate::services) config: Arc<CoreConfig>,
    pub(in crate::services) mail: Arc<dyn crate::mail::MailTransport>,
    pub(in crate::services) templates: Arc<dyn crate::mail::TemplateEngine>,
    pub(in crate::services) tenant: Arc<crate::services::TenantConfig>,
}
