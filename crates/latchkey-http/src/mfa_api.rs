//! Auth0's MFA API for password grants: `GET /mfa/authenticators`, `POST /mfa/challenge`
//! and `POST /mfa/associate`, authorised by the `mfa_token` of an `mfa_required` answer.

use crate::AppState;
use crate::api_router::ApiRouter;
use crate::errors::OAuthError;
use crate::extract::OAuthParams;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use latchkey_core::ErrorCode;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .route("/mfa/authenticators", get(authenticators))
        .route("/mfa/challenge", post(challenge))
        .route("/mfa/associate", post(associate))
}

/// The `mfa_token` sent as `Authorization: Bearer …`.
fn bearer(headers: &HeaderMap) -> Result<String, OAuthError> {
    crate::extract::bearer_token(headers)
        .map(str::to_owned)
        .ok_or_else(|| {
            OAuthError::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::Unauthorized,
                "Send the mfa_token as Authorization: Bearer <mfa_token>.",
            )
        })
}

fn no_store(value: Value) -> Response {
    let mut res = Json(value).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

async fn authenticators(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, OAuthError> {
    let token = bearer(&headers)?;
    let list = state.services.mfa.mfa_authenticators(&token).await?;
    Ok(no_store(Value::Array(
        list.iter()
            .map(|a| {
                json!({
                    "id": a.id,
                    "authenticator_type": if a.kind == "totp" { "otp" } else { a.kind.as_str() },
                    "active": true,
                })
            })
            .collect(),
    )))
}

async fn challenge(
    State(state): State<AppState>,
    params: OAuthParams,
) -> Result<Response, OAuthError> {
    let client_id = params.require("client_id")?;
    let mfa_token = params.require("mfa_token")?;
    let challenge_type = params
        .get("challenge_type")?
        .unwrap_or_else(|| "otp".into());
    let kind = state
        .services
        .mfa
        .mfa_challenge(&mfa_token, &client_id, &challenge_type)
        .await?;
    Ok(no_store(json!({ "challenge_type": kind })))
}

async fn associate(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: OAuthParams,
) -> Result<Response, OAuthError> {
    let token = bearer(&headers)?;
    let types: Vec<String> = match params.0.get("authenticator_types") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => {
            return Err(OAuthError::invalid_request(
                "Missing required parameter: authenticator_types",
            ));
        }
    };
    let association = state.services.mfa.mfa_associate(&token, &types).await?;
    Ok(no_store(json!({
        "authenticator_type": "otp",
        "secret": association.secret.expose_secret(),
        "barcode_uri": association.barcode_uri.expose_secret(),
        "recovery_codes": [association.recovery_code.expose_secret()],
    })))
}
