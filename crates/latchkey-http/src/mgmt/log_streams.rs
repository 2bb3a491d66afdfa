//! `/api/v2/log-streams`: Auth0's log streams, custom webhook (`type: "http"`) only, plus
//! `GET /api/v2/log-streams/{id}/deliveries`, a Latchkey extension.

use super::Principal;
use crate::AppState;
use crate::api_router::ApiRouter;
use crate::errors::ApiError;
use crate::extract::ApiBody;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use latchkey_core::services::{FilterInput, LogStreamPatch, NewLogStream, SinkInput};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .route("/log-streams", get(list).post(create))
        .route(
            "/log-streams/{id}",
            get(get_one).patch(update).delete(delete),
        )
        .route("/log-streams/{id}/deliveries", get(deliveries))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderBody {
    header: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SinkBody {
    http_endpoint: Option<String>,
    http_content_type: Option<String>,
    http_content_format: Option<String>,
    http_authorization: Option<String>,
    http_custom_headers: Option<Vec<HeaderBody>>,
}

impl From<SinkBody> for SinkInput {
    fn from(b: SinkBody) -> Self {
        Self {
            http_endpoint: b.http_endpoint,
            http_content_type: b.http_content_type,
            http_content_format: b.http_content_format,
            http_authorization: b.http_authorization.map(SecretString::from),
            http_custom_headers: b
                .http_custom_headers
                .map(|h| h.into_iter().map(|h| (h.header, h.value)).collect()),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FilterBody {
    #[serde(rename = "type")]
    filter_type: String,
    name: String,
}

fn filters_of(list: Vec<FilterBody>) -> Vec<FilterInput> {
    list.into_iter()
        .map(|f| FilterInput {
            filter_type: f.filter_type,
            name: f.name,
        })
        .collect()
}

/// OAS `CreateLogStreamRequestContent` (the `http` variant).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: Option<String>,
    #[serde(rename = "type")]
    stream_type: String,
    sink: SinkBody,
    filters: Option<Vec<FilterBody>>,
}

/// OAS `UpdateLogStreamRequestContent`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    name: Option<String>,
    status: Option<String>,
    sink: Option<SinkBody>,
    filters: Option<Vec<FilterBody>>,
}

async fn list(State(state): State<AppState>, p: Principal) -> Result<Json<Value>, ApiError> {
    p.require(&["read:log_streams"])?;
    let streams = state.services.log_streams.list_log_streams().await?;
    Ok(Json(Value::Array(
        streams.iter().map(|s| s.to_json()).collect(),
    )))
}

/// The one response that carries the stream's signing secret (`sink.latchkeySigningSecret`).
async fn create(
    State(state): State<AppState>,
    p: Principal,
    body: ApiBody,
) -> Result<Json<Value>, ApiError> {
    p.require(&["create:log_streams"])?;
    let body: CreateBody = body.parse()?;
    let new = NewLogStream {
        // Auth0 names an unnamed stream after its type.
        name: body.name.unwrap_or_else(|| "Custom Webhook".into()),
        stream_type: body.stream_type,
        sink: body.sink.into(),
        filters: filters_of(body.filters.unwrap_or_default()),
    };
    let created = state
        .services
        .log_streams
        .create_log_stream(new, &p.caller())
        .await?;
    let mut out = created.stream.to_json();
    if let Some(sink) = out.get_mut("sink").and_then(Value::as_object_mut) {
        sink.insert(
            "latchkeySigningSecret".into(),
            Value::String(created.signing_secret.expose_secret().to_owned()),
        );
    }
    Ok(Json(out))
}

async fn get_one(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    p.require(&["read:log_streams"])?;
    Ok(Json(
        state
            .services
            .log_streams
            .get_log_stream(&id)
            .await?
            .to_json(),
    ))
}

async fn update(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    body: ApiBody,
) -> Result<Json<Value>, ApiError> {
    p.require(&["update:log_streams"])?;
    let body: UpdateBody = body.parse()?;
    let patch = LogStreamPatch {
        name: body.name,
        status: body.status,
        sink: body.sink.map(Into::into),
        filters: body.filters.map(filters_of),
    };
    let stream = state
        .services
        .log_streams
        .update_log_stream(&id, patch, &p.caller())
        .await?;
    Ok(Json(stream.to_json()))
}

async fn delete(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    p.require(&["delete:log_streams"])?;
    state
        .services
        .log_streams
        .delete_log_stream(&id, &p.caller())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Latchkey extension (Auth0 has no such endpoint): the stream's recent deliveries, newest
/// first, from the outbox rows (kept a week): `status` is `sent`, `retrying` (failed, will be
/// tried again), `pending` (not tried yet), `failed` (gave up) or `dropped` (the stream was
/// paused or deleted, or the entry is gone). `pending` counts the deliveries waiting, and
/// `dropped` those discarded, oldest first, while the stream held more than
/// `log_streams.max_pending` (its endpoint down or hanging).
async fn deliveries(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    p.require(&["read:log_streams"])?;
    let (list, backlog) = state
        .services
        .log_streams
        .log_stream_deliveries(&id)
        .await?;
    let items: Vec<Value> = list
        .iter()
        .map(|d| {
            let status = match d.status.as_str() {
                "pending" if d.last_error.is_some() => "retrying",
                other => other,
            };
            json!({
                "log_id": d.log_id,
                "status": status,
                "attempts": d.attempts,
                "last_error": d.last_error,
                "created_at": d.created_at.to_iso(),
                "last_attempt_at": (d.attempts > 0).then(|| d.updated_at.to_iso()),
            })
        })
        .collect();
    Ok(Json(json!({
        "deliveries": items,
        "pending": backlog.pending,
        "dropped": backlog.dropped,
    })))
}
