use super::{FieldsQuery, Principal};
use crate::AppState;
use crate::api_router::ApiRouter;
use crate::errors::ApiError;
use crate::extract::ApiBody;
use crate::extract::ApiQuery;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use latchkey_core::services::EmailProviderPatch;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Map, Value};

pub fn router() -> ApiRouter {
    ApiRouter::new().route(
        "/emails/provider",
        get(get_one).post(create).patch(update).delete(delete),
    )
}

/// SMTP credentials; the password is write-only.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Credentials {
    smtp_host: Option<String>,
    smtp_port: Option<u16>,
    #[serde(default, with = "super::nullable")]
    smtp_user: Option<Option<String>>,
    #[serde(default, with = "super::nullable")]
    smtp_pass: Option<Option<SecretString>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderBody {
    name: Option<String>,
    enabled: Option<bool>,
    #[serde(default, with = "super::nullable")]
    default_from_address: Option<Option<String>>,
    credentials: Option<Credentials>,
    settings: Option<Map<String, Value>>,
}

impl ProviderBody {
    fn into_patch(self) -> EmailProviderPatch {
        let (host, port, user, pass) = match self.credentials {
            Some(c) => (c.smtp_host, c.smtp_port, c.smtp_user, c.smtp_pass),
            None => (None, None, None, None),
        };
        EmailProviderPatch {
            name: self.name,
            enabled: self.enabled,
            default_from_address: self.default_from_address,
            smtp_host: host,
            smtp_port: port,
            smtp_user: user,
            smtp_pass: pass,
            settings: self.settings,
        }
    }
}

/// Without `fields`, Auth0 returns only `name` and `enabled`.
async fn get_one(
    State(state): State<AppState>,
    p: Principal,
    ApiQuery(mut fields): ApiQuery<FieldsQuery>,
) -> Result<Json<Value>, ApiError> {
    p.require(&["read:email_provider"])?;
    let provider = state.services.tenant.email_provider().await?;
    if fields.fields.as_deref().is_none_or(str::is_empty) {
        fields = FieldsQuery {
            fields: Some("name,enabled".into()),
            include_fields: Some("true".into()),
        };
    }
    Ok(Json(fields.apply(provider.to_auth0_json())?))
}

async fn create(
    State(state): State<AppState>,
    p: Principal,
    b: ApiBody,
) -> Result<Response, ApiError> {
    p.require(&["create:email_provider"])?;
    let b: ProviderBody = b.parse()?;
    let provider = state
        .services
        .tenant
        .create_email_provider(b.into_patch(), &p.caller())
        .await?;
    Ok((StatusCode::CREATED, Json(provider.to_auth0_json())).into_response())
}

async fn update(
    State(state): State<AppState>,
    p: Principal,
    b: ApiBody,
) -> Result<Json<Value>, ApiError> {
    p.require(&["update:email_provider"])?;
    let b: ProviderBody = b.parse()?;
    let provider = state
        .services
        .tenant
        .update_email_provider(b.into_patch(), &p.caller())
        .await?;
    Ok(Json(provider.to_auth0_json()))
}

async fn delete(State(state): State<AppState>, p: Principal) -> Result<StatusCode, ApiError> {
    p.require(&["delete:email_provider"])?;
    state
        .services
        .tenant
        .delete_email_provider(&p.caller())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
