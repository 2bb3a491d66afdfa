//! What a user signs in with: second factors (`/users/{id}/authentication-methods`, add a
//! TOTP key; `/users/{id}/enrollments`, Guardian's view; `DELETE /users/{id}/authenticators`)
//! hosted-login sessions (`GET/DELETE /users/{id}/sessions`) and brute-force blocks
//! (`GET/DELETE /user-blocks/{id}`).

use super::Principal;
use super::users::user_id;
use crate::AppState;
use crate::api_router::ApiRouter;
use crate::errors::ApiError;
use crate::extract::ApiBody;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use latchkey_core::services::NewAuthenticationMethod;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::Value;

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .route(
            "/users/{id}/authentication-methods",
            get(list_methods).post(add_method),
        )
        .route("/users/{id}/enrollments", get(enrollments))
        .route("/users/{id}/authenticators", delete(delete_all))
        .route("/users/{id}/sessions", get(sessions).delete(end_sessions))
        .route("/user-blocks/{id}", get(blocks).delete(unblock))
}

async fn blocks(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    p.require(&["read:users"])?;
    Ok(Json(
        state.services.login.user_blocks(&user_id(&id)?).await?,
    ))
}

async fn unblock(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    p.require(&["update:users"])?;
    state
        .services
        .login
        .unblock_user(&user_id(&id)?, &p.caller())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn sessions(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    p.require(&["read:sessions", "read:users"])?;
    let list = state
        .services
        .sessions
        .user_sessions(&user_id(&id)?)
        .await?;
    Ok(Json(serde_json::json!({
        "sessions": list.iter().map(|s| s.to_auth0_json()).collect::<Vec<_>>()
    })))
}

async fn end_sessions(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    p.require(&["delete:sessions", "update:users"])?;
    state
        .services
        .sessions
        .revoke_user_sessions(&user_id(&id)?, &p.caller())
        .await?;
    Ok(StatusCode::ACCEPTED)
}

async fn list_methods(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    p.require(&["read:authentication_methods", "read:users"])?;
    let methods = state
        .services
        .mfa
        .authentication_methods(&user_id(&id)?)
        .await?;
    Ok(Json(Value::Array(
        methods.iter().map(|m| m.to_auth0_json()).collect(),
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MethodBody {
    #[serde(rename = "type")]
    kind: String,
    name: Option<String>,
    totp_secret: Option<SecretString>,
}

async fn add_method(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    body: ApiBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    p.require(&["create:authentication_methods", "update:users"])?;
    let body: MethodBody = body.parse()?;
    let totp_secret = body
        .totp_secret
        .ok_or_else(|| ApiError::bad_body("totp_secret is required for type totp"))?;
    let method = NewAuthenticationMethod {
        kind: body.kind,
        name: body.name,
        totp_secret,
    };
    let created = state
        .services
        .mfa
        .add_authentication_method(&user_id(&id)?, method, &p.caller())
        .await?;
    Ok((StatusCode::CREATED, Json(created.to_auth0_json())))
}

async fn enrollments(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    p.require(&["read:users"])?;
    let methods = state
        .services
        .mfa
        .authentication_methods(&user_id(&id)?)
        .await?;
    // Guardian lists authenticators; a recovery code is part of one, not an enrollment.
    Ok(Json(Value::Array(
        methods
            .iter()
            .filter(|m| m.kind != "recovery-code")
            .map(|m| m.to_enrollment_json())
            .collect(),
    )))
}

async fn delete_all(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    p.require(&["delete:guardian_enrollments", "update:users"])?;
    state
        .services
        .mfa
        .delete_authenticators(&user_id(&id)?, &p.caller())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
