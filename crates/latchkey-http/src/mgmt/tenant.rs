use super::Principal;
use crate::AppState;
use crate::errors::ApiError;
use crate::extract::ApiJson;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Map, Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tenants/settings", get(get_settings).patch(patch_settings))
        .route("/keys/signing", get(list_keys))
        .route("/keys/signing/rotate", post(rotate_key))
}

async fn get_settings(
    State(state): State<AppState>,
    p: Principal,
) -> Result<Json<Value>, ApiError> {
    p.require(&["read:tenant_settings"])?;
    let s = state.services.tenant_settings().await?;
    Ok(Json(serde_json::to_value(s).unwrap_or_else(|_| json!({}))))
}

async fn patch_settings(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    p.require(&["update:tenant_settings"])?;
    let s = state
        .services
        .update_tenant_settings(body, &p.caller())
        .await?;
    Ok(Json(serde_json::to_value(s).unwrap_or_else(|_| json!({}))))
}

async fn list_keys(State(state): State<AppState>, p: Principal) -> Result<Json<Value>, ApiError> {
    p.require(&["read:signing_keys"])?;
    let current = state.services.keys().current_kid();
    let keys = state
        .services
        .store()
        .list_signing_keys()
        .await
        .map_err(latchkey_core::ServiceError::from)?;
    let items: Vec<Value> = keys
        .iter()
        .map(|k| {
            json!({
                "kid": k.kid,
                "current": Some(&k.kid) == current.as_ref(),
                "revoked": k.revoked,
                "next": false,
                "previous": !k.current && !k.revoked,
                "current_since": k.created_at.to_iso(),
            })
        })
        .collect();
    Ok(Json(Value::Array(items)))
}

async fn rotate_key(State(state): State<AppState>, p: Principal) -> Result<Json<Value>, ApiError> {
    p.require(&["create:signing_keys", "update:signing_keys"])?;
    let kid = state
        .services
        .keys()
        .rotate()
        .await
        .map_err(latchkey_core::ServiceError::from)?;
    Ok(Json(json!({"kid": kid})))
}
