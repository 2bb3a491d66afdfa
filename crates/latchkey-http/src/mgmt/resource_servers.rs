//! `/resource-servers`: the APIs an `audience` may name, in Auth0's shape. The Management API
//! is listed first and cannot be changed or deleted.

use super::{FieldsQuery, PageQuery, Principal};
use crate::AppState;
use crate::api_router::ApiRouter;
use crate::errors::ApiError;
use crate::extract::ApiBody;
use crate::extract::ApiQuery;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use latchkey_core::domain::ResourceServerInput;
use serde_json::Value;

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .route("/resource-servers", get(list).post(create))
        .route(
            "/resource-servers/{id}",
            get(get_one).patch(update).delete(delete),
        )
}

async fn list(
    State(state): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    p.require(&["read:resource_servers"])?;
    let paging = q.paging()?;
    let all = state.services.tenant.list_resource_servers().await?;
    let total = all.len() as u64;
    let items = paging
        .slice(all)
        .iter()
        .map(|rs| rs.to_auth0_json())
        .collect();
    Ok(Json(paging.wrap("resource_servers", items, total)))
}

async fn get_one(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiQuery(fields): ApiQuery<FieldsQuery>,
) -> Result<Json<Value>, ApiError> {
    p.require(&["read:resource_servers"])?;
    let rs = state.services.tenant.resource_server(&id).await?;
    Ok(Json(fields.apply(rs.to_auth0_json())?))
}

async fn create(
    State(state): State<AppState>,
    p: Principal,
    body: ApiBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    p.require(&["create:resource_servers"])?;
    let input: ResourceServerInput = body.parse()?;
    let rs = state
        .services
        .tenant
        .create_resource_server(input, &p.caller())
        .await?;
    Ok((StatusCode::CREATED, Json(rs.to_auth0_json())))
}

async fn update(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    body: ApiBody,
) -> Result<Json<Value>, ApiError> {
    p.require(&["update:resource_servers"])?;
    let input: ResourceServerInput = body.parse()?;
    let rs = state
        .services
        .tenant
        .update_resource_server(&id, input, &p.caller())
        .await?;
    Ok(Json(rs.to_auth0_json()))
}

async fn delete(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    p.require(&["delete:resource_servers"])?;
    state
        .services
        .tenant
        .delete_resource_server(&id, &p.caller())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
