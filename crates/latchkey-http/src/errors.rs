//! The HTTP error dialects, as separate types: `OAuthError` for the Authentication API
//! (`{"error","error_description"}`) and `ApiError` for the Management API
//! (`{"statusCode","error","message","errorCode"}`). Internal error text never reaches a body.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_core::password::PolicyViolation;
use latchkey_core::{ErrorCode, ServiceError};
use serde_json::{Value, json};

/// Auth0's body for a password the connection's policy refuses (Authentication API: sign-up,
/// reset page). Lock, auth0-js and Auth0.Android read `name`, `code` and `description.rules`.
fn policy_error_body(v: &PolicyViolation) -> Value {
    json!({
        "name": v.name.as_str(),
        "message": v.name.message(),
        "code": ErrorCode::InvalidPassword,
        "description": v.description(),
        "policy": v.policy_text,
        "statusCode": 400,
    })
}

#[derive(Debug)]
pub struct OAuthError {
    pub status: StatusCode,
    pub body: Value,
    /// `Retry-After` (seconds) on a 503.
    pub retry_after: Option<u64>,
}

impl OAuthError {
    pub fn new(status: StatusCode, error: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            status,
            body: json!({"error": error, "error_description": description.into()}),
            retry_after: None,
        }
    }
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            description,
        )
    }
}

impl From<ServiceError> for OAuthError {
    fn from(e: ServiceError) -> Self {
        use StatusCode as S;
        match e {
            ServiceError::Invalid(p) => Self::invalid_request(p.to_string()),
            ServiceError::BadRequest { code, message } => Self::new(S::BAD_REQUEST, code, message),
            ServiceError::NotFound { message, .. } => {
                Self::new(S::NOT_FOUND, ErrorCode::NotFound, message)
            }
            ServiceError::Conflict { code, message } => Self::new(S::CONFLICT, code, message),
            ServiceError::PasswordPolicy(v) => Self {
                status: S::BAD_REQUEST,
                body: policy_error_body(&v),
                retry_after: None,
            },
            ServiceError::WrongCredentials => Self::new(
                S::FORBIDDEN,
                ErrorCode::InvalidGrant,
                "Wrong email or password.",
            ),
            ServiceError::UserBlocked => {
                Self::new(S::UNAUTHORIZED, ErrorCode::Unauthorized, "user is blocked")
            }
            ServiceError::InvalidClient(m) => {
                Self::new(S::UNAUTHORIZED, ErrorCode::InvalidClient, m)
            }
            ServiceError::UnauthorizedClient(m) => {
                Self::new(S::FORBIDDEN, ErrorCode::UnauthorizedClient, m)
            }
            ServiceError::AccessDenied(m) => Self::new(S::FORBIDDEN, ErrorCode::AccessDenied, m),
            ServiceError::InvalidGrant(m) => Self::new(S::FORBIDDEN, ErrorCode::InvalidGrant, m),
            ServiceError::InvalidScope(m) => Self::new(S::FORBIDDEN, ErrorCode::InvalidScope, m),
            ServiceError::TooManyRequests(m) => {
                Self::new(S::TOO_MANY_REQUESTS, ErrorCode::TooManyRequests, m)
            }
            ServiceError::TooManyAttempts => Self::new(
                S::TOO_MANY_REQUESTS,
                ErrorCode::TooManyAttempts,
                e.to_string(),
            ),
            ServiceError::PasswordLeaked { .. } => {
                Self::new(S::FORBIDDEN, ErrorCode::PasswordLeaked, e.to_string())
            }
            ServiceError::SuspiciousIp => Self::new(
                S::TOO_MANY_REQUESTS,
                ErrorCode::TooManyAttempts,
                e.to_string(),
            ),
            ServiceError::MfaRequired { mfa_token, enroll } => Self {
                status: S::FORBIDDEN,
                body: json!({"error": ErrorCode::MfaRequired,
                "error_description": "Multifactor authentication required",
                "mfa_token": secrecy::ExposeSecret::expose_secret(&mfa_token),
                "mfa_requirements": if enroll {
                    json!({"enroll": [{"type": "otp"}]})
                } else {
                    json!({"challenge": [{"type": "otp"}]})
                }}),
                retry_after: None,
            },
            busy @ (ServiceError::Overloaded { .. } | ServiceError::Unavailable(_)) => {
                let (message, secs) = unavailable(&busy);
                let mut e = Self::new(
                    S::SERVICE_UNAVAILABLE,
                    ErrorCode::TemporarilyUnavailable,
                    message,
                );
                e.retry_after = Some(secs);
                e
            }
            ServiceError::Unexpected(e) => {
                tracing::error!(error = ?e, "unexpected error");
                Self::new(
                    S::INTERNAL_SERVER_ERROR,
                    ErrorCode::ServerError,
                    "Internal server error",
                )
            }
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut res = (self.status, Json(self.body)).into_response();
        let h = res.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        retry_after(h, self.retry_after);
        if self.status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"latchkey\""),
            );
        }
        res
    }
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub error_code: Option<ErrorCode>,
    pub attributes: Option<Value>,
    /// `Retry-After` (seconds) on a 503.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        message: impl Into<String>,
        error_code: Option<ErrorCode>,
    ) -> Self {
        Self {
            status,
            message: message.into(),
            error_code,
            attributes: None,
            retry_after: None,
        }
    }
    pub fn bad_body(detail: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            format!("Payload validation error: '{detail}'."),
            Some(ErrorCode::InvalidBody),
        )
    }
    pub fn bad_query(detail: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            format!("Query validation error: '{detail}'."),
            Some(ErrorCode::InvalidQueryString),
        )
    }
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not Found", None)
    }
    pub fn unauthorized(message: &str) -> Self {
        let mut e = Self::new(StatusCode::UNAUTHORIZED, message, None);
        if message != "Missing authentication" {
            e.attributes = Some(json!({"error": message}));
        }
        e
    }
    pub fn insufficient_scope(expected: &[&str]) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            format!(
                "Insufficient scope, expected any of: {}",
                expected.join(",")
            ),
            Some(ErrorCode::InsufficientScope),
        )
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        use StatusCode as S;
        match e {
            ServiceError::Invalid(p) => Self::bad_body(p),
            ServiceError::BadRequest { code, message } => {
                Self::new(S::BAD_REQUEST, message, Some(code))
            }
            ServiceError::NotFound { code, message } => {
                Self::new(S::NOT_FOUND, message, Some(code))
            }
            ServiceError::Conflict { code, message } => Self::new(S::CONFLICT, message, Some(code)),
            ServiceError::PasswordPolicy(v) => Self::new(
                S::BAD_REQUEST,
                format!("{}: {}", v.name.as_str(), v.name.message()),
                None,
            ),
            ServiceError::WrongCredentials
            | ServiceError::UserBlocked
            | ServiceError::InvalidClient(_)
            | ServiceError::UnauthorizedClient(_)
            | ServiceError::AccessDenied(_)
            | ServiceError::InvalidGrant(_)
            | ServiceError::InvalidScope(_) => {
                Self::new(S::FORBIDDEN, e.to_string(), Some(ErrorCode::AccessDenied))
            }
            ServiceError::TooManyRequests(m) => {
                Self::new(S::TOO_MANY_REQUESTS, m, Some(ErrorCode::TooManyRequests))
            }
            ServiceError::TooManyAttempts => Self::new(
                S::TOO_MANY_REQUESTS,
                e.to_string(),
                Some(ErrorCode::TooManyAttempts),
            ),
            ServiceError::PasswordLeaked { .. } => {
                Self::new(S::FORBIDDEN, e.to_string(), Some(ErrorCode::PasswordLeaked))
            }
            ServiceError::SuspiciousIp => Self::new(
                S::TOO_MANY_REQUESTS,
                e.to_string(),
                Some(ErrorCode::TooManyAttempts),
            ),
            ServiceError::MfaRequired { .. } => {
                Self::new(S::FORBIDDEN, e.to_string(), Some(ErrorCode::MfaRequired))
            }
            busy @ (ServiceError::Overloaded { .. } | ServiceError::Unavailable(_)) => {
                let (message, secs) = unavailable(&busy);
                let mut e = Self::new(
                    S::SERVICE_UNAVAILABLE,
                    message,
                    Some(ErrorCode::TemporarilyUnavailable),
                );
                e.retry_after = Some(secs);
                e
            }
            ServiceError::Unexpected(e) => {
                tracing::error!(error = ?e, "unexpected error");
                Self::new(S::INTERNAL_SERVER_ERROR, "Internal Server Error", None)
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let reason = self.status.canonical_reason().unwrap_or("Error");
        let mut body =
            json!({"statusCode": self.status.as_u16(), "error": reason, "message": self.message});
        if let Value::Object(m) = &mut body {
            if let Some(code) = self.error_code {
                m.insert("errorCode".into(), Value::String(code.as_str().to_owned()));
            }
            if let Some(a) = self.attributes {
                m.insert("attributes".into(), a);
            }
        }
        let mut res = (self.status, Json(body)).into_response();
        retry_after(res.headers_mut(), self.retry_after);
        res
    }
}

/// The `/dbconnections/*` dialect: `{"name","code","description","statusCode"}`.
#[derive(Debug)]
pub struct DbConnError {
    pub status: StatusCode,
    pub body: Value,
    /// `Retry-After` (seconds) on a 503.
    pub retry_after: Option<u64>,
}

impl DbConnError {
    pub fn new(status: StatusCode, code: ErrorCode, description: impl Into<String>) -> Self {
        let name = match status {
            StatusCode::BAD_REQUEST => "BadRequestError",
            StatusCode::UNAUTHORIZED => "UnauthorizedError",
            StatusCode::FORBIDDEN => "ForbiddenError",
            StatusCode::NOT_FOUND => "NotFoundError",
            StatusCode::TOO_MANY_REQUESTS => "TooManyRequestsError",
            StatusCode::PAYLOAD_TOO_LARGE => "PayloadTooLargeError",
            StatusCode::SERVICE_UNAVAILABLE => "ServiceUnavailableError",
            _ => "InternalServerError",
        };
        Self {
            status,
            body: json!({"name": name, "code": code, "description": description.into(), "statusCode": status.as_u16()}),
            retry_after: None,
        }
    }
}

impl From<crate::extract::ParamError> for DbConnError {
    fn from(e: crate::extract::ParamError) -> Self {
        Self::new(e.status, ErrorCode::InvalidBody, e.message)
    }
}

impl From<ServiceError> for DbConnError {
    fn from(e: ServiceError) -> Self {
        use StatusCode as S;
        match e {
            ServiceError::Invalid(p) => {
                Self::new(S::BAD_REQUEST, ErrorCode::InvalidBody, p.to_string())
            }
            ServiceError::BadRequest { code, message } => Self::new(S::BAD_REQUEST, code, message),
            ServiceError::NotFound { code, message } => Self::new(S::NOT_FOUND, code, message),
            ServiceError::Conflict { code, message } => Self::new(S::BAD_REQUEST, code, message),
            ServiceError::PasswordPolicy(v) => Self {
                status: S::BAD_REQUEST,
                body: policy_error_body(&v),
                retry_after: None,
            },
            ServiceError::UnauthorizedClient(m) | ServiceError::AccessDenied(m) => {
                Self::new(S::FORBIDDEN, ErrorCode::Unauthorized, m)
            }
            ServiceError::InvalidClient(m) => {
                Self::new(S::UNAUTHORIZED, ErrorCode::InvalidClient, m)
            }
            ServiceError::WrongCredentials
            | ServiceError::UserBlocked
            | ServiceError::InvalidGrant(_)
            | ServiceError::InvalidScope(_) => {
                Self::new(S::BAD_REQUEST, ErrorCode::InvalidRequest, e.to_string())
            }
            ServiceError::TooManyAttempts => Self::new(
                S::TOO_MANY_REQUESTS,
                ErrorCode::TooManyAttempts,
                e.to_string(),
            ),
            ServiceError::PasswordLeaked { .. } => {
                Self::new(S::FORBIDDEN, ErrorCode::PasswordLeaked, e.to_string())
            }
            ServiceError::SuspiciousIp => Self::new(
                S::TOO_MANY_REQUESTS,
                ErrorCode::TooManyAttempts,
                e.to_string(),
            ),
            ServiceError::MfaRequired { .. } => {
                Self::new(S::FORBIDDEN, ErrorCode::MfaRequired, e.to_string())
            }
            ServiceError::TooManyRequests(m) => {
                // Lock and auth0-js read `code`; the Authentication API's generic 429 body has
                // `error`: carry both.
                let mut e = Self::new(S::TOO_MANY_REQUESTS, ErrorCode::TooManyRequests, m.clone());
                if let Value::Object(b) = &mut e.body {
                    b.insert("error".into(), json!(ErrorCode::TooManyRequests));
                    b.insert("error_description".into(), json!(m));
                }
                e
            }
            busy @ (ServiceError::Overloaded { .. } | ServiceError::Unavailable(_)) => {
                let (message, secs) = unavailable(&busy);
                let mut e = Self::new(
                    S::SERVICE_UNAVAILABLE,
                    ErrorCode::TemporarilyUnavailable,
                    message,
                );
                e.retry_after = Some(secs);
                e
            }
            ServiceError::Unexpected(e) => {
                tracing::error!(error = ?e, "unexpected error");
                Self::new(
                    S::INTERNAL_SERVER_ERROR,
                    ErrorCode::InternalError,
                    "Internal server error",
                )
            }
        }
    }
}

impl IntoResponse for DbConnError {
    fn into_response(self) -> Response {
        let mut res = (self.status, Json(self.body)).into_response();
        retry_after(res.headers_mut(), self.retry_after);
        res
    }
}

/// What a 503 for an unreachable store says on every surface; the cause is logged, never sent.
pub const UNAVAILABLE_MESSAGE: &str =
    "The service is temporarily unavailable. Retry the request later.";

/// Seconds a client should wait before retrying while the store is unreachable.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 5;

/// A 503's message and `Retry-After` seconds: the server at capacity, or the store away (its
/// cause logged here, once, and never sent).
fn unavailable(e: &ServiceError) -> (String, u64) {
    match e {
        ServiceError::Overloaded { retry_after_secs } => (e.to_string(), *retry_after_secs),
        ServiceError::Unavailable(cause) => {
            tracing::warn!(error = %cause, "store unavailable");
            (UNAVAILABLE_MESSAGE.to_owned(), UNAVAILABLE_RETRY_AFTER_SECS)
        }
        _ => (UNAVAILABLE_MESSAGE.to_owned(), UNAVAILABLE_RETRY_AFTER_SECS),
    }
}

/// `Retry-After: secs` when the error carries one (a 503 of an overloaded server).
pub fn retry_after(headers: &mut axum::http::HeaderMap, secs: Option<u64>) {
    if let Some(secs) = secs {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
}
