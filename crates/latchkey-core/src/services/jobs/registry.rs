//! Which handler runs each kind of job. The handlers live with their flows (mail in
//! `mail.rs`, back-channel logout, log streams, post-change-password actions); this is the
//! one place that knows them all.

use super::Attempt;
use crate::audit::RequestMeta;
use crate::error::ServiceResult;
use crate::mail::OutboxJob;
use crate::services::JobRunner;

impl JobRunner {
    pub(super) async fn attempt(&self, job: &OutboxJob) -> ServiceResult<Attempt> {
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
                self.send_account_blocked(user_id, ip.as_deref()).await
            }
            OutboxJob::PasswordChanged { user_id, client_id } => {
                self.send_password_changed(user_id, client_id.as_deref())
                    .await
            }
            OutboxJob::AdminPasswordReset { email } => {
                Ok(match self.console.send_admin_reset_link(email).await? {
                    None => Attempt::Dropped {
                        reason: "no administrator has this address".into(),
                        log: None,
                    },
                    Some(Ok(())) => Attempt::Sent { log: None },
                    Some(Err(e)) => Attempt::Failed(e),
                })
            }
            OutboxJob::BreachedPasswordAdminNotice { stage, user_id } => {
                self.send_breach_admin_notice(stage, user_id).await
            }
            OutboxJob::SuspiciousIpAdminNotice { stage, ip } => {
                self.send_suspicious_ip_admin_notice(stage, ip).await
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
                self.credentials
                    .run_post_change_password(user_id, connection, &meta, *changed_at)
                    .await
            }
            OutboxJob::BackChannelLogout {
                client_id,
                user_id,
                session_id,
                initiator,
            } => {
                self.sessions
                    .send_logout_token(client_id, user_id, session_id, initiator)
                    .await
            }
            OutboxJob::LogStreamDelivery { stream_id, log_id } => {
                self.log_streams.deliver_log_entry(stream_id, log_id).await
            }
            OutboxJob::VerificationEmail {
                user_id,
                client_id,
                job_id,
            } => {
                self.send_verification_email(user_id, client_id.as_deref(), job_id.as_deref())
                    .await
            }
            OutboxJob::UsersImport { job_id } => {
                self.migration.run_import(job_id).await?;
                Ok(Attempt::Sent { log: None })
            }
            OutboxJob::UsersExport { job_id } => {
                self.migration.run_export(job_id).await?;
                Ok(Attempt::Sent { log: None })
            }
            OutboxJob::UsersImportCompletion { job_id } => {
                self.send_import_completion(job_id).await
            }
        }
    }
}
