//! `/attack-protection/*`: breached-password detection, brute-force protection and
//! suspicious-IP throttling as stored settings (values Latchkey cannot honour are refused by
//! the service); bot detection and CAPTCHA are not offered.

use super::Principal;
use super::not_offered::feature_not_enabled;
use crate::AppState;
use crate::api_router::ApiRouter;
use crate::errors::ApiError;
use crate::extract::ApiBody;
use axum::Json;
use axum::extract::State;
use axum::routing::get;
use latchkey_core::domain::attack_protection::{
    BreachedPasswordDetection, BruteForceProtection, SuspiciousIpThrottling,
};
use latchkey_core::services::SettingsDocument;
use serde_json::{Map, Value};

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .route(
            "/attack-protection/breached-password-detection",
            get(read::<BreachedPasswordDetection>).patch(update::<BreachedPasswordDetection>),
        )
        .route(
            "/attack-protection/brute-force-protection",
            get(read::<BruteForceProtection>).patch(update::<BruteForceProtection>),
        )
        .route(
            "/attack-protection/suspicious-ip-throttling",
            get(read::<SuspiciousIpThrottling>).patch(update::<SuspiciousIpThrottling>),
        )
        .route(
            "/attack-protection/bot-detection",
            get(bot_detection).patch(bot_detection),
        )
        .route("/attack-protection/captcha", get(captcha).patch(captcha))
}

async fn read<T: SettingsDocument>(
    State(state): State<AppState>,
    p: Principal,
) -> Result<Json<Value>, ApiError> {
    p.require(&["read:attack_protection"])?;
    let doc = state.services.tenant.settings_document::<T>().await?;
    Ok(Json(serde_json::to_value(doc).unwrap_or_default()))
}

async fn update<T: SettingsDocument>(
    State(state): State<AppState>,
    p: Principal,
    body: ApiBody,
) -> Result<Json<Value>, ApiError> {
    p.require(&["update:attack_protection"])?;
    let patch: Map<String, Value> = body.parse()?;
    let doc = state
        .services
        .tenant
        .update_settings_document::<T>(patch, &p.caller())
        .await?;
    Ok(Json(serde_json::to_value(doc).unwrap_or_default()))
}

async fn bot_detection(p: Principal) -> ApiError {
    match p.require(&["read:attack_protection", "update:attack_protection"]) {
        Err(e) => e,
        Ok(()) => feature_not_enabled("Bot detection"),
    }
}

async fn captcha(p: Principal) -> ApiError {
    match p.require(&["read:attack_protection", "update:attack_protection"]) {
        Err(e) => e,
        Ok(()) => feature_not_enabled("CAPTCHA"),
    }
}
