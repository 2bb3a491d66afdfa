//! Extractors that turn malformed input into the right dialect's 4xx instead of axum's
//! plain-text rejections.

use crate::errors::{ApiError, DbConnError, OAuthError};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use latchkey_core::ErrorCode;
use latchkey_core::audit::RequestMeta;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::marker::PhantomData;

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

/// A Management API query string: a malformed one (a repeated or badly encoded parameter) is
/// Auth0's 400 `invalid_query_string`, not axum's plain-text rejection.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        serde_urlencoded::from_str(parts.uri.query().unwrap_or(""))
            .map(Self)
            .map_err(ApiError::bad_query)
    }
}

/// A Management API body read but not parsed yet: the handler checks the caller's scopes first
/// (Auth0 answers 403 before it looks at the body), then calls `parse`.
pub struct ApiBody {
    content_type: Option<String>,
    bytes: Bytes,
}

impl<S: Send + Sync> FromRequest<S> for ApiBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let (content_type, bytes) = read_body(req)
            .await
            .map_err(|s| ApiError::new(s, too_large(), None))?;
        Ok(Self {
            content_type,
            bytes,
        })
    }
}

impl ApiBody {
    /// The body as JSON (or a form), with `ApiJson`'s errors.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        let is_form = self
            .content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        if is_form {
            serde_urlencoded::from_bytes::<T>(&self.bytes).map_err(ApiError::bad_body)
        } else {
            if self.bytes.is_empty() {
                return Err(ApiError::bad_body("Request body is empty"));
            }
            serde_json::from_slice::<T>(&self.bytes).map_err(ApiError::bad_body)
        }
    }
}

/// A Management API JSON body. Auth0 also accepts form bodies there; so do we.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        ApiBody::from_request(req, state).await?.parse().map(Self)
    }
}

/// A client mistake in a parameter body, in words fit for the wire; each dialect wraps it.
#[derive(Debug)]
pub struct ParamError {
    pub status: StatusCode,
    pub message: String,
}

impl ParamError {
    fn bad(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }
}

impl From<ParamError> for OAuthError {
    fn from(e: ParamError) -> Self {
        OAuthError::new(e.status, ErrorCode::InvalidRequest, e.message)
    }
}

/// Parameters from a JSON or form body, as the Authentication API takes them (`/oauth/*`,
/// `/dbconnections/*`). JSON `null` means absent, because auth0-python sends `"realm": null` and
/// friends. `E` is the error dialect of the surface.
pub struct Params<E>(pub Map<String, Value>, PhantomData<E>);

/// `/oauth/*` parameters: errors in the OAuth dialect.
pub type OAuthParams = Params<OAuthError>;
/// `/dbconnections/*` parameters: errors in the `/dbconnections` dialect.
pub type DbParams = Params<DbConnError>;

impl<E: From<ParamError>> Params<E> {
    /// A non-empty string parameter, or `None`. A non-string value is a client error.
    pub fn get(&self, key: &str) -> Result<Option<String>, E> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(ParamError::bad(format!("Parameter {key} must be a string")).into()),
        }
    }
    pub fn require(&self, key: &str) -> Result<String, E> {
        self.get(key)?
            .ok_or_else(|| ParamError::bad(format!("Missing required parameter: {key}")).into())
    }
    /// An object parameter (JSON bodies only), or an empty object when absent.
    pub fn object(&self, key: &str) -> Result<Map<String, Value>, E> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(Map::new()),
            Some(Value::Object(m)) => Ok(m.clone()),
            Some(_) => Err(ParamError::bad(format!("Parameter {key} must be an object")).into()),
        }
    }
}

async fn read_params(req: Request) -> Result<Map<String, Value>, ParamError> {
    let (ct, bytes) = read_body(req).await.map_err(|status| ParamError {
        status,
        message: too_large(),
    })?;
    let ct = ct.unwrap_or_default();
    if ct.starts_with("application/json") {
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err(ParamError::bad("The request body must be a JSON object")),
            Err(_) => Err(ParamError::bad("The request body is not valid JSON")),
        }
    } else if ct.starts_with("application/x-www-form-urlencoded")
        || (ct.is_empty() && !bytes.is_empty())
    {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| ParamError::bad("The request body is not valid form data"))?;
        let mut m = Map::new();
        for (k, v) in pairs {
            if m.contains_key(&k) {
                return Err(ParamError::bad(format!("Parameter {k} is repeated")));
            }
            m.insert(k, Value::String(v));
        }
        Ok(m)
    } else if bytes.is_empty() {
        Ok(Map::new())
    } else {
        Err(ParamError::bad(
            "Content-Type must be application/json or application/x-www-form-urlencoded",
        ))
    }
}

impl<S: Send + Sync, E: From<ParamError> + IntoResponse> FromRequest<S> for Params<E> {
    type Rejection = E;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(read_params(req).await?, PhantomData))
    }
}

/// Where the request came from, for the tenant log.
pub struct Meta(pub RequestMeta);

impl<S: Send + Sync> FromRequestParts<S> for Meta {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ip = crate::client_ip::of(&parts.extensions).map(|ip| ip.to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(256).collect());
        Ok(Self(RequestMeta { ip, user_agent }))
    }
}

/// The token of an `Authorization: Bearer …` header (either case of `Bearer`), if any.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}
