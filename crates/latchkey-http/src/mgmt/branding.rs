//! `/branding`: the Universal Login colours, kept in the tenant settings' `universal_login`
//! (the hosted pages and the console read them there). Logos, favicons, fonts, page templates
//! and themes are not offered: they read empty and only an empty write is accepted.

use super::Principal;
use super::not_offered::{not_available, refuse_unless_empty};
use crate::AppState;
use crate::api_router::ApiRouter;
use crate::errors::ApiError;
use crate::extract::ApiBody;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use latchkey_core::error_code::ErrorCode;
use serde_json::{Map, Value, json};

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .route("/branding", get(branding).patch(update_branding))
        .route(
            "/branding/templates/universal-login",
            get(universal_login_template)
                .put(set_universal_login_template)
                .delete(delete_universal_login_template),
        )
        .route("/branding/themes/default", get(default_theme))
        .route("/branding/themes", axum::routing::post(create_theme))
}

/// `{colors: {...}}` from the tenant's `universal_login`, or `{}`.
async fn current(state: &AppState) -> Result<Map<String, Value>, ApiError> {
    let settings = state.services.tenant.tenant_settings().await?;
    let mut out = Map::new();
    if let Some(colors) = settings
        .extra
        .get("universal_login")
        .and_then(|u| u.get("colors"))
    {
        out.insert("colors".into(), colors.clone());
    }
    Ok(out)
}

async fn branding(State(state): State<AppState>, p: Principal) -> Result<Json<Value>, ApiError> {
    p.require(&["read:branding"])?;
    Ok(Json(Value::Object(current(&state).await?)))
}

async fn update_branding(
    State(state): State<AppState>,
    p: Principal,
    body: ApiBody,
) -> Result<Json<Value>, ApiError> {
    p.require(&["update:branding"])?;
    let mut body: Map<String, Value> = body.parse()?;
    let colors = body.remove("colors");
    // Anything but colours must be absent or null (the unset state).
    if let Some((name, _)) = body.iter().find(|(_, v)| !v.is_null()) {
        return Err(not_available(&format!("Branding setting {name}")));
    }
    if let Some(colors) = colors {
        let settings = state.services.tenant.tenant_settings().await?;
        let mut universal_login = settings
            .extra
            .get("universal_login")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        universal_login.insert("colors".into(), colors);
        let mut patch = Map::new();
        patch.insert("universal_login".into(), Value::Object(universal_login));
        state
            .services
            .tenant
            .update_tenant_settings(patch, &p.caller())
            .await?;
    }
    Ok(Json(Value::Object(current(&state).await?)))
}

/// Auth0 answers 404 while no custom login page template is set.
async fn universal_login_template(p: Principal) -> ApiError {
    match p.require(&["read:branding"]) {
        Err(e) => e,
        Ok(()) => ApiError::new(
            StatusCode::NOT_FOUND,
            "No custom Universal Login template is set: Latchkey's page template is page.liquid",
            Some(ErrorCode::NotFound),
        ),
    }
}

async fn set_universal_login_template(
    p: Principal,
    body: ApiBody,
) -> Result<Json<Value>, ApiError> {
    p.require(&["update:branding"])?;
    let body: Value = body.parse()?;
    refuse_unless_empty(
        "A Universal Login template through /branding (use the console's page template)",
        !body.is_null(),
    )?;
    Ok(Json(json!({})))
}

async fn delete_universal_login_template(p: Principal) -> Result<StatusCode, ApiError> {
    p.require(&["delete:branding"])?;
    Ok(StatusCode::NO_CONTENT)
}

/// Auth0 answers 404 while no theme exists.
async fn default_theme(p: Principal) -> ApiError {
    match p.require(&["read:branding"]) {
        Err(e) => e,
        Ok(()) => ApiError::new(
            StatusCode::NOT_FOUND,
            "There is no default theme: themes are not available in Latchkey",
            Some(ErrorCode::NotFound),
        ),
    }
}

async fn create_theme(p: Principal) -> ApiError {
    match p.require(&["update:branding"]) {
        Err(e) => e,
        Ok(()) => not_available("Universal Login themes"),
    }
}
