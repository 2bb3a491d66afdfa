use super::{Caller, Services};
use crate::audit::{LogEntry, codes};
use crate::domain::{Connection, Password, User, UserId};
use crate::error::{ServiceError, ServiceResult};
use crate::password::{PasswordPolicy, PersonalInfo};
use crate::store::PasswordChange;
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

impl Services {
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

    /// The one way a password changes, whatever the path: policy and history, hash, store,
    /// `last_password_reset`, credential epoch bump (every refresh token, session and pending
    /// ticket issued before dies in the same transaction), and the `scp` log entry.
    pub async fn set_password(
        &self,
        id: &UserId,
        password: Password,
        reason: PasswordChangeReason,
        caller: &Caller,
    ) -> ServiceResult<User> {
        // The epoch guard makes two concurrent changes serialise; the loser re-reads and retries.
        for _ in 0..3 {
            let user = self.get_user(id).await?;
            let connection = self.connection_named(&user.connection).await?;
            if !connection.is_database() {
                return Err(ServiceError::bad_request(
                    "operation_not_supported",
                    "Cannot update password for non-database user.",
                ));
            }
            self.check_new_password(&user, &connection, &password)
                .await?;
            let new_hash = self.hasher.hash(&password).await?;
            let depth = PasswordPolicy::from_options(&connection.options).history_depth();
            let mut history = Vec::new();
            if depth > 0 {
                history.extend(user.password_hash.iter().cloned());
                history.extend(user.password_history.iter().cloned());
                history.truncate(depth);
            }
            let mut log = LogEntry::new(codes::SUCCESS_CHANGE_PASSWORD, &caller.meta)
                .description(reason.description())
                .user(user.user_id.as_str(), &user.display_name())
                .connection(&user.connection);
            if let super::Actor::Api { client_id } = &caller.actor {
                log = log.client(client_id, "");
            }
            let change = PasswordChange {
                user_id: user.user_id.clone(),
                expected_epoch: user.credential_epoch,
                new_hash,
                history,
                at: Timestamp::now(),
                mark_email_verified: matches!(
                    reason,
                    PasswordChangeReason::ResetTicket {
                        mark_email_verified: true
                    }
                ),
                log,
            };
            if self.store.apply_password_change(&change).await? {
                return self.get_user(id).await;
            }
        }
        Err(ServiceError::conflict(
            "conflict",
            "The password was changed concurrently; try again.",
        ))
    }
}
