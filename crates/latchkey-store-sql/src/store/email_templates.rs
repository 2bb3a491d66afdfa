use super::{SqlStore, conflict, execute, fetch_opt, to_json};
use anyhow::Context;
use async_trait::async_trait;
use latchkey_core::domain::{EmailTemplate, EmailTemplateName};
use latchkey_core::store::{EmailTemplateStore, StoreResult};
use sqlx::Row;
use sqlx::any::AnyRow;

fn template(row: &AnyRow) -> anyhow::Result<EmailTemplate> {
    serde_json::from_str(&row.try_get::<String, _>("data")?).context("stored email template")
}

#[async_trait]
impl EmailTemplateStore for SqlStore {
    async fn get_email_template(
        &self,
        name: EmailTemplateName,
    ) -> StoreResult<Option<EmailTemplate>> {
        let q = sqlx::query("SELECT data FROM email_templates WHERE name = $1").bind(name.as_str());
        fetch_opt(q, &self.reader, template).await
    }

    async fn insert_email_template(&self, t: &EmailTemplate) -> StoreResult<()> {
        sqlx::query("INSERT INTO email_templates (name, data) VALUES ($1, $2)")
            .bind(t.template.as_str())
            .bind(to_json(t))
            .execute(&self.writer)
            .await
            .map_err(conflict("The template"))?;
        Ok(())
    }

    async fn put_email_template(&self, t: &EmailTemplate) -> StoreResult<()> {
        let q = sqlx::query(
            "INSERT INTO email_templates (name, data) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET data = excluded.data",
        )
        .bind(t.template.as_str())
        .bind(to_json(t));
        execute(q, &self.writer).await.map(drop)
    }
}
