//! How sign-in is guarded: second factors (TOTP authenticators, managed through the Management
//! API `/users/{id}/authentication-methods`, `/enrollments`, `/authenticators`, and the check a
//! password reset passes when the user has one: DESIGN J1) and brute-force blocks
//! (`/user-blocks/{id}`).

use super::{Caller, Services};
use crate::domain::{ParseError, User, UserId};
use crate::error::{ServiceError, ServiceResult};
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

impl Services {
    pub async fn add_authentication_method(
        &self,
        user_id: &UserId,
        method: NewAuthenticationMethod,
        caller: &Caller,
    ) -> ServiceResult<Authenticator> {
        let user = self.get_user(user_id).await?;
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
        let user = self.get_user(user_id).await?;
        Ok(self.store.list_authenticators(&user.user_id).await?)
    }

    /// `DELETE /users/{id}/authenticators`: the user enrols again at the next login.
    pub async fn delete_authenticators(
        &self,
        user_id: &UserId,
        caller: &Caller,
    ) -> ServiceResult<()> {
        let user = self.get_user(user_id).await?;
        let log = caller
            .api_log("Delete all authenticators of a user")
            .map(|l| l.user(user.user_id.as_str(), &user.display_name()));
        self.store
            .delete_authenticators(&user.user_id, log.as_ref())
            .await?;
        Ok(())
    }

    /// Whether a reset link must pass a second factor before the new-password form.
    pub(crate) async fn reset_needs_second_factor(&self, user: &User) -> ServiceResult<bool> {
        if self.active_tenant().await?.flags.skip_mfa_on_password_reset {
            return Ok(false);
        }
        Ok(self
            .store
            .list_authenticators(&user.user_id)
            .await?
            .iter()
            .any(|a| a.confirmed))
    }

    /// Checks a TOTP code against the user's authenticators; each step is usable once.
    pub(crate) async fn verify_second_factor(
        &self,
        user: &User,
        code: &str,
    ) -> ServiceResult<bool> {
        let now = Timestamp::now().seconds();
        for a in self.store.list_authenticators(&user.user_id).await? {
            if !a.confirmed || a.kind != "totp" {
                continue;
            }
            let Some(key) = crate::totp::decode_base32(a.secret.expose_secret()) else {
                continue;
            };
            if let Some(step) = crate::totp::matching_step(&key, code, now) {
                // A replay of a step already used is refused like a wrong code.
                return Ok(self.store.use_totp_step(&a.id, step).await?);
            }
        }
        Ok(false)
    }
}

/// The service error for a reset that skipped its second factor.
pub(crate) fn second_factor_required() -> ServiceError {
    ServiceError::AccessDenied("Multifactor authentication required".into())
}

impl Services {
    /// `GET /api/v2/user-blocks/{id}`: the addresses brute-force protection blocks the user from.
    pub async fn user_blocks(&self, user_id: &UserId) -> ServiceResult<Value> {
        let user = self.get_user(user_id).await?;
        let blocks = self.store.login_blocks(&user.user_id).await?;
        let identifier = user
            .email
            .as_ref()
            .map(|e| e.as_str().to_owned())
            .or_else(|| user.username.clone());
        Ok(json!({"blocked_for": blocks.iter().map(|b| json!({
            "identifier": identifier, "ip": b.ip, "connection": user.connection,
            "blocked_at": b.blocked_at.to_iso(),
        })).collect::<Vec<_>>()}))
    }

    /// `DELETE /api/v2/user-blocks/{id}`: lifts every brute-force block of the user.
    pub async fn unblock_user(&self, user_id: &UserId, caller: &Caller) -> ServiceResult<()> {
        let user = self.get_user(user_id).await?;
        self.store.clear_login_failures(&user.user_id).await?;
        self.record(
            caller
                .api_log("Unblock a user blocked by brute-force protection")
                .map(|l| l.user(user.user_id.as_str(), &user.display_name())),
        );
        Ok(())
    }
}
