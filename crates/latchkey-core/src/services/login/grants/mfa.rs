//! `mfa-otp` and `mfa-recovery-code`: the second step after `mfa_required`.

use super::{LoginContext, TokenResponse};
use crate::audit::{LogEntry, RequestMeta, codes};
use crate::domain::{Client, Scope};
use crate::error::{ServiceError, ServiceResult};
use crate::services::Login;
use crate::time::Timestamp;
use secrecy::{ExposeSecret, SecretString};

impl Login {
    /// `mfa-otp` / `mfa-recovery-code`: the second factor of a password login.
    pub(in crate::services) async fn mfa_grant(
        &self,
        client: &Client,
        mfa_token: &str,
        code: &SecretString,
        accept: crate::services::mfa::factors::SecondFactorKind,
        meta: &RequestMeta,
    ) -> ServiceResult<TokenResponse> {
        let (pending, user) = self
            .mfa
            .pending_mfa(mfa_token, client.client_id.as_str())
            .await
            .map_err(|_| ServiceError::InvalidGrant("Malformed mfa_token".into()))?;
        let bucket = self.tenant_keys.bucket("login-mfa", &[&pending.user_id]);
        let rule = crate::ratelimit::RateRule::per_minute(5, 10);
        if !self.rate_limiter.check(&bucket, rule).await.allowed {
            return Err(ServiceError::TooManyRequests(
                "Too many attempts. Wait a minute and try again.".into(),
            ));
        }
        // The first code after `/mfa/associate` confirms that enrolment.
        let check = if accept == crate::services::mfa::factors::SecondFactorKind::Otp
            && self
                .mfa
                .confirm_associated_totp(&user, code.expose_secret())
                .await?
        {
            crate::services::mfa::factors::SecondFactorCheck::Passed
        } else {
            self.mfa
                .verify_second_factor(&user, code.expose_secret(), accept)
                .await?
        };
        if !check.passed() {
            self.audit.record(
                LogEntry::new(codes::FAILED_MFA, meta)
                    .description("Wrong second-factor code")
                    .client(client.client_id.as_str(), &client.name)
                    .user(user.user_id.as_str(), &user.display_name()),
            );
            return Err(ServiceError::InvalidGrant("Invalid otp_code.".into()));
        }
        let amr = vec!["pwd".to_owned(), "mfa".to_owned()];
        let custom_claims = self
            .post_login_for_grant(
                client,
                &user,
                &pending.scope,
                pending.audience.as_deref(),
                &amr,
                meta,
            )
            .await?
            .claims;
        let login = LoginContext {
            auth_time: Some(Timestamp::from_millis(pending.auth_time)),
            amr,
            custom_claims,
            ..LoginContext::default()
        };
        let mut response = self
            .login_tokens(
                client,
                &user,
                &Scope::parse(&pending.scope),
                pending.audience.as_deref(),
                "mfa",
                &login,
            )
            .await?;
        // Auth0 answers a recovery-code grant with the user's new recovery code.
        response.recovery_code = check.into_new_recovery_code();
        Ok(response)
    }
}
