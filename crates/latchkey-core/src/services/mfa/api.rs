//! Auth0's MFA API for password grants, authorised by the `mfa_token` of an `mfa_required`
//! answer: `GET /mfa/authenticators`, `POST /mfa/challenge` and `POST /mfa/associate`. An
//! association stores a pending TOTP key (and a recovery code); the `mfa-otp` grant's first
//! code proves the key and confirms both, so a policy that requires MFA no longer needs the
//! hosted pages to enrol a user.

use crate::domain::{User, UserId};
use crate::error::{ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::services::Mfa;
use crate::services::login::PendingMfa;
use crate::store::Authenticator;
use crate::time::Timestamp;
use secrecy::{ExposeSecret, SecretString};

/// What `/mfa/associate` answers: the key to enter in an authenticator app (shown once) and
/// the recovery code.
pub struct MfaAssociation {
    pub secret: SecretString,
    pub barcode_uri: SecretString,
    pub recovery_code: SecretString,
}

fn bad_token() -> ServiceError {
    ServiceError::InvalidGrant("Malformed mfa_token".into())
}

impl Mfa {
    /// The login an `mfa_token` stands for, if it is genuine, live and was issued to
    /// `client_id` (the MFA API's callers name their client; Bearer callers pass `None`).
    pub(crate) async fn pending_mfa(
        &self,
        mfa_token: &str,
        client_id: impl Into<Option<&str>>,
    ) -> ServiceResult<(PendingMfa, User)> {
        let pending: PendingMfa = self
            .tenant_keys
            .unseal_value("mfa-token", mfa_token)
            .map_err(|_| bad_token())?;
        if client_id.into().is_some_and(|c| c != pending.client_id) {
            return Err(bad_token());
        }
        let user = self
            .store
            .get_user(&UserId::from_trusted(pending.user_id.clone()))
            .await?
            .ok_or_else(bad_token)?;
        Ok((pending, user))
    }

    /// `GET /mfa/authenticators`: the user's confirmed factors.
    pub async fn mfa_authenticators(&self, mfa_token: &str) -> ServiceResult<Vec<Authenticator>> {
        let (_, user) = self.pending_mfa(mfa_token, None).await?;
        Ok(self
            .store
            .list_authenticators(&user.user_id)
            .await?
            .into_iter()
            .filter(|a| a.confirmed)
            .collect())
    }

    /// `POST /mfa/challenge`: Latchkey's only challenge is a TOTP code, which the app already
    /// shows; this checks the user has an authenticator to answer it with.
    pub async fn mfa_challenge(
        &self,
        mfa_token: &str,
        client_id: &str,
        challenge_type: &str,
    ) -> ServiceResult<&'static str> {
        let (_, user) = self.pending_mfa(mfa_token, client_id).await?;
        if !challenge_type.split_whitespace().any(|t| t == "otp") {
            return Err(ServiceError::bad_request(
                ErrorCode::UnsupportedChallengeType,
                "The only challenge type offered is otp.",
            ));
        }
        if !self.has_second_factor(&user).await? {
            return Err(ServiceError::AccessDenied(
                "The user has no authenticator to challenge: associate one first.".into(),
            ));
        }
        Ok("otp")
    }

    /// `POST /mfa/associate`: a new TOTP key for a user who has none (a user with one must
    /// pass it, not add another). Replaces any association not yet confirmed.
    pub async fn mfa_associate(
        &self,
        mfa_token: &str,
        authenticator_types: &[String],
    ) -> ServiceResult<MfaAssociation> {
        let (_, user) = self.pending_mfa(mfa_token, None).await?;
        if !authenticator_types.iter().any(|t| t == "otp") {
            return Err(ServiceError::bad_request(
                ErrorCode::UnsupportedAuthenticatorType,
                "The only authenticator type offered is otp.",
            ));
        }
        if self.has_second_factor(&user).await? {
            return Err(ServiceError::AccessDenied(
                "User is already enrolled.".into(),
            ));
        }
        self.store
            .delete_unconfirmed_authenticators(&user.user_id)
            .await?;
        let label = user.email.as_ref().map_or_else(
            || user.user_id.as_str().to_owned(),
            |e| e.as_str().to_owned(),
        );
        let (secret, uri) = self.new_totp_key(&label).await?;
        let pending = |kind: &str, id: String, secret: String| Authenticator {
            id,
            user_id: user.user_id.clone(),
            kind: kind.into(),
            name: None,
            secret: SecretString::from(secret),
            confirmed: false,
            created_at: Timestamp::now(),
        };
        self.store
            .insert_authenticator(
                &pending(
                    "totp",
                    format!("totp|dev_{}", crate::random::alnum(16)?),
                    secret.clone(),
                ),
                None,
            )
            .await?;
        let (mut recovery, code) = crate::services::mfa::factors::new_recovery_code(&user)?;
        recovery.confirmed = false;
        self.store.insert_authenticator(&recovery, None).await?;
        Ok(MfaAssociation {
            secret: SecretString::from(secret),
            barcode_uri: SecretString::from(uri),
            recovery_code: code,
        })
    }

    /// The `mfa-otp` grant after an association: a right code for the pending key confirms
    /// the user's pending factors (and spends the code's step). False when there is no
    /// pending key or the code does not match it.
    pub(crate) async fn confirm_associated_totp(
        &self,
        user: &User,
        code: &str,
    ) -> ServiceResult<bool> {
        // Only a user without a factor confirms an association: one left pending while the
        // user enrolled another way must not become a second, unseen factor.
        if self.has_second_factor(user).await? {
            return Ok(false);
        }
        let authenticators = self.store.list_authenticators(&user.user_id).await?;
        let now = Timestamp::now();
        // Pending keys live as long as the mfa_token that created them.
        let Some(pending) = authenticators.iter().find(|a| {
            !a.confirmed
                && a.kind == "totp"
                && now.millis() - a.created_at.millis() <= ASSOCIATION_LIFETIME_MS
        }) else {
            return Ok(false);
        };
        let Some(key) = crate::totp::decode_base32(pending.secret.expose_secret()) else {
            return Ok(false);
        };
        let Some(step) = crate::totp::matching_step(&key, code.trim(), now.seconds()) else {
            return Ok(false);
        };
        // One request confirms; a concurrent one with the same code finds nothing pending.
        if !self
            .store
            .confirm_pending_totp(&user.user_id, &pending.id)
            .await?
        {
            return Ok(false);
        }
        self.store.use_totp_step(&pending.id, step).await?;
        self.audit.record(
            crate::audit::LogEntry::new(
                crate::audit::codes::MFA_ENROLLED,
                &crate::audit::RequestMeta::default(),
            )
            .description("Authenticator app enrolled through /mfa/associate")
            .user(user.user_id.as_str(), &user.display_name()),
        );
        Ok(true)
    }
}

/// How long an association waits for its first code: the mfa_token's lifetime.
const ASSOCIATION_LIFETIME_MS: i64 = 600_000;
