//! The jobs that send mail to people: reset links, the blocked-account notice, the
//! password-changed notice; and how a template becomes a message on the configured route.

use super::Attempt;
use crate::audit::{LogEntry, RequestMeta, codes};
use crate::domain::{Email, EmailTemplate, EmailTemplateName, User, UserId};
use crate::error::ServiceResult;
use crate::mail::{MailError, MailRoute, OutgoingMail, SmtpRelay, escape_html};
use crate::services::Services;
use crate::services::reset::TicketSpec;
use crate::store::TicketKind;
use serde_json::{Value, json};

/// What a mail's variables carry besides the user and the tenant.
struct Rendering<'a> {
    url: Option<&'a str>,
    ip: Option<&'a str>,
    client_id: Option<&'a str>,
}

impl Services {
    /// The blocked-account notice, with a link that lifts this block (none is sent if the
    /// block was lifted meanwhile).
    pub(super) async fn send_account_blocked(
        &self,
        user_id: &UserId,
        ip: Option<&str>,
    ) -> ServiceResult<Attempt> {
        let Ok(user) = self.get_user(user_id).await else {
            return Ok(Attempt::Dropped {
                reason: "the user no longer exists".into(),
                log: None,
            });
        };
        let Some(template) = self.template_for(EmailTemplateName::BlockedAccount).await? else {
            return Ok(Attempt::Dropped {
                reason: "the blocked_account template is disabled".into(),
                log: None,
            });
        };
        // The block may have been lifted meanwhile (reset, administrator): no mail.
        let link = match ip {
            Some(ip) => {
                self.unblock_link(&user, ip, template.url_lifetime_secs)
                    .await?
            }
            None => None,
        };
        let Some(url) = link else {
            return Ok(Attempt::Dropped {
                reason: "the block was lifted before the mail went out".into(),
                log: None,
            });
        };
        let mail = Rendering {
            url: Some(&url),
            ip,
            client_id: None,
        };
        Ok(sent_or_failed(
            self.send_templated(&template, &user, &mail).await?,
        ))
    }

    /// The notice a user gets after their password changed.
    pub(super) async fn send_password_changed(
        &self,
        user_id: &UserId,
        client_id: Option<&str>,
    ) -> ServiceResult<Attempt> {
        let Ok(user) = self.get_user(user_id).await else {
            return Ok(Attempt::Dropped {
                reason: "the user no longer exists".into(),
                log: None,
            });
        };
        let Some(template) = self
            .template_for(EmailTemplateName::PasswordChanged)
            .await?
        else {
            return Ok(Attempt::Dropped {
                reason: "the password_changed template is disabled".into(),
                log: None,
            });
        };
        let mail = Rendering {
            url: None,
            ip: None,
            client_id,
        };
        Ok(sent_or_failed(
            self.send_templated(&template, &user, &mail).await?,
        ))
    }

    /// The stored template, or the built-in one; `None` when the administrator disabled it.
    pub(super) async fn template_for(
        &self,
        name: EmailTemplateName,
    ) -> ServiceResult<Option<EmailTemplate>> {
        let t = match self.stored_template(name).await? {
            Some(t) => t,
            None => crate::services::mail_defaults::default_template(name)
                .ok_or_else(|| anyhow::anyhow!("no template for {}", name.as_str()))?,
        };
        Ok(t.enabled.then_some(t))
    }

    pub(super) async fn send_reset_link(
        &self,
        connection: &str,
        email: &Email,
        client_id: Option<&str>,
        ip: Option<&str>,
        pending_hash: Option<&str>,
    ) -> ServiceResult<Attempt> {
        let meta = RequestMeta {
            ip: ip.map(str::to_owned),
            ..RequestMeta::default()
        };
        let failed = |reason: &str| {
            let mut log = LogEntry::new(codes::FAILED_CHANGE_PASSWORD_REQUEST, &meta)
                .description(reason)
                .connection(connection)
                .detail("email", json!(email.as_str()));
            if let Some(c) = client_id {
                log = log.client(c, "");
            }
            Ok(Attempt::Dropped {
                reason: reason.to_owned(),
                log: Some(log),
            })
        };
        let mut user = self.store.find_user_by_email(connection, email).await?;
        // A custom database's user not migrated yet: its `get_user` script finds them.
        if user.is_none()
            && let Some(db) = self
                .find_connection(connection)
                .await?
                .and_then(|c| self.custom_database(&c))
        {
            user = self.user_through_script(&db, email).await?;
        }
        let Some(user) = user else {
            return failed("User does not exist");
        };
        if user.blocked {
            return failed("User is blocked");
        }
        let kind = if pending_hash.is_some() {
            TicketKind::ConfirmPending
        } else {
            TicketKind::Reset
        };
        let template_name = match kind {
            TicketKind::Reset => EmailTemplateName::ResetEmail,
            TicketKind::ConfirmPending => EmailTemplateName::ChangePassword,
        };
        let Some(template) = self.template_for(template_name).await? else {
            return failed("The reset mail template is disabled");
        };
        // Stored before the mail leaves: a link in a mailbox always has its ticket. A crash
        // between the two means a retry with a new link, which voids this one.
        let spec = TicketSpec {
            kind,
            client_id: client_id.map(str::to_owned),
            result_url: template.result_url.clone(),
            include_email: template.include_email_in_redirect,
            // Following the link proves the user reads this mailbox.
            mark_email_verified: true,
            pending_hash: pending_hash.map(|h| crate::domain::PasswordHash::new(h.to_owned())),
            ttl_secs: template.url_lifetime_secs,
        };
        let url = self.issue_ticket(&user, spec, None).await?;
        Ok(
            match self
                .send_templated(
                    &template,
                    &user,
                    &Rendering {
                        url: Some(&url),
                        ip: None,
                        client_id,
                    },
                )
                .await?
            {
                Ok(()) => {
                    let mut log = LogEntry::new(codes::SUCCESS_CHANGE_PASSWORD_REQUEST, &meta)
                        .description("Password reset mail sent")
                        .user(user.user_id.as_str(), &user.display_name())
                        .connection(connection);
                    if let Some(c) = client_id {
                        log = log.client(c, "");
                    }
                    Attempt::Sent { log: Some(log) }
                }
                Err(e) => Attempt::Failed(e),
            },
        )
    }

    /// Renders `template` for `user` and hands it to the transport. The outer error is ours
    /// (store, template); the inner one is the transport's.
    async fn send_templated(
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
        let tenant = self.active_tenant().await?;
        let application = match client_id.and_then(|c| crate::domain::ClientId::parse(c).ok()) {
            Some(id) => self.active_client(&id).await?,
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
        let provider = self.active_email_provider().await?.filter(|p| p.enabled);
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
}

fn sent_or_failed(sent: Result<(), MailError>) -> Attempt {
    match sent {
        Ok(()) => Attempt::Sent { log: None },
        Err(e) => Attempt::Failed(e),
    }
}
