//! `/oauth/*` and `/.well-known/*`: tokens, revocation, discovery, keys.

use crate::AppState;
use crate::api_router::ApiRouter;
use crate::errors::OAuthError;
use crate::extract::{Meta, OAuthParams};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use latchkey_core::ErrorCode;
use latchkey_core::domain::{GrantType, Password, Scope};
use latchkey_core::services::{ClientAuth, TokenRequest};
use secrecy::{ExposeSecret, SecretString};

/// Token and revocation: called by browsers from client origins (see `cors`).
pub fn router() -> ApiRouter {
    ApiRouter::new()
        .route("/oauth/token", post(token))
        .route("/oauth/revoke", post(revoke))
        .route(
            "/userinfo",
            get(userinfo).post(userinfo).layer(crate::no_store()),
        )
}

/// `GET|POST /userinfo` with `Authorization: Bearer <access token>`.
async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let claims = match crate::extract::bearer_token(&headers) {
        Some(t) => state.services.sessions.userinfo(t).await,
        None => Err(latchkey_core::ServiceError::InvalidClient(
            "Unauthorized".into(),
        )),
    };
    match claims {
        Ok(c) => Json(c).into_response(),
        Err(latchkey_core::ServiceError::InvalidClient(_)) => (
            axum::http::StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")],
            "Unauthorized",
        )
            .into_response(),
        Err(e) => OAuthError::from(e).into_response(),
    }
}

/// Discovery and keys: public metadata.
pub fn metadata_router() -> ApiRouter {
    ApiRouter::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/.well-known/jwks.json", get(jwks))
}

async fn discovery(State(state): State<AppState>) -> impl IntoResponse {
    Json(state.services.discovery_document())
}

async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=60")],
        Json(state.services.keys().jwks()),
    )
}

/// Client credentials from `Authorization: Basic` (client_secret_basic) or the body
/// (client_secret_post). Presenting both, differently, is an error (RFC 6749 §2.3).
fn client_auth(headers: &HeaderMap, params: &OAuthParams) -> Result<ClientAuth, OAuthError> {
    let body_id = params.get("client_id")?;
    let body_secret = params.get("client_secret")?;
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        });
    if let Some(encoded) = basic {
        let decoded = STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| {
                OAuthError::new(
                    axum::http::StatusCode::UNAUTHORIZED,
                    ErrorCode::InvalidClient,
                    "Malformed Basic credentials.",
                )
            })?;
        let (id, secret) = decoded.split_once(':').ok_or_else(|| {
            OAuthError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                ErrorCode::InvalidClient,
                "Malformed Basic credentials.",
            )
        })?;
        let id = urlencoding_decode(id);
        let secret = urlencoding_decode(secret);
        if body_id.as_ref().is_some_and(|b| *b != id) || body_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "Client credentials were presented in more than one way.",
            ));
        }
        return Ok(ClientAuth {
            client_id: Some(id),
            client_secret: Some(SecretString::from(secret)),
        });
    }
    Ok(ClientAuth {
        client_id: body_id,
        client_secret: body_secret.map(SecretString::from),
    })
}

/// Basic credentials are form-urlencoded before base64 (RFC 6749 §2.3.1).
fn urlencoding_decode(s: &str) -> String {
    serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={s}"))
        .ok()
        .and_then(|mut v| v.pop())
        .map_or_else(|| s.to_owned(), |(_, v)| v)
}

/// The `/oauth/token` success body.
#[derive(serde::Serialize)]
struct TokenBody<'a> {
    access_token: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_code: Option<&'a str>,
    scope: &'a str,
    expires_in: i64,
    token_type: &'static str,
}

async fn token(
    State(state): State<AppState>,
    Meta(meta): Meta,
    headers: HeaderMap,
    params: OAuthParams,
) -> Result<Response, OAuthError> {
    let auth = client_auth(&headers, &params)?;
    let grant_name = params.require("grant_type")?;
    let grant = GrantType::parse(&grant_name).ok_or_else(|| {
        OAuthError::new(
            axum::http::StatusCode::BAD_REQUEST,
            ErrorCode::UnsupportedGrantType,
            format!("Unsupported grant type: {grant_name}"),
        )
    })?;
    let scope = params.get("scope")?.map(|s| Scope::parse(&s));
    let request = match grant {
        GrantType::ClientCredentials => TokenRequest::ClientCredentials {
            audience: params.get("audience")?,
            scope,
        },
        GrantType::Password | GrantType::PasswordRealm => {
            let password = Password::parse(params.require("password")?)
                .map_err(|e| OAuthError::invalid_request(e.to_string()))?;
            // A missing realm (auth0-python sends `"realm": null`) means the default directory.
            let realm = params.get("realm")?;
            TokenRequest::Password {
                grant,
                username: params.require("username")?,
                password,
                realm,
                audience: params.get("audience")?,
                scope,
            }
        }
        GrantType::RefreshToken => TokenRequest::RefreshToken {
            refresh_token: SecretString::from(params.require("refresh_token")?),
            scope,
        },
        GrantType::MfaOtp => TokenRequest::Mfa {
            grant,
            mfa_token: params.require("mfa_token")?,
            code: SecretString::from(params.require("otp")?),
        },
        GrantType::MfaRecoveryCode => TokenRequest::Mfa {
            grant,
            mfa_token: params.require("mfa_token")?,
            code: SecretString::from(params.require("recovery_code")?),
        },
        GrantType::AuthorizationCode => TokenRequest::AuthorizationCode {
            code: SecretString::from(params.require("code")?),
            redirect_uri: params.get("redirect_uri")?,
            code_verifier: params.get("code_verifier")?.map(SecretString::from),
        },
    };
    let tokens = state
        .services
        .login
        .exchange_token(auth, request, &meta)
        .await?;
    let body = TokenBody {
        access_token: tokens.access_token.expose_secret(),
        id_token: tokens.id_token.as_ref().map(|t| t.expose_secret()),
        refresh_token: tokens.refresh_token.as_ref().map(|t| t.expose_secret()),
        recovery_code: tokens.recovery_code.as_ref().map(|t| t.expose_secret()),
        scope: &tokens.scope,
        expires_in: tokens.expires_in,
        token_type: "Bearer",
    };
    // Sized up front: a Management API token and its scope are several KiB, which `Json`'s
    // 128-byte buffer reaches only by doubling and copying six times.
    let mut json = Vec::with_capacity(
        128 + body.access_token.len()
            + body.scope.len()
            + body.id_token.map_or(0, str::len)
            + body.refresh_token.map_or(0, str::len),
    );
    serde_json::to_writer(&mut json, &body)
        .map_err(|e| latchkey_core::ServiceError::Unexpected(e.into()))?;
    let mut res = ([(header::CONTENT_TYPE, "application/json")], json).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(res)
}

async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: OAuthParams,
) -> Result<Response, OAuthError> {
    let auth = client_auth(&headers, &params)?;
    let token = SecretString::from(params.require("token")?);
    state.services.login.revoke_token(auth, &token).await?;
    Ok(axum::http::StatusCode::OK.into_response())
}
