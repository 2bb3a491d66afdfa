use crate::audit::{LogEntry, codes};
use crate::domain::attack_protection::BreachStage;
use crate::domain::{Connection, Password, PasswordHash, User, UserId};
use crate::error::{ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::mail::OutboxJob;
use crate::password::{PasswordPolicy, PersonalInfo};
use crate::services::{Caller, Credentials};
use crate::store::{PasswordChange, PasswordChangeOutcome, PasswordTicket, QueuedMail};
use crate::time::Timestamp;

/// Why a password is being set. Decides the log text and, later, whether a notice mail goes out
/// (Auth0 tells the user nothing when an administrator sets the password).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordChangeReason {
    ManagementApi,
    Dashboard,
    ResetTicket { mark_email_verified: bool },
    SelfService,
}

impl PasswordChangeReason {
    fn description(self) -> &'static str {
        match self {
            Self::ManagementApi => "Password changed through the Management API",
            Self::Dashboard => "Password changed by an administrator",
            Self::ResetTicket { .. } => "Password changed with a reset ticket",
            Self::SelfService => "Password changed by the user",
        }
    }
}

impl Credentials {
    /// Policy and history checks, without writing anything.
    async fn check_new_password(
        &self,
        user: &User,
        connection: &Connection,
        password: &Password,
    ) -> ServiceResult<()> {
        let policy = PasswordPolicy::from_options(&connection.options);
        policy
            .evaluate(password.expose(), &PersonalInfo::of_user(user))
            .map_err(ServiceError::PasswordPolicy)?;
        let depth = policy.history_depth();
        if depth > 0 {
            let mut previous: Vec<_> = user.password_hash.iter().cloned().collect();
            previous.extend(
                user.password_history
                    .iter()
                    .take(depth.saturating_sub(1))
                    .cloned(),
            );
            if self.hasher.matches_any(password, &previous).await? {
                return Err(ServiceError::PasswordPolicy(policy.history_violation()));
            }
        }
        Ok(())
    }

    /// The rules a new password for `user` must meet (their connection's policy), for forms
    /// that show them before anything is typed.
    pub async fn password_rules_for(
        &self,
        user: &crate::domain::User,
    ) -> ServiceResult<Vec<crate::password::RuleReport>> {
        let connection = self.tenant.connection_named(&user.connection).await?;
        Ok(crate::password::PasswordPolicy::from_options(&connection.options).describe())
    }

    /// The one way a password changes, whatever the path: policy and history, breached-password
    /// detection, hash, store,
    /// `last_password_reset`, credential epoch bump (every refresh token, session and pending
    /// ticket issued before dies in the same transaction), the `scp` log entry and, for the
    /// user's own changes, the `password_changed` notice queued in the same transaction.
    pub async fn set_password(
        &self,
        id: &UserId,
        password: Password,
        reason: PasswordChangeReason,
        caller: &Caller,
    ) -> ServiceResult<User> {
        self.change_password(
            id,
            NewPassword::Chosen(&password),
            reason,
            None,
            None,
            caller,
        )
        .await
    }

    /// `set_password` for every source of a new password; with `ticket`, the ticket is consumed
    /// in the same transaction and a ticket already used (or voided) refuses the change.
    pub(crate) async fn change_password(
        &self,
        id: &UserId,
        password: NewPassword<'_>,
        reason: PasswordChangeReason,
        ticket: Option<&PasswordTicket>,
        read: Option<&User>,
        caller: &Caller,
    ) -> ServiceResult<User> {
        // Changes to one user on this node wait their turn, so concurrent writes all apply, in
        // the order they came, the last one winning (each atomically with its revocations).
        let turn = self.password_turns.lock(id.as_str()).await;
        // `read`: the user as the caller just read it, so the first attempt needs no read —
        // unless another change went first while this one waited.
        let mut known = read.filter(|_| !turn.waited).cloned();
        // Across nodes the epoch guard serialises them: the loser re-reads and tries again.
        for attempt in 0..8u32 {
            if attempt > 0 {
                let jitter = u64::from(crate::random::alnum(1)?.bytes().next().unwrap_or(0) % 16);
                tokio::time::sleep(std::time::Duration::from_millis(
                    5 * u64::from(attempt) + jitter,
                ))
                .await;
            }
            let user = match known.take() {
                Some(u) => u,
                None => self.directory.get_user(id).await?,
            };
            if ticket.is_some_and(|t| t.credential_epoch != user.credential_epoch) {
                return Err(ticket_unusable());
            }
            let connection = self.tenant.connection_named(&user.connection).await?;
            if !connection.is_database() {
                return Err(ServiceError::bad_request(
                    ErrorCode::OperationNotSupported,
                    "Cannot update password for non-database user.",
                ));
            }
            let new_hash = match &password {
                NewPassword::Chosen(p) => {
                    let checked = match self.check_new_password(&user, &connection, p).await {
                        Ok(()) => {
                            self.screen_new_password(
                                BreachStage::ChangePassword,
                                Some(&user),
                                p,
                                &caller.meta,
                            )
                            .await
                        }
                        Err(e) => Err(e),
                    };
                    if let Err(e) = checked {
                        if ticket.is_some() {
                            self.audit.record(
                                LogEntry::new(codes::FAILED_CHANGE_PASSWORD, &caller.meta)
                                    .description(match &e {
                                        ServiceError::PasswordPolicy(_) => {
                                            "The new password does not satisfy the policy"
                                        }
                                        _ => "The new password was found in a data breach",
                                    })
                                    .user(user.user_id.as_str(), &user.display_name())
                                    .connection(&user.connection),
                            );
                        }
                        return Err(e);
                    }
                    // A custom database whose store holds this user's password hears first.
                    self.actions
                        .change_password_through_script(&connection, &user, p)
                        .await?;
                    self.hasher.hash(p).await?
                }
                NewPassword::Hashed(h) => h.clone(),
            };
            let depth = PasswordPolicy::from_options(&connection.options).history_depth();
            let mut history = Vec::new();
            if depth > 0 {
                history.extend(user.password_hash.iter().cloned());
                history.extend(user.password_history.iter().cloned());
                history.truncate(depth);
            }
            let log = caller.attribute(
                LogEntry::new(codes::SUCCESS_CHANGE_PASSWORD, &caller.meta)
                    .description(reason.description())
                    .user(user.user_id.as_str(), &user.display_name())
                    .connection(&user.connection),
            );
            // Auth0 tells the user nothing when an administrator sets the password.
            let notice = match reason {
                PasswordChangeReason::ResetTicket { .. } | PasswordChangeReason::SelfService
                    if user.email.is_some() =>
                {
                    Some(QueuedMail {
                        id: format!("mail_{}", crate::random::alnum(20)?),
                        job: OutboxJob::PasswordChanged {
                            user_id: user.user_id.clone(),
                            client_id: ticket.and_then(|t| t.client_id.clone()),
                        },
                        at: Timestamp::now(),
                    })
                }
                _ => None,
            };
            let mut outbox: Vec<QueuedMail> = notice.into_iter().collect();
            let queued_notice = !outbox.is_empty();
            // Tell other systems (post-change-password actions), after the commit.
            if self
                .actions
                .trigger_has_actions(crate::actions::Trigger::PostChangePassword)
                .await?
            {
                outbox.push(QueuedMail {
                    id: format!("job_{}", crate::random::alnum(20)?),
                    job: OutboxJob::PostChangePasswordActions {
                        user_id: user.user_id.clone(),
                        connection: user.connection.clone(),
                        ip: caller.meta.ip.clone(),
                        user_agent: caller.meta.user_agent.clone(),
                        changed_at: Timestamp::now().millis(),
                    },
                    at: Timestamp::now(),
                });
            }
            // OIDC Back-Channel Logout: the change ends every live session, and each end is
            // announced from the same transaction (which a racing login sends round again).
            let at = Timestamp::now();
            let announced_sessions =
                self.sessions
                    .password_change_logouts(&user, at)
                    .await?
                    .map(|logouts| {
                        outbox.extend(logouts.outbox);
                        logouts.sessions
                    });
            // Log streams hear of the change from the same transaction as the entry.
            outbox.extend(
                self.log_streams
                    .log_stream_jobs(std::slice::from_ref(&log))
                    .await?,
            );
            let queued_job = outbox.len() > usize::from(queued_notice);
            let change = PasswordChange {
                user_id: user.user_id.clone(),
                expected_epoch: user.credential_epoch,
                new_hash,
                history,
                at,
                mark_email_verified: matches!(
                    reason,
                    PasswordChangeReason::ResetTicket {
                        mark_email_verified: true
                    }
                ),
                log,
                ticket_digest: ticket.map(|t| t.digest.clone()),
                outbox,
            };
            match self
                .store
                .apply_password_change_announcing(&change, announced_sessions.as_deref())
                .await?
            {
                PasswordChangeOutcome::Applied => {
                    if queued_notice || queued_job {
                        self.job_intake.wake_worker();
                    }
                    return self.directory.get_user(id).await;
                }
                PasswordChangeOutcome::TicketUnusable => return Err(ticket_unusable()),
                PasswordChangeOutcome::EpochMoved if ticket.is_some() => {
                    return Err(ticket_unusable());
                }
                PasswordChangeOutcome::EpochMoved | PasswordChangeOutcome::SessionsChanged => {}
            }
        }
        Err(ServiceError::conflict(
            ErrorCode::Conflict,
            "The password was changed concurrently; try again.",
        ))
    }
}

/// Where the new password comes from.
pub(crate) enum NewPassword<'a> {
    /// Typed now: checked against the policy and history, then hashed.
    Chosen(&'a Password),
    /// Flow v1: chosen (and checked) when the mail was requested, confirmed by the link.
    Hashed(PasswordHash),
}

pub(crate) fn ticket_unusable() -> ServiceError {
    ServiceError::bad_request(
        ErrorCode::InvalidTicket,
        "This link was already used or is no longer valid.",
    )
}
