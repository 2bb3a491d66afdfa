//! `/api/v2/jobs/*`: bulk user imports as Auth0 takes them (multipart `users` file of at most
//! 500 KB, `connection_id`, `upsert`, `external_id`, `send_completion_email`), user exports
//! (JSON `connection_id`, `format`, `limit`, `fields`), the job's status (an export's with its
//! signed `location`) and the users an import could not bring.

use super::Principal;
use crate::AppState;
use crate::errors::ApiError;
use crate::extract::ApiBody;
use axum::Json;
use axum::extract::{FromRequest, Multipart, Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use latchkey_core::ErrorCode;
use latchkey_core::ServiceError;
use latchkey_core::domain::UserId;
use latchkey_core::services::{ExportView, NewExport, NewImport, NewVerificationJob};
use latchkey_core::store::{ExportField, ExportFormat, JobKind, JobRecord, JobStatus};
use serde::Deserialize;
use serde_json::{Value, json};

/// Auth0's limit on one import file.
const MAX_USERS_FILE: usize = 500 * 1024;

pub fn router() -> crate::api_router::ApiRouter {
    crate::api_router::ApiRouter::new()
        .route("/jobs/users-imports", post(create_import))
        .route("/jobs/verification-email", post(create_verification_email))
        .route("/jobs/users-exports", post(create_export))
        .route("/jobs/{id}", get(get_job))
        .route("/jobs/{id}/errors", get(get_errors))
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "The users file must be at most 500 KB; split it into several imports.",
        Some(ErrorCode::PayloadTooLarge),
    )
}

fn form_bool(field: &str, value: &str) -> Result<bool, ApiError> {
    match value {
        "true" => Ok(true),
        "false" | "" => Ok(false),
        _ => Err(ApiError::bad_body(format!("{field} must be true or false"))),
    }
}

/// The job as Auth0 shows it: the counts once it has ended, the progress while it runs.
pub(crate) fn job_json(job: &JobRecord) -> Value {
    if job.kind == JobKind::VerificationEmail {
        // Auth0's verification job carries no connection and no summary.
        return json!({
            "type": job.kind.as_str(),
            "status": job.status.as_str(),
            "created_at": job.created_at.to_iso(),
            "id": job.id,
        });
    }
    let mut v = json!({
        "type": job.kind.as_str(),
        "status": job.status.as_str(),
        "created_at": job.created_at.to_iso(),
        "id": job.id,
        "connection_id": job.connection_id,
        "connection": job.connection,
    });
    if let Some(external) = &job.external_id {
        v["external_id"] = json!(external);
    }
    match job.status {
        JobStatus::Completed | JobStatus::Failed => {
            v["summary"] = json!({
                "failed": job.failed,
                "updated": job.updated,
                "inserted": job.inserted,
                "total": job.total,
            });
        }
        JobStatus::Processing => {
            v["percentage_done"] = json!((job.position * 100).checked_div(job.total).unwrap_or(0));
        }
        JobStatus::Pending => {}
    }
    v
}

async fn create_import(
    State(state): State<AppState>,
    p: Principal,
    request: axum::extract::Request,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    p.require(&["create:users"])?;
    let mut form = Multipart::from_request(request, &state)
        .await
        .map_err(|e| ApiError::bad_body(e.body_text()))?;
    let mut users = None;
    let mut connection_id = None;
    let (mut upsert, mut send_completion_email, mut external_id) = (false, false, None);
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(e) => {
                return Err(ApiError::bad_body(format!(
                    "multipart body: {}",
                    e.body_text()
                )));
            }
        };
        let name = field.name().unwrap_or_default().to_owned();
        let bytes = match field.bytes().await {
            Ok(b) => b,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(e) => {
                return Err(ApiError::bad_body(format!(
                    "multipart body: {}",
                    e.body_text()
                )));
            }
        };
        if name == "users" {
            if bytes.len() > MAX_USERS_FILE {
                return Err(too_large());
            }
            users = Some(
                String::from_utf8(bytes.to_vec())
                    .map_err(|_| ApiError::bad_body("The users file must be UTF-8 JSON"))?,
            );
            continue;
        }
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| ApiError::bad_body(format!("{name} must be text")))?;
        match name.as_str() {
            "connection_id" => connection_id = Some(text.to_owned()),
            "upsert" => upsert = form_bool("upsert", text)?,
            "send_completion_email" => {
                send_completion_email = form_bool("send_completion_email", text)?;
            }
            "external_id" => external_id = Some(text.to_owned()).filter(|s| !s.is_empty()),
            other => {
                return Err(ApiError::bad_body(format!(
                    "Additional properties not allowed: {other}"
                )));
            }
        }
    }
    let users = users.ok_or_else(|| ApiError::bad_body("Missing required property: users"))?;
    let connection_id = connection_id
        .ok_or_else(|| ApiError::bad_body("Missing required property: connection_id"))?;
    let job = state
        .services
        .migration
        .start_import(
            NewImport {
                connection_id,
                users,
                upsert,
                external_id,
                send_completion_email,
            },
            &p.caller(),
        )
        .await?;
    let mut body = job_json(&job);
    // The upload's answer names the connection by id only, as Auth0's does.
    if let Some(m) = body.as_object_mut() {
        m.remove("connection");
    }
    Ok((StatusCode::ACCEPTED, Json(body)))
}

async fn get_job(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    p.require(&["create:users", "read:users"])?;
    let job = state.services.migration.get_job(&id).await?;
    if job.kind == JobKind::UsersExport
        && let Some(view) = state.services.migration.export_view(&job).await?
    {
        return Ok(Json(export_json(&job, &view)));
    }
    Ok(Json(job_json(&job)))
}

/// An export job as Auth0 shows it: its settings, and `location` once the file is ready.
fn export_json(job: &JobRecord, view: &ExportView) -> Value {
    let mut v = json!({
        "type": job.kind.as_str(),
        "status": job.status.as_str(),
        "format": view.format.as_str(),
        "fields": view.fields,
        "created_at": job.created_at.to_iso(),
        "id": job.id,
    });
    if !job.connection_id.is_empty() {
        v["connection_id"] = json!(job.connection_id);
        v["connection"] = json!(job.connection);
    }
    if let Some(limit) = view.limit {
        v["limit"] = json!(limit);
    }
    if let Some(location) = &view.location {
        v["location"] = json!(location);
    }
    v
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportBody {
    #[serde(default)]
    connection_id: Option<String>,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    fields: Option<Vec<ExportFieldBody>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportFieldBody {
    name: String,
    #[serde(default)]
    export_as: Option<String>,
}

async fn create_export(
    State(state): State<AppState>,
    p: Principal,
    body: ApiBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    p.require(&["read:users"])?;
    let body: ExportBody = body.parse()?;
    // Auth0's default when the request names no format.
    let format = match body.format.as_deref() {
        None => ExportFormat::Csv,
        Some(f) => ExportFormat::parse(f)
            .ok_or_else(|| ApiError::bad_body("format must be one of json, csv"))?,
    };
    let limit = match body.limit {
        None => None,
        Some(n) if n >= 1 => Some(n.unsigned_abs()),
        Some(_) => return Err(ApiError::bad_body("limit must be at least 1")),
    };
    let fields = body.fields.map(|fields| {
        fields
            .into_iter()
            .map(|f| ExportField {
                name: f.name,
                export_as: f.export_as,
            })
            .collect()
    });
    let (job, view) = state
        .services
        .migration
        .start_export(
            NewExport {
                connection_id: body.connection_id,
                format,
                limit,
                fields,
            },
            &p.caller(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(export_json(&job, &view))))
}

/// The users the job could not import; a job without any answers with itself, as Auth0 does.
async fn get_errors(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    p.require(&["create:users", "read:users"])?;
    let (job, errors) = state.services.migration.job_errors(&id).await?;
    if errors.is_empty() {
        let mut v = job_json(&job);
        if let Some(m) = v.as_object_mut() {
            m.remove("summary");
        }
        return Ok(Json(v));
    }
    Ok(Json(Value::Array(
        errors
            .into_iter()
            .map(|f| json!({"user": f.user, "errors": f.errors}))
            .collect(),
    )))
}

/// OAS `CreateVerificationEmailRequestContent` (additionalProperties: false).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct VerificationEmailBody {
    user_id: Option<String>,
    client_id: Option<String>,
    identity: Option<super::tickets::VerificationIdentityBody>,
    organization_id: Option<String>,
}

async fn create_verification_email(
    State(state): State<AppState>,
    p: Principal,
    body: crate::extract::ApiBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    p.require(&["update:users"])?;
    let body: VerificationEmailBody = body.parse()?;
    super::tickets::refuse_organization(body.organization_id.as_deref())?;
    let request = NewVerificationJob {
        user_id: body
            .user_id
            .as_deref()
            .map(UserId::parse)
            .transpose()
            .map_err(ServiceError::from)?,
        client_id: body.client_id,
        identity: body
            .identity
            .map(super::tickets::VerificationIdentityBody::into_domain)
            .transpose()?,
    };
    let job = state
        .services
        .credentials
        .start_verification_email_job(request, &p.caller())
        .await?;
    Ok((StatusCode::CREATED, Json(job_json(&job))))
}
