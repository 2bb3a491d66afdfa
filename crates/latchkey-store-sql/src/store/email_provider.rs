use super::{SqlStore, conflict, execute, fetch_opt, to_json};
use anyhow::Context;
use async_trait::async_trait;
use latchkey_core::domain::EmailProvider;
use latchkey_core::store::{EmailProviderStore, StoreResult};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::Row;
use sqlx::any::AnyRow;

/// Everything but the password, as JSON.
#[derive(Serialize, Deserialize)]
struct ProviderData {
    enabled: bool,
    default_from_address: Option<String>,
    smtp_host: String,
    smtp_port: u16,
    smtp_user: Option<String>,
    settings: Map<String, Value>,
}

fn data(p: &EmailProvider) -> String {
    to_json(&ProviderData {
        enabled: p.enabled,
        default_from_address: p.default_from_address.clone(),
        smtp_host: p.smtp_host.clone(),
        smtp_port: p.smtp_port,
        smtp_user: p.smtp_user.clone(),
        settings: p.settings.clone(),
    })
}

fn provider(row: &AnyRow) -> anyhow::Result<EmailProvider> {
    let d: ProviderData = serde_json::from_str(&row.try_get::<String, _>("data")?)
        .context("stored email provider")?;
    Ok(EmailProvider {
        enabled: d.enabled,
        default_from_address: d.default_from_address,
        smtp_host: d.smtp_host,
        smtp_port: d.smtp_port,
        smtp_user: d.smtp_user,
        smtp_pass: row
            .try_get::<Option<String>, _>("smtp_pass")?
            .map(SecretString::from),
        settings: d.settings,
    })
}

fn pass(p: &EmailProvider) -> Option<String> {
    p.smtp_pass.as_ref().map(|s| s.expose_secret().to_owned())
}

#[async_trait]
impl EmailProviderStore for SqlStore {
    async fn get_email_provider(&self) -> StoreResult<Option<EmailProvider>> {
        fetch_opt(
            sqlx::query("SELECT data, smtp_pass FROM email_provider WHERE id = 1"),
            &self.reader,
            provider,
        )
        .await
    }

    async fn insert_email_provider(&self, p: &EmailProvider) -> StoreResult<()> {
        sqlx::query("INSERT INTO email_provider (id, data, smtp_pass) VALUES (1, $1, $2)")
            .bind(data(p))
            .bind(pass(p))
            .execute(&self.writer)
            .await
            .map_err(conflict("The email provider"))?;
        Ok(())
    }

    async fn update_email_provider(&self, p: &EmailProvider) -> StoreResult<bool> {
        let q = sqlx::query("UPDATE email_provider SET data = $1, smtp_pass = $2 WHERE id = 1")
            .bind(data(p))
            .bind(pass(p));
        Ok(execute(q, &self.writer).await? == 1)
    }

    async fn delete_email_provider(&self) -> StoreResult<bool> {
        Ok(execute(
            sqlx::query("DELETE FROM email_provider WHERE id = 1"),
            &self.writer,
        )
        .await?
            == 1)
    }
}
