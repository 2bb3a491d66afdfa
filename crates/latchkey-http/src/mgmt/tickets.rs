use super::Principal;
use crate::AppState;
use crate::api_router::ApiRouter;
use crate::errors::ApiError;
use crate::extract::ApiBody;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use latchkey_core::ErrorCode;
use latchkey_core::ServiceError;
use latchkey_core::domain::{ConnectionId, Email, UserId};
use latchkey_core::services::{NewPasswordTicket, NewVerificationTicket, VerificationIdentity};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> ApiRouter {
    // A ticket is a credential: no cache may keep it.
    ApiRouter::new()
        .route("/tickets/password-change", post(create_password_change))
        .route(
            "/tickets/email-verification",
            post(create_email_verification),
        )
        .map(|r| r.layer(crate::no_store()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Identity {
    user_id: String,
    provider: String,
    connection_id: Option<String>,
}

/// OAS `ChangePasswordTicketRequestContent` (additionalProperties: false). The SDKs send
/// `null` for arguments they were not given, so every field is nullable.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TicketBody {
    result_url: Option<String>,
    user_id: Option<String>,
    client_id: Option<String>,
    organization_id: Option<String>,
    connection_id: Option<String>,
    email: Option<String>,
    ttl_sec: Option<i64>,
    mark_email_as_verified: Option<bool>,
    #[serde(rename = "includeEmailInRedirect")]
    include_email_in_redirect: Option<bool>,
    identity: Option<Identity>,
}

async fn create_password_change(
    State(state): State<AppState>,
    p: Principal,
    body: ApiBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    p.require(&["create:user_tickets"])?;
    let body: TicketBody = body.parse()?;
    if body.organization_id.is_some() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "The organization does not exist",
            Some(ErrorCode::InvalidBody),
        ));
    }
    let user_id = body
        .user_id
        .as_deref()
        .map(UserId::parse)
        .transpose()
        .map_err(ServiceError::from)?;
    if let Some(identity) = &body.identity {
        let matches = user_id.as_ref().is_some_and(|u| {
            identity.provider == u.provider()
                && (identity.user_id == u.bare() || identity.user_id == u.as_str())
        });
        if !matches || identity.connection_id.as_deref().is_some_and(str::is_empty) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "The user exists, but does not contain the given identity.",
                Some(ErrorCode::InvalidBody),
            ));
        }
    }
    let request = NewPasswordTicket {
        user_id,
        connection_id: body
            .connection_id
            .as_deref()
            .map(ConnectionId::parse)
            .transpose()
            .map_err(ServiceError::from)?,
        email: body
            .email
            .as_deref()
            .map(Email::parse)
            .transpose()
            .map_err(ServiceError::from)?,
        client_id: body.client_id,
        result_url: body.result_url,
        ttl_sec: body.ttl_sec,
        mark_email_as_verified: body.mark_email_as_verified.unwrap_or(false),
        include_email_in_redirect: body.include_email_in_redirect.unwrap_or(false),
    };
    let ticket = state
        .services
        .credentials
        .create_password_ticket(request, &p.caller())
        .await?;
    Ok((StatusCode::CREATED, Json(json!({"ticket": ticket}))))
}

/// Auth0's `identity` on verification requests: `{user_id, provider}`, both required.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VerificationIdentityBody {
    user_id: String,
    provider: String,
}

impl VerificationIdentityBody {
    pub(crate) fn into_domain(self) -> Result<VerificationIdentity, ApiError> {
        if self.user_id.is_empty() || self.provider.is_empty() {
            return Err(ApiError::bad_body(
                "identity.user_id and identity.provider must not be empty",
            ));
        }
        Ok(VerificationIdentity {
            user_id: self.user_id,
            provider: self.provider,
        })
    }
}

/// Organizations do not exist in Latchkey: a request naming one is refused, not half-honoured.
pub(crate) fn refuse_organization(organization_id: Option<&str>) -> Result<(), ApiError> {
    match organization_id {
        None => Ok(()),
        Some(_) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "Organizations are not supported: organization_id cannot be used.",
            Some(ErrorCode::InvalidBody),
        )),
    }
}

/// OAS `VerifyEmailTicketRequestContent` (additionalProperties: false); nullable fields, as
/// the SDKs send `null` for arguments they were not given.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerificationTicketBody {
    user_id: Option<String>,
    result_url: Option<String>,
    client_id: Option<String>,
    organization_id: Option<String>,
    ttl_sec: Option<i64>,
    #[serde(rename = "includeEmailInRedirect")]
    include_email_in_redirect: Option<bool>,
    identity: Option<VerificationIdentityBody>,
}

async fn create_email_verification(
    State(state): State<AppState>,
    p: Principal,
    body: ApiBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    p.require(&["create:user_tickets"])?;
    let body: VerificationTicketBody = body.parse()?;
    refuse_organization(body.organization_id.as_deref())?;
    let request = NewVerificationTicket {
        user_id: body
            .user_id
            .as_deref()
            .map(UserId::parse)
            .transpose()
            .map_err(ServiceError::from)?,
        client_id: body.client_id,
        result_url: body.result_url,
        ttl_sec: body.ttl_sec,
        include_email_in_redirect: body.include_email_in_redirect.unwrap_or(false),
        identity: body
            .identity
            .map(VerificationIdentityBody::into_domain)
            .transpose()?,
    };
    let ticket = state
        .services
        .credentials
        .create_verification_ticket(request, &p.caller())
        .await?;
    Ok((StatusCode::CREATED, Json(json!({"ticket": ticket}))))
}
