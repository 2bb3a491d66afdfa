//! Settings Auth0 keeps apart from `/tenants/settings`, one stored document each:
//! `/prompts` and `/attack-protection/*`. A PATCH merges into the current document, the result
//! must parse into the setting's type, and a value Latchkey cannot honour is refused with 400
//! naming the feature (`operation_not_supported`), so nothing is stored that does not work.

use crate::domain::ParseError;
use crate::domain::attack_protection::{
    BreachedPasswordDetection, BruteForceProtection, SuspiciousIpThrottling,
};
use crate::domain::prompts::PromptSettings;
use crate::error::{ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::services::{Caller, TenantConfig};
use anyhow::Context;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// One settings document: its stored name, what the log calls it, and its checks.
pub trait SettingsDocument: Serialize + DeserializeOwned + Default {
    const NAME: &'static str;
    const DESCRIPTION: &'static str;
    /// A malformed value (answered `invalid_body`).
    fn invalid(&self) -> Option<&'static str> {
        None
    }
    /// A well-formed value Latchkey cannot act on (answered `operation_not_supported`).
    fn unsupported(&self) -> Option<&'static str>;
}

impl SettingsDocument for BreachedPasswordDetection {
    const NAME: &'static str = "attack_protection.breached_password_detection";
    const DESCRIPTION: &'static str = "Update breached password detection settings";
    fn unsupported(&self) -> Option<&'static str> {
        self.unsupported()
    }
}

impl SettingsDocument for BruteForceProtection {
    const NAME: &'static str = "attack_protection.brute_force_protection";
    const DESCRIPTION: &'static str = "Update brute force protection settings";
    fn invalid(&self) -> Option<&'static str> {
        self.invalid()
    }
    fn unsupported(&self) -> Option<&'static str> {
        self.unsupported()
    }
}

impl SettingsDocument for SuspiciousIpThrottling {
    const NAME: &'static str = "attack_protection.suspicious_ip_throttling";
    const DESCRIPTION: &'static str = "Update suspicious IP throttling settings";
    fn invalid(&self) -> Option<&'static str> {
        self.invalid()
    }
    fn unsupported(&self) -> Option<&'static str> {
        self.unsupported()
    }
}

impl SettingsDocument for PromptSettings {
    const NAME: &'static str = "prompts";
    const DESCRIPTION: &'static str = "Update prompts settings";
    fn unsupported(&self) -> Option<&'static str> {
        self.unsupported()
    }
}

/// `patch` merged into `base`: objects merge key by key, anything else replaces.
fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                match b.get_mut(&k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, p) => *b = p,
    }
}

impl TenantConfig {
    /// The stored document, or the setting's default when none was written.
    pub async fn settings_document<T: SettingsDocument>(&self) -> ServiceResult<T> {
        match self.store.get_tenant_document(T::NAME).await? {
            Some(doc) => Ok(serde_json::from_value(doc).context("stored settings document")?),
            None => Ok(T::default()),
        }
    }

    pub async fn update_settings_document<T: SettingsDocument>(
        &self,
        patch: Map<String, Value>,
        caller: &Caller,
    ) -> ServiceResult<T> {
        let current = self.settings_document::<T>().await?;
        let mut doc = serde_json::to_value(&current).context("serialise settings document")?;
        merge(&mut doc, Value::Object(patch));
        let updated: T = serde_json::from_value(doc.clone())
            .map_err(|e| ParseError::new("body", e.to_string()))?;
        if let Some(reason) = updated.invalid() {
            return Err(ParseError::new("body", reason).into());
        }
        if let Some(reason) = updated.unsupported() {
            return Err(ServiceError::bad_request(
                ErrorCode::OperationNotSupported,
                reason,
            ));
        }
        let doc = serde_json::to_value(&updated).context("serialise settings document")?;
        self.store.put_tenant_document(T::NAME, &doc).await?;
        self.audit.record_some(caller.api_log(T::DESCRIPTION));
        Ok(updated)
    }
}
