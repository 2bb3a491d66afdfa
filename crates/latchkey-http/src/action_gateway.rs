//! The Management API as Actions see it (`require("auth0").ManagementClient`). Each call earns
//! a client-credentials token with the action's client id and secret (so the client's real
//! grant and scopes apply, and the exchange is logged like any other), then goes through the
//! Management API router in process: every check, shape and error is the API's own.

use crate::AppState;
use axum::body::Body;
use axum::http::{Method, Request, header};
use latchkey_core::ErrorCode;
use latchkey_core::Services;
use latchkey_core::actions::{HostCallError, ManagementCall};
use latchkey_core::audit::RequestMeta;
use latchkey_core::domain::Scope;
use latchkey_core::services::{ClientAuth, ManagementGateway, TokenRequest};
use secrecy::ExposeSecret;
use serde_json::Value;
use std::sync::{Arc, Weak};
use tower::ServiceExt;

/// Holds the services weakly: they hold this gateway.
pub struct InProcessManagementApi {
    services: Weak<Services>,
    theme: Arc<crate::pages::PageTheme>,
}

impl InProcessManagementApi {
    pub fn new(services: &Arc<Services>, theme: Arc<crate::pages::PageTheme>) -> Self {
        Self {
            services: Arc::downgrade(services),
            theme,
        }
    }
}

/// `error` is Auth0's code (`ErrorCode`) or, like node-auth0's errors, the status's reason phrase.
fn failure(status: u16, error: &str, message: impl Into<String>) -> HostCallError {
    HostCallError {
        status,
        error: error.to_owned(),
        message: message.into(),
    }
}

/// The `id` (or `user_id`) field of the SDK's first argument.
fn id_of(args: &[Value]) -> Result<String, HostCallError> {
    let first = args.first().unwrap_or(&Value::Null);
    first
        .get("id")
        .or_else(|| first.get("user_id"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| failure(400, "Bad Request", "Missing required parameter: id"))
}

fn component(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The query string of a list call's parameters object.
fn query_of(params: Option<&Value>) -> String {
    let Some(Value::Object(m)) = params else {
        return String::new();
    };
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in m {
        match v {
            Value::Null => {}
            Value::String(s) => {
                q.append_pair(k, s);
            }
            other => {
                q.append_pair(k, &other.to_string());
            }
        }
    }
    q.finish()
}

/// The HTTP request behind an SDK method (node-auth0 v2–v5 names).
fn route(method: &str, args: &[Value]) -> Result<(Method, String, Option<Value>), HostCallError> {
    Ok(match method {
        "createPasswordChangeTicket" | "tickets.changePassword" => (
            Method::POST,
            "/tickets/password-change".into(),
            Some(
                args.first()
                    .cloned()
                    .unwrap_or_else(|| Value::Object(Default::default())),
            ),
        ),
        "getUser" | "users.get" => (
            Method::GET,
            format!("/users/{}", component(&id_of(args)?)),
            None,
        ),
        "getUsers" | "users.getAll" | "users.list" => (
            Method::GET,
            format!("/users?{}", query_of(args.first())),
            None,
        ),
        "updateUser" | "users.update" => (
            Method::PATCH,
            format!("/users/{}", component(&id_of(args)?)),
            Some(
                args.get(1)
                    .cloned()
                    .unwrap_or_else(|| Value::Object(Default::default())),
            ),
        ),
        "getUsersByEmail" | "usersByEmail.getByEmail" => {
            let email = match args.first() {
                Some(Value::String(e)) => e.clone(),
                Some(v) => v
                    .get("email")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                None => String::new(),
            };
            (
                Method::GET,
                format!("/users-by-email?email={}", component(&email)),
                None,
            )
        }
        other => {
            return Err(failure(
                501,
                "Not Implemented",
                format!("ManagementClient.{other} is not available to actions in Latchkey"),
            ));
        }
    })
}

#[async_trait::async_trait]
impl ManagementGateway for InProcessManagementApi {
    async fn call(&self, call: ManagementCall) -> Result<Value, HostCallError> {
        let services = self
            .services
            .upgrade()
            .ok_or_else(|| failure(503, "Service Unavailable", "The server is stopping"))?;
        let (method, path, body) = route(&call.method, &call.args)?;
        let token = services
            .login
            .exchange_token(
                ClientAuth {
                    client_id: Some(call.client_id.clone()),
                    client_secret: Some(call.client_secret),
                },
                TokenRequest::ClientCredentials {
                    audience: Some(services.config().management_audience()),
                    scope: call.scope.as_deref().map(Scope::parse),
                },
                &RequestMeta::default(),
            )
            .await
            .map_err(|e| {
                let (status, error) = match &e {
                    latchkey_core::ServiceError::InvalidClient(_) => (401, ErrorCode::AccessDenied),
                    latchkey_core::ServiceError::Unexpected(_) => (500, ErrorCode::ServerError),
                    _ => (403, ErrorCode::AccessDenied),
                };
                failure(status, error.as_str(), e.to_string())
            })?;
        let mut request = Request::builder().method(method).uri(path).header(
            header::AUTHORIZATION,
            format!("Bearer {}", token.access_token.expose_secret()),
        );
        let body = match body {
            Some(b) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        let request = request
            .body(body)
            .map_err(|e| failure(400, "Bad Request", e.to_string()))?;
        let state = AppState {
            services,
            theme: self.theme.clone(),
        };
        let router = crate::mgmt::router().into_router().with_state(state);
        let response = router
            .oneshot(request)
            .await
            .map_err(|never| match never {})?;
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), 4 * 1024 * 1024)
            .await
            .map_err(|e| failure(500, ErrorCode::ServerError.as_str(), e.to_string()))?;
        let value: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::Null)
        };
        if status >= 400 {
            return Err(HostCallError {
                status,
                error: value
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("error")
                    .to_owned(),
                message: value
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("The Management API refused the call")
                    .to_owned(),
            });
        }
        Ok(value)
    }
}
