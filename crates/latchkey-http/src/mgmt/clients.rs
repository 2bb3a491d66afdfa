use super::{PageQuery, Principal, parse_bool};
use crate::AppState;
use crate::api_router::ApiRouter;
use crate::errors::ApiError;
use crate::extract::ApiBody;
use crate::extract::ApiQuery;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use latchkey_core::domain::{AppType, InitiatorMode, LogoutInitiators, TokenEndpointAuthMethod};
use latchkey_core::services::{ClientGrantPatch, ClientPatch, NewClientGrant, OidcLogoutPatch};
use serde::Deserialize;
use serde_json::{Map, Value};

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .route("/clients", get(list).post(create))
        .route("/clients/{id}", get(get_one).patch(update).delete(delete))
        .route("/clients/{id}/rotate-secret", post(rotate_secret))
        .route("/client-grants", get(list_grants).post(create_grant))
        .route(
            "/client-grants/{id}",
            patch(update_grant).delete(delete_grant),
        )
        // Client answers carry secrets.
        .map(|r| r.layer(crate::no_store()))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(flatten)]
    paging: PageQuery,
    app_type: Option<String>,
    is_first_party: Option<String>,
}

/// Any of these lets a caller read clients; the secret itself is shown only to holders of
/// `read:client_keys` or `read:client_credentials` (see `sees_secrets`).
const READ_CLIENTS: &[&str] = &[
    "read:clients",
    "read:client_keys",
    "read:client_credentials",
    "read:client_summary",
];

fn sees_secrets(p: &Principal) -> bool {
    p.0.has_any(&["read:client_keys", "read:client_credentials"])
}

async fn list(
    State(state): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    p.require(READ_CLIENTS)?;
    let paging = q.paging.paging()?;
    let first_party = parse_bool("is_first_party", q.is_first_party.as_deref())?;
    let mut all = state.services.tenant.list_clients().await?;
    if let Some(types) = q.app_type.as_deref().filter(|s| !s.is_empty()) {
        let wanted: Vec<&str> = types.split(',').collect();
        all.retain(|c| {
            c.app_type
                .and_then(|t| serde_json::to_value(t).ok())
                .and_then(|v| v.as_str().map(str::to_owned))
                .is_some_and(|t| wanted.contains(&t.as_str()))
        });
    }
    if let Some(fp) = first_party {
        all.retain(|c| c.is_first_party == fp);
    }
    let total = all.len() as u64;
    let secrets = sees_secrets(&p);
    let items = paging
        .slice(all)
        .iter()
        .map(|c| c.to_auth0_json(secrets))
        .collect();
    Ok(Json(paging.wrap("clients", items, total)))
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct JwtConfiguration {
    lifetime_in_seconds: Option<i64>,
    alg: Option<String>,
    secret_encoded: Option<bool>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RefreshTokenConfig {
    rotation_type: Option<String>,
    expiration_type: Option<String>,
    token_lifetime: Option<i64>,
    idle_token_lifetime: Option<i64>,
    infinite_token_lifetime: Option<bool>,
    infinite_idle_token_lifetime: Option<bool>,
    leeway: Option<i64>,
}

/// `oidc_logout` (OpenID Connect Back-Channel Logout).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct OidcLogoutBody {
    backchannel_logout_urls: Option<Vec<String>>,
    backchannel_logout_initiators: Option<InitiatorsBody>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct InitiatorsBody {
    /// `custom` (Auth0's default) or `all`.
    mode: Option<InitiatorMode>,
    selected_initiators: Option<Vec<String>>,
}

impl From<OidcLogoutBody> for OidcLogoutPatch {
    fn from(b: OidcLogoutBody) -> Self {
        Self {
            backchannel_logout_urls: b.backchannel_logout_urls,
            backchannel_logout_initiators: b.backchannel_logout_initiators.map(|i| {
                LogoutInitiators {
                    mode: i.mode.unwrap_or(InitiatorMode::Custom),
                    selected_initiators: i.selected_initiators.unwrap_or_default(),
                }
            }),
        }
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ClientBody {
    name: Option<String>,
    description: Option<String>,
    app_type: Option<AppType>,
    is_first_party: Option<bool>,
    oidc_conformant: Option<bool>,
    callbacks: Option<Vec<String>>,
    allowed_origins: Option<Vec<String>>,
    web_origins: Option<Vec<String>>,
    allowed_logout_urls: Option<Vec<String>>,
    grant_types: Option<Vec<String>>,
    token_endpoint_auth_method: Option<TokenEndpointAuthMethod>,
    jwt_configuration: Option<JwtConfiguration>,
    #[serde(default, with = "super::nullable")]
    initiate_login_uri: Option<Option<String>>,
    #[serde(default, with = "super::nullable")]
    logo_uri: Option<Option<String>>,
    client_metadata: Option<Map<String, Value>>,
    refresh_token: Option<RefreshTokenConfig>,
    sso: Option<bool>,
    /// Auth0's deprecated name for `cross_origin_authentication`.
    cross_origin_auth: Option<bool>,
    cross_origin_authentication: Option<bool>,
    #[serde(default, with = "super::nullable")]
    cross_origin_loc: Option<Option<String>>,
    #[serde(default, with = "super::nullable")]
    oidc_logout: Option<Option<OidcLogoutBody>>,
    /// Create only (an import from Auth0): the existing application's id and secret.
    client_id: Option<String>,
    client_secret: Option<secrecy::SecretString>,
}

impl TryFrom<ClientBody> for ClientPatch {
    type Error = ApiError;
    fn try_from(b: ClientBody) -> Result<Self, ApiError> {
        let _ = b.sso;
        if let Some(j) = &b.jwt_configuration {
            if j.alg.as_deref().is_some_and(|a| a != "RS256") {
                return Err(ApiError::bad_body(
                    "jwt_configuration.alg: only RS256 is supported",
                ));
            }
            let _ = j.secret_encoded;
        }
        let rotation = match b
            .refresh_token
            .as_ref()
            .and_then(|r| r.rotation_type.as_deref())
        {
            None => None,
            Some("rotating") => Some(true),
            Some("non-rotating") => Some(false),
            Some(other) => {
                return Err(ApiError::bad_body(format!(
                    "refresh_token.rotation_type: unknown value {other}"
                )));
            }
        };
        if let Some(r) = &b.refresh_token {
            let _ = (
                &r.expiration_type,
                r.idle_token_lifetime,
                r.infinite_token_lifetime,
                r.infinite_idle_token_lifetime,
                r.leeway,
            );
        }
        Ok(Self {
            name: b.name,
            description: b.description,
            app_type: b.app_type,
            is_first_party: b.is_first_party,
            oidc_conformant: b.oidc_conformant,
            callbacks: b.callbacks,
            allowed_origins: b.allowed_origins,
            web_origins: b.web_origins,
            allowed_logout_urls: b.allowed_logout_urls,
            grant_types: b.grant_types,
            token_endpoint_auth_method: b.token_endpoint_auth_method,
            id_token_lifetime_secs: b
                .jwt_configuration
                .as_ref()
                .and_then(|j| j.lifetime_in_seconds),
            initiate_login_uri: b.initiate_login_uri,
            logo_uri: b.logo_uri,
            client_metadata: b.client_metadata,
            refresh_token_lifetime_secs: b.refresh_token.as_ref().and_then(|r| r.token_lifetime),
            refresh_token_rotation: rotation,
            oidc_logout: b.oidc_logout.map(|o| o.map(OidcLogoutPatch::from)),
            cross_origin_authentication: b.cross_origin_authentication.or(b.cross_origin_auth),
            cross_origin_loc: b.cross_origin_loc,
            imported_credentials: b.client_id.map(|id| (id, b.client_secret)),
        })
    }
}

async fn create(
    State(state): State<AppState>,
    p: Principal,
    b: ApiBody,
) -> Result<Response, ApiError> {
    p.require(&["create:clients"])?;
    let b: ClientBody = b.parse()?;
    let client = state
        .services
        .tenant
        .create_client(b.try_into()?, &p.caller())
        .await?;
    Ok((StatusCode::CREATED, Json(client.to_auth0_json(true))).into_response())
}

async fn get_one(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    p.require(READ_CLIENTS)?;
    let secrets = sees_secrets(&p);
    Ok(Json(
        state
            .services
            .tenant
            .get_client(&id)
            .await?
            .to_auth0_json(secrets),
    ))
}

async fn update(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    b: ApiBody,
) -> Result<Json<Value>, ApiError> {
    p.require(&["update:clients", "update:client_keys"])?;
    let b: ClientBody = b.parse()?;
    if b.client_id.is_some() || b.client_secret.is_some() {
        return Err(ApiError::bad_body(
            "client_id and client_secret can only be set when the client is created",
        ));
    }
    let client = state
        .services
        .tenant
        .update_client(&id, b.try_into()?, &p.caller())
        .await?;
    Ok(Json(client.to_auth0_json(sees_secrets(&p))))
}

async fn delete(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    p.require(&["delete:clients"])?;
    state
        .services
        .tenant
        .delete_client(&id, &p.caller())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn rotate_secret(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    p.require(&["update:client_keys"])?;
    let client = state
        .services
        .tenant
        .rotate_client_secret(&id, &p.caller())
        .await?;
    Ok(Json(client.to_auth0_json(true)))
}

#[derive(Debug, Deserialize)]
struct GrantListQuery {
    audience: Option<String>,
    client_id: Option<String>,
}

async fn list_grants(
    State(state): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<GrantListQuery>,
) -> Result<Json<Value>, ApiError> {
    p.require(&["read:client_grants"])?;
    let mut grants = state.services.tenant.list_client_grants().await?;
    if let Some(a) = q.audience.as_deref().filter(|s| !s.is_empty()) {
        grants.retain(|g| g.audience == a);
    }
    if let Some(c) = q.client_id.as_deref().filter(|s| !s.is_empty()) {
        grants.retain(|g| g.client_id.as_str() == c);
    }
    Ok(Json(Value::Array(
        grants.iter().map(|g| g.to_auth0_json()).collect(),
    )))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantBody {
    client_id: String,
    audience: String,
    #[serde(default)]
    scope: Vec<String>,
}

async fn create_grant(
    State(state): State<AppState>,
    p: Principal,
    b: ApiBody,
) -> Result<Response, ApiError> {
    p.require(&["create:client_grants"])?;
    let b: GrantBody = b.parse()?;
    let g = state
        .services
        .tenant
        .create_client_grant(
            NewClientGrant {
                client_id: b.client_id,
                audience: b.audience,
                scope: b.scope,
            },
            &p.caller(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(g.to_auth0_json())).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantPatchBody {
    scope: Option<Vec<String>>,
}

async fn update_grant(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    b: ApiBody,
) -> Result<Json<Value>, ApiError> {
    p.require(&["update:client_grants"])?;
    let b: GrantPatchBody = b.parse()?;
    let g = state
        .services
        .tenant
        .update_client_grant(&id, ClientGrantPatch { scope: b.scope }, &p.caller())
        .await?;
    Ok(Json(g.to_auth0_json()))
}

async fn delete_grant(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    p.require(&["delete:client_grants"])?;
    state
        .services
        .tenant
        .delete_client_grant(&id, &p.caller())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
