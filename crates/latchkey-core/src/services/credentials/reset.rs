//! Password reset: the request (`POST /dbconnections/change_password`), tickets (`POST
//! /api/v2/tickets/password-change` and the mailed link), opening a ticket (the hosted page's
//! GET, which never consumes it) and redeeming it (the POST, which does, atomically).

use crate::domain::{ClientId, ConnectionId, Email, Password, User, UserId};
use crate::error::{ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::mail::OutboxJob;
use crate::metrics::ResetStage;
use crate::password::{PasswordPolicy, PersonalInfo, RuleReport};
use crate::ratelimit::RateDecision;
use crate::services::credentials::passwords::{NewPassword, ticket_unusable};
use crate::services::tenant::settings::http_url;
use crate::services::{Caller, Credentials, PasswordChangeReason};
use crate::store::{PasswordTicket, TicketKind};
use crate::time::Timestamp;
use secrecy::{ExposeSecret, SecretString};

/// Auth0's default link lifetime: five days.
pub const DEFAULT_TICKET_TTL_SECS: i64 = 432_000;

/// `POST /dbconnections/change_password`, parsed.
#[derive(Debug)]
pub struct PasswordResetRequest {
    pub client_id: Option<String>,
    pub connection: String,
    pub email: Email,
    /// Flow v1 only.
    pub password: Option<Password>,
}

/// A result and the rate-limit bucket that admitted (or refused) it, for the headers.
#[derive(Debug)]
pub struct RateLimited<T> {
    pub rate: RateDecision,
    pub result: ServiceResult<T>,
}

/// `POST /api/v2/tickets/password-change`, parsed.
#[derive(Debug, Default)]
pub struct NewPasswordTicket {
    pub user_id: Option<UserId>,
    pub connection_id: Option<ConnectionId>,
    pub email: Option<Email>,
    pub client_id: Option<String>,
    pub result_url: Option<String>,
    pub ttl_sec: Option<i64>,
    pub mark_email_as_verified: bool,
    pub include_email_in_redirect: bool,
}

/// What a new ticket allows, and for how long.
#[derive(Debug)]
pub(crate) struct TicketSpec {
    pub kind: TicketKind,
    pub client_id: Option<String>,
    pub result_url: Option<String>,
    pub include_email: bool,
    pub mark_email_verified: bool,
    pub pending_hash: Option<crate::domain::PasswordHash>,
    pub ttl_secs: i64,
}

/// What the reset page shows for a usable ticket.
#[derive(Debug, Clone)]
pub struct OpenTicket {
    pub kind: TicketKind,
    pub email: Option<String>,
    pub connection: String,
    /// The strength rules, none verified yet.
    pub rules: Vec<RuleReport>,
    /// For a CSRF token bound to this ticket.
    pub digest: String,
    /// Where success redirects (the page's CSP must allow it as a form target).
    pub result_url: Option<String>,
    /// The user has a second factor and this browser has not passed it for this ticket yet:
    /// the page shows the challenge instead of the form.
    pub needs_second_factor: bool,
    /// The ticket and its user as opened, so that redeeming it in the same request reads
    /// neither again and does not run the post-challenge gate (an Action) twice.
    pub(crate) opened: Box<(PasswordTicket, User)>,
}

#[derive(Debug, Clone)]
pub enum TicketState {
    Open(OpenTicket),
    /// Expired: the page offers a new mail, or the ticket's `result_url` is told.
    Expired {
        connection: Option<String>,
        redirect: Option<String>,
    },
    /// Used, voided by a newer link or a password change, or never issued. The page offers a
    /// new mail, on the user's connection when the ticket was ours.
    Invalid {
        connection: Option<String>,
    },
    /// A password-reset-post-challenge action refused the reset: the page shows why.
    Denied {
        reason: String,
    },
}

/// Where the user goes after a successful reset.
#[derive(Debug, Clone)]
pub struct ResetDone {
    /// `result_url` with Auth0's `success=true&message=…[&email=…]`.
    pub redirect: Option<String>,
    /// The application's login page, for the confirmation screen's button.
    pub back_to_app: Option<String>,
}

const SUCCESS_MESSAGE: &str = "You can now login to the application with the new password.";

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

/// A passed second factor before a reset: the proof the page keeps (ten minutes, this ticket
/// only) and, when a recovery code was used, its replacement to show the user once.
pub struct ResetSecondFactorPassed {
    pub proof: String,
    pub new_recovery_code: Option<SecretString>,
}

impl Credentials {
    /// Takes the request into the outbox after the rate limits and the connection checks.
    /// Nothing here depends on whether the address is registered: the lookup happens at delivery.
    pub async fn request_password_reset(
        &self,
        request: PasswordResetRequest,
        caller: &Caller,
    ) -> RateLimited<()> {
        let ip = caller.meta.ip.clone().unwrap_or_default();
        let limits = &self.config.rate_limits;
        let per_email = self
            .tenant_keys
            .bucket("cpwd", &[&request.connection, request.email.as_str(), &ip]);
        let rate = if limits.enabled {
            let per_ip = self.tenant_keys.bucket("cpwd-ip", &[&ip]);
            let ip_rate = self
                .rate_limiter
                .check(&per_ip, limits.change_password_per_ip)
                .await;
            if ip_rate.allowed {
                self.rate_limiter
                    .check(&per_email, limits.change_password_per_email)
                    .await
            } else {
                ip_rate
            }
        } else {
            RateDecision::unlimited(limits.change_password_per_email)
        };
        let result = if rate.allowed {
            self.queue_password_reset(request, caller).await
        } else {
            Err(ServiceError::TooManyRequests(
                "Too many requests. Check the X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset headers."
                    .into(),
            ))
        };
        RateLimited { rate, result }
    }

    async fn queue_password_reset(
        &self,
        request: PasswordResetRequest,
        caller: &Caller,
    ) -> ServiceResult<()> {
        let connection = self.tenant.database_connection(&request.connection).await?;
        if let Some(id) = &request.client_id {
            let known = match ClientId::parse(id) {
                Ok(id) => self.tenant.active_client(&id).await?.is_some(),
                Err(_) => false,
            };
            if !known {
                return Err(ServiceError::bad_request(
                    ErrorCode::InvalidRequest,
                    "Unknown client",
                ));
            }
        }
        let pending_hash = match request.password {
            None => None,
            Some(password) => {
                if !self.tenant.active_tenant().await?.flags.change_pwd_flow_v1 {
                    return Err(ServiceError::bad_request(
                        ErrorCode::InvalidRequest,
                        "password is not allowed",
                    ));
                }
                // The user is not looked up here (that would tell known from unknown
                // addresses by timing); the personal-information and history rules are
                // therefore not applied in flow v1.
                PasswordPolicy::from_options(&connection.options)
                    .evaluate(password.expose(), &PersonalInfo::default())
                    .map_err(ServiceError::PasswordPolicy)?;
                self.screen_new_password(
                    crate::domain::attack_protection::BreachStage::ChangePassword,
                    None,
                    &password,
                    &caller.meta,
                )
                .await?;
                Some(self.hasher.hash(&password).await?.as_str().to_owned())
            }
        };
        let connection = connection.name;
        self.job_intake
            .enqueue(OutboxJob::PasswordResetRequest {
                connection: connection.clone(),
                email: request.email.clone(),
                client_id: request.client_id,
                ip: caller.meta.ip.clone(),
                pending_hash,
            })
            .await?;
        crate::metrics::METRICS.password_reset(&connection, ResetStage::Requested);
        Ok(())
    }

    /// `POST /api/v2/tickets/password-change`: the ticket URL, with Auth0's validation messages.
    pub async fn create_password_ticket(
        &self,
        request: NewPasswordTicket,
        caller: &Caller,
    ) -> ServiceResult<String> {
        let user = match (&request.user_id, &request.connection_id, &request.email) {
            (Some(_), Some(_), _) => {
                return Err(ServiceError::bad_request(
                    ErrorCode::InvalidBody,
                    "connection_id and user_id cannot be used together.",
                ));
            }
            (Some(id), None, _) => self.store.get_user(id).await?,
            (None, Some(connection_id), Some(email)) => {
                let connection = self
                    .store
                    .get_connection(connection_id)
                    .await?
                    .ok_or_else(|| {
                        ServiceError::bad_request(
                            ErrorCode::InvalidBody,
                            format!(
                                "The connection with id {} does not exist.",
                                connection_id.as_str()
                            ),
                        )
                    })?;
                self.store
                    .find_user_by_email(&connection.name, email)
                    .await?
            }
            _ => {
                return Err(ServiceError::bad_request(
                    ErrorCode::InvalidBody,
                    "Payload validation error: either user_id or connection_id and email are required.",
                ));
            }
        }
        .ok_or_else(|| ServiceError::not_found(ErrorCode::InexistentUser, "User not found."))?;
        let connection = self.tenant.connection_named(&user.connection).await?;
        if !connection.is_database() {
            return Err(ServiceError::bad_request(
                ErrorCode::OperationNotSupported,
                "The user's main connection does not support this operation.",
            ));
        }
        if user.email.is_none() {
            return Err(ServiceError::bad_request(
                ErrorCode::InvalidBody,
                "The user does not have an email address.",
            ));
        }
        if let Some(c) = &request.client_id {
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
            Some(t) => t.min(31_536_000),
        };
        let spec = TicketSpec {
            kind: TicketKind::Reset,
            client_id: request.client_id,
            result_url: request.result_url,
            include_email: request.include_email_in_redirect,
            mark_email_verified: request.mark_email_as_verified,
            pending_hash: None,
            ttl_secs: ttl,
        };
        let url = self
            .issue_ticket(
                &user,
                spec,
                caller.api_log("Create a password change ticket"),
            )
            .await?;
        Ok(url)
    }

    /// Mints a token, stores its ticket (voiding the user's older ones) and returns the URL.
    pub(crate) async fn issue_ticket(
        &self,
        user: &User,
        spec: TicketSpec,
        log: Option<crate::audit::LogEntry>,
    ) -> ServiceResult<String> {
        let token = crate::random::opaque_token()?;
        let now = Timestamp::now();
        let ticket = PasswordTicket {
            id: format!("tkt_{}", crate::random::alnum(20)?),
            digest: crate::random::token_digest(token.expose_secret()),
            user_id: user.user_id.clone(),
            credential_epoch: user.credential_epoch,
            kind: spec.kind,
            client_id: spec.client_id,
            result_url: spec.result_url,
            include_email: spec.include_email,
            mark_email_verified: spec.mark_email_verified,
            pending_hash: spec.pending_hash,
            created_at: now,
            expires_at: now.plus_seconds(spec.ttl_secs.max(1)),
            used_at: None,
        };
        self.tickets.write((ticket, log)).await?;
        Ok(self.config.reset_url(token.expose_secret()))
    }

    /// What a ticket link shows. Consumes nothing: mail scanners may open links freely.
    /// `second_factor` is the proof `pass_reset_second_factor` gave this browser, if any.
    pub async fn open_password_ticket(
        &self,
        token: &str,
        second_factor: Option<&str>,
        caller: &Caller,
    ) -> ServiceResult<TicketState> {
        let Some((ticket, user)) = self.find_ticket(token).await? else {
            return Ok(TicketState::Invalid { connection: None });
        };
        if ticket.used_at.is_some() || ticket.credential_epoch != user.credential_epoch {
            return Ok(TicketState::Invalid {
                connection: Some(user.connection),
            });
        }
        if ticket.expires_at <= Timestamp::now() {
            let redirect = ticket.result_url.as_deref().and_then(|u| {
                let email = user
                    .email
                    .as_ref()
                    .map(|e| e.as_str().to_owned())
                    .unwrap_or_default();
                with_query(
                    u,
                    &[
                        ("email", &email),
                        ("message", "Access expired"),
                        ("success", "false"),
                    ],
                )
            });
            return Ok(TicketState::Expired {
                connection: Some(user.connection.clone()),
                redirect,
            });
        }
        let connection = self.tenant.connection_named(&user.connection).await?;
        let gate = self
            .reset_gate(&user, ticket.client_id.as_deref(), &caller.meta)
            .await?;
        if let crate::services::credentials::action_triggers::ResetGate::Denied(reason) = gate {
            return Ok(TicketState::Denied { reason });
        }
        let needs_second_factor = gate
            == crate::services::credentials::action_triggers::ResetGate::SecondFactor
            && !self.second_factor_proven(&ticket.digest, second_factor);
        Ok(TicketState::Open(OpenTicket {
            kind: ticket.kind,
            email: user.email.as_ref().map(|e| e.as_str().to_owned()),
            connection: user.connection.clone(),
            rules: PasswordPolicy::from_options(&connection.options).describe(),
            digest: ticket.digest.clone(),
            result_url: ticket.result_url.clone(),
            needs_second_factor,
            opened: Box::new((ticket, user)),
        }))
    }

    fn second_factor_proven(&self, digest: &str, proof: Option<&str>) -> bool {
        proof.is_some_and(|p| {
            self.tenant_keys.proof_valid(
                &format!("reset-mfa\0{digest}"),
                p,
                Timestamp::now().seconds(),
            )
        })
    }

    /// The second factor before a reset: a TOTP code (or a recovery code) of the ticket's user.
    /// Returns a proof for this ticket, valid ten minutes, that the page keeps in a cookie.
    /// Attempts are limited per ticket (5 a minute), so six digits cannot be guessed.
    pub async fn pass_reset_second_factor(
        &self,
        token: &str,
        code: &str,
        caller: &Caller,
    ) -> ServiceResult<ResetSecondFactorPassed> {
        let Some((ticket, user)) = self.find_ticket(token).await? else {
            return Err(ticket_unusable());
        };
        if ticket.used_at.is_some()
            || ticket.expires_at <= Timestamp::now()
            || ticket.credential_epoch != user.credential_epoch
        {
            return Err(ticket_unusable());
        }
        let bucket = self.tenant_keys.bucket("reset-mfa", &[&ticket.digest]);
        let rule = crate::ratelimit::RateRule::per_minute(5, 5);
        if !self.rate_limiter.check(&bucket, rule).await.allowed {
            return Err(ServiceError::TooManyRequests(
                "Too many attempts. Wait a minute and try again.".into(),
            ));
        }
        let check = self
            .mfa
            .verify_second_factor(
                &user,
                code,
                crate::services::mfa::factors::SecondFactorKind::Any,
            )
            .await?;
        if !check.passed() {
            self.audit.record(
                crate::audit::LogEntry::new(crate::audit::codes::FAILED_MFA, &caller.meta)
                    .description("Wrong second-factor code before a password reset")
                    .user(user.user_id.as_str(), &user.display_name())
                    .connection(&user.connection),
            );
            return Err(ServiceError::bad_request(
                ErrorCode::InvalidOtp,
                "That code is not valid. Enter the current code from your authenticator app.",
            ));
        }
        let expires = Timestamp::now().seconds() + 600;
        Ok(ResetSecondFactorPassed {
            proof: self
                .tenant_keys
                .proof(&format!("reset-mfa\0{}", ticket.digest), expires),
            new_recovery_code: check.into_new_recovery_code(),
        })
    }

    async fn find_ticket(&self, token: &str) -> ServiceResult<Option<(PasswordTicket, User)>> {
        // Tokens are 43 URL-safe characters; anything else cannot be one of ours.
        if token.len() != 43
            || !token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Ok(None);
        }
        let Some(ticket) = self
            .store
            .find_ticket(&crate::random::token_digest(token))
            .await?
        else {
            return Ok(None);
        };
        let user = self.store.get_user(&ticket.user_id).await?;
        Ok(user.map(|u| (ticket, u)))
    }

    /// Sets the password with a ticket this request opened (or, flow v1, confirms the pending
    /// one) and consumes the ticket in the same transaction: of concurrent redemptions exactly
    /// one succeeds, and one used or voided since it was opened is refused. The gate (second
    /// factor, post-challenge actions) ran when it was opened, so a POST straight to the form
    /// meets it too; it does not run twice.
    pub async fn redeem_opened_ticket(
        &self,
        open: &OpenTicket,
        new_password: Option<Password>,
        caller: &Caller,
    ) -> ServiceResult<ResetDone> {
        if open.needs_second_factor {
            return Err(crate::services::mfa::factors::second_factor_required());
        }
        let (ticket, user) = open.opened.as_ref();
        let reason = PasswordChangeReason::ResetTicket {
            mark_email_verified: ticket.mark_email_verified,
        };
        let source = match (ticket.kind, &new_password, &ticket.pending_hash) {
            (TicketKind::Reset, Some(p), _) => NewPassword::Chosen(p),
            (TicketKind::ConfirmPending, _, Some(hash)) => NewPassword::Hashed(hash.clone()),
            (TicketKind::Reset, None, _) => {
                return Err(crate::domain::ParseError::new("newPassword", "is required").into());
            }
            (TicketKind::ConfirmPending, _, None) => return Err(ticket_unusable()),
        };
        let user = self
            .change_password(
                &user.user_id,
                source,
                reason,
                Some(ticket),
                Some(user),
                caller,
            )
            .await?;
        crate::metrics::METRICS.password_reset(&user.connection, ResetStage::Completed);
        let redirect = ticket.result_url.as_deref().and_then(|u| {
            let mut pairs = vec![("success", "true"), ("message", SUCCESS_MESSAGE)];
            let email = user.email.as_ref().map(|e| e.as_str().to_owned());
            if ticket.include_email
                && let Some(e) = &email
            {
                pairs.push(("email", e.as_str()));
                return with_query(u, &pairs);
            }
            with_query(u, &pairs)
        });
        let client = match ticket.client_id.as_deref().map(ClientId::parse) {
            Some(Ok(id)) => self.tenant.active_client(&id).await?,
            _ => None,
        };
        let back_to_app = client
            .and_then(|c| c.initiate_login_uri.clone())
            .or(self.tenant.active_tenant().await?.default_redirection_uri)
            .filter(|u| http_url(u));
        Ok(ResetDone {
            redirect,
            back_to_app,
        })
    }

    /// A signed double-submit CSRF token for the browser holding cookie `nonce`, bound to one
    /// form (`purpose`).
    pub fn csrf_token(&self, nonce: &str, purpose: &str) -> String {
        self.tenant_keys.csrf_token(nonce, purpose)
    }
    pub fn csrf_valid(&self, nonce: &str, purpose: &str, token: &str) -> bool {
        self.tenant_keys.csrf_valid(nonce, purpose, token)
    }
}
