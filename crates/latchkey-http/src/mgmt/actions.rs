//! `/api/v2/actions/*`: actions (draft, deploy, versions, test), trigger bindings and
//! execution records, in Auth0's shapes.

use super::{PageQuery, Principal};
use crate::AppState;
use crate::api_router::ApiRouter;
use crate::errors::ApiError;
use crate::extract::ApiBody;
use crate::extract::ApiQuery;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use latchkey_core::ErrorCode;
use latchkey_core::actions::Trigger;
use latchkey_core::services::{ActionPatch, BindingRef, NewAction, SecretInput};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .route("/actions/actions", get(list).post(create))
        .route(
            "/actions/actions/{id}",
            get(get_one).patch(update).delete(delete),
        )
        .route("/actions/actions/{id}/deploy", post(deploy))
        .route("/actions/actions/{id}/test", post(test))
        .route("/actions/actions/{id}/versions", get(versions))
        .route("/actions/actions/{id}/versions/{version}", get(version))
        .route("/actions/triggers", get(triggers))
        .route(
            "/actions/triggers/{trigger}/bindings",
            get(bindings).patch(set_bindings),
        )
        .route("/actions/executions/{id}", get(execution))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TriggerRef {
    id: String,
    #[serde(default)]
    #[allow(dead_code)]
    version: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretBody {
    name: String,
    value: Option<String>,
}

/// OAS `CreateActionRequestContent` / `UpdateActionRequestContent`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionBody {
    name: Option<String>,
    supported_triggers: Option<Vec<TriggerRef>>,
    code: Option<String>,
    dependencies: Option<Vec<Value>>,
    runtime: Option<String>,
    secrets: Option<Vec<SecretBody>>,
    /// Accepted for compatibility; Latchkey deploys only through `/deploy`.
    #[allow(dead_code)]
    deploy: Option<bool>,
}

fn trigger(id: &str) -> Result<Trigger, ApiError> {
    Trigger::parse(id).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("The trigger {id} is not supported."),
            Some(ErrorCode::InvalidBody),
        )
    })
}

fn triggers_of(refs: Vec<TriggerRef>) -> Result<Vec<Trigger>, ApiError> {
    refs.iter().map(|t| trigger(&t.id)).collect()
}

fn secrets_of(list: Vec<SecretBody>) -> Vec<SecretInput> {
    list.into_iter()
        .map(|s| SecretInput {
            name: s.name,
            value: s.value.map(SecretString::from),
        })
        .collect()
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(flatten)]
    paging: PageQuery,
    #[serde(rename = "triggerId")]
    trigger_id: Option<String>,
    #[serde(rename = "actionName")]
    action_name: Option<String>,
    deployed: Option<String>,
}

/// Auth0's action lists are always objects: `{total, page, per_page, <key>: […]}`.
fn page_of(key: &str, paging: &super::Paging, items: Vec<Value>) -> Value {
    let total = items.len();
    let items = paging.slice(items);
    json!({"total": total, "page": paging.page, "per_page": paging.per_page, key: items})
}

async fn list(
    State(state): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    p.require(&["read:actions"])?;
    let paging = q.paging.paging()?;
    let trigger = q
        .trigger_id
        .as_deref()
        .filter(|t| !t.is_empty())
        .map(trigger)
        .transpose()?;
    let deployed = super::parse_bool("deployed", q.deployed.as_deref())?;
    let actions = state
        .services
        .actions
        .list_actions(
            trigger,
            q.action_name.as_deref().filter(|n| !n.is_empty()),
            deployed,
        )
        .await?;
    let items = actions.iter().map(|a| a.to_auth0_json()).collect();
    Ok(Json(page_of("actions", &paging, items)))
}

async fn create(
    State(state): State<AppState>,
    p: Principal,
    body: ApiBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    p.require(&["create:actions"])?;
    let body: ActionBody = body.parse()?;
    let name = body
        .name
        .ok_or_else(|| ApiError::bad_body("Missing required property: name"))?;
    let triggers = body
        .supported_triggers
        .ok_or_else(|| ApiError::bad_body("Missing required property: supported_triggers"))?;
    let new = NewAction {
        name,
        supported_triggers: triggers_of(triggers)?,
        code: body.code.unwrap_or_default(),
        dependencies: body.dependencies.unwrap_or_default(),
        runtime: body.runtime,
        secrets: secrets_of(body.secrets.unwrap_or_default()),
    };
    let action = state
        .services
        .actions
        .create_action(new, &p.caller())
        .await?;
    Ok((StatusCode::CREATED, Json(action.to_auth0_json())))
}

async fn get_one(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    p.require(&["read:actions"])?;
    Ok(Json(
        state
            .services
            .actions
            .get_action(&id)
            .await?
            .to_auth0_json(),
    ))
}

async fn update(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    body: ApiBody,
) -> Result<Json<Value>, ApiError> {
    p.require(&["update:actions"])?;
    let body: ActionBody = body.parse()?;
    let patch = ActionPatch {
        name: body.name,
        supported_triggers: body.supported_triggers.map(triggers_of).transpose()?,
        code: body.code,
        dependencies: body.dependencies,
        runtime: body.runtime,
        secrets: body.secrets.map(secrets_of),
    };
    let action = state
        .services
        .actions
        .update_action(&id, patch, &p.caller())
        .await?;
    Ok(Json(action.to_auth0_json()))
}

#[derive(Deserialize)]
struct DeleteQuery {
    force: Option<String>,
}

async fn delete(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<DeleteQuery>,
) -> Result<StatusCode, ApiError> {
    p.require(&["delete:actions"])?;
    let force = super::parse_bool("force", q.force.as_deref())?.unwrap_or(false);
    state
        .services
        .actions
        .delete_action(&id, force, &p.caller())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn deploy(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    p.require(&["create:actions", "update:actions"])?;
    let version = state
        .services
        .actions
        .deploy_action(&id, &p.caller())
        .await?;
    Ok((StatusCode::OK, Json(version.to_auth0_json(true))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestBody {
    payload: Value,
}

async fn test(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    body: ApiBody,
) -> Result<Json<Value>, ApiError> {
    p.require(&["create:actions", "update:actions"])?;
    let body: TestBody = body.parse()?;
    if !body.payload.is_object() {
        return Err(ApiError::bad_body("payload must be an object (the event)"));
    }
    Ok(Json(
        state
            .services
            .actions
            .test_action(&id, body.payload)
            .await?,
    ))
}

async fn versions(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    p.require(&["read:actions"])?;
    let paging = q.paging()?;
    let action = state.services.actions.get_action(&id).await?;
    let current = action.deployed.as_ref().map(|d| d.version_id.clone());
    let items = state
        .services
        .actions
        .action_versions(&id)
        .await?
        .iter()
        .map(|v| v.to_auth0_json(current.as_deref() == Some(v.id.as_str())))
        .collect();
    Ok(Json(page_of("versions", &paging, items)))
}

async fn version(
    State(state): State<AppState>,
    p: Principal,
    Path((id, version_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    p.require(&["read:actions"])?;
    let action = state.services.actions.get_action(&id).await?;
    let v = state
        .services
        .actions
        .action_version(&id, &version_id)
        .await?;
    let deployed = action
        .deployed
        .as_ref()
        .is_some_and(|d| d.version_id == v.id);
    Ok(Json(v.to_auth0_json(deployed)))
}

async fn triggers(p: Principal) -> Result<Json<Value>, ApiError> {
    p.require(&["read:actions"])?;
    let list: Vec<Value> = Trigger::ALL
        .iter()
        .map(|t| {
            json!({"id": t.id(), "version": t.version(), "status": "CURRENT",
                   "runtimes": ["node22", "node18-actions"], "default_runtime": "node22",
                   "compatible_triggers": []})
        })
        .collect();
    Ok(Json(json!({"triggers": list})))
}

async fn bindings(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    p.require(&["read:actions"])?;
    let paging = q.paging()?;
    let items = state
        .services
        .actions
        .trigger_bindings(trigger(&id)?)
        .await?
        .iter()
        .map(|(b, a)| b.to_auth0_json(a))
        .collect();
    Ok(Json(page_of("bindings", &paging, items)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BindingRefBody {
    #[serde(rename = "type")]
    kind: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BindingBody {
    #[serde(rename = "ref")]
    reference: BindingRefBody,
    display_name: Option<String>,
    /// Per-binding secrets are not supported; accepted empty for SDK compatibility.
    #[allow(dead_code)]
    secrets: Option<Vec<Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BindingsBody {
    bindings: Vec<BindingBody>,
}

async fn set_bindings(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    body: ApiBody,
) -> Result<Json<Value>, ApiError> {
    p.require(&["update:actions"])?;
    let body: BindingsBody = body.parse()?;
    let trigger = trigger(&id)?;
    let refs = body
        .bindings
        .into_iter()
        .map(|b| {
            let by_name = match b.reference.kind.as_str() {
                "action_name" => true,
                "action_id" => false,
                other => {
                    return Err(ApiError::bad_body(format!(
                        "ref.type must be action_id or action_name, not {other}"
                    )));
                }
            };
            Ok(BindingRef {
                by_name,
                value: b.reference.value,
                display_name: b.display_name,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let bound = state
        .services
        .actions
        .set_trigger_bindings(trigger, refs, &p.caller())
        .await?;
    let items: Vec<Value> = bound.iter().map(|(b, a)| b.to_auth0_json(a)).collect();
    Ok(Json(json!({"bindings": items})))
}

async fn execution(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    p.require(&["read:actions"])?;
    Ok(Json(
        state
            .services
            .actions
            .action_execution(&id)
            .await?
            .to_auth0_json(),
    ))
}
