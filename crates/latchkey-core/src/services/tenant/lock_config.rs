//! Lock's client configuration (`GET /client/{client_id}.js`): a view of a client and the
//! database connections enabled for it, in the shape Lock 11–14 read
//! (`src/core/client/index.js`), from the very connection options the hosted pages enforce,
//! so Lock shows the same password rules and links.

use crate::domain::{ClientId, ComplexityOptions, PasswordPolicyLevel};
use crate::error::ServiceResult;
use crate::services::TenantConfig;
use serde::Serialize;
use serde_json::Value;

/// What `Auth0.setClient(…)` receives. Only database connections are listed: they are the
/// only ones Latchkey logs in with, and Lock would draw a button for any other strategy.
#[derive(Debug, Serialize)]
pub struct LockClientConfig {
    pub id: String,
    pub tenant: String,
    pub authorize: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
    #[serde(rename = "hasAllowedOrigins")]
    pub has_allowed_origins: bool,
    pub strategies: Vec<LockStrategy>,
}

#[derive(Debug, Serialize)]
pub struct LockStrategy {
    pub name: String,
    pub connections: Vec<LockConnection>,
}

/// One database connection as Lock reads it: `passwordPolicy` names a password-sheriff level
/// and `password_complexity_options.min_length` overrides its length, `showSignup` and
/// `showForgot` show the links, `requires_username` and `validation.username` the field.
#[derive(Debug, Serialize)]
pub struct LockConnection {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(rename = "passwordPolicy")]
    pub password_policy: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_complexity_options: Option<ComplexityOptions>,
    #[serde(rename = "showSignup")]
    pub show_signup: bool,
    #[serde(rename = "showForgot")]
    pub show_forgot: bool,
    pub requires_username: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation: Option<Value>,
}

fn level_name(level: PasswordPolicyLevel) -> &'static str {
    match level {
        PasswordPolicyLevel::None => "none",
        PasswordPolicyLevel::Low => "low",
        PasswordPolicyLevel::Fair => "fair",
        PasswordPolicyLevel::Good => "good",
        PasswordPolicyLevel::Excellent => "excellent",
    }
}

impl TenantConfig {
    /// The configuration Lock loads for `client_id`; `None` for an unknown client.
    pub async fn lock_client_config(
        &self,
        client_id: &str,
    ) -> ServiceResult<Option<LockClientConfig>> {
        let Ok(id) = ClientId::parse(client_id) else {
            return Ok(None);
        };
        let Some(client) = self.active_client(&id).await? else {
            return Ok(None);
        };
        let tenant = self.active_tenant().await?;
        let connections: Vec<LockConnection> = self
            .list_connections()
            .await?
            .into_iter()
            .filter(|c| c.is_database() && c.is_enabled_for(&client.client_id))
            .map(|c| {
                let o = &c.options;
                LockConnection {
                    display_name: c.display_name.clone(),
                    password_policy: level_name(o.policy_level()),
                    password_complexity_options: o.password_complexity_options.clone(),
                    show_signup: !o.disable_signup.unwrap_or(false),
                    show_forgot: !o.disable_self_service_change_password.unwrap_or(false),
                    requires_username: o.requires_username(),
                    validation: o
                        .extra
                        .get("validation")
                        .filter(|v| v.get("username").is_some())
                        .cloned(),
                    name: c.name,
                }
            })
            .collect();
        let strategies = if connections.is_empty() {
            Vec::new()
        } else {
            vec![LockStrategy {
                name: "auth0".into(),
                connections,
            }]
        };
        Ok(Some(LockClientConfig {
            id: client.client_id.as_str().to_owned(),
            tenant: tenant.friendly_name.clone(),
            authorize: format!("{}/authorize", self.config.issuer.trim_end_matches('/')),
            callback: client.callbacks.first().cloned(),
            has_allowed_origins: !client.allowed_origins.is_empty()
                || !client.web_origins.is_empty(),
            strategies,
        }))
    }
}
