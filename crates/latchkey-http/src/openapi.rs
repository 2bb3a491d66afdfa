//! The OpenAPI 3.1 document of the JSON APIs (`GET /api/v2/openapi.json`): the Management API
//! v2 and the Authentication API. Written here, in one table, because the handlers answer with
//! `serde_json::Value` built by `domain/render.rs`; `tests/api/openapi.rs` holds it to the
//! routers (`ApiRouter` records every path, the live server's `405 Allow` gives the methods)
//! and runs schemathesis against a live server, so neither side can drift.
//!
//! Served without a token: it describes shapes, never the tenant's data, and tools read it
//! before they hold a token (Auth0 publishes its own the same way).

use crate::AppState;
use crate::mgmt::not_offered::{COLLECTIONS, PLAN_GATED};
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};
use std::sync::OnceLock;

/// `GET /api/v2/openapi.json`: the document, its server the issuer. The document is
/// serialized once; each answer only puts `servers` in front of it.
pub async fn serve(State(state): State<AppState>) -> impl IntoResponse {
    static SERIALIZED: OnceLock<String> = OnceLock::new();
    let doc = SERIALIZED.get_or_init(|| document().to_string());
    let issuer = state.services.discovery_document()["issuer"]
        .as_str()
        .unwrap_or("/")
        .trim_end_matches('/')
        .to_owned();
    let servers = json!([{"url": issuer, "description": "This Latchkey server (the issuer)"}]);
    // `doc` is a JSON object with at least one member and no `servers`: `{"servers":…,` + the rest.
    let body = format!("{{\"servers\":{servers},{}", doc.get(1..).unwrap_or("}"));
    ([(header::CONTENT_TYPE, "application/json")], body)
}

/// The document without `servers`, built once.
fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(build)
}

const DESCRIPTION: &str = "Latchkey's JSON APIs: the Management API v2 (under `/api/v2`, a Bearer \
access token from the client-credentials grant with the audience `<issuer>api/v2/`) and the \
Authentication API (`/oauth/*`, `/userinfo`, `/dbconnections/*`, `/mfa/*`, `/co/authenticate`, \
`/client/{client_id}.js`, discovery and keys), plus `/health` and `/ready`. Not described: the \
hosted HTML pages and the redirects of browser flows (`/authorize`, `/u/*`, `/lo/*`, \
`/continue`, `/v2/logout`, `/oidc/logout`), the administration console (`/admin/*`), static \
assets and `/metrics`.";

/// Builds the whole document.
fn build() -> Value {
    let mut paths = Paths::default();
    authentication_api(&mut paths);
    management_api(&mut paths);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Latchkey",
            "version": env!("CARGO_PKG_VERSION"),
            "description": DESCRIPTION,
        },
        "paths": Value::Object(paths.0),
        "components": components(),
    })
}

#[derive(Default)]
struct Paths(Map<String, Value>);

impl Paths {
    fn add(&mut self, op: Op) {
        let item = self.0.entry(op.path.clone()).or_insert_with(|| json!({}));
        let method = op.method;
        item[method] = op.into_json();
    }
}

/// The three error dialects, by the surface that answers.
#[derive(Clone, Copy)]
enum Dialect {
    Management,
    OAuth,
    DbConnections,
}

impl Dialect {
    fn name(self) -> &'static str {
        match self {
            Self::Management => "Management",
            Self::OAuth => "OAuth",
            Self::DbConnections => "DbConnections",
        }
    }

    fn schema(self) -> Value {
        match self {
            Self::Management => schema_ref("ManagementError"),
            Self::OAuth => schema_ref("OAuthError"),
            Self::DbConnections => schema_ref("DbConnectionsError"),
        }
    }
}

/// One operation: its success answer, its body, its query and the error statuses it may give.
struct Op {
    method: &'static str,
    path: String,
    tag: &'static str,
    summary: String,
    scopes: Vec<String>,
    bearer: bool,
    responses: Map<String, Value>,
    body: Option<Value>,
    query: Vec<&'static str>,
    errors: Vec<u16>,
    dialect: Dialect,
}

impl Op {
    fn new(method: &'static str, path: &str, tag: &'static str, summary: &str) -> Self {
        Self {
            method,
            path: path.to_owned(),
            tag,
            summary: summary.to_owned(),
            scopes: Vec::new(),
            bearer: false,
            responses: Map::new(),
            body: None,
            query: Vec::new(),
            errors: Vec::new(),
            dialect: Dialect::OAuth,
        }
    }

    /// A Management API operation: Bearer token holding one of `scopes`; every call may be
    /// malformed (400), unauthenticated (401), lack the scope (403), meet the rate limit (429)
    /// or an unavailable store (503); a path parameter may name nothing (404) and a write may
    /// conflict (409).
    fn mgmt(method: &'static str, path: &str, tag: &'static str, summary: &str) -> Self {
        let mut op = Self::new(method, &format!("/api/v2{path}"), tag, summary);
        op.bearer = true;
        op.dialect = Dialect::Management;
        op.errors = vec![400, 401, 403, 429, 503];
        if path.contains('{') {
            op.errors.push(404);
        }
        if matches!(method, "post" | "patch" | "put") {
            op.errors.push(409);
        }
        op
    }

    fn scopes(mut self, scopes: &[&str]) -> Self {
        self.scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    fn ok(mut self, status: u16, schema: Value) -> Self {
        self.responses.insert(
            status.to_string(),
            json!({"description": "Success", "content": {"application/json": {"schema": schema}}}),
        );
        self
    }

    fn ok_with(mut self, status: u16, content_type: &str, schema: Value) -> Self {
        self.responses.insert(
            status.to_string(),
            json!({"description": "Success", "content": {content_type: {"schema": schema}}}),
        );
        self
    }

    fn empty(mut self, status: u16) -> Self {
        self.responses
            .insert(status.to_string(), json!({"description": "No body"}));
        self
    }

    /// A JSON request body (Management API).
    fn json_body(mut self, schema: Value) -> Self {
        self.body = Some(json!({
            "required": true,
            "content": {"application/json": {"schema": schema}},
        }));
        self
    }

    /// Authentication API parameters: JSON or a form, the same fields.
    fn params_body(mut self, schema: Value) -> Self {
        self.body = Some(json!({
            "required": true,
            "content": {
                "application/json": {"schema": schema},
                "application/x-www-form-urlencoded": {"schema": schema},
            },
        }));
        self
    }

    /// A multipart form with a file field (bulk imports).
    fn multipart_body(mut self, file_field: &str, fields: &[&str]) -> Self {
        let mut properties = Map::new();
        properties.insert(
            file_field.to_owned(),
            json!({"type": "string", "contentMediaType": "application/octet-stream"}),
        );
        for f in fields {
            properties.insert((*f).to_owned(), json!({"type": "string"}));
        }
        self.body = Some(json!({
            "required": true,
            "content": {"multipart/form-data": {"schema": {
                "type": "object",
                "required": [file_field, "connection_id"],
                "properties": properties,
            }}},
        }));
        self
    }

    fn query(mut self, names: &[&'static str]) -> Self {
        self.query.extend_from_slice(names);
        self
    }

    fn errors(mut self, dialect: Dialect, statuses: &[u16]) -> Self {
        self.dialect = dialect;
        self.errors = statuses.to_vec();
        self
    }

    fn also(mut self, statuses: &[u16]) -> Self {
        self.errors.extend_from_slice(statuses);
        self
    }

    fn into_json(self) -> Value {
        let mut responses = self.responses;
        for status in &self.errors {
            responses
                .entry(status.to_string())
                .or_insert_with(|| error_response(*status, self.dialect));
        }
        let mut parameters: Vec<Value> = path_params(&self.path)
            .into_iter()
            .map(|name| {
                json!({"name": name, "in": "path", "required": true,
                       "schema": {"type": "string", "minLength": 1}})
            })
            .collect();
        parameters.extend(self.query.iter().map(|name| {
            json!({"name": name, "in": "query", "required": false, "schema": {"type": "string"}})
        }));
        let mut op = json!({
            "tags": [self.tag],
            "summary": self.summary,
            "operationId": format!("{}{}", self.method, self.path.replace(['/', '{', '}', '.', '-'], "_")),
            "responses": responses,
        });
        if !parameters.is_empty() {
            op["parameters"] = Value::Array(parameters);
        }
        if let Some(body) = self.body {
            op["requestBody"] = body;
        }
        if self.bearer {
            op["security"] = json!([{"bearer": self.scopes}]);
        }
        op
    }
}

fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}

/// The statuses an error may have, on any surface.
const ERROR_STATUSES: &[u16] = &[400, 401, 403, 404, 409, 413, 429, 503];

fn error_response(status: u16, dialect: Dialect) -> Value {
    json!({"$ref": format!("#/components/responses/{}{status}", dialect.name())})
}

/// One shared response per dialect and error status, so the operations refer to them.
fn error_responses() -> Map<String, Value> {
    let mut out = Map::new();
    for dialect in [Dialect::Management, Dialect::OAuth, Dialect::DbConnections] {
        for &status in ERROR_STATUSES {
            let description = match status {
                400 => "Bad request",
                401 => "Missing or invalid credentials",
                403 => "Forbidden",
                404 => "Not found",
                409 => "Conflict",
                413 => "Body too large",
                429 => "Too many requests",
                _ => "Temporarily unavailable (Retry-After)",
            };
            out.insert(
                format!("{}{status}", dialect.name()),
                json!({"description": description,
                       "content": {"application/json": {"schema": dialect.schema()}}}),
            );
        }
    }
    out
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn object() -> Value {
    json!({"type": "object"})
}

fn array_of(items: Value) -> Value {
    json!({"type": "array", "items": items})
}

/// Auth0's two list forms: the bare array, or with `include_totals=true`
/// `{start, limit, length, total, <key>: […]}`.
fn list(item: Value, key: &str) -> Value {
    json!({"anyOf": [
        array_of(item.clone()),
        {"type": "object", "required": [key], "properties": {
            "start": {"type": "integer"}, "limit": {"type": "integer"},
            "length": {"type": "integer"}, "total": {"type": "integer"},
            key: array_of(item),
        }},
    ]})
}

const PAGING: &[&str] = &["page", "per_page", "include_totals"];
const FIELDS: &[&str] = &["fields", "include_fields"];

fn authentication_api(paths: &mut Paths) {
    use Dialect::{DbConnections, OAuth};
    paths.add(
        Op::new(
            "post",
            "/oauth/token",
            "authentication",
            "Issue tokens (every grant)",
        )
        .params_body(schema_ref("TokenRequest"))
        .ok(200, schema_ref("TokenResponse"))
        .errors(OAuth, &[400, 401, 403, 413, 429, 503]),
    );
    paths.add(
        Op::new(
            "post",
            "/oauth/revoke",
            "authentication",
            "Revoke a refresh token",
        )
        .params_body(schema_ref("RevokeRequest"))
        .empty(200)
        .errors(OAuth, &[400, 401, 403, 413, 429, 503]),
    );
    for method in ["get", "post"] {
        paths.add(
            Op::new(
                method,
                "/userinfo",
                "authentication",
                "The access token's user",
            )
            .ok(
                200,
                json!({"type": "object", "required": ["sub"],
                                "properties": {"sub": {"type": "string"}}}),
            )
            .ok_with(401, "text/plain", json!({"type": "string"}))
            .errors(OAuth, &[503]),
        );
    }
    paths.add(
        Op::new(
            "get",
            "/.well-known/openid-configuration",
            "discovery",
            "OpenID Provider metadata",
        )
        .ok(200, json!({"type": "object",
            "required": ["issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"],
            "properties": {"issuer": {"type": "string"}, "authorization_endpoint": {"type": "string"},
                           "token_endpoint": {"type": "string"}, "jwks_uri": {"type": "string"}}})),
    );
    paths.add(
        Op::new("get", "/.well-known/jwks.json", "discovery", "Signing keys (JWKS)").ok(
            200,
            json!({"type": "object", "required": ["keys"],
                   "properties": {"keys": array_of(json!({"type": "object", "required": ["kid", "kty"],
                       "properties": {"kid": {"type": "string"}, "kty": {"type": "string"}}}))}}),
        ),
    );
    paths.add(
        Op::new(
            "post",
            "/dbconnections/signup",
            "authentication",
            "Sign up a database user",
        )
        .params_body(schema_ref("SignupRequest"))
        .ok(
            200,
            json!({"type": "object", "required": ["_id", "email_verified"],
                "properties": {"_id": {"type": "string"}, "email_verified": {"type": "boolean"},
                               "email": {"type": ["string", "null"]}}}),
        )
        .errors(DbConnections, &[400, 401, 403, 413, 429, 503]),
    );
    paths.add(
        Op::new(
            "post",
            "/dbconnections/change_password",
            "authentication",
            "Mail a password-reset link",
        )
        .params_body(schema_ref("ChangePasswordRequest"))
        .ok_with(200, "text/html", json!({"type": "string"}))
        .errors(DbConnections, &[400, 401, 403, 404, 413, 429, 503]),
    );
    paths.add(
        Op::new(
            "get",
            "/mfa/authenticators",
            "mfa",
            "The mfa_token's authenticators",
        )
        .ok(
            200,
            array_of(
                json!({"type": "object", "required": ["id", "authenticator_type", "active"],
                "properties": {"id": {"type": "string"}, "authenticator_type": {"type": "string"},
                               "active": {"type": "boolean"}}}),
            ),
        )
        .errors(OAuth, &[400, 401, 403, 429, 503]),
    );
    paths.add(
        Op::new("post", "/mfa/challenge", "mfa", "Start an MFA challenge")
            .params_body(json!({"type": "object", "required": ["client_id", "mfa_token"],
                "properties": {"client_id": {"type": "string"}, "client_secret": {"type": "string"},
                               "mfa_token": {"type": "string"}, "challenge_type": {"type": "string"}}}))
            .ok(200, json!({"type": "object", "required": ["challenge_type"],
                            "properties": {"challenge_type": {"type": "string"}}}))
            .errors(OAuth, &[400, 401, 403, 413, 429, 503]),
    );
    paths.add(
        Op::new("post", "/mfa/associate", "mfa", "Enrol an authenticator (TOTP)")
            .params_body(json!({"type": "object", "required": ["authenticator_types"],
                "properties": {"client_id": {"type": "string"}, "authenticator_types":
                    {"type": "array", "items": {"type": "string"}}}}))
            .ok(200, json!({"type": "object",
                "required": ["authenticator_type", "secret", "barcode_uri", "recovery_codes"],
                "properties": {"authenticator_type": {"type": "string"}, "secret": {"type": "string"},
                               "barcode_uri": {"type": "string"},
                               "recovery_codes": {"type": "array", "items": {"type": "string"}}}}))
            .errors(OAuth, &[400, 401, 403, 413, 429, 503]),
    );
    let script = json!({"type": "string"});
    paths.add(
        Op::new(
            "get",
            "/client/{file}",
            "embedded login",
            "Lock's client configuration, `{client_id}.js`",
        )
        .ok_with(200, "application/javascript", script.clone())
        .ok_with(404, "application/javascript", script.clone())
        .ok_with(503, "application/javascript", script),
    );
    paths.add(
        Op::new("post", "/co/authenticate", "embedded login", "Cross-origin authentication")
            .params_body(schema_ref("CrossOriginRequest"))
            .ok(200, json!({"type": "object", "required": ["login_ticket", "co_verifier", "co_id"],
                "properties": {"login_ticket": {"type": "string"}, "co_verifier": {"type": "string"},
                               "co_id": {"type": "string"}}}))
            .errors(OAuth, &[400, 401, 403, 413, 429, 503]),
    );
    paths.add(
        Op::new(
            "options",
            "/co/authenticate",
            "embedded login",
            "CORS preflight (the client's own origins)",
        )
        .empty(204)
        .empty(403),
    );
    paths.add(
        Op::new(
            "get",
            "/health",
            "operations",
            "Liveness: version and commit",
        )
        .ok(
            200,
            json!({"type": "object", "required": ["status", "version", "commit"],
                   "properties": {"status": {"const": "ok"}, "version": {"type": "string"},
                                  "commit": {"type": "string"}}}),
        ),
    );
    let readiness = json!({"type": "object", "required": ["status"],
        "properties": {"status": {"enum": ["ready", "unavailable"]}, "reason": {"type": "string"}}});
    paths.add(
        Op::new("get", "/ready", "operations", "Readiness: store and keys")
            .ok(200, readiness.clone())
            .ok_with(503, "application/json", readiness),
    );
}

#[allow(clippy::too_many_lines)] // One table: every Management API route, in router order.
fn management_api(paths: &mut Paths) {
    let user = schema_ref("User");
    let client = schema_ref("Client");
    let connection = schema_ref("Connection");
    let any = object();

    paths.add(
        Op::new(
            "get",
            "/api/v2/openapi.json",
            "management",
            "This document (no token needed)",
        )
        .ok(
            200,
            json!({"type": "object", "required": ["openapi", "paths"]}),
        ),
    );

    // Users.
    let m = Op::mgmt;
    paths.add(
        m("get", "/users", "users", "List or search users")
            .scopes(&["read:users"])
            .query(PAGING)
            .query(&["q", "sort", "connection", "search_engine"])
            .query(FIELDS)
            .ok(200, list(user.clone(), "users")),
    );
    paths.add(
        m("post", "/users", "users", "Create a user")
            .scopes(&["create:users"])
            .json_body(schema_ref("UserCreate"))
            .ok(201, user.clone()),
    );
    paths.add(
        m("get", "/users/{id}", "users", "Get a user")
            .scopes(&["read:users", "read:current_user"])
            .query(FIELDS)
            .ok(200, user.clone()),
    );
    paths.add(
        m("patch", "/users/{id}", "users", "Update a user")
            .scopes(&["update:users", "update:current_user_metadata"])
            .json_body(any.clone())
            .ok(200, user.clone()),
    );
    paths.add(
        m("delete", "/users/{id}", "users", "Delete a user")
            .scopes(&["delete:users"])
            .empty(204),
    );
    paths.add(
        m(
            "get",
            "/users-by-email",
            "users",
            "Users with an email address",
        )
        .scopes(&["read:users"])
        .query(&["email"])
        .query(FIELDS)
        .ok(200, array_of(user.clone())),
    );
    paths.add(
        m(
            "get",
            "/users/{id}/refresh-tokens",
            "users",
            "A user's refresh tokens",
        )
        .scopes(&["read:refresh_tokens"])
        .ok(200, any.clone()),
    );
    paths.add(
        m(
            "delete",
            "/users/{id}/refresh-tokens",
            "users",
            "Revoke a user's refresh tokens",
        )
        .scopes(&["delete:refresh_tokens"])
        .empty(202),
    );
    paths.add(
        m(
            "post",
            "/users/{id}/revoke-access",
            "users",
            "End a user's sessions and refresh tokens",
        )
        .scopes(&["delete:sessions", "delete:refresh_tokens"])
        .json_body(any.clone())
        .empty(202),
    );
    paths.add(
        m("get", "/users/{id}/logs", "users", "A user's log entries")
            .scopes(&["read:logs", "read:logs_users"])
            .query(PAGING)
            .ok(200, list(schema_ref("LogEntry"), "logs")),
    );

    // Actions.
    let action = schema_ref("Action");
    paths.add(
        m("get", "/actions/actions", "actions", "List actions")
            .scopes(&["read:actions"])
            .query(PAGING)
            .query(&["triggerId", "actionName", "deployed"])
            .ok(
                200,
                json!({"type": "object", "required": ["actions"],
                            "properties": {"actions": array_of(action.clone())}}),
            ),
    );
    paths.add(
        m("post", "/actions/actions", "actions", "Create an action")
            .scopes(&["create:actions"])
            .json_body(schema_ref("ActionCreate"))
            .ok(201, action.clone()),
    );
    paths.add(
        m("get", "/actions/actions/{id}", "actions", "Get an action")
            .scopes(&["read:actions"])
            .ok(200, action.clone()),
    );
    paths.add(
        m(
            "patch",
            "/actions/actions/{id}",
            "actions",
            "Update an action",
        )
        .scopes(&["update:actions"])
        .json_body(any.clone())
        .ok(200, action.clone()),
    );
    paths.add(
        m(
            "delete",
            "/actions/actions/{id}",
            "actions",
            "Delete an action",
        )
        .scopes(&["delete:actions"])
        .query(&["force"])
        .empty(204),
    );
    paths.add(
        m(
            "post",
            "/actions/actions/{id}/deploy",
            "actions",
            "Deploy an action's draft",
        )
        .scopes(&["create:actions"])
        .ok(200, any.clone()),
    );
    paths.add(
        m(
            "post",
            "/actions/actions/{id}/test",
            "actions",
            "Run an action once",
        )
        .scopes(&["create:actions"])
        .json_body(any.clone())
        .ok(200, any.clone()),
    );
    paths.add(
        m(
            "get",
            "/actions/actions/{id}/versions",
            "actions",
            "An action's versions",
        )
        .scopes(&["read:actions"])
        .query(PAGING)
        .ok(200, any.clone()),
    );
    paths.add(
        m(
            "get",
            "/actions/actions/{id}/versions/{version}",
            "actions",
            "One version",
        )
        .scopes(&["read:actions"])
        .ok(200, any.clone()),
    );
    paths.add(
        m("get", "/actions/triggers", "actions", "Triggers")
            .scopes(&["read:actions"])
            .ok(
                200,
                json!({"type": "object", "required": ["triggers"],
                            "properties": {"triggers": array_of(object())}}),
            ),
    );
    paths.add(
        m(
            "get",
            "/actions/triggers/{trigger}/bindings",
            "actions",
            "A trigger's bindings",
        )
        .scopes(&["read:actions"])
        .query(PAGING)
        .ok(200, any.clone()),
    );
    paths.add(
        m(
            "patch",
            "/actions/triggers/{trigger}/bindings",
            "actions",
            "Set a trigger's bindings",
        )
        .scopes(&["update:actions"])
        .json_body(any.clone())
        .ok(200, any.clone()),
    );
    paths.add(
        m(
            "get",
            "/actions/executions/{id}",
            "actions",
            "An execution record",
        )
        .scopes(&["read:actions"])
        .ok(200, any.clone()),
    );

    // Authenticators, sessions, blocks.
    paths.add(
        m(
            "get",
            "/users/{id}/authentication-methods",
            "users",
            "A user's authentication methods",
        )
        .scopes(&["read:authentication_methods"])
        .query(PAGING)
        .ok(200, any.clone()),
    );
    paths.add(
        m(
            "post",
            "/users/{id}/authentication-methods",
            "users",
            "Add an authentication method",
        )
        .scopes(&["create:authentication_methods"])
        .json_body(any.clone())
        .ok(201, any.clone()),
    );
    paths.add(
        m(
            "get",
            "/users/{id}/enrollments",
            "users",
            "A user's MFA enrollments",
        )
        .scopes(&["read:users"])
        .ok(200, array_of(object())),
    );
    paths.add(
        m(
            "delete",
            "/users/{id}/authenticators",
            "users",
            "Delete a user's authenticators",
        )
        .scopes(&["delete:guardian_enrollments"])
        .empty(204),
    );
    paths.add(
        m("get", "/users/{id}/sessions", "users", "A user's sessions")
            .scopes(&["read:sessions"])
            .ok(200, any.clone()),
    );
    paths.add(
        m(
            "delete",
            "/users/{id}/sessions",
            "users",
            "End a user's sessions",
        )
        .scopes(&["delete:sessions"])
        .empty(202),
    );
    paths.add(
        m("get", "/user-blocks/{id}", "users", "A user's login blocks")
            .scopes(&["read:users"])
            .ok(
                200,
                json!({"type": "object", "required": ["blocked_for"],
                            "properties": {"blocked_for": array_of(object())}}),
            ),
    );
    paths.add(
        m(
            "delete",
            "/user-blocks/{id}",
            "users",
            "Lift a user's login blocks",
        )
        .scopes(&["update:users"])
        .empty(204),
    );

    // Connections.
    paths.add(
        m("get", "/connections", "connections", "List connections")
            .scopes(&["read:connections"])
            .query(PAGING)
            .query(&["from", "take", "strategy", "name"])
            .ok(200, list(connection.clone(), "connections")),
    );
    paths.add(
        m("post", "/connections", "connections", "Create a connection")
            .scopes(&["create:connections"])
            .json_body(schema_ref("ConnectionCreate"))
            .ok(201, connection.clone()),
    );
    paths.add(
        m(
            "get",
            "/connections/{id}",
            "connections",
            "Get a connection",
        )
        .scopes(&["read:connections"])
        .ok(200, connection.clone()),
    );
    paths.add(
        m(
            "patch",
            "/connections/{id}",
            "connections",
            "Update a connection",
        )
        .scopes(&["update:connections"])
        .json_body(any.clone())
        .ok(200, connection.clone()),
    );
    paths.add(
        m(
            "delete",
            "/connections/{id}",
            "connections",
            "Delete a connection",
        )
        .scopes(&["delete:connections"])
        .empty(202),
    );
    paths.add(
        m(
            "get",
            "/connections/{id}/clients",
            "connections",
            "A connection's enabled clients",
        )
        .scopes(&["read:connections"])
        .ok(200, any.clone()),
    );
    paths.add(
        m(
            "patch",
            "/connections/{id}/clients",
            "connections",
            "Enable or disable clients",
        )
        .scopes(&["update:connections"])
        .json_body(array_of(object()))
        .empty(204),
    );

    // Email templates and provider.
    paths.add(
        m(
            "post",
            "/email-templates",
            "emails",
            "Create an email template",
        )
        .scopes(&["create:email_templates"])
        .json_body(schema_ref("EmailTemplate"))
        .ok(200, schema_ref("EmailTemplate")),
    );
    for (method, summary, scope) in [
        ("get", "Get an email template", "read:email_templates"),
        (
            "patch",
            "Update an email template",
            "update:email_templates",
        ),
        ("put", "Replace an email template", "update:email_templates"),
    ] {
        let op = m(method, "/email-templates/{name}", "emails", summary)
            .scopes(&[scope])
            .ok(200, schema_ref("EmailTemplate"));
        paths.add(if method == "get" {
            op
        } else {
            op.json_body(schema_ref("EmailTemplate"))
        });
    }
    paths.add(
        m("get", "/emails/provider", "emails", "The email provider")
            .scopes(&["read:email_provider"])
            .query(FIELDS)
            .also(&[404])
            .ok(200, any.clone()),
    );
    paths.add(
        m(
            "post",
            "/emails/provider",
            "emails",
            "Configure the email provider",
        )
        .scopes(&["create:email_provider"])
        .json_body(any.clone())
        .ok(201, any.clone()),
    );
    paths.add(
        m(
            "patch",
            "/emails/provider",
            "emails",
            "Update the email provider",
        )
        .scopes(&["update:email_provider"])
        .json_body(any.clone())
        .also(&[404])
        .ok(200, any.clone()),
    );
    paths.add(
        m(
            "delete",
            "/emails/provider",
            "emails",
            "Remove the email provider",
        )
        .scopes(&["delete:email_provider"])
        .also(&[404])
        .empty(204),
    );

    // Clients and grants.
    paths.add(
        m("get", "/clients", "clients", "List clients")
            .scopes(&["read:clients", "read:client_keys"])
            .query(PAGING)
            .query(&["app_type", "is_first_party"])
            .query(FIELDS)
            .ok(200, list(client.clone(), "clients")),
    );
    paths.add(
        m("post", "/clients", "clients", "Create a client")
            .scopes(&["create:clients"])
            .json_body(schema_ref("ClientCreate"))
            .ok(201, client.clone()),
    );
    paths.add(
        m("get", "/clients/{id}", "clients", "Get a client")
            .scopes(&["read:clients", "read:client_keys"])
            .query(FIELDS)
            .ok(200, client.clone()),
    );
    paths.add(
        m("patch", "/clients/{id}", "clients", "Update a client")
            .scopes(&["update:clients", "update:client_keys"])
            .json_body(any.clone())
            .ok(200, client.clone()),
    );
    paths.add(
        m("delete", "/clients/{id}", "clients", "Delete a client")
            .scopes(&["delete:clients"])
            .empty(204),
    );
    paths.add(
        m(
            "post",
            "/clients/{id}/rotate-secret",
            "clients",
            "Rotate a client's secret",
        )
        .scopes(&["update:client_keys"])
        .ok(200, client.clone()),
    );
    let grant = schema_ref("ClientGrant");
    paths.add(
        m("get", "/client-grants", "clients", "List client grants")
            .scopes(&["read:client_grants"])
            .query(PAGING)
            .query(&["audience", "client_id"])
            .ok(200, list(grant.clone(), "client_grants")),
    );
    paths.add(
        m("post", "/client-grants", "clients", "Create a client grant")
            .scopes(&["create:client_grants"])
            .json_body(schema_ref("ClientGrantCreate"))
            .ok(201, grant.clone()),
    );
    paths.add(
        m(
            "patch",
            "/client-grants/{id}",
            "clients",
            "Update a client grant",
        )
        .scopes(&["update:client_grants"])
        .json_body(any.clone())
        .ok(200, grant),
    );
    paths.add(
        m(
            "delete",
            "/client-grants/{id}",
            "clients",
            "Delete a client grant",
        )
        .scopes(&["delete:client_grants"])
        .empty(204),
    );

    // Tenant and keys.
    paths.add(
        m("get", "/tenants/settings", "tenant", "Tenant settings")
            .scopes(&["read:tenant_settings"])
            .query(FIELDS)
            .ok(200, any.clone()),
    );
    paths.add(
        m(
            "patch",
            "/tenants/settings",
            "tenant",
            "Update tenant settings",
        )
        .scopes(&["update:tenant_settings"])
        .json_body(any.clone())
        .ok(200, any.clone()),
    );
    let key = schema_ref("SigningKey");
    paths.add(
        m("get", "/keys/signing", "keys", "Signing keys")
            .scopes(&["read:signing_keys"])
            .ok(200, array_of(key.clone())),
    );
    paths.add(
        m(
            "post",
            "/keys/signing/rotate",
            "keys",
            "Rotate the signing key",
        )
        .scopes(&["create:signing_keys", "update:signing_keys"])
        .ok(
            200,
            json!({"type": "object", "required": ["kid"],
                        "properties": {"kid": {"type": "string"}}}),
        ),
    );
    paths.add(
        m(
            "put",
            "/keys/signing/{kid}/revoke",
            "keys",
            "Revoke a signing key",
        )
        .scopes(&["update:signing_keys"])
        .ok(
            200,
            json!({"type": "object", "required": ["kid"],
                        "properties": {"kid": {"type": "string"}}}),
        ),
    );

    // Logs and log streams.
    paths.add(
        m("get", "/logs", "logs", "Search the tenant log")
            .scopes(&["read:logs"])
            .query(PAGING)
            .query(&["q"])
            .ok(200, list(schema_ref("LogEntry"), "logs")),
    );
    paths.add(
        m("get", "/logs/{id}", "logs", "One log entry")
            .scopes(&["read:logs"])
            .ok(200, schema_ref("LogEntry")),
    );
    let stream = schema_ref("LogStream");
    paths.add(
        m("get", "/log-streams", "log streams", "List log streams")
            .scopes(&["read:log_streams"])
            .ok(200, array_of(stream.clone())),
    );
    paths.add(
        m("post", "/log-streams", "log streams", "Create a log stream")
            .scopes(&["create:log_streams"])
            .json_body(schema_ref("LogStreamCreate"))
            .ok(200, stream.clone()),
    );
    paths.add(
        m(
            "get",
            "/log-streams/{id}",
            "log streams",
            "Get a log stream",
        )
        .scopes(&["read:log_streams"])
        .ok(200, stream.clone()),
    );
    paths.add(
        m(
            "patch",
            "/log-streams/{id}",
            "log streams",
            "Update a log stream",
        )
        .scopes(&["update:log_streams"])
        .json_body(any.clone())
        .ok(200, stream),
    );
    paths.add(
        m(
            "delete",
            "/log-streams/{id}",
            "log streams",
            "Delete a log stream",
        )
        .scopes(&["delete:log_streams"])
        .empty(204),
    );
    paths.add(
        m(
            "get",
            "/log-streams/{id}/deliveries",
            "log streams",
            "A log stream's recent deliveries",
        )
        .scopes(&["read:log_streams"])
        .ok(200, any.clone()),
    );

    // Jobs: bulk user imports and exports.
    let job = json!({"type": "object", "required": ["id", "type", "status"],
        "properties": {"id": {"type": "string"}, "type": {"type": "string"},
                       "status": {"type": "string"}}});
    paths.add(
        m(
            "post",
            "/jobs/users-imports",
            "jobs",
            "Import users from a file (Auth0's bulk-import format)",
        )
        .scopes(&["create:users"])
        .multipart_body(
            "users",
            &[
                "connection_id",
                "upsert",
                "external_id",
                "send_completion_email",
            ],
        )
        .also(&[404, 413])
        .ok(202, job.clone()),
    );
    let field = json!({"type": "object", "required": ["name"], "additionalProperties": false,
        "properties": {"name": {"type": "string"}, "export_as": {"type": "string"}}});
    paths.add(
        m(
            "post",
            "/jobs/users-exports",
            "jobs",
            "Export users to a gzip file (newline-delimited JSON or CSV)",
        )
        .scopes(&["read:users"])
        .json_body(
            json!({"type": "object", "additionalProperties": false, "properties": {
                "connection_id": {"type": "string"},
                "format": {"type": "string", "enum": ["json", "csv"]},
                "limit": {"type": "integer", "minimum": 1},
                "fields": {"type": "array", "items": field},
            }}),
        )
        .also(&[404])
        .ok(201, job.clone()),
    );
    paths.add(
        m(
            "post",
            "/jobs/verification-email",
            "jobs",
            "Send a user the email-verification mail (a job)",
        )
        .scopes(&["update:users"])
        .json_body(json!({"type": "object", "additionalProperties": false,
            "required": ["user_id"],
            "properties": {
                "user_id": {"type": "string"},
                "client_id": {"type": "string"},
                "identity": {"type": "object", "required": ["user_id", "provider"],
                             "properties": {"user_id": {"type": "string"},
                                            "provider": {"type": "string"}}},
                "organization_id": {"type": "string"}}}))
        .also(&[404])
        .ok(201, job.clone()),
    );
    paths.add(
        m("get", "/jobs/{id}", "jobs", "A job's status")
            .scopes(&["create:users", "read:users"])
            .ok(200, job),
    );
    paths.add(
        m(
            "get",
            "/jobs/{id}/errors",
            "jobs",
            "The users a finished import refused, and why",
        )
        .scopes(&["create:users", "read:users"])
        .ok(
            200,
            json!({"oneOf": [{"type": "array"}, {"type": "object"}]}),
        ),
    );

    // Guardian.
    paths.add(
        m("get", "/guardian/factors", "guardian", "MFA factors")
            .scopes(&["read:guardian_factors"])
            .ok(200, array_of(object())),
    );
    paths.add(
        m(
            "put",
            "/guardian/factors/{name}",
            "guardian",
            "Enable or disable a factor",
        )
        .scopes(&["update:guardian_factors"])
        .json_body(json!({"type": "object", "required": ["enabled"],
                          "properties": {"enabled": {"type": "boolean"}}}))
        .ok(200, any.clone()),
    );
    paths.add(
        m("get", "/guardian/policies", "guardian", "MFA policies")
            .scopes(&["read:mfa_policies"])
            .ok(200, array_of(json!({"type": "string"}))),
    );
    paths.add(
        m("put", "/guardian/policies", "guardian", "Set MFA policies")
            .scopes(&["update:mfa_policies"])
            .json_body(array_of(json!({"type": "string"})))
            .ok(200, array_of(json!({"type": "string"}))),
    );

    // Tickets.
    paths.add(
        m(
            "post",
            "/tickets/password-change",
            "tickets",
            "A password-change ticket",
        )
        .scopes(&["create:user_tickets"])
        .json_body(any.clone())
        .also(&[404])
        .ok(
            201,
            json!({"type": "object", "required": ["ticket"],
                        "properties": {"ticket": {"type": "string"}}}),
        ),
    );

    paths.add(
        m(
            "post",
            "/tickets/email-verification",
            "tickets",
            "An email-verification ticket",
        )
        .scopes(&["create:user_tickets"])
        .json_body(json!({"type": "object", "additionalProperties": false,
            "required": ["user_id"],
            "properties": {
                "user_id": {"type": "string"},
                "result_url": {"type": "string"},
                "client_id": {"type": "string"},
                "organization_id": {"type": "string"},
                "ttl_sec": {"type": "integer"},
                "includeEmailInRedirect": {"type": "boolean"},
                "identity": {"type": "object", "required": ["user_id", "provider"],
                             "properties": {"user_id": {"type": "string"},
                                            "provider": {"type": "string"}}}}}))
        .also(&[404])
        .ok(
            201,
            json!({"type": "object", "required": ["ticket"],
                        "properties": {"ticket": {"type": "string"}}}),
        ),
    );

    // Resource servers.
    let api = schema_ref("ResourceServer");
    paths.add(
        m("get", "/resource-servers", "resource servers", "List APIs")
            .scopes(&["read:resource_servers"])
            .query(PAGING)
            .ok(200, list(api.clone(), "resource_servers")),
    );
    paths.add(
        m(
            "post",
            "/resource-servers",
            "resource servers",
            "Create an API",
        )
        .scopes(&["create:resource_servers"])
        .json_body(schema_ref("ResourceServerCreate"))
        .ok(201, api.clone()),
    );
    paths.add(
        m(
            "get",
            "/resource-servers/{id}",
            "resource servers",
            "Get an API",
        )
        .scopes(&["read:resource_servers"])
        .query(FIELDS)
        .ok(200, api.clone()),
    );
    paths.add(
        m(
            "patch",
            "/resource-servers/{id}",
            "resource servers",
            "Update an API",
        )
        .scopes(&["update:resource_servers"])
        .json_body(any.clone())
        .ok(200, api),
    );
    paths.add(
        m(
            "delete",
            "/resource-servers/{id}",
            "resource servers",
            "Delete an API",
        )
        .scopes(&["delete:resource_servers"])
        .empty(204),
    );

    // Prompts.
    paths.add(
        m("get", "/prompts", "prompts", "Prompt settings")
            .scopes(&["read:prompts"])
            .ok(200, any.clone()),
    );
    paths.add(
        m("patch", "/prompts", "prompts", "Update prompt settings")
            .scopes(&["update:prompts"])
            .json_body(any.clone())
            .ok(200, any.clone()),
    );
    paths.add(
        m("get", "/prompts/rendering", "prompts", "Rendering settings")
            .scopes(&["read:prompts"])
            .ok(200, any.clone()),
    );
    paths.add(
        m(
            "patch",
            "/prompts/rendering",
            "prompts",
            "Update rendering settings",
        )
        .scopes(&["update:prompts"])
        .json_body(any.clone())
        .ok(200, any.clone()),
    );
    paths.add(
        m(
            "get",
            "/prompts/{prompt}/custom-text/{language}",
            "prompts",
            "A prompt's custom text",
        )
        .scopes(&["read:prompts"])
        .ok(200, any.clone()),
    );
    paths.add(
        m(
            "put",
            "/prompts/{prompt}/custom-text/{language}",
            "prompts",
            "Set a prompt's custom text",
        )
        .scopes(&["update:prompts"])
        .json_body(any.clone())
        .ok(200, any.clone()),
    );
    paths.add(
        m(
            "get",
            "/prompts/{prompt}/partials",
            "prompts",
            "A prompt's partials",
        )
        .scopes(&["read:prompts"])
        .ok(200, any.clone()),
    );
    paths.add(
        m(
            "put",
            "/prompts/{prompt}/partials",
            "prompts",
            "Set a prompt's partials",
        )
        .scopes(&["update:prompts"])
        .json_body(any.clone())
        .ok(200, any.clone()),
    );

    // Branding.
    paths.add(
        m("get", "/branding", "branding", "Branding settings")
            .scopes(&["read:branding"])
            .ok(200, any.clone()),
    );
    paths.add(
        m("patch", "/branding", "branding", "Update branding settings")
            .scopes(&["update:branding"])
            .json_body(any.clone())
            .ok(200, any.clone()),
    );
    let template_path = "/branding/templates/universal-login";
    paths.add(
        m(
            "get",
            template_path,
            "branding",
            "The Universal Login template (never set: 404)",
        )
        .scopes(&["read:branding"])
        .also(&[404]),
    );
    paths.add(
        m(
            "put",
            template_path,
            "branding",
            "Set the Universal Login template (refused unless empty)",
        )
        .scopes(&["update:branding"])
        .json_body(any.clone())
        .ok(200, any.clone()),
    );
    paths.add(
        m(
            "delete",
            template_path,
            "branding",
            "Delete the Universal Login template",
        )
        .scopes(&["delete:branding"])
        .empty(204),
    );
    paths.add(
        m(
            "get",
            "/branding/themes/default",
            "branding",
            "The default theme (none: 404)",
        )
        .scopes(&["read:branding"])
        .also(&[404]),
    );
    paths.add(
        m(
            "post",
            "/branding/themes",
            "branding",
            "Create a theme (refused)",
        )
        .scopes(&["create:branding"]),
    );

    // Attack protection.
    for (path, summary) in [
        (
            "/attack-protection/breached-password-detection",
            "Breached-password detection",
        ),
        (
            "/attack-protection/brute-force-protection",
            "Brute-force protection",
        ),
        (
            "/attack-protection/suspicious-ip-throttling",
            "Suspicious IP throttling",
        ),
    ] {
        paths.add(
            m("get", path, "attack protection", summary)
                .scopes(&["read:attack_protection"])
                .ok(200, any.clone()),
        );
        paths.add(
            m("patch", path, "attack protection", summary)
                .scopes(&["update:attack_protection"])
                .json_body(any.clone())
                .ok(200, any.clone()),
        );
    }
    // Auth0 gates these by plan: 403 `feature_not_enabled`, read or write.
    for (path, feature) in [
        ("/attack-protection/bot-detection", "Bot detection"),
        ("/attack-protection/captcha", "CAPTCHA"),
    ] {
        for method in ["get", "patch"] {
            paths.add(
                m(
                    method,
                    path,
                    "attack protection",
                    &format!("{feature}: 403 feature_not_enabled"),
                )
                .scopes(&["read:attack_protection", "update:attack_protection"]),
            );
        }
    }

    not_offered(paths);
}

/// Features Latchkey does not offer: the same tables `mgmt/not_offered.rs` routes from.
fn not_offered(paths: &mut Paths) {
    let m = Op::mgmt;
    let any = object();
    paths.add(
        m(
            "get",
            "/rules-configs",
            "not offered",
            "Rules configuration: empty",
        )
        .scopes(&["read:rules_configs"])
        .ok(200, array_of(object())),
    );
    paths.add(
        m(
            "put",
            "/rules-configs/{key}",
            "not offered",
            "Rules configuration: refused",
        )
        .scopes(&["update:rules_configs"]),
    );
    paths.add(
        m(
            "delete",
            "/rules-configs/{key}",
            "not offered",
            "Rules configuration: nothing to delete",
        )
        .scopes(&["delete:rules_configs"])
        .empty(204),
    );
    for path in [
        "/supplemental-signals",
        "/risk-assessments/settings",
        "/risk-assessments/settings/new-device",
    ] {
        paths.add(
            m("get", path, "not offered", "Disabled")
                .scopes(&["read:attack_protection"])
                .also(&[404])
                .ok(200, any.clone()),
        );
        paths.add(
            m(
                "patch",
                path,
                "not offered",
                "Only the disabled state is accepted",
            )
            .scopes(&["update:attack_protection"])
            .json_body(any.clone())
            .ok(200, any.clone()),
        );
    }
    for &(path, feature, _, _) in PLAN_GATED {
        for method in ["get", "post", "put", "patch"] {
            paths.add(m(
                method,
                path,
                "not offered",
                &format!("{feature}: 403 feature_not_enabled"),
            ));
        }
    }
    for c in COLLECTIONS {
        let summary = format!("{}: not available", c.feature);
        paths.add(
            m(
                "get",
                c.path,
                "not offered",
                &format!("{}: empty", c.feature),
            )
            .query(PAGING)
            .ok(200, list(object(), c.key)),
        );
        paths.add(m("post", c.path, "not offered", &summary).json_body(any.clone()));
        let member = format!("{}/{{id}}", c.path);
        for method in ["get", "patch", "put", "delete"] {
            let op = m(method, &member, "not offered", &summary);
            paths.add(if method == "patch" || method == "put" {
                op.json_body(any.clone())
            } else {
                op
            });
        }
    }
}

/// Shared schemas: the error dialects, Auth0's aggregates as `domain/render.rs` writes them
/// (properties typed, none required: `fields` may leave any out), and request bodies.
fn components() -> Value {
    let string = json!({"type": "string"});
    let nullable_string = json!({"type": ["string", "null"]});
    let boolean = json!({"type": "boolean"});
    let strings = array_of(string.clone());
    json!({
        "responses": error_responses(),
        "securitySchemes": {
            "bearer": {
                "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "A Management API access token (client credentials, audience `<issuer>api/v2/`); each operation lists the scopes that admit it",
            },
        },
        "schemas": {
            "ManagementError": {"type": "object", "required": ["statusCode", "error", "message"],
                "properties": {"statusCode": {"type": "integer"}, "error": string,
                    "message": string, "errorCode": string, "attributes": object()}},
            "OAuthError": {"type": "object", "required": ["error", "error_description"],
                "properties": {"error": string, "error_description": string,
                    "mfa_token": string, "mfa_requirements": object()}},
            "DbConnectionsError": {"type": "object",
                "required": ["name", "code", "description", "statusCode"],
                "properties": {"name": string, "code": string,
                    "description": {"type": ["string", "object"]}, "statusCode": {"type": "integer"},
                    "message": string, "policy": string}},
            "TokenRequest": {"type": "object", "required": ["grant_type"], "properties": {
                "grant_type": string, "client_id": string, "client_secret": string,
                "audience": string, "scope": string, "username": string, "password": string,
                "realm": string, "refresh_token": string, "code": string, "redirect_uri": string,
                "code_verifier": string, "mfa_token": string, "otp": string,
                "recovery_code": string}},
            "TokenResponse": {"type": "object", "required": ["access_token", "token_type", "expires_in"],
                "properties": {"access_token": string, "id_token": string, "refresh_token": string,
                    "recovery_code": string, "scope": string, "expires_in": {"type": "integer"},
                    "token_type": {"const": "Bearer"}}},
            "RevokeRequest": {"type": "object", "required": ["token"], "properties": {
                "token": string, "client_id": string, "client_secret": string}},
            "SignupRequest": {"type": "object", "required": ["client_id", "email", "password", "connection"],
                "properties": {"client_id": string, "email": string, "password": string,
                    "connection": string, "username": string, "given_name": string,
                    "family_name": string, "name": string, "nickname": string, "picture": string,
                    "user_metadata": object()}},
            "ChangePasswordRequest": {"type": "object", "required": ["client_id", "email", "connection"],
                "properties": {"client_id": string, "email": string, "connection": string}},
            "CrossOriginRequest": {"type": "object",
                "required": ["client_id", "username", "password", "credential_type"],
                "properties": {"client_id": string, "username": string, "password": string,
                    "realm": string, "credential_type": string}},
            "User": {"type": "object", "properties": {
                "user_id": string, "email": nullable_string, "email_verified": boolean,
                "name": string, "nickname": string, "picture": string,
                "identities": array_of(object()), "created_at": string, "updated_at": string,
                "user_metadata": object(), "app_metadata": object(),
                "logins_count": {"type": "integer"}, "blocked": boolean}},
            "UserCreate": {"type": "object", "required": ["connection"], "properties": {
                "connection": string, "email": string, "password": string, "username": string,
                "email_verified": boolean, "blocked": boolean, "user_metadata": object(),
                "app_metadata": object(), "given_name": string, "family_name": string,
                "name": string, "nickname": string, "picture": string}},
            "Client": {"type": "object", "properties": {
                "client_id": string, "name": string, "app_type": nullable_string,
                "is_first_party": boolean, "callbacks": strings, "allowed_origins": strings,
                "web_origins": strings, "grant_types": strings, "client_secret": string}},
            "ClientCreate": {"type": "object", "required": ["name"], "properties": {
                "name": string, "app_type": string, "callbacks": strings,
                "grant_types": strings, "token_endpoint_auth_method": string}},
            "ClientGrant": {"type": "object", "properties": {
                "id": string, "client_id": string, "audience": string, "scope": strings}},
            "ClientGrantCreate": {"type": "object", "required": ["client_id", "audience", "scope"],
                "properties": {"client_id": string, "audience": string, "scope": strings}},
            "Connection": {"type": "object", "properties": {
                "id": string, "name": string, "strategy": string, "options": object(),
                "enabled_clients": strings, "realms": strings,
                "is_domain_connection": boolean, "display_name": string}},
            "ConnectionCreate": {"type": "object", "required": ["name", "strategy"], "properties": {
                "name": string, "strategy": string, "options": object(),
                "enabled_clients": strings, "display_name": string}},
            "ResourceServer": {"type": "object", "properties": {
                "id": string, "name": string, "identifier": string, "is_system": boolean,
                "scopes": array_of(object()), "signing_alg": string,
                "allow_offline_access": boolean, "token_lifetime": {"type": "integer"}}},
            "ResourceServerCreate": {"type": "object", "required": ["identifier"], "properties": {
                "identifier": string, "name": string, "scopes": array_of(object()),
                "allow_offline_access": boolean, "token_lifetime": {"type": "integer"}}},
            "EmailTemplate": {"type": "object", "properties": {
                "template": string, "body": string, "from": string, "subject": string,
                "syntax": string, "resultUrl": nullable_string, "enabled": boolean}},
            "LogEntry": {"type": "object", "properties": {
                "log_id": string, "type": string, "date": string}},
            "LogStream": {"type": "object", "properties": {
                "id": string, "name": string, "type": string, "status": string,
                "sink": object(), "filters": array_of(object())}},
            "LogStreamCreate": {"type": "object", "required": ["type", "sink"], "properties": {
                "name": string, "type": string, "sink": object(), "filters": array_of(object())}},
            "Action": {"type": "object", "properties": {
                "id": string, "name": string, "code": string,
                "supported_triggers": array_of(object()), "status": string}},
            "ActionCreate": {"type": "object", "required": ["name", "supported_triggers"],
                "properties": {"name": string, "code": string, "runtime": string,
                    "supported_triggers": array_of(object()), "secrets": array_of(object()),
                    "dependencies": array_of(object())}},
            "SigningKey": {"type": "object", "required": ["kid"], "properties": {
                "kid": string, "cert": string, "pkcs7": string, "current": boolean,
                "next": boolean, "previous": boolean, "revoked": boolean}},
        },
    })
}
