//! How sign-in is guarded: second factors (TOTP authenticators, managed through the Management
//! API `/users/{id}/authentication-methods`, `/enrollments`, `/authenticators`, and the check a
//! password reset passes when the user has one) and brute-force blocks
//! (`/user-blocks/{id}`).

use crate::domain::{ParseError, User, UserId};
use crate::error::{ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::services::{Caller, Mfa};
use crate::store::Authenticator;
use crate::time::Timestamp;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

/// `POST /api/v2/users/{id}/authentication-methods` for `type: "totp"`.
#[derive(Debug)]
pub struct NewAuthenticationMethod {
    pub kind: String,
    pub name: Option<String>,
    pub totp_secret: SecretString,
}

impl Authenticator {
    /// Auth0's authentication-method representation (no secret).
    pub fn to_auth0_json(&self) -> Value {
        let mut v = json!({"id": self.id, "type": self.kind, "confirmed": self.confirmed,
                           "created_at": self.created_at.to_iso()});
        if let (Some(name), Some(m)) = (&self.name, v.as_object_mut()) {
            m.insert("name".into(), json!(name));
        }
        v
    }
    /// Auth0's (Guardian) enrollment representation.
    pub fn to_enrollment_json(&self) -> Value {
        json!({"id": self.id, "status": if self.confirmed { "confirmed" } else { "pending" },
               "type": "authenticator", "auth_method": "authenticator",
               "name": self.name, "enrolled_at": self.created_at.to_iso()})
    }
}

impl Mfa {
    pub async fn add_authentication_method(
        &self,
        user_id: &UserId,
        method: NewAuthenticationMethod,
        caller: &Caller,
    ) -> ServiceResult<Authenticator> {
        let user = self.directory.get_user(user_id).await?;
        if method.kind != "totp" {
            return Err(
                ParseError::new("type", "only totp authenticators can be added here").into(),
            );
        }
        let key = crate::totp::decode_base32(method.totp_secret.expose_secret())
            .ok_or_else(|| ParseError::new("totp_secret", "must be base32"))?;
        if key.len() < 16 {
            return Err(ParseError::new("totp_secret", "must hold at least 128 bits").into());
        }
        if let Some(n) = &method.name
            && n.chars().count() > 100
        {
            return Err(ParseError::new("name", "must be at most 100 characters").into());
        }
        // A confirmed factor ends any `/mfa/associate` still waiting for its first code.
        self.store
            .delete_unconfirmed_authenticators(&user.user_id)
            .await?;
        let authenticator = Authenticator {
            id: format!("totp|dev_{}", crate::random::alnum(16)?),
            user_id: user.user_id.clone(),
            kind: method.kind,
            name: method.name,
            secret: method.totp_secret,
            confirmed: true,
            created_at: Timestamp::now(),
        };
        self.store
            .insert_authenticator(
                &authenticator,
                caller
                    .api_log("Create an authentication method")
                    .map(|l| l.user(user.user_id.as_str(), &user.display_name()))
                    .as_ref(),
            )
            .await?;
        Ok(authenticator)
    }

    pub async fn authentication_methods(
        &self,
        user_id: &UserId,
    ) -> ServiceResult<Vec<Authenticator>> {
        let user = self.directory.get_user(user_id).await?;
        Ok(self.store.list_authenticators(&user.user_id).await?)
    }

    /// `DELETE /users/{id}/authenticators`: the user enrols again at the next login.
    pub async fn delete_authenticators(
        &self,
        user_id: &UserId,
        caller: &Caller,
    ) -> ServiceResult<()> {
        let user = self.directory.get_user(user_id).await?;
        let log = caller
            .api_log("Delete all authenticators of a user")
            .map(|l| l.user(user.user_id.as_str(), &user.display_name()));
        self.store
            .delete_authenticators(&user.user_id, log.as_ref())
            .await?;
        Ok(())
    }

    /// Stores a TOTP key the user just proved to hold, and a recovery code (returned once,
    /// stored as a digest) for when the phone is lost.
    pub(crate) async fn enroll_totp(
        &self,
        user: &User,
        secret: &str,
        used_step: i64,
        caller: &Caller,
    ) -> ServiceResult<SecretString> {
        self.store
            .delete_unconfirmed_authenticators(&user.user_id)
            .await?;
        let now = Timestamp::now();
        let totp_id = format!("totp|dev_{}", crate::random::alnum(16)?);
        let log = crate::audit::LogEntry::new(crate::audit::codes::MFA_ENROLLED, &caller.meta)
            .description("Authenticator app enrolled at login")
            .user(user.user_id.as_str(), &user.display_name());
        self.store
            .insert_authenticator(
                &Authenticator {
                    id: totp_id.clone(),
                    user_id: user.user_id.clone(),
                    kind: "totp".into(),
                    name: Some("Authenticator app".into()),
                    secret: SecretString::from(secret.to_owned()),
                    confirmed: true,
                    created_at: now,
                },
                Some(&log),
            )
            .await?;
        // The code that confirmed the key is spent like any other.
        self.store.use_totp_step(&totp_id, used_step).await?;
        let (record, code) = new_recovery_code(user)?;
        self.store.insert_authenticator(&record, None).await?;
        Ok(code)
    }

    /// A fresh TOTP key (160 bits, base32) and its `otpauth://` URI for authenticator apps,
    /// labelled with the tenant's name and `label`.
    pub(crate) async fn new_totp_key(&self, label: &str) -> ServiceResult<(String, String)> {
        let mut key = [0u8; 20];
        crate::random::fill(&mut key)?;
        let secret = crate::totp::encode_base32(&key);
        let issuer = self.tenant.branding().await?.name;
        let c = crate::services::login::url_component;
        let uri = format!(
            "otpauth://totp/{}:{}?secret={secret}&issuer={}&algorithm=SHA1&digits=6&period=30",
            c(&issuer),
            c(label),
            c(&issuer)
        );
        Ok((secret, uri))
    }

    /// Whether the user has a confirmed authenticator app (recovery codes alone do not count).
    pub(crate) async fn has_second_factor(&self, user: &User) -> ServiceResult<bool> {
        Ok(self
            .store
            .list_authenticators(&user.user_id)
            .await?
            .iter()
            .any(|a| a.confirmed && a.kind == "totp"))
    }

    /// What a login needs after a correct password: the one rule for the hosted form and the
    /// password grants, so neither path can skip a factor the other demands.
    pub(crate) async fn second_factor_need(&self, user: &User) -> ServiceResult<SecondFactorNeed> {
        let policy = self.tenant.active_tenant().await?.mfa;
        if !policy.otp_enabled {
            return Ok(SecondFactorNeed::None);
        }
        Ok(if self.has_second_factor(user).await? {
            SecondFactorNeed::Challenge
        } else if policy.required() {
            SecondFactorNeed::Enroll
        } else {
            SecondFactorNeed::None
        })
    }

    /// Whether a reset link must pass a second factor before the new-password form: whenever
    /// the user has one, unless the tenant turned that off.
    pub(crate) async fn reset_needs_second_factor(&self, user: &User) -> ServiceResult<bool> {
        if self
            .tenant
            .active_tenant()
            .await?
            .flags
            .skip_mfa_on_password_reset
        {
            return Ok(false);
        }
        self.has_second_factor(user).await
    }

    /// Checks a TOTP code (each step usable once) or a recovery code against the user's
    /// factors. A recovery code works once: it is replaced by a new one (Auth0's behaviour),
    /// which the caller must show the user.
    pub(crate) async fn verify_second_factor(
        &self,
        user: &User,
        code: &str,
        accept: SecondFactorKind,
    ) -> ServiceResult<SecondFactorCheck> {
        let now = Timestamp::now().seconds();
        let authenticators = self.store.list_authenticators(&user.user_id).await?;
        let normalized = code.trim().replace([' ', '-'], "").to_uppercase();
        if accept != SecondFactorKind::Otp && normalized.len() == RECOVERY_CODE_LEN {
            let digest = crate::random::token_digest(&normalized);
            let used = authenticators.iter().find(|a| {
                a.kind == "recovery-code"
                    && a.confirmed
                    && bool::from(subtle::ConstantTimeEq::ct_eq(
                        a.secret.expose_secret().as_bytes(),
                        digest.as_bytes(),
                    ))
            });
            let Some(used) = used else {
                return Ok(SecondFactorCheck::Refused);
            };
            let (record, new_code) = new_recovery_code(user)?;
            // Two requests racing with one code: only the one that deletes it passes.
            return Ok(
                if self.store.replace_authenticator(&used.id, &record).await? {
                    SecondFactorCheck::Recovered { new_code }
                } else {
                    SecondFactorCheck::Refused
                },
            );
        }
        if accept == SecondFactorKind::RecoveryCode {
            return Ok(SecondFactorCheck::Refused);
        }
        for a in authenticators {
            if !a.confirmed || a.kind != "totp" {
                continue;
            }
            let Some(key) = crate::totp::decode_base32(a.secret.expose_secret()) else {
                continue;
            };
            if let Some(step) = crate::totp::matching_step(&key, code, now) {
                // A replay of a step already used is refused like a wrong code.
                return Ok(if self.store.use_totp_step(&a.id, step).await? {
                    SecondFactorCheck::Passed
                } else {
                    SecondFactorCheck::Refused
                });
            }
        }
        Ok(SecondFactorCheck::Refused)
    }
}

const RECOVERY_CODE_LEN: usize = 24;

/// A fresh recovery code: the record to store (digest only) and the code to show once.
pub(in crate::services) fn new_recovery_code(
    user: &User,
) -> ServiceResult<(Authenticator, SecretString)> {
    // 24 unambiguous symbols (~118 bits), shown in groups of four.
    let code = crate::random::readable_code(RECOVERY_CODE_LEN)?;
    let record = Authenticator {
        id: format!("recovery-code|dev_{}", crate::random::alnum(16)?),
        user_id: user.user_id.clone(),
        kind: "recovery-code".into(),
        name: None,
        secret: SecretString::from(crate::random::token_digest(&code)),
        confirmed: true,
        created_at: Timestamp::now(),
    };
    Ok((record, SecretString::from(code)))
}

/// Which codes a check accepts: the hosted pages take either in one field; the
/// `mfa-otp` and `mfa-recovery-code` grants each take their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SecondFactorKind {
    Any,
    Otp,
    RecoveryCode,
}

/// The result of a second-factor check.
pub(crate) enum SecondFactorCheck {
    Refused,
    Passed,
    /// A recovery code passed and was replaced by `new_code`, to be shown to the user once.
    Recovered {
        new_code: SecretString,
    },
}

impl SecondFactorCheck {
    pub(crate) fn passed(&self) -> bool {
        !matches!(self, Self::Refused)
    }
    pub(crate) fn into_new_recovery_code(self) -> Option<SecretString> {
        match self {
            Self::Recovered { new_code } => Some(new_code),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SecondFactorNeed {
    None,
    /// The user has an authenticator: ask for a code.
    Challenge,
    /// The tenant requires MFA and the user has none: enrol first.
    Enroll,
}

/// The service error for a reset that skipped its second factor.
pub(crate) fn second_factor_required() -> ServiceError {
    ServiceError::AccessDenied("Multifactor authentication required".into())
}

/// The factors Guardian knows; Latchkey implements `otp` (with `recovery-code`).
const GUARDIAN_FACTORS: [&str; 8] = [
    "sms",
    "push-notification",
    "otp",
    "email",
    "duo",
    "webauthn-roaming",
    "webauthn-platform",
    "recovery-code",
];

impl Mfa {
    /// `GET /api/v2/guardian/factors`.
    pub async fn guardian_factors(&self) -> ServiceResult<Value> {
        let policy = self.tenant.tenant_settings().await?.mfa;
        Ok(Value::Array(
            GUARDIAN_FACTORS
                .iter()
                .map(|name| {
                    let enabled = matches!(*name, "otp" | "recovery-code") && policy.otp_enabled;
                    json!({"name": name, "enabled": enabled, "trial_expired": false})
                })
                .collect(),
        ))
    }

    /// `PUT /api/v2/guardian/factors/{name}`: only `otp` (and `recovery-code`, which follows
    /// it) can be turned on here.
    pub async fn set_guardian_factor(
        &self,
        name: &str,
        enabled: bool,
        caller: &Caller,
    ) -> ServiceResult<bool> {
        if !GUARDIAN_FACTORS.contains(&name) {
            return Err(ServiceError::not_found(
                ErrorCode::InexistentFactor,
                "Factor not found",
            ));
        }
        if !matches!(name, "otp" | "recovery-code") {
            if enabled {
                return Err(ServiceError::bad_request(
                    ErrorCode::UnsupportedFactor,
                    format!("Latchkey does not offer the {name} factor; use otp"),
                ));
            }
            return Ok(false);
        }
        let mut settings = self.tenant.tenant_settings().await?;
        settings.mfa.otp_enabled = enabled;
        self.store.put_tenant(&settings).await?;
        self.cache.forget_tenant();
        self.audit
            .record_some(caller.api_log("Update a Guardian factor"));
        Ok(enabled)
    }

    pub async fn mfa_policies(&self) -> ServiceResult<Vec<String>> {
        Ok(self.tenant.tenant_settings().await?.mfa.policies)
    }

    /// `PUT /api/v2/guardian/policies`: `["all-applications"]` makes MFA required at every
    /// login (users without a factor enrol), `[]` leaves it to the users who enrolled.
    pub async fn set_mfa_policies(
        &self,
        policies: Vec<String>,
        caller: &Caller,
    ) -> ServiceResult<Vec<String>> {
        if let Some(bad) = policies
            .iter()
            .find(|p| !matches!(p.as_str(), "all-applications" | "confidence-score"))
        {
            return Err(ParseError::new("policies", format!("{bad} is not a policy")).into());
        }
        let mut settings = self.tenant.tenant_settings().await?;
        settings.mfa.policies = policies.clone();
        self.store.put_tenant(&settings).await?;
        self.cache.forget_tenant();
        self.audit
            .record_some(caller.api_log("Set the MFA policies"));
        Ok(policies)
    }
}
