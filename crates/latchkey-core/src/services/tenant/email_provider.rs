//! `/api/v2/emails/provider`: the SMTP relay mail is delivered through.

use crate::domain::{Email, EmailProvider, ParseError};
use crate::error::{ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::services::{Caller, TenantConfig};
use crate::store::StoreError;
use secrecy::SecretString;
use serde_json::{Map, Value};

/// Settable provider fields (create requires `name` and `credentials`).
#[derive(Debug, Default)]
pub struct EmailProviderPatch {
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub default_from_address: Option<Option<String>>,
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    pub smtp_user: Option<Option<String>>,
    pub smtp_pass: Option<Option<SecretString>>,
    pub settings: Option<Map<String, Value>>,
}

fn not_configured() -> ServiceError {
    ServiceError::not_found(
        ErrorCode::InexistentEmailProvider,
        "Email provider has not been configured.",
    )
}

fn apply(p: &mut EmailProvider, patch: EmailProviderPatch) -> ServiceResult<()> {
    if let Some(name) = &patch.name {
        EmailProvider::check_name(name)?;
    }
    if let Some(v) = patch.enabled {
        p.enabled = v;
    }
    if let Some(from) = patch.default_from_address {
        if let Some(f) = &from {
            Email::parse(f)
                .map_err(|_| ParseError::new("default_from_address", "must be an email address"))?;
        }
        p.default_from_address = from;
    }
    if let Some(host) = patch.smtp_host {
        EmailProvider::check_host(&host)?;
        p.smtp_host = host;
    }
    if let Some(port) = patch.smtp_port {
        if port == 0 {
            return Err(
                ParseError::new("credentials.smtp_port", "must be between 1 and 65535").into(),
            );
        }
        p.smtp_port = port;
    }
    if let Some(user) = patch.smtp_user {
        p.smtp_user = user;
    }
    if let Some(pass) = patch.smtp_pass {
        p.smtp_pass = pass;
    }
    if let Some(s) = patch.settings {
        p.settings = s;
    }
    Ok(())
}

impl TenantConfig {
    pub async fn email_provider(&self) -> ServiceResult<EmailProvider> {
        self.store
            .get_email_provider()
            .await?
            .ok_or_else(not_configured)
    }

    pub async fn create_email_provider(
        &self,
        patch: EmailProviderPatch,
        caller: &Caller,
    ) -> ServiceResult<EmailProvider> {
        let name = patch
            .name
            .clone()
            .ok_or_else(|| ParseError::new("name", "is required"))?;
        EmailProvider::check_name(&name)?;
        let host = patch
            .smtp_host
            .clone()
            .ok_or_else(|| ParseError::new("credentials.smtp_host", "is required"))?;
        let port = patch
            .smtp_port
            .ok_or_else(|| ParseError::new("credentials.smtp_port", "is required"))?;
        let mut provider = EmailProvider {
            enabled: true,
            default_from_address: None,
            smtp_host: host,
            smtp_port: port,
            smtp_user: None,
            smtp_pass: None,
            settings: Map::new(),
        };
        apply(&mut provider, patch)?;
        self.store
            .insert_email_provider(&provider)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => ServiceError::conflict(
                    ErrorCode::EmailProviderConflict,
                    "Email provider is already configured.",
                ),
                other => other.into(),
            })?;
        self.cache.forget_provider();
        self.audit
            .record_some(caller.api_log("Configure the email provider"));
        Ok(provider)
    }

    pub async fn update_email_provider(
        &self,
        patch: EmailProviderPatch,
        caller: &Caller,
    ) -> ServiceResult<EmailProvider> {
        let mut provider = self.email_provider().await?;
        apply(&mut provider, patch)?;
        let updated = self.store.update_email_provider(&provider).await?;
        self.cache.forget_provider();
        if !updated {
            return Err(not_configured());
        }
        self.audit
            .record_some(caller.api_log("Update the email provider"));
        Ok(provider)
    }

    pub async fn delete_email_provider(&self, caller: &Caller) -> ServiceResult<()> {
        let deleted = self.store.delete_email_provider().await?;
        self.cache.forget_provider();
        if !deleted {
            return Err(not_configured());
        }
        self.audit
            .record_some(caller.api_log("Delete the email provider"));
        Ok(())
    }

    /// Saves the provider whether or not one is configured yet: an update of the one there is,
    /// else a new SMTP provider (`name` defaults to `smtp`). The console's provider form.
    pub async fn save_email_provider(
        &self,
        mut patch: EmailProviderPatch,
        caller: &Caller,
    ) -> ServiceResult<EmailProvider> {
        if self.store.get_email_provider().await?.is_some() {
            return self.update_email_provider(patch, caller).await;
        }
        if patch.name.is_none() {
            patch.name = Some("smtp".to_owned());
        }
        self.create_email_provider(patch, caller).await
    }
}
