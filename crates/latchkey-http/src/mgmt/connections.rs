use super::{PageQuery, Principal};
use crate::AppState;
use crate::api_router::ApiRouter;
use crate::errors::ApiError;
use crate::extract::ApiBody;
use crate::extract::ApiQuery;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use latchkey_core::services::{ConnectionPatch, NewConnection};
use serde::Deserialize;
use serde_json::{Map, Value, json};

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .route("/connections", get(list).post(create))
        .route(
            "/connections/{id}",
            get(get_one).patch(update).delete(delete),
        )
        .route(
            "/connections/{id}/clients",
            get(enabled_clients).patch(set_enabled_clients),
        )
}

/// `GET /connections/{id}/clients`: the applications the connection is enabled for (Auth0's
/// checkpoint-paged shape, one page).
async fn enabled_clients(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    p.require(&["read:connections"])?;
    let connection = state.services.tenant.get_connection(&id).await?;
    let clients: Vec<Value> = connection
        .enabled_clients
        .iter()
        .map(|c| json!({"client_id": c}))
        .collect();
    Ok(Json(json!({"clients": clients})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnabledClientChange {
    client_id: String,
    status: bool,
}

/// `PATCH /connections/{id}/clients`: `[{client_id, status}]` enables or disables each.
async fn set_enabled_clients(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    body: ApiBody,
) -> Result<StatusCode, ApiError> {
    p.require(&["update:connections"])?;
    let changes: Vec<EnabledClientChange> = body.parse()?;
    let mut enabled: Vec<String> = state
        .services
        .tenant
        .get_connection(&id)
        .await?
        .enabled_clients
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect();
    for change in changes {
        enabled.retain(|c| *c != change.client_id);
        if change.status {
            enabled.push(change.client_id);
        }
    }
    let patch = ConnectionPatch {
        enabled_clients: Some(enabled),
        ..ConnectionPatch::default()
    };
    state
        .services
        .tenant
        .update_connection(&id, patch, &p.caller())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(flatten)]
    paging: PageQuery,
    from: Option<String>,
    take: Option<String>,
    strategy: Option<String>,
    name: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    p.require(&["read:connections"])?;
    let mut all = state.services.tenant.list_connections().await?;
    if let Some(s) = q.strategy.as_deref().filter(|s| !s.is_empty()) {
        all.retain(|c| c.strategy.as_str() == s);
    }
    if let Some(n) = q.name.as_deref().filter(|s| !s.is_empty()) {
        all.retain(|c| c.name == n);
    }
    let total = all.len();
    // Checkpoint pagination (`from`/`take`), which node and python SDKs use by default.
    if q.take.is_some() || q.from.is_some() {
        let take = match q.take.as_deref() {
            None | Some("") => 50,
            Some(t) => t
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=100).contains(n))
                .ok_or_else(|| ApiError::bad_query("take must be between 1 and 100"))?,
        };
        let start = match q.from.as_deref() {
            None | Some("") => 0,
            Some(f) => f
                .parse::<usize>()
                .map_err(|_| ApiError::bad_query("from is not a valid checkpoint"))?,
        };
        let items: Vec<Value> = all
            .iter()
            .skip(start)
            .take(take)
            .map(|c| c.to_auth0_json())
            .collect();
        let mut body = json!({"connections": items});
        if start + take < total
            && let Some(m) = body.as_object_mut()
        {
            m.insert("next".into(), json!((start + take).to_string()));
        }
        return Ok(Json(body));
    }
    let paging = q.paging.paging()?;
    let items = paging
        .slice(all)
        .iter()
        .map(|c| c.to_auth0_json())
        .collect();
    Ok(Json(paging.wrap("connections", items, total as u64)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    strategy: String,
    display_name: Option<String>,
    #[serde(default)]
    options: Value,
    #[serde(default)]
    enabled_clients: Vec<String>,
    realms: Option<Vec<String>>,
    #[serde(default)]
    is_domain_connection: bool,
    #[serde(default)]
    show_as_button: bool,
    #[serde(default)]
    metadata: Map<String, Value>,
}

async fn create(
    State(state): State<AppState>,
    p: Principal,
    b: ApiBody,
) -> Result<Response, ApiError> {
    p.require(&["create:connections"])?;
    let b: CreateBody = b.parse()?;
    let _ = b.show_as_button; // Meaningful only for enterprise connections on the login page.
    let c = state
        .services
        .tenant
        .create_connection(
            NewConnection {
                name: b.name,
                strategy: b.strategy,
                display_name: b.display_name,
                options: b.options,
                enabled_clients: b.enabled_clients,
                realms: b.realms,
                is_domain_connection: b.is_domain_connection,
                metadata: b.metadata,
            },
            &p.caller(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(c.to_auth0_json())).into_response())
}

async fn get_one(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    p.require(&["read:connections"])?;
    Ok(Json(
        state
            .services
            .tenant
            .get_connection(&id)
            .await?
            .to_auth0_json(),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    #[serde(default, with = "super::nullable")]
    display_name: Option<Option<String>>,
    options: Option<Value>,
    enabled_clients: Option<Vec<String>>,
    realms: Option<Vec<String>>,
    is_domain_connection: Option<bool>,
    show_as_button: Option<bool>,
    metadata: Option<Map<String, Value>>,
}

async fn update(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    b: ApiBody,
) -> Result<Json<Value>, ApiError> {
    p.require(&["update:connections"])?;
    let b: PatchBody = b.parse()?;
    let _ = b.show_as_button;
    let c = state
        .services
        .tenant
        .update_connection(
            &id,
            ConnectionPatch {
                display_name: b.display_name,
                options: b.options,
                enabled_clients: b.enabled_clients,
                realms: b.realms,
                is_domain_connection: b.is_domain_connection,
                metadata: b.metadata,
            },
            &p.caller(),
        )
        .await?;
    Ok(Json(c.to_auth0_json()))
}

async fn delete(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    p.require(&["delete:connections"])?;
    state
        .services
        .tenant
        .delete_connection(&id, &p.caller())
        .await?;
    Ok(StatusCode::ACCEPTED)
}
