//! `/guardian/factors` and `/guardian/policies`: which second factors are on and when MFA is
//! required.

use super::Principal;
use crate::AppState;
use crate::api_router::ApiRouter;
use crate::errors::ApiError;
use crate::extract::ApiBody;
use axum::Json;
use axum::extract::{Path, State};
use axum::routing::{get, put};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .route("/guardian/factors", get(factors))
        .route("/guardian/factors/{name}", put(set_factor))
        .route("/guardian/policies", get(policies).put(set_policies))
}

async fn factors(State(state): State<AppState>, p: Principal) -> Result<Json<Value>, ApiError> {
    p.require(&["read:guardian_factors"])?;
    Ok(Json(state.services.mfa.guardian_factors().await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FactorBody {
    enabled: bool,
}

async fn set_factor(
    State(state): State<AppState>,
    p: Principal,
    Path(name): Path<String>,
    body: ApiBody,
) -> Result<Json<Value>, ApiError> {
    p.require(&["update:guardian_factors"])?;
    let body: FactorBody = body.parse()?;
    let enabled = state
        .services
        .mfa
        .set_guardian_factor(&name, body.enabled, &p.caller())
        .await?;
    Ok(Json(json!({"enabled": enabled})))
}

async fn policies(State(state): State<AppState>, p: Principal) -> Result<Json<Value>, ApiError> {
    p.require(&["read:mfa_policies"])?;
    Ok(Json(json!(state.services.mfa.mfa_policies().await?)))
}

async fn set_policies(
    State(state): State<AppState>,
    p: Principal,
    body: ApiBody,
) -> Result<Json<Value>, ApiError> {
    p.require(&["update:mfa_policies"])?;
    let body: Vec<String> = body.parse()?;
    Ok(Json(json!(
        state
            .services
            .mfa
            .set_mfa_policies(body, &p.caller())
            .await?
    )))
}
