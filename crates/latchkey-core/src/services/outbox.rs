//! The mail outbox. Intake: requests hand their mail to one task that writes whatever has queued
//! up in a single transaction (group commit), so a burst of `change_password` requests costs one
//! commit per batch, and a request is answered only once its mail is durable. Delivery: a worker
//! leases due rows, turns each into a message (looking the user up, minting the link), hands it
//! to the transport and records the outcome; failures retry with exponential backoff, and a
//! crashed node's leases run out so another node (or the restarted one) delivers.

use super::Services;
use super::reset::TicketSpec;
use crate::audit::{LogEntry, RequestMeta, codes};
use crate::domain::{Email, EmailTemplate, EmailTemplateName, User, UserId};
use crate::error::ServiceResult;
use crate::mail::{MailError, MailRoute, OutboxJob, OutgoingMail, SmtpRelay};
use crate::store::{LeasedMail, MailDisposition, QueuedMail, Store, TicketKind};
use crate::time::Timestamp;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc, oneshot};

struct Pending {
    mail: QueuedMail,
    done: oneshot::Sender<Result<(), String>>,
}

pub(crate) struct MailIntake {
    tx: mpsc::Sender<Pending>,
}

impl MailIntake {
    pub(crate) fn start(store: Arc<dyn Store>, wake: Arc<Notify>) -> Self {
        let (tx, mut rx) = mpsc::channel::<Pending>(16_384);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(512);
            while rx.recv_many(&mut batch, 512).await > 0 {
                let (mails, waiters): (Vec<_>, Vec<_>) =
                    batch.drain(..).map(|p| (p.mail, p.done)).unzip();
                let result = store.enqueue_mail(&mails).await.map_err(|e| e.to_string());
                if result.is_ok() {
                    wake.notify_one();
                }
                for w in waiters {
                    let _ = w.send(result.clone());
                }
            }
        });
        Self { tx }
    }

    /// Returns once the mail is committed to the outbox.
    pub(crate) async fn enqueue(&self, job: OutboxJob) -> ServiceResult<()> {
        self.enqueue_all(vec![job]).await
    }

    /// `enqueue` for several jobs, handed over together (usually one batch, one commit);
    /// returns once every one is committed.
    pub(crate) async fn enqueue_all(&self, jobs: Vec<OutboxJob>) -> ServiceResult<()> {
        let mut waits = Vec::with_capacity(jobs.len());
        for job in jobs {
            let (done, wait) = oneshot::channel();
            let mail = QueuedMail {
                id: format!("mail_{}", crate::random::alnum(20)?),
                job,
                at: Timestamp::now(),
            };
            self.tx
                .send(Pending { mail, done })
                .await
                .map_err(|_| anyhow::anyhow!("the mail intake stopped"))?;
            waits.push(wait);
        }
        for wait in waits {
            match wait.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(anyhow::anyhow!("queueing mail: {e}").into()),
                Err(_) => return Err(anyhow::anyhow!("the mail intake stopped").into()),
            }
        }
        Ok(())
    }
}

/// Escapes text for HTML (template variables that users control, hosted pages).
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// What a mail's variables carry besides the user and the tenant.
struct Rendering<'a> {
    url: Option<&'a str>,
    ip: Option<&'a str>,
    client_id: Option<&'a str>,
}

/// What one delivery attempt ended with.
pub(crate) enum Attempt {
    Sent {
        log: Option<LogEntry>,
    },
    Dropped {
        reason: String,
        log: Option<LogEntry>,
    },
    Failed(MailError),
}

impl Services {
    /// Delivers queued mail until the task is aborted. One per node; nodes share the queue.
    pub async fn run_mail_worker(self: Arc<Self>) {
        let cfg = self.config.mail.clone();
        let mut last_prune: Option<Instant> = None;
        loop {
            if last_prune.is_none_or(|t| t.elapsed() > Duration::from_secs(3600)) {
                last_prune = Some(Instant::now());
                let week_ago = Timestamp::now().plus_seconds(-7 * 86_400);
                if let Err(e) = self.store.prune_mail(week_ago).await {
                    tracing::warn!(error = %e, "could not prune the mail outbox");
                }
                if let Err(e) = self.store.prune_executions(week_ago).await {
                    tracing::warn!(error = %e, "could not prune action executions");
                }
            }
            let now = Timestamp::now();
            let limit = u32::try_from(cfg.concurrency.max(1)).unwrap_or(8);
            let leased = match self.store.lease_mail(now, now.plus(cfg.lease), limit).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the mail outbox");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if leased.is_empty() {
                // Woken by the intake at once; the poll catches other nodes' mail and retries.
                tokio::select! {
                    () = self.mail_wake.notified() => {}
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                continue;
            }
            let mut set = tokio::task::JoinSet::new();
            for mail in leased {
                let services = self.clone();
                set.spawn(async move { services.deliver(mail).await });
            }
            while set.join_next().await.is_some() {}
        }
    }

    async fn deliver(&self, mail: LeasedMail) {
        let attempt = match &mail.job {
            Ok(job) => match self.attempt(job).await {
                Ok(a) => a,
                Err(e) => Attempt::Failed(MailError::Transient(e.to_string())),
            },
            Err(error) => Attempt::Dropped {
                reason: format!("unreadable outbox row: {error}"),
                log: None,
            },
        };
        let now = Timestamp::now();
        let disposition = match attempt {
            Attempt::Sent { log } => {
                self.record(log);
                MailDisposition::Sent
            }
            Attempt::Dropped { reason, log } => {
                self.record(log);
                MailDisposition::Dropped(reason)
            }
            Attempt::Failed(MailError::Permanent(e)) => MailDisposition::Failed(e),
            Attempt::Failed(MailError::Transient(e)) => {
                let attempts = u32::try_from(mail.attempts.max(1)).unwrap_or(u32::MAX);
                if attempts >= self.config.mail.max_attempts {
                    MailDisposition::Failed(e)
                } else {
                    let backoff = self
                        .config
                        .mail
                        .retry_base
                        .saturating_mul(2u32.saturating_pow(attempts - 1))
                        .min(Duration::from_secs(3600));
                    tracing::warn!(mail = %mail.id, attempt = attempts, retry_in_secs = backoff.as_secs(), error = %e, "mail delivery failed; will retry");
                    MailDisposition::Retry {
                        at: now.plus(backoff),
                        error: e,
                    }
                }
            }
        };
        if let MailDisposition::Failed(e) = &disposition {
            tracing::error!(mail = %mail.id, error = %e, "mail delivery failed for good");
        }
        if let Err(e) = self.store.settle_mail(&mail.id, &disposition, now).await {
            // The lease runs out and the mail is tried again: at least once, never lost.
            tracing::warn!(mail = %mail.id, error = %e, "could not record a mail's delivery");
        }
    }

    async fn attempt(&self, job: &OutboxJob) -> ServiceResult<Attempt> {
        match job {
            OutboxJob::PasswordResetRequest {
                connection,
                email,
                client_id,
                ip,
                pending_hash,
            } => {
                self.send_reset_link(
                    connection,
                    email,
                    client_id.as_deref(),
                    ip.as_deref(),
                    pending_hash.as_deref(),
                )
                .await
            }
            OutboxJob::AccountBlocked { user_id, ip } => {
                let Ok(user) = self.get_user(&UserId::from_trusted(user_id.clone())).await else {
                    return Ok(Attempt::Dropped {
                        reason: "the user no longer exists".into(),
                        log: None,
                    });
                };
                let Some(template) = self.template_for(EmailTemplateName::BlockedAccount).await?
                else {
                    return Ok(Attempt::Dropped {
                        reason: "the blocked_account template is disabled".into(),
                        log: None,
                    });
                };
                // The block may have been lifted meanwhile (reset, administrator): no mail.
                let link = match ip.as_deref() {
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
                    ip: ip.as_deref(),
                    client_id: None,
                };
                self.send_templated(&template, &user, &mail)
                    .await
                    .map(|r| match r {
                        Ok(()) => Attempt::Sent { log: None },
                        Err(e) => Attempt::Failed(e),
                    })
            }
            OutboxJob::AdminPasswordReset { email } => {
                Ok(match self.send_admin_reset_link(email).await? {
                    None => Attempt::Dropped {
                        reason: "no administrator has this address".into(),
                        log: None,
                    },
                    Some(Ok(())) => Attempt::Sent { log: None },
                    Some(Err(e)) => Attempt::Failed(e),
                })
            }
            OutboxJob::PostChangePasswordActions {
                user_id,
                connection,
                ip,
                user_agent,
                changed_at,
            } => {
                let meta = RequestMeta {
                    ip: ip.clone(),
                    user_agent: user_agent.clone(),
                };
                self.run_post_change_password(user_id, connection, &meta, *changed_at)
                    .await
            }
            OutboxJob::BackChannelLogout {
                client_id,
                user_id,
                session_id,
                initiator,
            } => {
                self.send_logout_token(client_id, user_id, session_id, initiator)
                    .await
            }
            OutboxJob::LogStreamDelivery { stream_id, log_id } => {
                self.deliver_log_entry(stream_id, log_id).await
            }
            OutboxJob::PasswordChanged { user_id, client_id } => {
                let Ok(user) = self.get_user(&UserId::from_trusted(user_id.clone())).await else {
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
                    client_id: client_id.as_deref(),
                };
                self.send_templated(&template, &user, &mail)
                    .await
                    .map(|r| match r {
                        Ok(()) => Attempt::Sent { log: None },
                        Err(e) => Attempt::Failed(e),
                    })
            }
        }
    }

    /// The stored template, or the built-in one; `None` when the administrator disabled it.
    async fn template_for(&self, name: EmailTemplateName) -> ServiceResult<Option<EmailTemplate>> {
        let t = match self.stored_template(name).await? {
            Some(t) => t,
            None => super::mail_defaults::default_template(name)
                .ok_or_else(|| anyhow::anyhow!("no template for {}", name.as_str()))?,
        };
        Ok(t.enabled.then_some(t))
    }

    async fn send_reset_link(
        &self,
        connection: &str,
        email: &str,
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
                .detail("email", json!(email));
            if let Some(c) = client_id {
                log = log.client(c, "");
            }
            Ok(Attempt::Dropped {
                reason: reason.to_owned(),
                log: Some(log),
            })
        };
        let mut user = match Email::parse(email) {
            Ok(e) => self.store.find_user_by_email(connection, &e).await?,
            Err(_) => None,
        };
        // A custom database's user not migrated yet: its `get_user` script finds them.
        if user.is_none()
            && let Ok(e) = Email::parse(email)
            && let Some(db) = self
                .find_connection(connection)
                .await?
                .and_then(|c| self.custom_database(&c))
        {
            user = self.user_through_script(&db, &e).await?;
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

    /// Outbox rows by status (`pending`, `sent`, `dropped`, `failed`): for operators and the
    /// benchmark, which waits for the queue to drain.
    pub async fn mail_queue(&self) -> ServiceResult<Vec<(String, u64)>> {
        Ok(self.store.mail_counts().await?)
    }

    /// Wakes this node's worker (after a commit that queued mail outside the intake).
    pub(crate) fn wake_mail_worker(&self) {
        self.mail_wake.notify_one();
    }
}
