//! OpenID Connect Back-Channel Logout 1.0: a client that registered a back-channel logout URL
//! (`oidc_logout.backchannel_logout_urls`) is told about every session that ends: logout (`rp-logout`), revocation (`session-revoked`) and password change
//! (`password-changed`). Each announcement is an outbox job, queued when the session ends (in
//! the same transaction for a password change), delivered at least once with the mail's
//! retries; the logout token is minted and signed at delivery.

use crate::domain::{ClientId, LogoutInitiator, User, UserId};
use crate::error::ServiceResult;
use crate::mail::{MailError, OutboxJob};
use crate::services::Sessions;
use crate::services::jobs::Attempt;
use crate::store::QueuedMail;
use crate::time::Timestamp;
use serde_json::json;
use std::time::Duration;

/// How long a logout token is valid (OIDC BCL §2.4 recommends at most two minutes).
const LOGOUT_TOKEN_SECS: i64 = 120;
/// How long a client's back-channel endpoint has to answer.
const POST_TIMEOUT: Duration = Duration::from_secs(5);
const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// For a password change: the jobs announcing the end of the user's live sessions, and those
/// sessions' ids (`PasswordChange::announced_sessions`).
pub(crate) struct PasswordChangeLogouts {
    pub(crate) sessions: Vec<String>,
    pub(crate) outbox: Vec<QueuedMail>,
}

impl Sessions {
    /// The clients told about sessions ended by `initiator`.
    ///
    /// Which clients: every client with a back-channel logout URL whose initiators include
    /// this event. Latchkey does not record which applications a session signed in to, so it
    /// cannot narrow this to "the clients that received a token for the session" as the spec
    /// intends; a client may therefore get a token for a session it never saw, which it
    /// ignores (OIDC BCL §2.8: it still answers 200). Recording a session's clients would let
    /// this narrow without changing the jobs.
    async fn logout_subscribers(&self, initiator: LogoutInitiator) -> ServiceResult<Vec<String>> {
        Ok(self
            .store
            .list_clients()
            .await?
            .into_iter()
            .filter(|c| c.wants_backchannel_logout(initiator))
            .map(|c| c.client_id.as_str().to_owned())
            .collect())
    }

    /// One job per (client, session): each is delivered and retried on its own.
    fn logout_jobs(
        clients: &[String],
        user: &UserId,
        sessions: &[String],
        initiator: LogoutInitiator,
    ) -> Vec<OutboxJob> {
        clients
            .iter()
            .flat_map(|client| {
                sessions
                    .iter()
                    .map(move |session| OutboxJob::BackChannelLogout {
                        client_id: client.clone(),
                        user_id: user.clone(),
                        session_id: session.clone(),
                        initiator: initiator.as_str().to_owned(),
                    })
            })
            .collect()
    }

    /// Queues the announcements of sessions that just ended (logout, revocation); returns
    /// once they are durable.
    pub(crate) async fn announce_ended_sessions(
        &self,
        user: &UserId,
        sessions: &[String],
        initiator: LogoutInitiator,
    ) -> ServiceResult<()> {
        if sessions.is_empty() {
            return Ok(());
        }
        let clients = self.logout_subscribers(initiator).await?;
        let jobs = Self::logout_jobs(&clients, user, sessions, initiator);
        if jobs.is_empty() {
            return Ok(());
        }
        self.job_intake.enqueue_all(jobs).await
    }

    /// The announcements a password change of `user` queues in its own transaction: every
    /// live session (unexpired, of the current credential epoch) ends. `None` when no client
    /// listens to `password-changed`.
    pub(crate) async fn password_change_logouts(
        &self,
        user: &User,
        at: Timestamp,
    ) -> ServiceResult<Option<PasswordChangeLogouts>> {
        let clients = self
            .logout_subscribers(LogoutInitiator::PasswordChanged)
            .await?;
        if clients.is_empty() {
            return Ok(None);
        }
        let sessions: Vec<String> = self
            .store
            .list_sessions(&user.user_id)
            .await?
            .into_iter()
            .filter(|s| s.credential_epoch == user.credential_epoch && s.expires_at > at)
            .map(|s| s.id)
            .collect();
        let mut outbox = Vec::new();
        for job in Self::logout_jobs(
            &clients,
            &user.user_id,
            &sessions,
            LogoutInitiator::PasswordChanged,
        ) {
            outbox.push(QueuedMail {
                id: format!("bcl_{}", crate::random::alnum(20)?),
                job,
                at,
            });
        }
        Ok(Some(PasswordChangeLogouts { sessions, outbox }))
    }

    /// Delivers one announcement: a fresh logout token (OIDC BCL §2.4, `typ: logout+jwt`)
    /// POSTed to each of the client's back-channel URLs as `logout_token=…`. 2xx is success;
    /// no answer, 408, 429 and 5xx are retried; other answers (the client refused the token)
    /// are not.
    pub(in crate::services) async fn send_logout_token(
        &self,
        client_id: &str,
        user_id: &UserId,
        session_id: &str,
        initiator: &str,
    ) -> ServiceResult<Attempt> {
        let dropped = |reason: &str| {
            Ok(Attempt::Dropped {
                reason: reason.to_owned(),
                log: None,
            })
        };
        let client = match ClientId::parse(client_id) {
            Ok(id) => self.tenant.active_client(&id).await?,
            Err(_) => None,
        };
        let Some(client) = client else {
            return dropped("the client no longer exists");
        };
        let Some(logout) = client
            .oidc_logout
            .as_ref()
            .filter(|o| o.notifies(initiator))
        else {
            return dropped("the client no longer takes back-channel logout tokens for this event");
        };
        let now = Timestamp::now().seconds();
        let claims = json!({
            "iss": self.config.issuer,
            "aud": client_id,
            "iat": now,
            "exp": now + LOGOUT_TOKEN_SECS,
            "jti": crate::random::alnum(32)?,
            "sub": user_id.as_str(),
            "sid": session_id,
            "events": { LOGOUT_EVENT: {} },
        });
        let token = self.keys.sign_typed("logout+jwt", &claims)?;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("logout_token", &token)
            .finish();
        let (mut transient, mut permanent) = (None, None);
        for url in &logout.backchannel_logout_urls {
            match self
                .form_poster
                .post_form(url, body.clone(), POST_TIMEOUT)
                .await
            {
                Ok(200..=299) => {}
                Ok(status @ (408 | 429 | 500..)) => {
                    transient = Some(format!("{url} answered {status}"));
                }
                Ok(status) => permanent = Some(format!("{url} answered {status}")),
                Err(e) => transient = Some(format!("{url}: {e}")),
            }
        }
        // One URL that may still succeed is worth a retry (the others get the token again:
        // at least once).
        Ok(match (transient, permanent) {
            (Some(e), _) => Attempt::Failed(MailError::Transient(e)),
            (None, Some(e)) => Attempt::Failed(MailError::Permanent(e)),
            (None, None) => {
                tracing::info!(client = %client_id, initiator = %initiator, "back-channel logout delivered");
                Attempt::Sent { log: None }
            }
        })
    }
}
