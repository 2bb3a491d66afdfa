//! The password check every login shares (hosted form and password grants): decoy hashes
//! for unknown users, suspicious IP throttling, brute-force counting and blocks, breached-password detection (only once
//! the password is known right), the second factor a login needs.

use super::grants::PendingMfa;
use crate::audit::{LogEntry, RequestMeta, codes};
use crate::domain::attack_protection::SuspiciousIpThrottling;
use crate::domain::{Client, Email, Password, Scope, User};
use crate::error::{ServiceError, ServiceResult};
use crate::services::Login;
use crate::services::credentials::breach::LoginContext;
use crate::store::LoginRecord;
use crate::time::Timestamp;
use secrecy::SecretString;
use serde_json::Value;

impl Login {
    /// Checks a username (or email) and password on a database connection for `client`: the
    /// one credential check behind the password grants and the hosted login form. Unknown users
    /// cost a decoy verification; the blocked state is told only after a correct password.
    /// Logs `s`/`f`/`fu`/`fp` and records the login.
    pub(crate) async fn authenticate_user(
        &self,
        client: &Client,
        connection: &str,
        username: &str,
        password: &Password,
        method: &str,
        meta: &RequestMeta,
    ) -> ServiceResult<User> {
        // Suspicious IP throttling: an address past its failed logins is refused before any
        // password work; each wrong password or unknown user from it spends one.
        let ip = meta.ip.clone().unwrap_or_default();
        let throttling = self
            .tenant
            .settings_document::<SuspiciousIpThrottling>()
            .await?;
        let guarded = throttling.guards(&ip);
        let key = format!("sit-login:{ip}");
        let rule = throttling.stage.pre_login.rule();
        if guarded && !self.rate_limiter.peek(&key, rule).await {
            self.ip_past_its_attempts(&throttling, "login", &ip).await?;
            if throttling.blocks() {
                self.audit.record(
                    LogEntry::new(codes::BLOCKED_IP, meta)
                        .description(
                            "Suspicious IP throttling: too many failed logins from this IP",
                        )
                        .client(client.client_id.as_str(), &client.name)
                        .connection(connection)
                        .user("", username),
                );
                return Err(ServiceError::SuspiciousIp);
            }
        }
        let result = self
            .check_credentials(client, connection, username, password, method, meta)
            .await;
        if guarded && matches!(result, Err(ServiceError::WrongCredentials)) {
            self.rate_limiter.check(&key, rule).await;
        }
        result
    }

    /// An address went past its attempts at `stage`: with the `admin_notification` shield, the
    /// console administrators are told, at most hourly per address and stage (an attack goes
    /// on for hours; one mail says it).
    pub(super) async fn ip_past_its_attempts(
        &self,
        throttling: &SuspiciousIpThrottling,
        stage: &str,
        ip: &str,
    ) -> ServiceResult<()> {
        if !throttling.notifies_admins() {
            return Ok(());
        }
        let rule = crate::ratelimit::RateRule {
            interval: std::time::Duration::from_secs(3600),
            burst: 1,
        };
        let key = format!("sit-admin-notice:{stage}:{ip}");
        if self.rate_limiter.check(&key, rule).await.allowed {
            self.job_intake
                .enqueue(crate::mail::OutboxJob::SuspiciousIpAdminNotice {
                    stage: stage.to_owned(),
                    ip: ip.to_owned(),
                })
                .await?;
        }
        Ok(())
    }

    /// The credential check itself (see `authenticate_user`).
    async fn check_credentials(
        &self,
        client: &Client,
        connection: &str,
        username: &str,
        password: &Password,
        method: &str,
        meta: &RequestMeta,
    ) -> ServiceResult<User> {
        let mut user = if username.contains('@') {
            match Email::parse(username) {
                Ok(email) => self.store.find_user_by_email(connection, &email).await?,
                Err(_) => None,
            }
        } else {
            self.store
                .find_user_by_username(connection, username)
                .await?
        };
        let log_failure = |code: &str, user: Option<&User>, description: &str| {
            let mut entry = LogEntry::new(code, meta)
                .description(description)
                .client(client.client_id.as_str(), &client.name)
                .connection(connection);
            entry = match user {
                Some(u) => entry.user(u.user_id.as_str(), &u.display_name()),
                None => entry.user("", username),
            };
            self.audit.record(entry);
        };
        // A custom database answers for users whose password is not held here: every user
        // without import mode, users not migrated yet with it. Brute-force protection holds
        // for them too: a blocked pair never reaches the store, and a refusal counts.
        let mut checked_by_script = false;
        if let Some(db) = self
            .tenant
            .find_connection(connection)
            .await?
            .and_then(|c| self.actions.custom_database(&c))
            && (!db.import_mode || user.as_ref().is_none_or(|u| u.password_hash.is_none()))
        {
            let ip = meta.ip.clone().unwrap_or_default();
            if let Some(local) = &user
                && self
                    .store
                    .login_failures(&local.user_id, &ip)
                    .await?
                    .is_some_and(|(_, blocked)| blocked)
                && self.brute_force_refuses(&ip).await?
            {
                log_failure(
                    codes::BLOCKED_BY_ATTEMPTS,
                    Some(local),
                    "Blocked account: too many consecutive failed logins from this IP",
                );
                return Err(ServiceError::TooManyAttempts);
            }
            let local = user.clone();
            match self
                .actions
                .login_through_script(&db, username, password, local.clone())
                .await?
            {
                Some(accepted) => {
                    user = Some(accepted);
                    checked_by_script = true;
                }
                None => {
                    if let Some(local) = local {
                        return Err(self.wrong_password(&local, &ip, &log_failure).await?);
                    }
                }
            }
        }
        let (user, hash) = match user {
            Some(u) if checked_by_script => {
                return self
                    .login_succeeded(client, connection, u, password, None, true, method, meta)
                    .await;
            }
            Some(u) => match u.password_hash.clone() {
                Some(h) => (u, h),
                None => {
                    self.hasher.verify_decoy(password).await?;
                    log_failure(
                        codes::FAILED_LOGIN_WRONG_PASSWORD,
                        Some(&u),
                        "Wrong email or password.",
                    );
                    return Err(ServiceError::WrongCredentials);
                }
            },
            None => {
                // Same work as a real check, so timing does not reveal which emails exist.
                self.hasher.verify_decoy(password).await?;
                log_failure(
                    codes::FAILED_LOGIN_INVALID_USER,
                    None,
                    "Wrong email or password.",
                );
                return Err(ServiceError::WrongCredentials);
            }
        };
        // Brute-force protection: a (user, IP) pair blocked after consecutive failures is
        // refused even with the right password, after the same hashing work.
        let ip = meta.ip.clone().unwrap_or_default();
        let earlier_failures = self.store.login_failures(&user.user_id, &ip).await?;
        // The settings are read only for a blocked pair: the common login costs nothing more.
        if earlier_failures.is_some_and(|(_, blocked)| blocked)
            && self.brute_force_refuses(&ip).await?
        {
            self.hasher.verify_decoy(password).await?;
            log_failure(
                codes::BLOCKED_BY_ATTEMPTS,
                Some(&user),
                "Blocked account: too many consecutive failed logins from this IP",
            );
            return Err(ServiceError::TooManyAttempts);
        }
        let verification = self.hasher.verify(password, &hash).await?;
        if !verification.matches {
            return Err(self.wrong_password(&user, &ip, &log_failure).await?);
        }
        let upgraded_hash = if verification.needs_rehash && !user.blocked {
            Some(self.hasher.hash(password).await?)
        } else {
            None
        };
        self.login_succeeded(
            client,
            connection,
            user,
            password,
            upgraded_hash,
            earlier_failures.is_some(),
            method,
            meta,
        )
        .await
    }

    /// Auth0's `mfa_required` for a password grant: a sealed token for the `mfa-otp` grant (and
    /// `/mfa/associate` when the user must enrol first), valid ten minutes.
    pub(in crate::services) fn mfa_required(
        &self,
        client: &Client,
        user: &User,
        scope: &Scope,
        audience: Option<&str>,
        now: Timestamp,
        enroll: bool,
    ) -> ServiceResult<ServiceError> {
        let pending = PendingMfa {
            client_id: client.client_id.as_str().to_owned(),
            user_id: user.user_id.as_str().to_owned(),
            scope: scope.to_string(),
            audience: audience.map(str::to_owned),
            auth_time: now.millis(),
            expires: now.seconds() + 600,
        };
        Ok(ServiceError::MfaRequired {
            mfa_token: SecretString::from(self.tenant_keys.seal_value(
                "mfa-token",
                &pending,
                pending.expires,
            )?),
            enroll,
        })
    }

    /// A wrong password for a known user: logged, counted against (user, IP), and the pair
    /// blocked (with the unblock mail) at brute-force protection's `max_attempts`. Returns the
    /// error to answer with.
    pub(in crate::services) async fn wrong_password(
        &self,
        user: &User,
        ip: &str,
        log_failure: &(dyn Fn(&str, Option<&User>, &str) + Send + Sync),
    ) -> ServiceResult<ServiceError> {
        log_failure(
            codes::FAILED_LOGIN_WRONG_PASSWORD,
            Some(user),
            "Wrong email or password.",
        );
        let settings = self
            .tenant
            .settings_document::<crate::domain::attack_protection::BruteForceProtection>()
            .await?;
        if !settings.counts(ip) {
            return Ok(ServiceError::WrongCredentials);
        }
        let max_attempts = settings.max_attempts;
        let count = self
            .store
            .record_login_failure(&user.user_id, ip, Timestamp::now(), i64::from(max_attempts))
            .await?;
        if count.newly_blocked {
            log_failure(
                codes::BLOCKED_BY_ATTEMPTS,
                Some(user),
                &format!(
                    "Account blocked for this IP after {max_attempts} consecutive failed logins"
                ),
            );
            // The mail carries a link that lifts this block (a reset lifts it too).
            if settings.notifies_user() {
                self.job_intake
                    .enqueue(crate::mail::OutboxJob::AccountBlocked {
                        user_id: user.user_id.clone(),
                        ip: Some(ip.to_owned()),
                    })
                    .await?;
            }
        }
        Ok(ServiceError::WrongCredentials)
    }

    /// Whether brute-force protection refuses a pair the store holds blocked from `ip`: not when
    /// it was turned off, its `block` shield removed or the address allowlisted since.
    async fn brute_force_refuses(&self, ip: &str) -> ServiceResult<bool> {
        let settings = self
            .tenant
            .settings_document::<crate::domain::attack_protection::BruteForceProtection>()
            .await?;
        Ok(settings.blocks() && settings.counts(ip))
    }

    /// The password was right: refuses a blocked user, then a breached password (per the
    /// breached-password settings), records the login and logs it.
    #[allow(clippy::too_many_arguments)]
    pub(in crate::services) async fn login_succeeded(
        &self,
        client: &Client,
        connection: &str,
        user: User,
        password: &Password,
        upgraded_hash: Option<crate::domain::PasswordHash>,
        clear_failures: bool,
        method: &str,
        meta: &RequestMeta,
    ) -> ServiceResult<User> {
        // Checked only after the password, so the blocked state is not revealed to guessers.
        if user.blocked {
            self.audit.record(
                LogEntry::new(codes::FAILED_LOGIN, meta)
                    .description("user is blocked")
                    .client(client.client_id.as_str(), &client.name)
                    .connection(connection)
                    .user(user.user_id.as_str(), &user.display_name()),
            );
            return Err(ServiceError::UserBlocked);
        }
        self.credentials
            .screen_login_password(
                &user,
                password,
                &LoginContext {
                    client_id: client.client_id.as_str(),
                    client_name: &client.name,
                    meta,
                },
            )
            .await?;
        let now = Timestamp::now();
        self.store
            .record_login(&LoginRecord {
                user_id: user.user_id.clone(),
                at: now,
                ip: meta.ip.clone(),
                upgraded_hash,
                clear_failures,
            })
            .await?;
        self.audit.record(
            LogEntry::new(codes::SUCCESS_LOGIN, meta)
                .description("Successful login")
                .client(client.client_id.as_str(), &client.name)
                .user(user.user_id.as_str(), &user.display_name())
                .connection(connection)
                .detail("grant_type", Value::String(method.into())),
        );
        Ok(user)
    }
}
