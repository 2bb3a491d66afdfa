//! Breached-password detection at every stage: a new password (sign-up, every change path) and
//! a login. The corpus is looked up first (no store read for the common case of a password
//! that is not in it), then the tenant's settings say what to do. At login the check runs only
//! after the password was verified, so a wrong guess learns nothing from it: a breached but
//! wrong password is just a wrong password.

use crate::audit::{LogEntry, RequestMeta};
use crate::domain::attack_protection::{BreachStage, BreachedPasswordDetection};
use crate::domain::{Password, User};
use crate::error::{NEW_PASSWORD_LEAKED, ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::mail::OutboxJob;
use crate::password::breach::RangeAnswer;
use crate::ratelimit::RateRule;
use crate::services::Credentials;
use std::time::Duration;

/// Auth0 throttles its breached-password mail to one per hour per user.
const USER_NOTICE_EVERY: Duration = Duration::from_secs(3600);

/// Where the login happened, for the log entry.
pub(crate) struct LoginContext<'a> {
    pub client_id: &'a str,
    pub client_name: &'a str,
    pub meta: &'a RequestMeta,
}

impl Credentials {
    /// The detection settings, when `password` is breached and detection is on. The local
    /// corpora are asked first (no store read for the common case of a password that is not in
    /// them); the range service, when there is one, only once the settings say detection is
    /// on, so that nothing about a password leaves the server while it is off. A range service
    /// that fails closed refuses a new password for now (503); a login goes on.
    async fn detected(
        &self,
        password: &Password,
        new_password: bool,
    ) -> ServiceResult<Option<BreachedPasswordDetection>> {
        let local = self.breach_corpus.in_local_corpus(password.expose()).await;
        if !local && !self.breach_corpus.has_range() {
            return Ok(None);
        }
        let settings = self
            .tenant
            .settings_document::<BreachedPasswordDetection>()
            .await?;
        if !settings.enabled {
            return Ok(None);
        }
        if local {
            return Ok(Some(settings));
        }
        match self.breach_corpus.range_lookup(password.expose()).await {
            RangeAnswer::Listed => Ok(Some(settings)),
            RangeAnswer::NotListed => Ok(None),
            RangeAnswer::Unanswered if new_password => Err(ServiceError::Unavailable(
                anyhow::anyhow!("the breached-password range service did not answer"),
            )),
            RangeAnswer::Unanswered => Ok(None),
        }
    }

    /// A new password for `user` (not stored yet at registration; unknown to a flow-v1 reset
    /// request, which must not look the address up): refused with `password_leaked` when it is
    /// breached and the stage's shields block.
    pub(in crate::services) async fn screen_new_password(
        &self,
        stage: BreachStage,
        user: Option<&User>,
        password: &Password,
        meta: &RequestMeta,
    ) -> ServiceResult<()> {
        let Some(settings) = self.detected(password, true).await? else {
            return Ok(());
        };
        let response = settings.response_at(stage);
        self.record_breach(stage, user, None, meta, response.block, &settings)
            .await?;
        if response.block {
            return Err(ServiceError::bad_request(
                ErrorCode::PasswordLeaked,
                NEW_PASSWORD_LEAKED,
            ));
        }
        Ok(())
    }

    /// A verified login password: per the login shields, the user is mailed a reset link (at
    /// most hourly) and the login refused with `password_leaked`.
    pub(in crate::services) async fn screen_login_password(
        &self,
        user: &User,
        password: &Password,
        login: &LoginContext<'_>,
    ) -> ServiceResult<()> {
        let Some(settings) = self.detected(password, false).await? else {
            return Ok(());
        };
        let response = settings.response_at(BreachStage::Login);
        self.record_breach(
            BreachStage::Login,
            Some(user),
            Some(login),
            login.meta,
            response.block,
            &settings,
        )
        .await?;
        let mut user_notified = false;
        if response.notify_user
            && let Some(email) = &user.email
        {
            let rule = RateRule {
                interval: USER_NOTICE_EVERY,
                burst: 1,
            };
            let key = format!("breach-notice:{}", user.user_id.as_str());
            if self.rate_limiter.check(&key, rule).await.allowed {
                // The reset link the user needs, through the same job as a reset request.
                self.job_intake
                    .enqueue(OutboxJob::PasswordResetRequest {
                        connection: user.connection.clone(),
                        email: email.clone(),
                        client_id: Some(login.client_id.to_owned()),
                        ip: login.meta.ip.clone(),
                        pending_hash: None,
                    })
                    .await?;
            }
            user_notified = true;
        }
        if response.block {
            return Err(ServiceError::PasswordLeaked { user_notified });
        }
        Ok(())
    }

    /// The log entry (Auth0's code for the stage), the counter and, per the shields, the
    /// administrators' notice (no more often than `admin_notification_frequency` allows).
    async fn record_breach(
        &self,
        stage: BreachStage,
        user: Option<&User>,
        login: Option<&LoginContext<'_>>,
        meta: &RequestMeta,
        blocked: bool,
        settings: &BreachedPasswordDetection,
    ) -> ServiceResult<()> {
        crate::metrics::METRICS.breached_password(stage.label(), blocked);
        let mut entry = LogEntry::new(stage.log_code(), meta).description(if blocked {
            "Breached password: refused"
        } else {
            "Breached password: allowed by the settings"
        });
        if let Some(u) = user {
            entry = entry
                .user(u.user_id.as_str(), &u.display_name())
                .connection(&u.connection);
        }
        if let Some(l) = login {
            entry = entry.client(l.client_id, l.client_name);
        }
        self.audit.record(entry);
        if let Some(user) = user
            && settings.response_at(stage).notify_admins
        {
            let allowed = match settings.admin_notification_period_secs() {
                None => true,
                Some(secs) => {
                    let rule = RateRule {
                        interval: Duration::from_secs(secs),
                        burst: 1,
                    };
                    self.rate_limiter
                        .check("breach-admin-notice", rule)
                        .await
                        .allowed
                }
            };
            if allowed {
                self.job_intake
                    .enqueue(OutboxJob::BreachedPasswordAdminNotice {
                        stage: stage.label().to_owned(),
                        user_id: user.user_id.clone(),
                    })
                    .await?;
            }
        }
        Ok(())
    }
}
