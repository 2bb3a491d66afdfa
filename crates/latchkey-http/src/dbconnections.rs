//! `/dbconnections/*`: the database-connection endpoints of the Authentication API.

use crate::AppState;
use crate::api_router::ApiRouter;
use crate::errors::DbConnError;
use crate::extract::{DbParams, Meta};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use latchkey_core::ErrorCode;
use latchkey_core::ServiceError;
use latchkey_core::domain::{Email, Password, Profile};
use latchkey_core::ratelimit::RateDecision;
use latchkey_core::services::{Caller, NewUser, PasswordResetRequest};
use serde_json::{Map, Value, json};

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .route("/dbconnections/signup", post(signup))
        .route("/dbconnections/change_password", post(change_password))
}

/// The success body every SDK reads as text (spec §2): unquoted, `text/html`.
const RESET_MAIL_SENT: &str = "We've just sent you an email to reset your password.";

/// `X-RateLimit-Limit/-Remaining/-Reset` (epoch seconds), on every answer of a limited endpoint.
pub(crate) fn rate_limit_headers(rate: &RateDecision) -> [(HeaderName, HeaderValue); 3] {
    [
        (
            HeaderName::from_static("x-ratelimit-limit"),
            HeaderValue::from(rate.limit),
        ),
        (
            HeaderName::from_static("x-ratelimit-remaining"),
            HeaderValue::from(rate.remaining),
        ),
        (
            HeaderName::from_static("x-ratelimit-reset"),
            HeaderValue::from(rate.reset_epoch_secs),
        ),
    ]
}

/// "Forgot password": `client_id`, `email` (or `username`), `connection`; `password` only with
/// flow v1. The same answer, in the same time, whether or not the address is registered.
async fn change_password(
    State(state): State<AppState>,
    Meta(meta): Meta,
    params: DbParams,
) -> Response {
    let parsed = (|| -> Result<PasswordResetRequest, DbConnError> {
        let email = match params.get("email")? {
            Some(e) => e,
            None => params.get("username")?.ok_or_else(|| {
                DbConnError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::InvalidBody,
                    "Missing required property: email",
                )
            })?,
        };
        // Auth0 marks `client_id` required: the mail names the application.
        let client_id = params.get("client_id")?.ok_or_else(|| {
            DbConnError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidBody,
                "Missing required property: client_id",
            )
        })?;
        Ok(PasswordResetRequest {
            client_id: Some(client_id),
            connection: params.require("connection")?,
            email: Email::parse(email.trim()).map_err(ServiceError::from)?,
            password: params
                .get("password")?
                .map(Password::parse)
                .transpose()
                .map_err(ServiceError::from)?,
        })
    })();
    let request = match parsed {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let answer = state
        .services
        .credentials
        .request_password_reset(request, &Caller::end_user(meta))
        .await;
    let headers = rate_limit_headers(&answer.rate);
    match answer.result {
        Ok(()) => (
            headers,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            RESET_MAIL_SENT,
        )
            .into_response(),
        Err(ServiceError::BadRequest {
            code: code @ ErrorCode::InvalidRequest,
            message,
        }) => {
            // Auth0's legacy answer to `password` without flow v1 is OAuth-shaped; carry both.
            let mut e = DbConnError::new(StatusCode::BAD_REQUEST, code, message.clone());
            if let Value::Object(b) = &mut e.body {
                b.insert("error".into(), json!(code));
                b.insert("error_description".into(), json!(message));
            }
            (headers, e).into_response()
        }
        Err(e) => (headers, DbConnError::from(e)).into_response(),
    }
}

/// Sign-up: `client_id`, `email`, `password`, `connection` (required), `username`, profile
/// fields and `user_metadata`. Other keys (auth0-js forwards `captcha`, `state`…) are ignored.
async fn signup(
    State(state): State<AppState>,
    Meta(meta): Meta,
    params: DbParams,
) -> Result<Json<Value>, DbConnError> {
    let client_id = params.require("client_id")?;
    let email = Email::parse(&params.require("email")?).map_err(ServiceError::from)?;
    let password = Password::parse(params.require("password")?).map_err(ServiceError::from)?;
    let new = NewUser {
        connection: params.require("connection")?,
        email: Some(email),
        email_verified: false,
        username: params.get("username")?,
        password: Some(password),
        user_id: None,
        profile: Profile {
            name: params.get("name")?,
            nickname: params.get("nickname")?,
            given_name: params.get("given_name")?,
            family_name: params.get("family_name")?,
            picture: params.get("picture")?,
            phone_number: None,
            phone_verified: false,
        },
        user_metadata: params.object("user_metadata")?,
        app_metadata: Map::new(),
        blocked: false,
        // Auth0 sends the verification mail on sign-up (when the template is enabled).
        verify_email: true,
    };
    let user = state
        .services
        .login
        .signup(&client_id, new, &Caller::end_user(meta))
        .await?;
    let mut body = json!({"_id": user.user_id.bare(), "email_verified": user.email_verified, "email": user.email});
    if let Some(m) = body.as_object_mut() {
        for (k, v) in [
            ("username", &user.username),
            ("given_name", &user.profile.given_name),
            ("family_name", &user.profile.family_name),
            ("name", &user.profile.name),
            ("nickname", &user.profile.nickname),
            ("picture", &user.profile.picture),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), json!(v));
            }
        }
        if !user.user_metadata.is_empty() {
            m.insert(
                "user_metadata".into(),
                Value::Object(user.user_metadata.clone()),
            );
        }
    }
    Ok(Json(body))
}
