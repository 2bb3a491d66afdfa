//! Console administrators: accounts (CLI), sign-in with an optional TOTP factor, sessions with
//! idle and absolute timeouts, and "Don't remember your password?" by mail. They
//! are not the tenant's end users: their own table, sessions and reset links.

use crate::domain::{Email, Password};
use crate::error::{ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::mail::MailError;
use crate::password::{PasswordPolicy, PersonalInfo, RuleReport};
use crate::ratelimit::RateRule;
use crate::services::{Caller, Console};
use crate::store::{Admin, AdminSessionRecord, AdminTicket};
use crate::time::Timestamp;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// How long an administrator's reset link works.
const ADMIN_RESET_TTL_SECS: i64 = 3600;

/// The administrator a console request acts as.
#[derive(Debug, Clone)]
pub struct AdminPrincipal {
    pub id: String,
    pub email: String,
    /// The session's id: console forms' CSRF tokens are bound to it.
    pub session_id: String,
    pub has_totp: bool,
}

impl AdminPrincipal {
    /// The caller for service functions: logged with the acting administrator.
    pub fn caller(&self, meta: crate::audit::RequestMeta) -> Caller {
        Caller {
            actor: crate::services::Actor::Admin {
                email: self.email.clone(),
            },
            meta,
        }
    }
}

/// A new console session: the cookie's token (shown once, stored as a digest).
pub struct NewAdminSession {
    pub token: SecretString,
    pub max_age_secs: i64,
}

pub enum AdminSignIn {
    SignedIn(NewAdminSession),
    /// The administrator has an authenticator app: `pending` goes back with the code.
    SecondFactor {
        pending: String,
    },
}

/// The state of an administrator's reset link, as its page shows it.
pub enum AdminResetState {
    Invalid,
    /// The administrator has an authenticator: a code first.
    NeedsSecondFactor,
    Ready {
        email: String,
        rules: Vec<RuleReport>,
    },
}

/// A TOTP key being set up: shown as a QR code and text; `pending` carries it, sealed, to the
/// confirmation.
pub struct AdminTotpSetup {
    pub pending: String,
    pub secret: SecretString,
    pub otpauth_uri: SecretString,
}

#[derive(Serialize, Deserialize)]
struct PendingAdminLogin {
    admin_id: String,
    epoch: i64,
}

#[derive(Serialize, Deserialize)]
struct PendingAdminTotp {
    admin_id: String,
    secret: String,
    uri: String,
}

/// Console sign-in guesses per (address, IP): a burst of 10, then 10 a minute.
const ADMIN_LOGIN_PER_IP: RateRule = RateRule {
    interval: std::time::Duration::from_secs(6),
    burst: 10,
};
/// Per address from anywhere: a ceiling far above one person's typing (300, then 60 a
/// minute); over it attempts are slowed and only the right password passes.
const ADMIN_LOGIN_PER_ACCOUNT: RateRule = RateRule {
    interval: std::time::Duration::from_secs(1),
    burst: 300,
};
/// What an attempt over the account's ceiling waits before it is checked.
const ADMIN_CEILING_DELAY: std::time::Duration = std::time::Duration::from_secs(1);
/// Reset-link requests per (address, IP): 5, then one a minute.
const ADMIN_RESET_PER_IP: RateRule = RateRule {
    interval: std::time::Duration::from_secs(60),
    burst: 5,
};
/// Reset-link requests per address from anywhere. Over it, only an IP that has not asked
/// within its own window (its bucket was full) is still served, after a delay: the real
/// administrator's first request gets through, repeated requests from one address do not.
const ADMIN_RESET_PER_ACCOUNT: RateRule = RateRule {
    interval: std::time::Duration::from_secs(6),
    burst: 30,
};

fn too_many_attempts() -> ServiceError {
    ServiceError::TooManyRequests("Too many attempts. Wait a minute and try again.".into())
}

fn wrong_credentials() -> ServiceError {
    ServiceError::bad_request(ErrorCode::InvalidCredentials, "Wrong email or password.")
}

fn wrong_code() -> ServiceError {
    ServiceError::bad_request(
        ErrorCode::InvalidOtp,
        "That code is not valid. Enter the current code from your authenticator app.",
    )
}

fn reset_link_unusable() -> ServiceError {
    ServiceError::bad_request(
        ErrorCode::InvalidTicket,
        "This link can no longer be used. Ask for a new one from the sign-in page.",
    )
}

impl Console {
    /// The rules an administrator's password must meet, whatever the tenant's connection says:
    /// at least 12 characters of three kinds, not a common password, not the address.
    pub fn admin_password_policy(&self) -> PasswordPolicy {
        PasswordPolicy::for_administrators()
    }

    fn check_admin_password(&self, email: &Email, password: &Password) -> ServiceResult<()> {
        let info = PersonalInfo {
            values: vec![email.local_part().to_owned()],
        };
        self.admin_password_policy()
            .evaluate(password.expose(), &info)
            .map_err(ServiceError::PasswordPolicy)
    }

    /// `latchkey admin create`: a new administrator.
    pub async fn create_admin(&self, email: &str, password: &Password) -> ServiceResult<Admin> {
        let email = Email::parse(email)?;
        self.check_admin_password(&email, password)?;
        let admin = Admin {
            id: format!("adm_{}", crate::random::alnum(16)?),
            email,
            password_hash: self.hasher.hash(password).await?,
            created_at: Timestamp::now(),
            credential_epoch: 0,
            totp_secret: None,
            last_login_at: None,
        };
        self.store.insert_admin(&admin).await?;
        Ok(admin)
    }

    pub async fn list_admins(&self) -> ServiceResult<Vec<Admin>> {
        Ok(self.store.list_admins().await?)
    }

    async fn admin_by_email(&self, email: &str) -> ServiceResult<Admin> {
        let not_found = || ServiceError::NotFound {
            code: ErrorCode::InexistentAdmin,
            message: format!("There is no administrator {email}."),
        };
        let email = Email::parse(email).map_err(|_| not_found())?;
        self.store
            .get_admin_by_email(&email)
            .await?
            .ok_or_else(not_found)
    }

    /// `latchkey admin delete`: refuses to delete the last administrator.
    pub async fn delete_admin(&self, email: &str) -> ServiceResult<()> {
        let admin = self.admin_by_email(email).await?;
        if self.store.list_admins().await?.len() <= 1 {
            return Err(ServiceError::bad_request(
                ErrorCode::LastAdmin,
                "This is the only administrator; create another one first.",
            ));
        }
        self.store.delete_admin(&admin.id).await?;
        Ok(())
    }

    /// `latchkey admin reset-password`: sets the password and ends the administrator's sessions.
    pub async fn set_admin_password(&self, email: &str, password: &Password) -> ServiceResult<()> {
        let admin = self.admin_by_email(email).await?;
        self.check_admin_password(&admin.email, password)?;
        let hash = self.hasher.hash(password).await?;
        self.store
            .set_admin_password(&admin.id, &hash, None)
            .await?;
        Ok(())
    }

    /// `latchkey admin reset-mfa`: removes the administrator's authenticator (a lost phone).
    pub async fn clear_admin_totp(&self, email: &str) -> ServiceResult<()> {
        let admin = self.admin_by_email(email).await?;
        self.store.set_admin_totp(&admin.id, None).await?;
        Ok(())
    }

    /// The console's sign-in form. Unknown addresses cost a decoy hash and get the same answer
    /// as a wrong password. Guesses are limited per (address, IP), as Auth0's brute-force
    /// protection counts per identifier and IP, so nobody can lock an administrator out from
    /// elsewhere. Across all IPs the account has a much higher ceiling that slows rather than
    /// blocks: over it each attempt waits a second, a wrong password is answered "too many",
    /// and the right one (then the TOTP code, when enrolled) still signs in.
    pub async fn admin_sign_in(
        &self,
        email: &str,
        password: &Password,
        caller: &Caller,
    ) -> ServiceResult<AdminSignIn> {
        let ip = caller.meta.ip.clone().unwrap_or_default();
        let address = email.trim().to_lowercase();
        let per_ip = self.tenant_keys.bucket("admin-login", &[&address, &ip]);
        if !self
            .rate_limiter
            .check(&per_ip, ADMIN_LOGIN_PER_IP)
            .await
            .allowed
        {
            return Err(too_many_attempts());
        }
        let account = self.tenant_keys.bucket("admin-login-account", &[&address]);
        let over_ceiling = !self
            .rate_limiter
            .check(&account, ADMIN_LOGIN_PER_ACCOUNT)
            .await
            .allowed;
        if over_ceiling {
            tracing::warn!("console sign-in: account over its ceiling, attempts slowed");
            tokio::time::sleep(ADMIN_CEILING_DELAY).await;
        }
        let refused = || {
            if over_ceiling {
                too_many_attempts()
            } else {
                wrong_credentials()
            }
        };
        let admin = match Email::parse(email) {
            Ok(e) => self.store.get_admin_by_email(&e).await?,
            Err(_) => None,
        };
        let Some(admin) = admin else {
            self.hasher.verify_decoy(password).await?;
            return Err(refused());
        };
        if !self
            .hasher
            .verify(password, &admin.password_hash)
            .await?
            .matches
        {
            tracing::info!(admin = %admin.id, "console sign-in refused: wrong password");
            return Err(refused());
        }
        if admin.totp_secret.is_some() {
            let pending = PendingAdminLogin {
                admin_id: admin.id.clone(),
                epoch: admin.credential_epoch,
            };
            let expires = Timestamp::now().seconds() + 300;
            return Ok(AdminSignIn::SecondFactor {
                pending: self
                    .tenant_keys
                    .seal_value("admin-login-mfa", &pending, expires)?,
            });
        }
        Ok(AdminSignIn::SignedIn(
            self.start_admin_session(&admin).await?,
        ))
    }

    /// The code after the password, for an administrator with an authenticator.
    pub async fn admin_sign_in_second_factor(
        &self,
        pending: &str,
        code: &str,
    ) -> ServiceResult<NewAdminSession> {
        let pending: PendingAdminLogin =
            self.tenant_keys.unseal_value("admin-login-mfa", pending)?;
        let admin = self
            .store
            .get_admin(&pending.admin_id)
            .await?
            .filter(|a| a.credential_epoch == pending.epoch)
            .ok_or_else(wrong_credentials)?;
        self.check_admin_code(&admin, code).await?;
        self.start_admin_session(&admin).await
    }

    /// Checks a TOTP code of the administrator (each step once; attempts limited).
    async fn check_admin_code(&self, admin: &Admin, code: &str) -> ServiceResult<()> {
        let bucket = self.tenant_keys.bucket("admin-mfa", &[&admin.id]);
        let rule = crate::ratelimit::RateRule::per_minute(5, 5);
        if !self.rate_limiter.check(&bucket, rule).await.allowed {
            return Err(ServiceError::TooManyRequests(
                "Too many attempts. Wait a minute and try again.".into(),
            ));
        }
        let key = admin
            .totp_secret
            .as_ref()
            .and_then(|s| crate::totp::decode_base32(s.expose_secret()))
            .ok_or_else(wrong_code)?;
        let step = crate::totp::matching_step(&key, code.trim(), Timestamp::now().seconds())
            .ok_or_else(wrong_code)?;
        if !self.store.use_admin_totp_step(&admin.id, step).await? {
            return Err(wrong_code());
        }
        Ok(())
    }

    async fn start_admin_session(&self, admin: &Admin) -> ServiceResult<NewAdminSession> {
        let token = crate::random::opaque_token()?;
        let now = Timestamp::now();
        let lifetime = self.config.admin.session_lifetime.as_secs() as i64;
        self.store
            .insert_admin_session(&AdminSessionRecord {
                id: crate::random::alnum(24)?,
                digest: crate::random::token_digest(token.expose_secret()),
                admin_id: admin.id.clone(),
                credential_epoch: admin.credential_epoch,
                created_at: now,
                last_seen_at: now,
                expires_at: now.plus_seconds(lifetime),
            })
            .await?;
        self.store.record_admin_login(&admin.id, now).await?;
        Ok(NewAdminSession {
            token,
            max_age_secs: lifetime,
        })
    }

    /// The administrator behind a console cookie, if the session is live: not past its
    /// absolute end, used within the idle timeout, and of the current credential epoch.
    pub async fn admin_session(&self, token: &str) -> ServiceResult<Option<AdminPrincipal>> {
        if token.is_empty() {
            return Ok(None);
        }
        let digest = crate::random::token_digest(token);
        let Some(session) = self.store.find_admin_session(&digest).await? else {
            return Ok(None);
        };
        let now = Timestamp::now();
        let idle = self.config.admin.idle_timeout.as_millis() as i64;
        let Some(admin) = self.store.get_admin(&session.admin_id).await? else {
            return Ok(None);
        };
        if session.expires_at <= now
            || now.millis() - session.last_seen_at.millis() > idle
            || session.credential_epoch != admin.credential_epoch
        {
            self.store.delete_admin_session(&digest).await?;
            return Ok(None);
        }
        // One write a minute at most per session keeps the idle clock without a write per page
        // (more often under an idle timeout shorter than two minutes).
        if now.millis() - session.last_seen_at.millis() > (idle / 2).min(60_000) {
            self.store.touch_admin_session(&digest, now).await?;
        }
        Ok(Some(AdminPrincipal {
            id: admin.id,
            email: admin.email.as_str().to_owned(),
            session_id: session.id,
            has_totp: admin.totp_secret.is_some(),
        }))
    }

    pub async fn admin_sign_out(&self, token: &str) -> ServiceResult<()> {
        self.store
            .delete_admin_session(&crate::random::token_digest(token))
            .await?;
        Ok(())
    }

    /// "Don't remember your password?": queues the mail (the worker looks the address up), so
    /// every address gets the same answer in the same time. Limited per (address, IP); the
    /// account's ceiling across IPs slows, and then serves only IPs that have not asked
    /// lately, so requests from elsewhere cannot keep the administrator from a link.
    pub async fn request_admin_password_reset(
        &self,
        email: &str,
        caller: &Caller,
    ) -> ServiceResult<()> {
        let email = Email::parse(email)?;
        let ip = caller.meta.ip.clone().unwrap_or_default();
        let too_many = || {
            ServiceError::TooManyRequests("Too many requests. Wait a minute and try again.".into())
        };
        let per_ip = self
            .tenant_keys
            .bucket("admin-reset", &[email.as_str(), &ip]);
        let ip_decision = self.rate_limiter.check(&per_ip, ADMIN_RESET_PER_IP).await;
        if !ip_decision.allowed {
            return Err(too_many());
        }
        let account = self
            .tenant_keys
            .bucket("admin-reset-account", &[email.as_str()]);
        if !self
            .rate_limiter
            .check(&account, ADMIN_RESET_PER_ACCOUNT)
            .await
            .allowed
        {
            // This IP's first request in its window (the bucket was full) still goes through.
            if ip_decision.remaining + 1 < ADMIN_RESET_PER_IP.burst {
                return Err(too_many());
            }
            tracing::warn!("console reset request: account over its ceiling, slowed");
            tokio::time::sleep(ADMIN_CEILING_DELAY).await;
        }
        self.job_intake
            .enqueue(crate::mail::OutboxJob::AdminPasswordReset {
                email: email.clone(),
            })
            .await?;
        Ok(())
    }

    /// The outbox's delivery of an administrator's reset mail: `None` when there is no such
    /// administrator (nothing to send).
    pub(crate) async fn send_admin_reset_link(
        &self,
        email: &Email,
    ) -> ServiceResult<Option<Result<(), MailError>>> {
        let Some(admin) = self.store.get_admin_by_email(email).await? else {
            return Ok(None);
        };
        let token = crate::random::opaque_token()?;
        let now = Timestamp::now();
        self.store
            .insert_admin_ticket(&AdminTicket {
                digest: crate::random::token_digest(token.expose_secret()),
                admin_id: admin.id.clone(),
                credential_epoch: admin.credential_epoch,
                created_at: now,
                expires_at: now.plus_seconds(ADMIN_RESET_TTL_SECS),
                used_at: None,
            })
            .await?;
        let url = format!(
            "{}admin/reset?ticket={}",
            self.config.issuer,
            token.expose_secret()
        );
        let name = self.tenant.branding().await?.name;
        let e = crate::mail::escape_html;
        let html = format!(
            r#"<p>Hello,</p>
<p>Someone asked to reset the password of the {name} console account {email}. If it was you, choose a new password within the hour:</p>
<p><a href="{url}" style="display:inline-block;background:#635bff;color:#ffffff;padding:12px 20px;border-radius:6px;text-decoration:none">Choose a new password</a></p>
<p style="font-size:13px;color:#57606a">Or paste this address into your browser: {url}</p>
<p>If it was not you, ignore this mail: your password stays as it is.</p>"#,
            name = e(&name),
            email = e(email.as_str()),
            url = e(&url),
        );
        let subject = format!("Reset your {name} console password");
        self.mailer
            .send_message(None, email.as_str(), &subject, html, "admin_reset")
            .await
            .map(Some)
    }

    async fn live_admin_ticket(&self, token: &str) -> ServiceResult<Option<(AdminTicket, Admin)>> {
        let digest = crate::random::token_digest(token);
        let Some(ticket) = self.store.find_admin_ticket(&digest).await? else {
            return Ok(None);
        };
        let Some(admin) = self.store.get_admin(&ticket.admin_id).await? else {
            return Ok(None);
        };
        let live = ticket.used_at.is_none()
            && ticket.expires_at > Timestamp::now()
            && ticket.credential_epoch == admin.credential_epoch;
        Ok(live.then_some((ticket, admin)))
    }

    fn admin_reset_proof_valid(&self, ticket: &AdminTicket, proof: Option<&str>) -> bool {
        proof.is_some_and(|p| {
            self.tenant_keys.proof_valid(
                &format!("admin-reset-mfa\0{}", ticket.digest),
                p,
                Timestamp::now().seconds(),
            )
        })
    }

    /// What an administrator's reset link shows. Consumes nothing.
    pub async fn open_admin_reset(
        &self,
        token: &str,
        proof: Option<&str>,
    ) -> ServiceResult<AdminResetState> {
        let Some((ticket, admin)) = self.live_admin_ticket(token).await? else {
            return Ok(AdminResetState::Invalid);
        };
        if admin.totp_secret.is_some() && !self.admin_reset_proof_valid(&ticket, proof) {
            return Ok(AdminResetState::NeedsSecondFactor);
        }
        Ok(AdminResetState::Ready {
            email: admin.email.as_str().to_owned(),
            rules: self.admin_password_policy().describe(),
        })
    }

    /// The code before an administrator's new password: a proof for this link (ten minutes).
    pub async fn pass_admin_reset_second_factor(
        &self,
        token: &str,
        code: &str,
    ) -> ServiceResult<String> {
        let (ticket, admin) = self
            .live_admin_ticket(token)
            .await?
            .ok_or_else(reset_link_unusable)?;
        self.check_admin_code(&admin, code).await?;
        Ok(self.tenant_keys.proof(
            &format!("admin-reset-mfa\0{}", ticket.digest),
            Timestamp::now().seconds() + 600,
        ))
    }

    /// Sets the administrator's new password from the link: checks the policy and the second
    /// factor's proof, then consumes the link, moves the epoch and ends every console session
    /// in one transaction.
    pub async fn redeem_admin_reset(
        &self,
        token: &str,
        password: &Password,
        proof: Option<&str>,
    ) -> ServiceResult<()> {
        let (ticket, admin) = self
            .live_admin_ticket(token)
            .await?
            .ok_or_else(reset_link_unusable)?;
        if admin.totp_secret.is_some() && !self.admin_reset_proof_valid(&ticket, proof) {
            return Err(crate::services::mfa::factors::second_factor_required());
        }
        self.check_admin_password(&admin.email, password)?;
        let hash = self.hasher.hash(password).await?;
        if !self
            .store
            .set_admin_password(&admin.id, &hash, Some(&ticket.digest))
            .await?
        {
            return Err(reset_link_unusable());
        }
        Ok(())
    }

    /// Starts setting up an authenticator app for the signed-in administrator.
    pub async fn begin_admin_totp(&self, admin: &AdminPrincipal) -> ServiceResult<AdminTotpSetup> {
        // Replacing a factor takes the current one: remove it first (that asks for a code).
        if admin.has_totp {
            return Err(ServiceError::bad_request(
                ErrorCode::AlreadyEnrolled,
                "An authenticator app is already set up. Remove it first (that asks for its code).",
            ));
        }
        let (secret, uri) = self.mfa.new_totp_key(&admin.email).await?;
        let pending = PendingAdminTotp {
            admin_id: admin.id.clone(),
            secret: secret.clone(),
            uri: uri.clone(),
        };
        Ok(AdminTotpSetup {
            pending: self.tenant_keys.seal_value(
                "admin-totp",
                &pending,
                Timestamp::now().seconds() + 600,
            )?,
            secret: SecretString::from(secret),
            otpauth_uri: SecretString::from(uri),
        })
    }

    /// The setup again (after a wrong code), from its sealed state.
    pub fn resume_admin_totp(&self, pending: &str) -> ServiceResult<AdminTotpSetup> {
        let state: PendingAdminTotp = self.tenant_keys.unseal_value("admin-totp", pending)?;
        Ok(AdminTotpSetup {
            pending: pending.to_owned(),
            secret: SecretString::from(state.secret),
            otpauth_uri: SecretString::from(state.uri),
        })
    }

    /// Stores the key once the administrator proved to hold it with a code.
    pub async fn confirm_admin_totp(
        &self,
        admin: &AdminPrincipal,
        pending: &str,
        code: &str,
    ) -> ServiceResult<()> {
        let state: PendingAdminTotp = self.tenant_keys.unseal_value("admin-totp", pending)?;
        if state.admin_id != admin.id {
            return Err(wrong_code());
        }
        let bucket = self.tenant_keys.bucket("admin-mfa", &[&admin.id]);
        let rule = crate::ratelimit::RateRule::per_minute(5, 5);
        if !self.rate_limiter.check(&bucket, rule).await.allowed {
            return Err(ServiceError::TooManyRequests(
                "Too many attempts. Wait a minute and try again.".into(),
            ));
        }
        let key = crate::totp::decode_base32(&state.secret).ok_or_else(wrong_code)?;
        let step = crate::totp::matching_step(&key, code.trim(), Timestamp::now().seconds())
            .ok_or_else(wrong_code)?;
        let secret = SecretString::from(state.secret);
        self.store.set_admin_totp(&admin.id, Some(&secret)).await?;
        self.store.use_admin_totp_step(&admin.id, step).await?;
        Ok(())
    }

    /// Removes the signed-in administrator's authenticator; a current code proves it is them.
    pub async fn remove_admin_totp(&self, admin: &AdminPrincipal, code: &str) -> ServiceResult<()> {
        let record = self
            .store
            .get_admin(&admin.id)
            .await?
            .ok_or_else(wrong_code)?;
        self.check_admin_code(&record, code).await?;
        self.store.set_admin_totp(&admin.id, None).await?;
        Ok(())
    }
}
