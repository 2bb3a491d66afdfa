use super::Principal;
use crate::AppState;
use crate::api_router::ApiRouter;
use crate::errors::ApiError;
use crate::extract::ApiBody;
use axum::Json;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use latchkey_core::domain::EmailTemplateName;
use latchkey_core::services::EmailTemplatePatch;
use serde::Deserialize;
use serde_json::Value;

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .route("/email-templates", post(create))
        .route(
            "/email-templates/{name}",
            get(get_one).patch(update).put(replace),
        )
}

/// The template body as Auth0's SDKs send it (camelCase names are the real wire names).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateBody {
    template: Option<String>,
    body: Option<String>,
    from: Option<String>,
    subject: Option<String>,
    syntax: Option<String>,
    #[serde(rename = "resultUrl", default, with = "super::nullable")]
    result_url: Option<Option<String>>,
    #[serde(rename = "urlLifetimeInSeconds")]
    url_lifetime_secs: Option<i64>,
    #[serde(rename = "includeEmailInRedirect")]
    include_email_in_redirect: Option<bool>,
    enabled: Option<bool>,
}

impl TemplateBody {
    fn into_patch(self) -> EmailTemplatePatch {
        EmailTemplatePatch {
            body: self.body,
            from: self.from,
            subject: self.subject,
            syntax: self.syntax,
            result_url: self.result_url,
            url_lifetime_secs: self.url_lifetime_secs,
            include_email_in_redirect: self.include_email_in_redirect,
            enabled: self.enabled,
        }
    }
}

fn template_name(raw: &str) -> Result<EmailTemplateName, ApiError> {
    EmailTemplateName::parse(raw).map_err(ApiError::bad_body)
}

/// The name in the body must agree with the path when both are given.
fn named(path: &str, body: &TemplateBody) -> Result<EmailTemplateName, ApiError> {
    let name = template_name(path)?;
    match body.template.as_deref() {
        Some(b) if template_name(b)? != name => {
            Err(ApiError::bad_body("template does not match the path"))
        }
        _ => Ok(name),
    }
}

fn to_json(t: &latchkey_core::domain::EmailTemplate) -> Json<Value> {
    Json(serde_json::to_value(t).unwrap_or(Value::Null))
}

/// `POST /email-templates` answers 200, not 201, like Auth0.
async fn create(
    State(state): State<AppState>,
    p: Principal,
    b: ApiBody,
) -> Result<Json<Value>, ApiError> {
    p.require(&["create:email_templates"])?;
    let b: TemplateBody = b.parse()?;
    let name = template_name(
        b.template
            .as_deref()
            .ok_or_else(|| ApiError::bad_body("Missing required property: template"))?,
    )?;
    let t = state
        .services
        .tenant
        .create_email_template(name, b.into_patch(), &p.caller())
        .await?;
    Ok(to_json(&t))
}

async fn get_one(
    State(state): State<AppState>,
    p: Principal,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    p.require(&["read:email_templates"])?;
    let t = state
        .services
        .tenant
        .email_template(template_name(&name)?)
        .await?;
    Ok(to_json(&t))
}

async fn update(
    State(state): State<AppState>,
    p: Principal,
    Path(name): Path<String>,
    b: ApiBody,
) -> Result<Json<Value>, ApiError> {
    p.require(&["update:email_templates"])?;
    let b: TemplateBody = b.parse()?;
    let name = named(&name, &b)?;
    let t = state
        .services
        .tenant
        .update_email_template(name, b.into_patch(), &p.caller())
        .await?;
    Ok(to_json(&t))
}

async fn replace(
    State(state): State<AppState>,
    p: Principal,
    Path(name): Path<String>,
    b: ApiBody,
) -> Result<Json<Value>, ApiError> {
    p.require(&["update:email_templates"])?;
    let b: TemplateBody = b.parse()?;
    let name = named(&name, &b)?;
    let t = state
        .services
        .tenant
        .replace_email_template(name, b.into_patch(), &p.caller())
        .await?;
    Ok(to_json(&t))
}
