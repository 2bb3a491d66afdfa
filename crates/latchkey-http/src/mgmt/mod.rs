//! Management API v2 (`/api/v2/*`): Bearer JWT from client credentials, per-route scopes,
//! Auth0's error shape and pagination forms.

mod actions;
mod attack_protection;
mod authenticators;
mod branding;
mod clients;
mod connections;
mod email_provider;
mod email_templates;
mod guardian;
mod jobs;
mod log_streams;
mod logs;
pub(crate) mod not_offered;
mod prompts;
mod resource_servers;
mod tenant;
mod tickets;
mod users;

use crate::AppState;
use crate::api_router::ApiRouter;
use crate::errors::ApiError;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use latchkey_core::services::{Caller, ManagementPrincipal};
use serde::Deserialize;
use serde_json::{Map, Value, json};

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .merge(users::router())
        .merge(actions::router())
        .merge(authenticators::router())
        .merge(connections::router())
        .merge(email_templates::router())
        .merge(email_provider::router())
        .merge(clients::router())
        .merge(tenant::router())
        .merge(logs::router())
        .merge(log_streams::router())
        .merge(guardian::router())
        .merge(tickets::router())
        .merge(jobs::router())
        .merge(resource_servers::router())
        .merge(prompts::router())
        .merge(branding::router())
        .merge(attack_protection::router())
        .merge(not_offered::router())
        .map(|r| r.fallback(|| async { ApiError::not_found() }))
}

/// An authenticated Management API caller.
pub struct Principal(
    pub ManagementPrincipal,
    pub latchkey_core::audit::RequestMeta,
);

/// Auth0's `*:current_user*` scopes reach only the token's own subject.
fn is_current_user_scope(scope: &str) -> bool {
    scope.contains(":current_user")
}

impl Principal {
    /// Refuses with 403 unless the token holds one of `scopes`. `*:current_user*` scopes never
    /// count here: routes that accept them for the caller's own user use `require_for_user`.
    pub fn require(&self, scopes: &[&str]) -> Result<(), ApiError> {
        let general: Vec<&str> = scopes
            .iter()
            .copied()
            .filter(|s| !is_current_user_scope(s))
            .collect();
        if self.0.has_any(&general) {
            Ok(())
        } else {
            Err(ApiError::insufficient_scope(scopes))
        }
    }

    /// Like `require`, but a `*:current_user*` scope among `scopes` also passes when `user_id`
    /// is the token's own subject (a client-credentials token's subject is `…@clients`, never
    /// a user).
    pub fn require_for_user(&self, scopes: &[&str], user_id: &str) -> Result<(), ApiError> {
        let own: Vec<&str> = scopes
            .iter()
            .copied()
            .filter(|s| is_current_user_scope(s))
            .collect();
        if self.require(scopes).is_ok()
            || (!user_id.is_empty() && self.0.subject == user_id && self.0.has_any(&own))
        {
            Ok(())
        } else {
            Err(ApiError::insufficient_scope(scopes))
        }
    }
    pub fn caller(&self) -> Caller {
        Caller::api(&self.0.client_id, self.1.clone())
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if !parts.headers.contains_key(header::AUTHORIZATION) {
            return Err(ApiError::unauthorized("Missing authentication"));
        }
        let token = crate::extract::bearer_token(&parts.headers)
            .ok_or_else(|| ApiError::unauthorized("Bad HTTP authentication header format"))?;
        let principal = state
            .services
            .tenant
            .authenticate_management(token)
            .await
            .map_err(|e| ApiError::unauthorized(&e.to_string()))?;
        let crate::extract::Meta(meta) = crate::extract::Meta::from_request_parts(parts, state)
            .await
            .unwrap_or_else(|never| match never {});
        Ok(Self(principal, meta))
    }
}

/// `fields` / `include_fields`: which properties of each object to return.
#[derive(Debug, Deserialize, Default)]
pub struct FieldsQuery {
    pub fields: Option<String>,
    pub include_fields: Option<String>,
}

impl FieldsQuery {
    pub fn apply(&self, v: Value) -> Result<Value, ApiError> {
        let Some(fields) = self.fields.as_deref().filter(|f| !f.is_empty()) else {
            return Ok(v);
        };
        let include = parse_bool("include_fields", self.include_fields.as_deref())?.unwrap_or(true);
        let wanted: Vec<&str> = fields.split(',').map(str::trim).collect();
        Ok(match v {
            Value::Object(m) => Value::Object(
                m.into_iter()
                    .filter(|(k, _)| wanted.contains(&k.as_str()) == include)
                    .collect::<Map<String, Value>>(),
            ),
            other => other,
        })
    }
}

pub fn parse_bool(name: &str, v: Option<&str>) -> Result<Option<bool>, ApiError> {
    match v {
        None | Some("") => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(_) => Err(ApiError::bad_query(format!("{name} must be true or false"))),
    }
}

/// Auth0's `page` / `per_page` / `include_totals` query parameters.
#[derive(Debug, Deserialize, Default)]
pub struct PageQuery {
    pub page: Option<String>,
    pub per_page: Option<String>,
    pub include_totals: Option<String>,
}

/// Parsed paging: `per_page` is 1 to 100 (default 50).
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    pub page: u32,
    pub per_page: u32,
    pub include_totals: bool,
}

impl PageQuery {
    pub fn paging(&self) -> Result<Paging, ApiError> {
        let page = match self.page.as_deref() {
            None | Some("") => 0,
            Some(p) => p
                .parse::<u32>()
                .map_err(|_| ApiError::bad_query("page must be a non-negative integer"))?,
        };
        let per_page = match self.per_page.as_deref() {
            None | Some("") => 50,
            Some(p) => match p.parse::<u32>() {
                Ok(n) if (1..=100).contains(&n) => n,
                _ => {
                    return Err(ApiError::bad_query(
                        "per_page must be an integer between 1 and 100",
                    ));
                }
            },
        };
        let include_totals =
            parse_bool("include_totals", self.include_totals.as_deref())?.unwrap_or(false);
        Ok(Paging {
            page,
            per_page,
            include_totals,
        })
    }
}

impl Paging {
    /// A list in Auth0's two forms: the bare array, or `{start, limit, length, total, <key>: […]}`.
    pub fn wrap(&self, key: &str, items: Vec<Value>, total: u64) -> Value {
        if self.include_totals {
            json!({"start": u64::from(self.page) * u64::from(self.per_page), "limit": self.per_page, "length": items.len(),
                   "total": total, key: items})
        } else {
            Value::Array(items)
        }
    }

    /// This page of an in-memory list (small collections: clients, connections).
    pub fn slice<T>(&self, items: Vec<T>) -> Vec<T> {
        items
            .into_iter()
            .skip((self.page as usize).saturating_mul(self.per_page as usize))
            .take(self.per_page as usize)
            .collect()
    }
}

/// `#[serde(default, with = "nullable")]` on an `Option<Option<T>>`: absent stays `None`,
/// `null` becomes `Some(None)` (clear the field), a value becomes `Some(Some(v))`.
pub mod nullable {
    use serde::{Deserialize, Deserializer};
    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}
