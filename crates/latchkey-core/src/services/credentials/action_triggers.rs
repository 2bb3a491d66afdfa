//! The triggers outside the login: `post-change-password` (from the outbox, after the commit)
//! and `password-reset-post-challenge` (when a reset link is opened, before the new password).
//! Post-login lives with the login in `login/post_login.rs`.

use crate::actions::{ActionCommand, Entry, Trigger};
use crate::audit::RequestMeta;
use crate::domain::{ClientId, User, UserId};
use crate::error::ServiceResult;
use crate::mail::MailError;
use crate::services::Credentials;
use crate::services::jobs::Attempt;
use crate::time::Timestamp;
use serde_json::{Value, json};

/// What the reset page must do before it shows the new-password form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ResetGate {
    /// Nothing more: show the form.
    Open,
    /// Ask for the user's second factor first.
    SecondFactor,
    /// An action refused the reset (or failed): show this reason.
    Denied(String),
}

impl Credentials {
    /// Runs the post-change-password actions for one change (an outbox job). A failed action
    /// makes the job fail transiently, so the outbox retries it with backoff: at least once.
    pub(crate) async fn run_post_change_password(
        &self,
        user_id: &UserId,
        connection: &str,
        meta: &RequestMeta,
        changed_at: i64,
    ) -> ServiceResult<Attempt> {
        let Ok(user) = self.directory.get_user(user_id).await else {
            return Ok(Attempt::Dropped {
                reason: "the user no longer exists".into(),
                log: None,
            });
        };
        let connection = self.tenant.connection_named(connection).await?;
        let mut event_user = json!({
            "user_id": user.user_id,
            "email": user.email,
            "email_verified": user.email_verified,
            "last_password_reset": Timestamp::from_millis(changed_at).to_iso(),
            "phone_verified": user.profile.phone_verified,
        });
        if let Value::Object(m) = &mut event_user {
            if let Some(u) = &user.username {
                m.insert("username".into(), json!(u));
            }
            if let Some(p) = &user.profile.phone_number {
                m.insert("phone_number".into(), json!(p));
            }
        }
        let event = json!({
            "user": event_user,
            "connection": {"id": connection.id, "name": connection.name, "strategy": "auth0", "metadata": {}},
            "request": self.actions.action_request(meta, json!({"method": "POST"})),
            "tenant": self.actions.action_tenant(),
        });
        let run = self
            .actions
            .run_trigger(
                Trigger::PostChangePassword,
                &event,
                0,
                Entry::Execute,
                false,
            )
            .await?;
        Ok(match run.failure {
            None => Attempt::Sent { log: None },
            Some((name, outcome)) => Attempt::Failed(MailError::Transient(format!(
                "post-change-password action {name}: {}",
                outcome.describe()
            ))),
        })
    }

    /// The password-reset-post-challenge trigger for `user` opening a ticket made for
    /// `client_id`. Without bound actions the tenant's rule applies (a second factor when the
    /// user has one). An action's `challengeWith({type: "otp"})` asks for the second factor
    /// whatever the rule; `api.access.deny` (or a failed action) stops the reset.
    pub(crate) async fn reset_gate(
        &self,
        user: &User,
        client_id: Option<&str>,
        meta: &RequestMeta,
    ) -> ServiceResult<ResetGate> {
        let default = if self.mfa.reset_needs_second_factor(user).await? {
            ResetGate::SecondFactor
        } else {
            ResetGate::Open
        };
        if !self
            .actions
            .trigger_has_actions(Trigger::PasswordResetPostChallenge)
            .await?
        {
            return Ok(default);
        }
        let client = match client_id.map(ClientId::parse) {
            Some(Ok(id)) => self.tenant.active_client(&id).await?,
            _ => None,
        };
        let event = json!({
            "user": user.to_auth0_json(),
            "client": client.as_ref().map(|c| json!({"client_id": c.client_id, "name": c.name, "metadata": {}})),
            "authentication": {"methods": [{"name": "email", "timestamp": Timestamp::now().to_iso()}]},
            "request": self.actions.action_request(meta, json!({"method": "GET"})),
            "tenant": self.actions.action_tenant(),
            "transaction": {"locale": "en"},
        });
        let run = self
            .actions
            .run_trigger(
                Trigger::PasswordResetPostChallenge,
                &event,
                0,
                Entry::Execute,
                false,
            )
            .await?;
        if run.failure.is_some() {
            return Ok(ResetGate::Denied(
                "The password reset could not continue because one of the tenant's rules failed. Try again later or contact support.".into(),
            ));
        }
        if let Some(reason) = run.denied() {
            return Ok(ResetGate::Denied(reason.to_owned()));
        }
        let wants_otp = run.commands.iter().any(|c| match c {
            ActionCommand::ChallengeWith { factors } => factors.iter().any(|f| f == "otp"),
            _ => false,
        });
        if wants_otp {
            if !self.mfa.has_second_factor(user).await? {
                return Ok(ResetGate::Denied(
                    "This reset needs a code from your authenticator app, and your account has none. Contact support.".into(),
                ));
            }
            return Ok(ResetGate::SecondFactor);
        }
        Ok(default)
    }
}
