//! Extractors that turn malformed input into the right dialect's 4xx instead of axum's
//! plain-text rejections.

use crate::errors::{ApiError, OAuthError};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use latchkey_core::audit::RequestMeta;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::net::SocketAddr;

/// Largest body any endpoint accepts.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

async fn read_body(req: Request) -> Result<(Option<String>, Bytes), StatusCode> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.to_ascii_lowercase());
    let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
        .await
        .map_err(|_| StatusCode::PAYLOAD_TOO_LARGE)?;
    Ok((content_type, bytes))
}

fn too_large() -> String {
    format!("Payload content length greater than maximum allowed: {MAX_BODY_BYTES}")
}

/// A Management API JSON body. Auth0 also accepts form bodies there; so do we.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let (ct, bytes) = read_body(req)
            .await
            .map_err(|s| ApiError::new(s, too_large(), None))?;
        let is_form = ct
            .as_deref()
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        let parsed = if is_form {
            serde_urlencoded::from_bytes::<T>(&bytes).map_err(ApiError::bad_body)
        } else {
            if bytes.is_empty() {
                return Err(ApiError::bad_body("Request body is empty"));
            }
            serde_json::from_slice::<T>(&bytes).map_err(ApiError::bad_body)
        }?;
        Ok(Self(parsed))
    }
}

/// Parameters of `/oauth/token` and `/oauth/revoke`, from a JSON or form body. JSON `null`
/// means absent, because auth0-python sends `"realm": null` and friends.
pub struct OAuthParams(pub Map<String, Value>);

impl OAuthParams {
    /// A non-empty string parameter, or `None`. A non-string value is a client error.
    pub fn get(&self, key: &str) -> Result<Option<String>, OAuthError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(OAuthError::invalid_request(format!(
                "Parameter {key} must be a string"
            ))),
        }
    }
    pub fn require(&self, key: &str) -> Result<String, OAuthError> {
        self.get(key)?.ok_or_else(|| {
            OAuthError::invalid_request(format!("Missing required parameter: {key}"))
        })
    }
}

impl<S: Send + Sync> FromRequest<S> for OAuthParams {
    type Rejection = OAuthError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let (ct, bytes) = read_body(req)
            .await
            .map_err(|s| OAuthError::new(s, "invalid_request", too_large()))?;
        let ct = ct.unwrap_or_default();
        if ct.starts_with("application/json") {
            let v: Value = serde_json::from_slice(&bytes)
                .map_err(|_| OAuthError::invalid_request("The request body is not valid JSON"))?;
            match v {
                Value::Object(m) => Ok(Self(m)),
                _ => Err(OAuthError::invalid_request(
                    "The request body must be a JSON object",
                )),
            }
        } else if ct.starts_with("application/x-www-form-urlencoded")
            || (ct.is_empty() && !bytes.is_empty())
        {
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_bytes(&bytes).map_err(|_| {
                    OAuthError::invalid_request("The request body is not valid form data")
                })?;
            let mut m = Map::new();
            for (k, v) in pairs {
                if m.contains_key(&k) {
                    return Err(OAuthError::invalid_request(format!(
                        "Parameter {k} is repeated"
                    )));
                }
                m.insert(k, Value::String(v));
            }
            Ok(Self(m))
        } else if bytes.is_empty() {
            Ok(Self(Map::new()))
        } else {
            Err(OAuthError::invalid_request(
                "Content-Type must be application/json or application/x-www-form-urlencoded",
            ))
        }
    }
}

/// Where the request came from, for the tenant log.
pub struct Meta(pub RequestMeta);

impl<S: Send + Sync> FromRequestParts<S> for Meta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(256).collect());
        Ok(Self(RequestMeta { ip, user_agent }))
    }
}
