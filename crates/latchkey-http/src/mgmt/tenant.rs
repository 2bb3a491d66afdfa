use super::Principal;
use crate::AppState;
use crate::api_router::ApiRouter;
use crate::errors::ApiError;
use crate::extract::ApiJson;
use axum::Json;
use axum::extract::{Path, State};
use axum::routing::{get, post, put};
use serde_json::{Map, Value, json};

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .route("/tenants/settings", get(get_settings).patch(patch_settings))
        .route("/keys/signing", get(list_keys))
        .route("/keys/signing/rotate", post(rotate_key))
        .route("/keys/signing/{kid}/revoke", put(revoke_key))
}

async fn get_settings(
    State(state): State<AppState>,
    p: Principal,
) -> Result<Json<Value>, ApiError> {
    p.require(&["read:tenant_settings"])?;
    let s = state.services.tenant.tenant_settings().await?;
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
        .tenant
        .update_tenant_settings(body, &p.caller())
        .await?;
    Ok(Json(serde_json::to_value(s).unwrap_or_else(|_| json!({}))))
}

fn key_json(k: &latchkey_core::store::SigningKeyRecord) -> Value {
    json!({
        "kid": k.kid,
        "current": k.current,
        "previous": !k.current && !k.revoked,
        "next": false,
        "revoked": k.revoked,
        "current_since": k.created_at.to_iso(),
    })
}

async fn list_keys(State(state): State<AppState>, p: Principal) -> Result<Json<Value>, ApiError> {
    p.require(&["read:signing_keys"])?;
    let keys = state.services.tenant.list_signing_keys().await?;
    Ok(Json(Value::Array(keys.iter().map(key_json).collect())))
}

async fn rotate_key(State(state): State<AppState>, p: Principal) -> Result<Json<Value>, ApiError> {
    p.require(&["create:signing_keys", "update:signing_keys"])?;
    let kid = state
        .services
        .tenant
        .rotate_signing_key(&p.caller())
        .await?;
    Ok(Json(json!({"kid": kid})))
}

async fn revoke_key(
    State(state): State<AppState>,
    p: Principal,
    Path(kid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    p.require(&["update:signing_keys"])?;
    let key = state
        .services
        .tenant
        .revoke_signing_key(&kid, &p.caller())
        .await?;
    Ok(Json(key_json(&key)))
}
