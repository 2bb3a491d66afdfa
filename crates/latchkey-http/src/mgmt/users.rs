use super::{FieldsQuery, PageQuery, Principal, parse_bool};
use crate::AppState;
use crate::api_router::ApiRouter;
use crate::errors::ApiError;
use crate::extract::ApiQuery;
use crate::extract::{ApiBody, ApiJson};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use latchkey_core::ErrorCode;
use latchkey_core::domain::{ClientId, Email, Password, Profile, UserId};
use latchkey_core::services::{NewUser, UserPatch};
use latchkey_core::store::{UserQuery, UserSort, UserSortField};
use serde::Deserialize;
use serde_json::{Map, Value, json};

pub fn router() -> ApiRouter {
    ApiRouter::new()
        .route("/users", get(list).post(create))
        .route("/users/{id}", get(get_one).patch(update).delete(delete))
        .route("/users-by-email", get(by_email))
        .route(
            "/users/{id}/refresh-tokens",
            get(list_refresh_tokens).delete(delete_refresh_tokens),
        )
        .route("/users/{id}/revoke-access", post(revoke_access))
        .route("/users/{id}/logs", get(user_logs))
}

pub(super) fn user_id(raw: &str) -> Result<UserId, ApiError> {
    UserId::parse(raw).map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "The user does not exist.",
            Some(ErrorCode::InexistentUser),
        )
    })
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(flatten)]
    paging: PageQuery,
    q: Option<String>,
    sort: Option<String>,
    connection: Option<String>,
    search_engine: Option<String>,
    #[serde(flatten)]
    fields: FieldsQuery,
}

/// The subset of Auth0's Lucene syntax that matters for lookups: `field:value` and
/// `field:"value"` joined by spaces or AND; any bare word is a substring search.
fn parse_lucene(q: &str, query: &mut UserQuery) -> Result<(), ApiError> {
    let mut rest = q.trim();
    while !rest.is_empty() {
        let (term, tail) = next_term(rest);
        rest = tail.trim_start();
        if term.eq_ignore_ascii_case("AND") || term.is_empty() {
            continue;
        }
        match term.split_once(':') {
            Some((field, value)) => {
                let value = value.trim_matches('"').to_owned();
                match field {
                    "email" => query.email = Some(value),
                    "user_id" => query.user_id = Some(value),
                    "identities.connection" => query.connection = Some(value),
                    "blocked" => query.blocked = parse_bool("blocked", Some(&value))?,
                    "name" | "username" | "nickname" => {
                        query.text = Some(value.trim_matches('*').to_owned())
                    }
                    other => {
                        return Err(ApiError::bad_query(format!(
                            "Field {other} is not searchable"
                        )));
                    }
                }
            }
            None => query.text = Some(term.trim_matches(['"', '*']).to_owned()),
        }
    }
    Ok(())
}

fn next_term(s: &str) -> (&str, &str) {
    let mut in_quotes = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            c if c.is_whitespace() && !in_quotes => return (&s[..i], &s[i..]),
            _ => {}
        }
    }
    (s, "")
}

fn parse_sort(s: &str) -> Result<UserSort, ApiError> {
    let (field, dir) = s
        .split_once(':')
        .ok_or_else(|| ApiError::bad_query("sort must look like field:1 or field:-1"))?;
    let field = match field {
        "created_at" => UserSortField::CreatedAt,
        "updated_at" => UserSortField::UpdatedAt,
        "email" => UserSortField::Email,
        "last_login" => UserSortField::LastLogin,
        "logins_count" => UserSortField::LoginsCount,
        other => return Err(ApiError::bad_query(format!("cannot sort by {other}"))),
    };
    let ascending = match dir {
        "1" => true,
        "-1" => false,
        _ => return Err(ApiError::bad_query("sort direction must be 1 or -1")),
    };
    Ok(UserSort { field, ascending })
}

async fn list(
    State(state): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    p.require(&["read:users", "read:user_idp_tokens"])?;
    let paging = q.paging.paging()?;
    if let Some(engine) = q.search_engine.as_deref()
        && !matches!(engine, "v1" | "v2" | "v3")
    {
        return Err(ApiError::bad_query("search_engine must be v1, v2 or v3"));
    }
    let mut query = UserQuery {
        connection: q.connection.clone(),
        page: paging.page,
        per_page: paging.per_page,
        ..UserQuery::default()
    };
    if let Some(text) = q.q.as_deref() {
        parse_lucene(text, &mut query)?;
    }
    if let Some(s) = q.sort.as_deref() {
        query.sort = Some(parse_sort(s)?);
    }
    let (users, total) = state.services.directory.list_users(&query).await?;
    let fields = &q.fields;
    let items = users
        .iter()
        .map(|u| fields.apply(u.to_auth0_json()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(paging.wrap("users", items, total)))
}

async fn get_one(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiQuery(fields): ApiQuery<FieldsQuery>,
) -> Result<Json<Value>, ApiError> {
    p.require_for_user(
        &["read:users", "read:current_user", "read:user_idp_tokens"],
        &id,
    )?;
    let user = state.services.directory.get_user(&user_id(&id)?).await?;
    Ok(Json(fields.apply(user.to_auth0_json())?))
}

#[derive(Debug, Deserialize)]
struct ByEmailQuery {
    email: Option<String>,
    #[serde(flatten)]
    fields: FieldsQuery,
}

async fn by_email(
    State(state): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<ByEmailQuery>,
) -> Result<Json<Value>, ApiError> {
    p.require(&["read:users"])?;
    let email = q
        .email
        .as_deref()
        .filter(|e| !e.is_empty())
        .ok_or_else(|| ApiError::bad_query("Missing required property: email"))?;
    let users = state.services.directory.users_by_email(email).await?;
    let fields = &q.fields;
    let items = users
        .iter()
        .map(|u| fields.apply(u.to_auth0_json()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(Value::Array(items)))
}

/// `POST /users` body. Auth0 forbids unknown properties here.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateUserBody {
    connection: String,
    email: Option<String>,
    password: Option<String>,
    username: Option<String>,
    user_id: Option<String>,
    #[serde(default)]
    email_verified: bool,
    /// Absent: Auth0 sends the verification mail unless `email_verified` is true.
    verify_email: Option<bool>,
    #[serde(default)]
    blocked: bool,
    phone_number: Option<String>,
    #[serde(default)]
    phone_verified: bool,
    given_name: Option<String>,
    family_name: Option<String>,
    name: Option<String>,
    nickname: Option<String>,
    picture: Option<String>,
    #[serde(default)]
    user_metadata: Map<String, Value>,
    #[serde(default)]
    app_metadata: Map<String, Value>,
}

fn limited(field: &'static str, v: Option<String>, max: usize) -> Result<Option<String>, ApiError> {
    match v {
        Some(s) if s.chars().count() > max => Err(ApiError::bad_body(format!(
            "{field} must be at most {max} characters"
        ))),
        other => Ok(other),
    }
}

impl TryFrom<CreateUserBody> for NewUser {
    type Error = ApiError;
    fn try_from(b: CreateUserBody) -> Result<Self, ApiError> {
        Ok(Self {
            connection: b.connection,
            email: b
                .email
                .as_deref()
                .map(Email::parse)
                .transpose()
                .map_err(ApiError::bad_body)?,
            email_verified: b.email_verified,
            username: b.username,
            password: b
                .password
                .map(Password::parse)
                .transpose()
                .map_err(ApiError::bad_body)?,
            user_id: b.user_id,
            profile: Profile {
                name: limited("name", b.name, 300)?,
                nickname: limited("nickname", b.nickname, 300)?,
                given_name: limited("given_name", b.given_name, 150)?,
                family_name: limited("family_name", b.family_name, 150)?,
                picture: b.picture,
                phone_number: b.phone_number,
                phone_verified: b.phone_verified,
            },
            user_metadata: b.user_metadata,
            app_metadata: b.app_metadata,
            blocked: b.blocked,
            verify_email: b.verify_email.unwrap_or(!b.email_verified),
        })
    }
}

async fn create(
    State(state): State<AppState>,
    p: Principal,
    body: ApiBody,
) -> Result<Response, ApiError> {
    p.require(&["create:users"])?;
    let body: CreateUserBody = body.parse()?;
    let user = state
        .services
        .users
        .create_user(body.try_into()?, &p.caller())
        .await?;
    Ok((StatusCode::CREATED, Json(user.to_auth0_json())).into_response())
}

/// A field that may be absent, `null` (clear) or a value.
fn optional_string(
    m: &mut Map<String, Value>,
    key: &str,
) -> Result<Option<Option<String>>, ApiError> {
    match m.remove(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(s))),
        Some(_) => Err(ApiError::bad_body(format!(
            "{key} must be a string or null"
        ))),
    }
}

fn required_string(m: &mut Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match m.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::bad_body(format!("{key} must be a string"))),
    }
}

fn optional_bool(m: &mut Map<String, Value>, key: &str) -> Result<Option<bool>, ApiError> {
    match m.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(_) => Err(ApiError::bad_body(format!("{key} must be a boolean"))),
    }
}

fn optional_object(
    m: &mut Map<String, Value>,
    key: &str,
) -> Result<Option<Map<String, Value>>, ApiError> {
    match m.remove(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(Map::new())),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(ApiError::bad_body(format!("{key} must be an object"))),
    }
}

fn parse_user_patch(mut m: Map<String, Value>) -> Result<UserPatch, ApiError> {
    let password = match m.remove("password") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(Password::parse(s).map_err(ApiError::bad_body)?),
        Some(_) => return Err(ApiError::bad_body("password must be a string")),
    };
    let email = required_string(&mut m, "email")?
        .map(|e| Email::parse(&e))
        .transpose()
        .map_err(ApiError::bad_body)?;
    let patch = UserPatch {
        connection: required_string(&mut m, "connection")?,
        email,
        email_verified: optional_bool(&mut m, "email_verified")?,
        username: required_string(&mut m, "username")?,
        password,
        blocked: optional_bool(&mut m, "blocked")?,
        name: optional_string(&mut m, "name")?,
        nickname: optional_string(&mut m, "nickname")?,
        given_name: optional_string(&mut m, "given_name")?,
        family_name: optional_string(&mut m, "family_name")?,
        picture: optional_string(&mut m, "picture")?,
        phone_number: optional_string(&mut m, "phone_number")?,
        phone_verified: optional_bool(&mut m, "phone_verified")?,
        user_metadata: optional_object(&mut m, "user_metadata")?,
        app_metadata: optional_object(&mut m, "app_metadata")?,
    };
    // Accepted by Auth0 and meaningful only with mail or SMS delivery.
    for ignored in [
        "verify_email",
        "verify_phone_number",
        "verify_password",
        "client_id",
    ] {
        m.remove(ignored);
    }
    if let Some(k) = m.keys().next() {
        return Err(ApiError::bad_body(format!(
            "Additional properties not allowed: {k}"
        )));
    }
    Ok(patch)
}

async fn update(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let only_app_metadata = body.keys().all(|k| k == "app_metadata");
    let only_user_metadata = body.keys().all(|k| k == "user_metadata");
    if only_app_metadata {
        p.require(&["update:users", "update:users_app_metadata"])?;
    } else if only_user_metadata {
        p.require_for_user(&["update:users", "update:current_user_metadata"], &id)?;
    } else {
        p.require(&["update:users"])?;
    }
    let patch = parse_user_patch(body)?;
    let user = state
        .services
        .users
        .update_user(&user_id(&id)?, patch, &p.caller())
        .await?;
    Ok(Json(user.to_auth0_json()))
}

async fn delete(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    p.require_for_user(&["delete:users", "delete:current_user"], &id)?;
    state
        .services
        .users
        .delete_user(&user_id(&id)?, &p.caller())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_refresh_tokens(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    p.require(&["read:refresh_tokens"])?;
    let tokens = state
        .services
        .login
        .list_refresh_tokens(&user_id(&id)?)
        .await?;
    let items: Vec<Value> = tokens
        .iter()
        .map(|t| {
            json!({
                "id": t.id,
                "user_id": t.user_id,
                "client_id": t.client_id,
                "created_at": t.created_at.to_iso(),
                "expires_at": t.expires_at.to_iso(),
                "last_exchanged_at": t.last_used_at.map(|x| x.to_iso()),
                "resource_servers": [{"audience": t.audience, "scopes": t.scope}],
                "rotating": true,
            })
        })
        .collect();
    Ok(Json(json!({"tokens": items})))
}

async fn delete_refresh_tokens(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    p.require(&["delete:refresh_tokens"])?;
    state
        .services
        .login
        .revoke_refresh_tokens(&user_id(&id)?, None)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RevokeAccessBody {
    session_id: Option<String>,
    #[serde(default)]
    preserve_refresh_tokens: bool,
    client_id: Option<String>,
}

async fn revoke_access(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    raw: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    p.require(&["delete:sessions", "delete:refresh_tokens"])?;
    // The body is optional here.
    let body: RevokeAccessBody = if raw.iter().all(u8::is_ascii_whitespace) {
        RevokeAccessBody::default()
    } else {
        serde_json::from_slice(&raw).map_err(ApiError::bad_body)?
    };
    let _ = body.session_id; // Sessions arrive with the hosted login; tokens are revoked now.
    if !body.preserve_refresh_tokens {
        let client = body
            .client_id
            .as_deref()
            .map(ClientId::parse)
            .transpose()
            .map_err(ApiError::bad_body)?;
        state
            .services
            .login
            .revoke_refresh_tokens(&user_id(&id)?, client.as_ref())
            .await?;
    }
    Ok(StatusCode::ACCEPTED)
}

async fn user_logs(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    p.require(&["read:logs", "read:logs_users"])?;
    let paging = q.paging()?;
    let (entries, total) = state
        .services
        .directory
        .user_logs(&user_id(&id)?, paging.page, paging.per_page)
        .await?;
    Ok(Json(paging.wrap("logs", entries, total)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lucene_queries_become_filters() {
        let mut q = UserQuery::default();
        assert!(parse_lucene(r#"email:"Jane@x.com" AND user_id:"auth0|1""#, &mut q).is_ok());
        assert_eq!(q.email.as_deref(), Some("Jane@x.com"));
        assert_eq!(q.user_id.as_deref(), Some("auth0|1"));
        let mut q = UserQuery::default();
        assert!(parse_lucene("jane", &mut q).is_ok());
        assert_eq!(q.text.as_deref(), Some("jane"));
        assert!(parse_lucene("password_hash:x", &mut UserQuery::default()).is_err());
    }
}
