use super::{PageQuery, Principal};
use crate::AppState;
use crate::api_router::ApiRouter;
use crate::errors::ApiError;
use crate::extract::ApiQuery;
use axum::Json;
use axum::extract::{Path, State};
use axum::routing::get;
use latchkey_core::store::LogQuery;
use serde::Deserialize;
use serde_json::Value;

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .route("/logs", get(list))
        .route("/logs/{id}", get(one))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(flatten)]
    paging: PageQuery,
    q: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    p.require(&["read:logs", "read:logs_users"])?;
    let paging = q.paging.paging()?;
    let mut query = LogQuery {
        page: paging.page,
        per_page: paging.per_page,
        ..LogQuery::default()
    };
    // `q` supports the two filters operators use most: `type:scp` and `user_id:"auth0|…"`.
    for term in
        q.q.as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .filter(|t| *t != "AND")
    {
        match term.split_once(':') {
            Some(("type", v)) => query.type_code = Some(v.trim_matches('"').to_owned()),
            Some(("user_id", v)) => query.user_id = Some(v.trim_matches('"').to_owned()),
            _ => {
                return Err(ApiError::bad_query(format!(
                    "unsupported log query term: {term}"
                )));
            }
        }
    }
    let (entries, total) = state.services.directory.list_logs(&query).await?;
    Ok(Json(paging.wrap("logs", entries, total)))
}

async fn one(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    p.require(&["read:logs", "read:logs_users"])?;
    Ok(Json(state.services.directory.get_log(&id).await?))
}
