//! The hosted login form: password, second factor (challenge or enrolment), sign-up.

use super::{LoginStep, NewSession, PendingLogin, PostLoginProgress};
use crate::domain::{ClientId, Password, UserId};
use crate::error::{ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::services::mfa::factors::SecondFactorNeed;
use crate::services::{Caller, Login};
use crate::store::SessionRecord;
use crate::time::Timestamp;
use secrecy::{ExposeSecret, SecretString};

impl Login {
    /// The hosted login form's submission: checks the password, then either asks for the
    /// second factor (enrolling one first when the tenant requires MFA) or opens the session
    /// and answers the authorization request with a code.
    pub async fn login_with_password(
        &self,
        transaction: &str,
        username: &str,
        password: &Password,
        caller: &Caller,
    ) -> ServiceResult<LoginStep> {
        let tx = self.tenant_keys.unseal(transaction)?;
        let id = ClientId::parse(&tx.client_id).map_err(ServiceError::from)?;
        let client = self.tenant.active_client(&id).await?.ok_or_else(|| {
            ServiceError::bad_request(ErrorCode::InvalidRequest, "Unknown client.")
        })?;
        let user = self
            .authenticate_user(
                &client,
                &tx.connection,
                username.trim(),
                password,
                "pwd",
                &caller.meta,
            )
            .await?;
        self.after_password(tx, &user, Timestamp::now(), caller)
            .await
    }

    /// What follows a checked password, for the hosted form and cross-origin login tickets
    /// alike: the second factor (or an enrolment) when the user needs one, else the end of the
    /// login (post-login actions, session, code).
    pub(in crate::services) async fn after_password(
        &self,
        tx: super::Transaction,
        user: &crate::domain::User,
        auth_time: Timestamp,
        caller: &Caller,
    ) -> ServiceResult<LoginStep> {
        let now = Timestamp::now();
        let need = self.mfa.second_factor_need(user).await?;
        let mut pending = PendingLogin {
            tx,
            user_id: user.user_id.as_str().to_owned(),
            auth_time: auth_time.millis(),
            enroll_secret: None,
            enroll_uri: None,
            expires: now.seconds() + 300,
            post_login: PostLoginProgress::default(),
        };
        if need == SecondFactorNeed::Challenge {
            return Ok(LoginStep::SecondFactor {
                pending: self
                    .tenant_keys
                    .seal_value("login-mfa", &pending, pending.expires)?,
                callback: pending.tx.redirect_uri.clone(),
            });
        }
        if need == SecondFactorNeed::Enroll {
            let label = user.email.as_ref().map_or_else(
                || user.user_id.as_str().to_owned(),
                |e| e.as_str().to_owned(),
            );
            let (secret, uri) = self.mfa.new_totp_key(&label).await?;
            pending.enroll_secret = Some(secret.clone());
            pending.enroll_uri = Some(uri.clone());
            return Ok(LoginStep::Enroll {
                pending: self
                    .tenant_keys
                    .seal_value("login-mfa", &pending, pending.expires)?,
                secret: SecretString::from(secret),
                otpauth_uri: SecretString::from(uri),
                callback: pending.tx.redirect_uri.clone(),
            });
        }
        self.finish_login(&pending, vec!["pwd".into()], None, caller)
            .await
    }

    /// The challenge (or enrolment) a pending login shows again after a wrong code.
    pub fn login_challenge(&self, pending: &str) -> ServiceResult<LoginStep> {
        let sealed = pending.to_owned();
        let pending: PendingLogin = self.tenant_keys.unseal_value("login-mfa", pending)?;
        let callback = pending.tx.redirect_uri;
        Ok(match (pending.enroll_secret, pending.enroll_uri) {
            (Some(secret), Some(uri)) => LoginStep::Enroll {
                pending: sealed,
                secret: SecretString::from(secret),
                otpauth_uri: SecretString::from(uri),
                callback,
            },
            _ => LoginStep::SecondFactor {
                pending: sealed,
                callback,
            },
        })
    }

    /// The second factor of a login (or the first code of a new enrolment).
    pub async fn login_second_factor(
        &self,
        pending: &str,
        code: &str,
        caller: &Caller,
    ) -> ServiceResult<LoginStep> {
        let pending: PendingLogin = self.tenant_keys.unseal_value("login-mfa", pending)?;
        let user = self
            .directory
            .get_user(&UserId::from_trusted(pending.user_id.clone()))
            .await?;
        let bucket = self.tenant_keys.bucket("login-mfa", &[&pending.user_id]);
        let rule = crate::ratelimit::RateRule::per_minute(5, 10);
        if !self.rate_limiter.check(&bucket, rule).await.allowed {
            return Err(ServiceError::TooManyRequests(
                "Too many attempts. Wait a minute and try again.".into(),
            ));
        }
        let wrong = || {
            ServiceError::bad_request(
                ErrorCode::InvalidOtp,
                "That code is not valid. Enter the current code from your authenticator app.",
            )
        };
        let recovery = match &pending.enroll_secret {
            Some(secret) => {
                // A replayed enrolment form: the user enrolled meanwhile (with this very form).
                if self.mfa.has_second_factor(&user).await? {
                    return Err(wrong());
                }
                let key = crate::totp::decode_base32(secret).ok_or_else(wrong)?;
                let step = crate::totp::matching_step(&key, code, Timestamp::now().seconds())
                    .ok_or_else(wrong)?;
                Some(self.mfa.enroll_totp(&user, secret, step, caller).await?)
            }
            None => {
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
                            .description("Wrong second-factor code at login")
                            .user(user.user_id.as_str(), &user.display_name()),
                    );
                    return Err(wrong());
                }
                // A used recovery code was replaced: the new one is shown like an enrolment's.
                check.into_new_recovery_code()
            }
        };
        self.finish_login(&pending, vec!["pwd".into(), "mfa".into()], recovery, caller)
            .await
    }

    /// The end of every login: the post-login actions (once), the second factor an action
    /// asked for, then the session (new, or the single-sign-on one) and the code.
    pub(in crate::services) async fn finish_login(
        &self,
        pending: &PendingLogin,
        amr: Vec<String>,
        recovery_code: Option<SecretString>,
        caller: &Caller,
    ) -> ServiceResult<LoginStep> {
        let mut pending = pending.clone();
        if !pending.post_login.done
            && let Some(step) = self
                .run_post_login(&mut pending, &amr, None, caller)
                .await?
        {
            return Ok(step);
        }
        let user = self
            .directory
            .get_user(&UserId::from_trusted(pending.user_id.clone()))
            .await?;
        if pending.post_login.mfa_required && !amr.iter().any(|m| m == "mfa") {
            return self.second_factor_step(pending, &user).await;
        }
        let now = Timestamp::now();
        let claims = pending.post_login.claims.clone();
        if let Some(id) = &pending.post_login.session_id {
            // Single sign-on answers only from that very session, still live; gone, it means
            // logging in again (never a new session without a password).
            let session = self
                .store
                .list_sessions(&user.user_id)
                .await?
                .into_iter()
                .find(|s| {
                    &s.id == id
                        && s.credential_epoch == user.credential_epoch
                        && s.expires_at > now
                        && !user.blocked
                })
                .ok_or_else(|| {
                    ServiceError::bad_request(
                        ErrorCode::InvalidTransaction,
                        "This login can no longer continue. Go back to the application and log in again.",
                    )
                })?;
            let response = self
                .answer_authorization(&pending.tx, &session, claims)
                .await?;
            return Ok(LoginStep::Respond { response });
        }
        let token = crate::random::opaque_token()?;
        let lifetime_secs =
            ((self.tenant.active_tenant().await?.session_lifetime * 3600.0) as i64).max(60);
        let session = SessionRecord {
            id: crate::random::alnum(24)?,
            digest: crate::random::token_digest(token.expose_secret()),
            user_id: user.user_id.clone(),
            credential_epoch: user.credential_epoch,
            auth_time: Timestamp::from_millis(pending.auth_time),
            amr,
            created_at: now,
            last_seen_at: now,
            expires_at: now.plus_seconds(lifetime_secs),
            ip: caller.meta.ip.clone(),
            user_agent: caller.meta.user_agent.clone(),
        };
        self.store.insert_session(&session).await?;
        let response = self
            .answer_authorization(&pending.tx, &session, claims)
            .await?;
        Ok(LoginStep::Done {
            session: NewSession {
                token,
                max_age_secs: lifetime_secs,
            },
            response,
            recovery_code,
        })
    }

    /// The second factor a post-login action asked for (`api.multifactor.enable`): the
    /// challenge, or an enrolment when the user has no factor yet.
    pub(in crate::services) async fn second_factor_step(
        &self,
        mut pending: PendingLogin,
        user: &crate::domain::User,
    ) -> ServiceResult<LoginStep> {
        pending.expires = Timestamp::now().seconds() + 300;
        let callback = pending.tx.redirect_uri.clone();
        if self.mfa.has_second_factor(user).await? {
            return Ok(LoginStep::SecondFactor {
                pending: self
                    .tenant_keys
                    .seal_value("login-mfa", &pending, pending.expires)?,
                callback,
            });
        }
        let label = user.email.as_ref().map_or_else(
            || user.user_id.as_str().to_owned(),
            |e| e.as_str().to_owned(),
        );
        let (secret, uri) = self.mfa.new_totp_key(&label).await?;
        pending.enroll_secret = Some(secret.clone());
        pending.enroll_uri = Some(uri.clone());
        Ok(LoginStep::Enroll {
            pending: self
                .tenant_keys
                .seal_value("login-mfa", &pending, pending.expires)?,
            secret: SecretString::from(secret),
            otpauth_uri: SecretString::from(uri),
            callback,
        })
    }

    /// The hosted sign-up form: creates the user through `signup` (the same rules as
    /// `/dbconnections/signup`), then logs in as the login form does (MFA enrolment included).
    pub async fn signup_with_password(
        &self,
        transaction: &str,
        email: crate::domain::Email,
        password: Password,
        caller: &Caller,
    ) -> ServiceResult<LoginStep> {
        let tx = self.tenant_keys.unseal(transaction)?;
        let new = crate::services::NewUser {
            connection: tx.connection.clone(),
            email: Some(email.clone()),
            email_verified: false,
            username: None,
            password: Some(Password::parse(password.expose().to_owned())?),
            user_id: None,
            profile: crate::domain::Profile::default(),
            user_metadata: serde_json::Map::new(),
            app_metadata: serde_json::Map::new(),
            blocked: false,
            // Auth0 sends the verification mail on sign-up (when the template is enabled).
            verify_email: true,
        };
        self.signup(&tx.client_id, new, caller).await?;
        self.login_with_password(transaction, email.as_str(), &password, caller)
            .await
    }
}
