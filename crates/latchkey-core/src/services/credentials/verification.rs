//! Email verification: tickets (`POST /api/v2/tickets/email-verification` and the link the
//! `verify_email` mail carries), the verification-email job (`POST
//! /api/v2/jobs/verification-email`, a durable job that the outbox runs) and following the
//! link (the hosted page's GET), which marks the address verified once.

use crate::audit::{LogEntry, RequestMeta, codes};
use crate::domain::{ClientId, User, UserId};
use crate::error::{ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::mail::OutboxJob;
use crate::services::credentials::reset::DEFAULT_TICKET_TTL_SECS;
use crate::services::tenant::settings::http_url;
use crate::services::{Caller, Credentials};
use crate::store::{JobKind, JobRecord, JobStatus, QueuedMail, VerificationTicket};
use crate::time::Timestamp;
use secrecy::ExposeSecret;

/// The longest a ticket may live (one year), as for password-change tickets.
const MAX_TICKET_TTL_SECS: i64 = 31_536_000;

/// Auth0's messages in the redirect after a link was followed.
const VERIFIED_MESSAGE: &str = "Your email was verified. You can continue using the application.";
const USED_MESSAGE: &str = "This URL can be used only once";
const EXPIRED_MESSAGE: &str = "Access expired.";
const INVALID_MESSAGE: &str = "User account does not exist or verification code is invalid.";

/// The identity a request names (`identity: {user_id, provider}`).
#[derive(Debug, Clone)]
pub struct VerificationIdentity {
    pub user_id: String,
    pub provider: String,
}

/// `POST /api/v2/tickets/email-verification`, parsed.
#[derive(Debug, Default)]
pub struct NewVerificationTicket {
    pub user_id: Option<UserId>,
    pub client_id: Option<String>,
    pub result_url: Option<String>,
    pub ttl_sec: Option<i64>,
    pub include_email_in_redirect: bool,
    pub identity: Option<VerificationIdentity>,
}

/// `POST /api/v2/jobs/verification-email`, parsed.
#[derive(Debug, Default)]
pub struct NewVerificationJob {
    pub user_id: Option<UserId>,
    pub client_id: Option<String>,
    pub identity: Option<VerificationIdentity>,
}

/// What a new ticket allows, and for how long.
#[derive(Debug)]
pub(crate) struct VerificationSpec {
    pub client_id: Option<String>,
    pub result_url: Option<String>,
    pub include_email: bool,
    pub ttl_secs: i64,
}

/// Why a followed link did not verify the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerificationFailure {
    /// Used before.
    AlreadyUsed,
    Expired,
    /// Never issued, its user gone, or the user's address changed since.
    Invalid,
}

/// What following a verification link did.
#[derive(Debug, Clone)]
pub struct VerificationOutcome {
    /// `Ok(())` when the address is now verified.
    pub result: Result<(), VerificationFailure>,
    /// The ticket's `result_url` with Auth0's query (`success`, `message`, `code`, and `email`
    /// when asked for); `None` when the page itself says what happened.
    pub redirect: Option<String>,
}

fn with_query(base: &str, pairs: &[(&str, &str)]) -> Option<String> {
    let mut url = url::Url::parse(base).ok()?;
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
    }
    Some(url.to_string().replace('+', "%20"))
}

fn user_not_found() -> ServiceError {
    ServiceError::not_found(ErrorCode::InexistentUser, "User not found.")
}

impl Credentials {
    /// The checks Auth0 makes on the user a ticket or a verification mail is for.
    async fn verification_target(
        &self,
        user_id: Option<&UserId>,
        client_id: Option<&str>,
        identity: Option<&VerificationIdentity>,
    ) -> ServiceResult<User> {
        let Some(user_id) = user_id else {
            return Err(ServiceError::bad_request(
                ErrorCode::InvalidBody,
                "Payload validation error: 'Missing required property: user_id'.",
            ));
        };
        let user = self
            .store
            .get_user(user_id)
            .await?
            .ok_or_else(user_not_found)?;
        if let Some(identity) = identity {
            let matches = identity.provider == user_id.provider()
                && (identity.user_id == user_id.bare() || identity.user_id == user_id.as_str());
            if !matches {
                return Err(ServiceError::bad_request(
                    ErrorCode::InvalidBody,
                    "The user exists, but does not contain the given identity.",
                ));
            }
        }
        let connection = self.tenant.connection_named(&user.connection).await?;
        if !connection.is_database() {
            return Err(ServiceError::bad_request(
                ErrorCode::OperationNotSupported,
                "The user's main connection does not support email verification.",
            ));
        }
        if user.email.is_none() {
            return Err(ServiceError::bad_request(
                ErrorCode::InvalidBody,
                "The user does not have an email address.",
            ));
        }
        if let Some(c) = client_id {
            let exists = match ClientId::parse(c) {
                Ok(id) => self.tenant.active_client(&id).await?.is_some(),
                Err(_) => false,
            };
            if !exists {
                return Err(ServiceError::bad_request(
                    ErrorCode::InvalidBody,
                    "The client does not exist",
                ));
            }
        }
        Ok(user)
    }

    /// `POST /api/v2/tickets/email-verification`: the ticket URL.
    pub async fn create_verification_ticket(
        &self,
        request: NewVerificationTicket,
        caller: &Caller,
    ) -> ServiceResult<String> {
        if request.result_url.is_some() && request.client_id.is_some() {
            return Err(ServiceError::bad_request(
                ErrorCode::InvalidBody,
                "result_url cannot be used together with client_id.",
            ));
        }
        if let Some(u) = &request.result_url
            && !http_url(u)
        {
            return Err(
                crate::domain::ParseError::new("result_url", "must be an http(s) URL").into(),
            );
        }
        let ttl = match request.ttl_sec {
            None | Some(0) => DEFAULT_TICKET_TTL_SECS,
            Some(t) if t < 0 => {
                return Err(crate::domain::ParseError::new("ttl_sec", "must be 0 or more").into());
            }
            Some(t) => t.min(MAX_TICKET_TTL_SECS),
        };
        let user = self
            .verification_target(
                request.user_id.as_ref(),
                request.client_id.as_deref(),
                request.identity.as_ref(),
            )
            .await?;
        let spec = VerificationSpec {
            client_id: request.client_id,
            result_url: request.result_url,
            include_email: request.include_email_in_redirect,
            ttl_secs: ttl,
        };
        let log = caller
            .api_log("Create an email verification ticket")
            .map(|l| l.user(user.user_id.as_str(), &user.display_name()));
        self.issue_verification_ticket(&user, spec, log).await
    }

    /// Mints a token, stores its ticket and returns the URL.
    pub(crate) async fn issue_verification_ticket(
        &self,
        user: &User,
        spec: VerificationSpec,
        log: Option<LogEntry>,
    ) -> ServiceResult<String> {
        let email = user
            .email
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("a verification ticket for a user without email"))?;
        let token = crate::random::opaque_token()?;
        let now = Timestamp::now();
        let ticket = VerificationTicket {
            id: format!("tkt_{}", crate::random::alnum(20)?),
            digest: crate::random::token_digest(token.expose_secret()),
            user_id: user.user_id.clone(),
            email: email.as_str().to_owned(),
            client_id: spec.client_id,
            result_url: spec.result_url,
            include_email: spec.include_email,
            created_at: now,
            expires_at: now.plus_seconds(spec.ttl_secs.max(1)),
            used_at: None,
        };
        self.store
            .insert_verification_ticket(&ticket, log.as_ref())
            .await?;
        Ok(self.config.verification_url(token.expose_secret()))
    }

    /// `POST /api/v2/jobs/verification-email`: stores the job with the outbox row that sends
    /// the mail, together; answers with the pending job.
    pub async fn start_verification_email_job(
        &self,
        request: NewVerificationJob,
        caller: &Caller,
    ) -> ServiceResult<JobRecord> {
        let user = self
            .verification_target(
                request.user_id.as_ref(),
                request.client_id.as_deref(),
                request.identity.as_ref(),
            )
            .await?;
        let connection = self.tenant.connection_named(&user.connection).await?;
        let now = Timestamp::now();
        let job = JobRecord {
            id: format!("job_{}", crate::random::alnum(16)?),
            kind: JobKind::VerificationEmail,
            status: JobStatus::Pending,
            connection_id: connection.id.as_str().to_owned(),
            connection: connection.name.clone(),
            user_id: Some(user.user_id.clone()),
            external_id: None,
            upsert: false,
            send_completion_email: false,
            total: 1,
            position: 0,
            inserted: 0,
            updated: 0,
            failed: 0,
            created_at: now,
            updated_at: now,
        };
        let run = QueuedMail {
            id: format!("mail_{}", crate::random::alnum(20)?),
            job: OutboxJob::VerificationEmail {
                user_id: user.user_id.clone(),
                client_id: request.client_id,
                job_id: Some(job.id.clone()),
            },
            at: now,
        };
        self.store.insert_job(&job, None, Some(&run)).await?;
        self.job_intake.wake_worker();
        tracing::info!(job = %job.id, client = ?caller.actor, "verification email job queued");
        Ok(job)
    }

    /// Queues the verification mail for a user just created (`verify_email`, sign-up).
    pub(crate) async fn queue_verification_email(
        &self,
        user: &User,
        client_id: Option<String>,
    ) -> ServiceResult<()> {
        if user.email.is_none() || user.email_verified {
            return Ok(());
        }
        self.job_intake
            .enqueue(OutboxJob::VerificationEmail {
                user_id: user.user_id.clone(),
                client_id,
                job_id: None,
            })
            .await
    }

    /// Following a verification link: marks the address verified, once. Every outcome is
    /// logged (`sv` / `fv`).
    pub async fn verify_email_with_ticket(
        &self,
        token: &str,
        caller: &Caller,
    ) -> ServiceResult<VerificationOutcome> {
        let invalid = VerificationOutcome {
            result: Err(VerificationFailure::Invalid),
            redirect: None,
        };
        // Tokens are 43 URL-safe characters; anything else cannot be one of ours.
        if token.len() != 43
            || !token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Ok(invalid);
        }
        let digest = crate::random::token_digest(token);
        let Some(ticket) = self.store.find_verification_ticket(&digest).await? else {
            return Ok(invalid);
        };
        let user = self.store.get_user(&ticket.user_id).await?;
        let failed_log = |reason: &str| {
            let mut log = LogEntry::new(codes::FAILED_VERIFICATION_EMAIL, &caller.meta)
                .description(reason)
                .user(ticket.user_id.as_str(), "");
            if let Some(c) = &ticket.client_id {
                log = log.client(c, "");
            }
            log
        };
        let redirect = |result: Result<(), VerificationFailure>| {
            let base = ticket.result_url.as_deref()?;
            let (success, message, code) = match result {
                Ok(()) => ("true", VERIFIED_MESSAGE, "success"),
                Err(VerificationFailure::Expired) => ("false", EXPIRED_MESSAGE, "expired"),
                Err(VerificationFailure::AlreadyUsed) => ("false", USED_MESSAGE, "already-used"),
                Err(VerificationFailure::Invalid) => ("false", INVALID_MESSAGE, "invalid"),
            };
            let mut pairs = vec![("success", success), ("message", message), ("code", code)];
            if ticket.include_email {
                pairs.push(("email", ticket.email.as_str()));
            }
            with_query(base, &pairs)
        };
        let now = Timestamp::now();
        let failure = match &user {
            None => Some(VerificationFailure::Invalid),
            Some(u) if u.email.as_ref().map(|e| e.as_str()) != Some(ticket.email.as_str()) => {
                Some(VerificationFailure::Invalid)
            }
            Some(_) if ticket.used_at.is_some() => Some(VerificationFailure::AlreadyUsed),
            Some(_) if ticket.expires_at <= now => Some(VerificationFailure::Expired),
            Some(_) => None,
        };
        let result = match (failure, &user) {
            (Some(f), _) => Err(f),
            (None, Some(user)) => {
                let log = LogEntry::new(codes::SUCCESS_VERIFICATION_EMAIL, &caller.meta)
                    .description("Email verified")
                    .user(user.user_id.as_str(), &user.display_name())
                    .connection(&user.connection);
                let log = match &ticket.client_id {
                    Some(c) => log.client(c, ""),
                    None => log,
                };
                if self
                    .store
                    .redeem_verification_ticket(&digest, now, &log)
                    .await?
                {
                    Ok(())
                } else {
                    // Another request used it between the read and the write.
                    Err(VerificationFailure::AlreadyUsed)
                }
            }
            (None, None) => Err(VerificationFailure::Invalid),
        };
        if let Err(f) = result {
            let reason = match f {
                VerificationFailure::AlreadyUsed => "This URL can be used only once",
                VerificationFailure::Expired => "Access expired",
                VerificationFailure::Invalid => "The ticket's user or address no longer exists",
            };
            self.audit.record(failed_log(reason));
        }
        Ok(VerificationOutcome {
            result,
            redirect: redirect(result),
        })
    }
}

/// For the job runner's log of a verification mail.
pub(crate) fn verification_mail_log(
    code: &str,
    user: &User,
    client_id: Option<&str>,
    description: &str,
) -> LogEntry {
    let mut log = LogEntry::new(code, &RequestMeta::default())
        .description(description)
        .user(user.user_id.as_str(), &user.display_name())
        .connection(&user.connection);
    if let Some(c) = client_id {
        log = log.client(c, "");
    }
    log
}
