//! The jobs that send mail to people: reset links, the blocked-account notice, the
//! password-changed notice; and how a template becomes a message on the configured route.

use super::Attempt;
use crate::audit::{LogEntry, RequestMeta, codes};
use crate::domain::{Email, EmailTemplateName, UserId};
use crate::error::ServiceResult;
use crate::mail::MailError;
use crate::services::JobRunner;
use crate::services::credentials::reset::TicketSpec;
use crate::services::credentials::verification::{VerificationSpec, verification_mail_log};
use crate::services::mailer::Rendering;
use crate::store::TicketKind;
use serde_json::json;

impl JobRunner {
    /// The blocked-account notice, with a link that lifts this block (none is sent if the
    /// block was lifted meanwhile).
    pub(super) async fn send_account_blocked(
        &self,
        user_id: &UserId,
        ip: Option<&str>,
    ) -> ServiceResult<Attempt> {
        let Ok(user) = self.directory.get_user(user_id).await else {
            return Ok(Attempt::Dropped {
                reason: "the user no longer exists".into(),
                log: None,
            });
        };
        let Some(template) = self
            .mailer
            .template_for(EmailTemplateName::BlockedAccount)
            .await?
        else {
            return Ok(Attempt::Dropped {
                reason: "the blocked_account template is disabled".into(),
                log: None,
            });
        };
        // The block may have been lifted meanwhile (reset, administrator): no mail.
        let link = match ip {
            Some(ip) => {
                self.login
                    .unblock_link(&user, ip, template.url_lifetime_secs)
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
            self.mailer.send_templated(&template, &user, &mail).await?,
        ))
    }

    /// The notice a user gets after their password changed.
    pub(super) async fn send_password_changed(
        &self,
        user_id: &UserId,
        client_id: Option<&str>,
    ) -> ServiceResult<Attempt> {
        let Ok(user) = self.directory.get_user(user_id).await else {
            return Ok(Attempt::Dropped {
                reason: "the user no longer exists".into(),
                log: None,
            });
        };
        let Some(template) = self
            .mailer
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
            self.mailer.send_templated(&template, &user, &mail).await?,
        ))
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
                .tenant
                .find_connection(connection)
                .await?
                .and_then(|c| self.actions.custom_database(&c))
        {
            user = self.actions.user_through_script(&db, email).await?;
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
        let Some(template) = self.mailer.template_for(template_name).await? else {
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
        let url = self.credentials.issue_ticket(&user, spec, None).await?;
        Ok(
            match self
                .mailer
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
}

impl JobRunner {
    /// The `verify_email` mail: a ticket minted now, with the template's `resultUrl`,
    /// `urlLifetimeInSeconds` and `includeEmailInRedirect`; settles the job it came from.
    pub(super) async fn send_verification_email(
        &self,
        user_id: &UserId,
        client_id: Option<&str>,
        job_id: Option<&str>,
    ) -> ServiceResult<Attempt> {
        let attempt = self.verification_attempt(user_id, client_id).await?;
        if let Some(job) = job_id {
            let status = match &attempt {
                Attempt::Sent { .. } => Some(crate::store::JobStatus::Completed),
                Attempt::Dropped { .. } => Some(crate::store::JobStatus::Failed),
                // Retried by the outbox: the job stays pending meanwhile.
                Attempt::Failed(_) => None,
            };
            if let Some(status) = status {
                self.store
                    .set_job_status(job, status, crate::time::Timestamp::now(), None)
                    .await?;
            }
        }
        Ok(attempt)
    }

    async fn verification_attempt(
        &self,
        user_id: &UserId,
        client_id: Option<&str>,
    ) -> ServiceResult<Attempt> {
        let Ok(user) = self.directory.get_user(user_id).await else {
            return Ok(Attempt::Dropped {
                reason: "the user no longer exists".into(),
                log: None,
            });
        };
        let dropped = |reason: &str| {
            Ok(Attempt::Dropped {
                reason: reason.to_owned(),
                log: Some(verification_mail_log(
                    codes::FAILED_VERIFICATION_EMAIL_REQUEST,
                    &user,
                    client_id,
                    reason,
                )),
            })
        };
        if user.email.is_none() {
            return dropped("The user does not have an email address");
        }
        let Some(template) = self
            .mailer
            .template_for(EmailTemplateName::VerifyEmail)
            .await?
        else {
            return dropped("The verify_email template is disabled");
        };
        // Stored before the mail leaves: a link in a mailbox always has its ticket.
        let spec = VerificationSpec {
            client_id: client_id.map(str::to_owned),
            result_url: template.result_url.clone(),
            include_email: template.include_email_in_redirect,
            ttl_secs: template.url_lifetime_secs,
        };
        let url = self
            .credentials
            .issue_verification_ticket(&user, spec, None)
            .await?;
        let mail = Rendering {
            url: Some(&url),
            ip: None,
            client_id,
        };
        Ok(
            match self.mailer.send_templated(&template, &user, &mail).await? {
                Ok(()) => Attempt::Sent {
                    log: Some(verification_mail_log(
                        codes::SUCCESS_VERIFICATION_EMAIL_REQUEST,
                        &user,
                        client_id,
                        "Verification mail sent",
                    )),
                },
                Err(e) => Attempt::Failed(e),
            },
        )
    }

    /// One message to every console administrator; the first failed delivery fails the job
    /// (the outbox retries it whole).
    async fn mail_administrators(
        &self,
        admins: Vec<crate::store::Admin>,
        subject: &str,
        html: String,
        label: &str,
    ) -> ServiceResult<Attempt> {
        for admin in admins {
            if let Err(err) = self
                .mailer
                .send_message(None, admin.email.as_str(), subject, html.clone(), label)
                .await?
            {
                return Ok(Attempt::Failed(err));
            }
        }
        Ok(Attempt::Sent { log: None })
    }

    /// Breached-password detection's notice to the console administrators: which user, at
    /// which stage; the password itself is never part of it.
    pub(super) async fn send_breach_admin_notice(
        &self,
        stage: &str,
        user_id: &UserId,
    ) -> ServiceResult<Attempt> {
        let admins = self.store.list_admins().await?;
        if admins.is_empty() {
            return Ok(Attempt::Dropped {
                reason: "no console administrator".into(),
                log: None,
            });
        }
        let user = match self.directory.get_user(user_id).await {
            Ok(u) => u.display_name(),
            Err(_) => user_id.as_str().to_owned(),
        };
        let name = self.tenant.branding().await?.name;
        let what = match stage {
            "signup" => "signing up with",
            "change_password" => "choosing",
            _ => "logging in with",
        };
        let e = crate::mail::escape_html;
        let html = format!(
            "<p>Hello,</p>\n<p>Breached password detection on {name} saw {user} ({id}) {what} a \
             password found in a public data breach. The tenant log holds the entry; the \
             attack-protection settings decide whether it was refused.</p>",
            name = e(&name),
            user = e(&user),
            id = e(user_id.as_str()),
        );
        let subject = format!("{name}: a breached password was used");
        self.mail_administrators(admins, &subject, html, "breached_password_admin_notice")
            .await
    }

    /// Suspicious IP throttling's notice to every console administrator.
    pub(super) async fn send_suspicious_ip_admin_notice(
        &self,
        stage: &str,
        ip: &str,
    ) -> ServiceResult<Attempt> {
        let admins = self.store.list_admins().await?;
        if admins.is_empty() {
            return Ok(Attempt::Dropped {
                reason: "no console administrator".into(),
                log: None,
            });
        }
        let name = self.tenant.branding().await?.name;
        let what = match stage {
            "signup" => "sign-ups",
            _ => "failed logins",
        };
        let e = crate::mail::escape_html;
        let html = format!(
            "<p>Hello,</p>\n<p>Suspicious IP throttling on {name}: the address {ip} made more \
             {what} than the attack-protection settings allow. The tenant log holds the \
             attempts; the settings decide whether the address is refused. If it is one of \
             yours (an office, a proxy), add it to the allowlist.</p>",
            name = e(&name),
            ip = e(ip),
        );
        let subject = format!("{name}: suspicious activity from {ip}");
        self.mail_administrators(admins, &subject, html, "suspicious_ip_admin_notice")
            .await
    }
}

impl JobRunner {
    /// A bulk import's completion mail (`send_completion_email`) to the console
    /// administrators: the job, its connection, its status and counts, and where its refused
    /// users are listed. The users themselves are never part of it.
    pub(super) async fn send_import_completion(&self, job_id: &str) -> ServiceResult<Attempt> {
        let Some(job) = self.store.get_job(job_id).await? else {
            return Ok(Attempt::Dropped {
                reason: "the job no longer exists".into(),
                log: None,
            });
        };
        let admins = self.store.list_admins().await?;
        if admins.is_empty() {
            return Ok(Attempt::Dropped {
                reason: "no console administrator".into(),
                log: None,
            });
        }
        let name = self.tenant.branding().await?.name;
        let status = job.status.as_str();
        let e = crate::mail::escape_html;
        let errors_url = format!("{}api/v2/jobs/{}/errors", self.config.issuer, job.id);
        let errors = if job.failed > 0 {
            format!(
                "<p>The users it could not import, with the reason for each, are listed by \
                 <code>GET {url}</code> (a Management API token with <code>create:users</code>).</p>",
                url = e(&errors_url),
            )
        } else {
            String::new()
        };
        let html = format!(
            "<p>Hello,</p>\n<p>The bulk user import {id} on {name} has {status}.</p>\n\
             <table>\n<tr><td>Job</td><td>{id}</td></tr>\n\
             <tr><td>Connection</td><td>{connection}</td></tr>\n\
             <tr><td>Status</td><td>{status}</td></tr>\n\
             <tr><td>Users in the file</td><td>{total}</td></tr>\n\
             <tr><td>Inserted</td><td>{inserted}</td></tr>\n\
             <tr><td>Updated</td><td>{updated}</td></tr>\n\
             <tr><td>Failed</td><td>{failed}</td></tr>\n</table>\n{errors}",
            id = e(&job.id),
            name = e(&name),
            status = e(status),
            connection = e(&job.connection),
            total = job.total,
            inserted = job.inserted,
            updated = job.updated,
            failed = job.failed,
        );
        let subject = format!("{name}: user import {} {status}", job.id);
        self.mail_administrators(admins, &subject, html, "users_import_completion")
            .await
    }
}

fn sent_or_failed(sent: Result<(), MailError>) -> Attempt {
    match sent {
        Ok(()) => Attempt::Sent { log: None },
        Err(e) => Attempt::Failed(e),
    }
}
