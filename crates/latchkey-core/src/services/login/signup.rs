//! `POST /dbconnections/signup`: an end user creates their own account on a database connection.

use crate::audit::{LogEntry, codes};
use crate::domain::attack_protection::SuspiciousIpThrottling;
use crate::domain::{ClientId, User};
use crate::error::{ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::services::{Caller, Login, NewUser};
use serde_json::{Map, Value};

/// Auth0's limits on self-service `user_metadata`: it is set by the user, so it is kept small.
fn check_signup_metadata(m: &Map<String, Value>) -> ServiceResult<()> {
    let invalid = |d: &str| ServiceError::bad_request(ErrorCode::InvalidSignup, d);
    if m.len() > 10 {
        return Err(invalid("user_metadata may have at most 10 properties"));
    }
    for (k, v) in m {
        if k.chars().count() > 100 {
            return Err(invalid(
                "user_metadata property names may be at most 100 characters",
            ));
        }
        match v {
            Value::String(s) if s.chars().count() <= 500 => {}
            Value::String(_) => {
                return Err(invalid(
                    "user_metadata values may be at most 500 characters",
                ));
            }
            _ => return Err(invalid("user_metadata values must be strings")),
        }
    }
    Ok(())
}

impl Login {
    /// Creates the user through `create_user` (so the policy and uniqueness rules are the same as
    /// for administrators), after the checks that apply only to public sign-up: a known client,
    /// a database connection enabled for it, and sign-up not disabled on it.
    pub async fn signup(
        &self,
        client_id: &str,
        new: NewUser,
        caller: &Caller,
    ) -> ServiceResult<User> {
        let client = match ClientId::parse(client_id) {
            Ok(id) => self.tenant.active_client(&id).await?,
            Err(_) => None,
        }
        .ok_or_else(|| ServiceError::bad_request(ErrorCode::InvalidRequest, "Unknown client"))?;
        let connection = self.tenant.database_connection(&new.connection).await?;
        if !connection.is_enabled_for(&client.client_id) {
            return Err(ServiceError::bad_request(
                ErrorCode::InvalidConnection,
                "The connection is not enabled for this client",
            ));
        }
        if connection.options.disable_signup.unwrap_or(false) {
            return Err(ServiceError::bad_request(
                ErrorCode::OperationNotAllowed,
                "Public signup is disabled",
            ));
        }
        check_signup_metadata(&new.user_metadata)?;
        // Suspicious IP throttling: every sign-up from an address spends one of its budget.
        let throttling = self
            .tenant
            .settings_document::<SuspiciousIpThrottling>()
            .await?;
        let ip = caller.meta.ip.clone().unwrap_or_default();
        if throttling.guards(&ip)
            && !self
                .rate_limiter
                .check(
                    &format!("sit-signup:{ip}"),
                    throttling.stage.pre_user_registration.rule(),
                )
                .await
                .allowed
        {
            self.ip_past_its_attempts(&throttling, "signup", &ip)
                .await?;
            if throttling.blocks() {
                self.audit.record(
                    LogEntry::new(codes::BLOCKED_IP, &caller.meta)
                        .description("Suspicious IP throttling: too many sign-ups from this IP")
                        .client(client.client_id.as_str(), &client.name)
                        .connection(&connection.name),
                );
                return Err(ServiceError::SuspiciousIp);
            }
        }
        if !new.app_metadata.is_empty()
            || new.blocked
            || new.email_verified
            || new.user_id.is_some()
        {
            // Only administrators set these; the HTTP layer never fills them for sign-up.
            return Err(ServiceError::bad_request(
                ErrorCode::InvalidSignup,
                "Invalid sign up",
            ));
        }
        let reveal_existing = self
            .tenant
            .active_tenant()
            .await?
            .flags
            .enable_public_signup_user_exists_error;
        match self
            .users
            .create_user_from(new, Some(client.client_id.as_str()), caller)
            .await
        {
            // By default Auth0 does not tell a stranger that an address is registered.
            Err(ServiceError::Conflict { .. }) if reveal_existing => Err(
                ServiceError::bad_request(ErrorCode::UserExists, "The user already exists."),
            ),
            Err(ServiceError::Conflict { .. }) => Err(ServiceError::bad_request(
                ErrorCode::InvalidSignup,
                "Invalid sign up",
            )),
            other => other,
        }
    }
}
