//! `/prompts`: the Universal Login settings (stored; values Latchkey cannot honour are refused
//! by the service). Custom text, partials and screen renderers are not offered: Latchkey's pages
//! carry their own text, so they read empty and only an empty write is accepted.

use super::Principal;
use super::not_offered::refuse_unless_empty;
use crate::AppState;
use crate::api_router::ApiRouter;
use crate::errors::ApiError;
use crate::extract::ApiBody;
use axum::Json;
use axum::extract::{Path, State};
use axum::routing::get;
use latchkey_core::domain::prompts::PromptSettings;
use serde_json::{Map, Value, json};

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .route("/prompts", get(settings).patch(update_settings))
        .route(
            "/prompts/rendering",
            get(list_renderings).patch(update_renderings),
        )
        .route(
            "/prompts/{prompt}/custom-text/{language}",
            get(custom_text).put(set_custom_text),
        )
        .route(
            "/prompts/{prompt}/partials",
            get(partials).put(set_partials),
        )
}

async fn settings(State(state): State<AppState>, p: Principal) -> Result<Json<Value>, ApiError> {
    p.require(&["read:prompts"])?;
    let s = state
        .services
        .tenant
        .settings_document::<PromptSettings>()
        .await?;
    Ok(Json(serde_json::to_value(s).unwrap_or_default()))
}

async fn update_settings(
    State(state): State<AppState>,
    p: Principal,
    body: ApiBody,
) -> Result<Json<Value>, ApiError> {
    p.require(&["update:prompts"])?;
    let patch: Map<String, Value> = body.parse()?;
    let s = state
        .services
        .tenant
        .update_settings_document::<PromptSettings>(patch, &p.caller())
        .await?;
    Ok(Json(serde_json::to_value(s).unwrap_or_default()))
}

async fn custom_text(
    p: Principal,
    Path((_prompt, _language)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    p.require(&["read:prompts"])?;
    Ok(Json(json!({})))
}

async fn set_custom_text(
    p: Principal,
    Path((_prompt, _language)): Path<(String, String)>,
    body: ApiBody,
) -> Result<Json<Value>, ApiError> {
    p.require(&["update:prompts"])?;
    let text: Map<String, Value> = body.parse()?;
    refuse_unless_empty("Custom prompt text", !text.is_empty())?;
    Ok(Json(json!({})))
}

async fn partials(p: Principal, Path(_prompt): Path<String>) -> Result<Json<Value>, ApiError> {
    p.require(&["read:prompts"])?;
    Ok(Json(json!({})))
}

async fn set_partials(
    p: Principal,
    Path(_prompt): Path<String>,
    body: ApiBody,
) -> Result<Json<Value>, ApiError> {
    p.require(&["update:prompts"])?;
    let partials: Map<String, Value> = body.parse()?;
    refuse_unless_empty("Custom prompt partials", !partials.is_empty())?;
    Ok(Json(json!({})))
}

async fn list_renderings(p: Principal) -> Result<Json<Value>, ApiError> {
    p.require(&["read:prompts"])?;
    Ok(Json(
        json!({"configs": [], "start": 0, "limit": 50, "total": 0}),
    ))
}

async fn update_renderings(p: Principal, body: ApiBody) -> Result<Json<Value>, ApiError> {
    p.require(&["update:prompts"])?;
    let v: Value = body.parse()?;
    let empty = v
        .get("configs")
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty);
    refuse_unless_empty("Advanced customizations (screen renderers)", !empty)?;
    Ok(Json(json!({"configs": []})))
}
