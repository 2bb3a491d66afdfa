//! Auth0 features Latchkey does not offer, answered honestly so that tools which read a whole
//! tenant (auth0-deploy-cli) work: collections list empty in Auth0's list shapes, settings read
//! as disabled, a write that would create or enable something is refused with 400
//! `operation_not_supported` naming the feature, and a write of the disabled state is accepted.

use super::{PageQuery, Principal};
use crate::api_router::ApiRouter;
use crate::errors::ApiError;
use crate::extract::ApiBody;
use crate::extract::ApiQuery;
use axum::Json;
use axum::http::StatusCode;
use axum::routing::get;
use latchkey_core::error_code::ErrorCode;
use serde_json::{Map, Value, json};

/// A collection Latchkey has no members of.
pub(crate) struct Collection {
    pub(crate) path: &'static str,
    /// The array's key in Auth0's paged answer (`include_totals=true`).
    pub(crate) key: &'static str,
    pub(crate) feature: &'static str,
    read: &'static str,
    create: &'static str,
    update: &'static str,
    delete: &'static str,
}

macro_rules! collection {
    ($path:literal, $key:literal, $feature:literal, $scope:literal) => {
        Collection {
            path: $path,
            key: $key,
            feature: $feature,
            read: concat!("read:", $scope),
            create: concat!("create:", $scope),
            update: concat!("update:", $scope),
            delete: concat!("delete:", $scope),
        }
    };
}

pub(crate) const COLLECTIONS: &[Collection] = &[
    collection!("/rules", "rules", "Rules (use Actions)", "rules"),
    collection!("/hooks", "hooks", "Hooks (use Actions)", "hooks"),
    collection!(
        "/custom-domains",
        "custom_domains",
        "Custom domains",
        "custom_domains"
    ),
    collection!("/forms", "forms", "Forms", "forms"),
    collection!("/flows", "flows", "Flows", "flows"),
    collection!(
        "/flows/vault/connections",
        "connections",
        "Flows vault connections",
        "flows_vault_connections"
    ),
    collection!(
        "/self-service-profiles",
        "self_service_profiles",
        "Self-service SSO profiles",
        "self_service_profiles"
    ),
    collection!(
        "/token-exchange-profiles",
        "token_exchange_profiles",
        "Custom token exchange profiles",
        "token_exchange_profiles"
    ),
    collection!(
        "/event-streams",
        "eventStreams",
        "Event streams",
        "event_streams"
    ),
    collection!(
        "/network-acls",
        "network_acls",
        "Tenant ACLs",
        "network_acls"
    ),
    collection!("/roles", "roles", "Roles (RBAC)", "roles"),
    collection!(
        "/organizations",
        "organizations",
        "Organizations",
        "organizations"
    ),
    collection!(
        "/user-attribute-profiles",
        "user_attribute_profiles",
        "User attribute profiles",
        "user_attribute_profiles"
    ),
    collection!(
        "/connection-profiles",
        "connection_profiles",
        "Connection profiles",
        "connection_profiles"
    ),
    collection!(
        "/branding/phone/providers",
        "providers",
        "Phone providers",
        "phone_providers"
    ),
    collection!(
        "/branding/phone/templates",
        "templates",
        "Phone notification templates",
        "phone_templates"
    ),
];

/// Auth0 features whose endpoints answer 403 `feature_not_enabled` (Auth0's answer for a
/// feature outside the tenant's plan, which tools such as auth0-deploy-cli skip with a
/// warning): Latchkey has no phone, SMS or push factor, no action modules, no rate-limit
/// policies and no directory provisioning. (path, feature, read scope, update scope)
pub(crate) const PLAN_GATED: &[(&str, &str, &str, &str)] = &[
    (
        "/actions/modules",
        "Action modules",
        "read:actions",
        "create:actions",
    ),
    (
        "/rate-limit-policies",
        "Rate-limit policies",
        "read:attack_protection",
        "update:attack_protection",
    ),
    (
        "/connections-directory-provisionings",
        "Directory provisioning",
        "read:connections",
        "update:connections",
    ),
    (
        "/guardian/factors/phone/message-types",
        "Phone MFA",
        "read:guardian_factors",
        "update:guardian_factors",
    ),
    (
        "/guardian/factors/phone/selected-provider",
        "Phone MFA",
        "read:guardian_factors",
        "update:guardian_factors",
    ),
    (
        "/guardian/factors/sms/providers/twilio",
        "SMS MFA",
        "read:guardian_factors",
        "update:guardian_factors",
    ),
    (
        "/guardian/factors/sms/templates",
        "SMS MFA",
        "read:guardian_factors",
        "update:guardian_factors",
    ),
    (
        "/guardian/factors/push-notification/providers/sns",
        "Push notification MFA",
        "read:guardian_factors",
        "update:guardian_factors",
    ),
];

/// 400 `operation_not_supported`: "<feature> is not available in Latchkey".
pub fn not_available(feature: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        format!("{feature} is not available in Latchkey"),
        Some(ErrorCode::OperationNotSupported),
    )
}

/// Refuses a write that sets `feature` to anything but its empty or disabled state.
pub fn refuse_unless_empty(feature: &str, sets_something: bool) -> Result<(), ApiError> {
    if sets_something {
        Err(not_available(feature))
    } else {
        Ok(())
    }
}

/// 403 `feature_not_enabled`, Auth0's answer for a feature outside the tenant's plan: tools
/// such as auth0-deploy-cli then skip it.
pub fn feature_not_enabled(feature: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        format!("{feature} is not available in Latchkey"),
        Some(ErrorCode::FeatureNotEnabled),
    )
}

pub fn router() -> ApiRouter {
    let mut router = ApiRouter::new()
        .route("/rules-configs", get(rules_configs))
        .route(
            "/rules-configs/{key}",
            axum::routing::put(set_rules_config).delete(delete_rules_config),
        )
        .route(
            "/supplemental-signals",
            get(supplemental_signals).patch(set_supplemental_signals),
        )
        .route(
            "/risk-assessments/settings",
            get(risk_assessments).patch(set_risk_assessments),
        )
        .route(
            "/risk-assessments/settings/new-device",
            get(new_device).patch(set_new_device),
        );
    for &(path, feature, read, update) in PLAN_GATED {
        router = router.route(
            path,
            get(move |p: Principal| gated(feature, read, p))
                .post(move |p: Principal| gated(feature, update, p))
                .put(move |p: Principal| gated(feature, update, p))
                .patch(move |p: Principal| gated(feature, update, p)),
        );
    }
    for c in COLLECTIONS {
        router = router
            .route(
                c.path,
                get(move |p: Principal, q: ApiQuery<PageQuery>| list(c, p, q))
                    .post(move |p: Principal| create(c, p)),
            )
            .route(
                &format!("{}/{{id}}", c.path),
                get(move |p: Principal| member(c, c.read, p))
                    .patch(move |p: Principal| member(c, c.update, p))
                    .put(move |p: Principal| member(c, c.update, p))
                    .delete(move |p: Principal| member(c, c.delete, p)),
            );
    }
    router
}

async fn gated(feature: &'static str, scope: &'static str, p: Principal) -> ApiError {
    match p.require(&[scope]) {
        Err(e) => e,
        Ok(()) => feature_not_enabled(feature),
    }
}

async fn list(
    c: &'static Collection,
    p: Principal,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    p.require(&[c.read])?;
    let paging = q.paging()?;
    Ok(Json(paging.wrap(c.key, Vec::new(), 0)))
}

async fn create(c: &'static Collection, p: Principal) -> ApiError {
    match p.require(&[c.create]) {
        Err(e) => e,
        Ok(()) => not_available(c.feature),
    }
}

/// Nothing exists to read, change or delete.
async fn member(c: &'static Collection, scope: &'static str, p: Principal) -> ApiError {
    match p.require(&[scope]) {
        Err(e) => e,
        Ok(()) => ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "{} is not available in Latchkey: there is nothing with that id",
                c.feature
            ),
            Some(ErrorCode::NotFound),
        ),
    }
}

async fn rules_configs(p: Principal) -> Result<Json<Value>, ApiError> {
    p.require(&["read:rules_configs"])?;
    Ok(Json(json!([])))
}

async fn set_rules_config(p: Principal) -> ApiError {
    match p.require(&["update:rules_configs"]) {
        Err(e) => e,
        Ok(()) => not_available("Rules configuration (use Actions secrets)"),
    }
}

async fn delete_rules_config(p: Principal) -> Result<StatusCode, ApiError> {
    p.require(&["delete:rules_configs"])?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether every key of `body` is one of `allowed` and false.
fn only_false(body: &Map<String, Value>, allowed: &[&str]) -> bool {
    body.iter()
        .all(|(k, v)| allowed.contains(&k.as_str()) && *v == Value::Bool(false))
}

async fn supplemental_signals(p: Principal) -> Result<Json<Value>, ApiError> {
    p.require(&["read:attack_protection"])?;
    Ok(Json(json!({"akamai_enabled": false})))
}

async fn set_supplemental_signals(p: Principal, body: ApiBody) -> Result<Json<Value>, ApiError> {
    p.require(&["update:attack_protection"])?;
    let body: Map<String, Value> = body.parse()?;
    refuse_unless_empty(
        "Supplemental signals (Akamai)",
        !only_false(&body, &["akamai_enabled"]),
    )?;
    Ok(Json(json!({"akamai_enabled": false})))
}

async fn risk_assessments(p: Principal) -> Result<Json<Value>, ApiError> {
    p.require(&["read:attack_protection"])?;
    Ok(Json(json!({"enabled": false})))
}

async fn set_risk_assessments(p: Principal, body: ApiBody) -> Result<Json<Value>, ApiError> {
    p.require(&["update:attack_protection"])?;
    let body: Map<String, Value> = body.parse()?;
    refuse_unless_empty("Risk assessments", !only_false(&body, &["enabled"]))?;
    Ok(Json(json!({"enabled": false})))
}

/// Auth0 answers 404 until new-device settings are configured; they cannot be here.
async fn new_device(p: Principal) -> ApiError {
    match p.require(&["read:attack_protection"]) {
        Err(e) => e,
        Ok(()) => ApiError::new(
            StatusCode::NOT_FOUND,
            "Risk assessment new-device settings are not available in Latchkey",
            Some(ErrorCode::NotFound),
        ),
    }
}

/// `remember_for: 0` (nothing remembered) is the unset state deploy-cli writes back.
async fn set_new_device(p: Principal, body: ApiBody) -> Result<Json<Value>, ApiError> {
    p.require(&["update:attack_protection"])?;
    let body: Map<String, Value> = body.parse()?;
    let unset = body
        .iter()
        .all(|(k, v)| k == "remember_for" && v.as_u64() == Some(0));
    refuse_unless_empty("Risk assessment new-device settings", !unset)?;
    Ok(Json(json!({"remember_for": 0})))
}
