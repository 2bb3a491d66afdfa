//! Applications: the list (and the APIs, read-only), each application's URLs (callbacks, allowed logout URLs, web
//! origins, allowed origins) and rotating its secret. Saving makes the `ClientPatch` the
//! Management API's `PATCH /clients/{id}` makes and calls the same service, which checks the
//! URLs. A secret is shown only on the page that answers its rotation.

use super::applications_views::{self as views, ApiRow, AppRow};
use super::{Console, ConsoleForm, Notice, done};
use crate::AppState;
use crate::extract::Meta;
use crate::web::failed;
use axum::Router;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use latchkey_core::ServiceError;
use latchkey_core::domain::{AppType, Client, TokenEndpointAuthMethod};
use latchkey_core::services::ClientPatch;
use secrecy::ExposeSecret;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/applications", get(list))
        .route("/admin/applications/{id}", get(detail).post(save))
        .route(
            "/admin/applications/{id}/rotate-secret",
            post(rotate_secret),
        )
}

const SECTION: &str = "/admin/applications";

fn app_path(id: &str) -> String {
    format!("/admin/applications/{}", crate::web::url_component(id))
}

fn app_type(t: Option<AppType>) -> &'static str {
    match t {
        Some(AppType::Native) => "Native",
        Some(AppType::Spa) => "Single-page application",
        Some(AppType::RegularWeb) => "Regular web application",
        Some(AppType::NonInteractive) => "Machine to machine",
        None => "—",
    }
}

fn auth_method(m: TokenEndpointAuthMethod) -> &'static str {
    match m {
        TokenEndpointAuthMethod::None => "none (public application)",
        TokenEndpointAuthMethod::ClientSecretPost => "client_secret_post",
        TokenEndpointAuthMethod::ClientSecretBasic => "client_secret_basic",
    }
}

#[derive(Deserialize, Default)]
struct DoneQuery {
    done: Option<String>,
}

fn notice_text(code: &str) -> Option<&'static str> {
    Some(match code {
        "saved" => "Application URLs saved. They apply to the next request.",
        _ => return None,
    })
}

async fn list(console: Console, Query(q): Query<DoneQuery>) -> Response {
    let clients = match console.state.services.tenant.list_clients().await {
        Ok(c) => c,
        Err(err) => {
            return failed("listing applications in the console", err);
        }
    };
    let rows = clients
        .iter()
        .map(|c| AppRow {
            path: app_path(c.client_id.as_str()),
            name: if c.name.is_empty() {
                c.client_id.as_str()
            } else {
                &c.name
            },
            global: c.is_global,
            id: c.client_id.as_str(),
            kind: app_type(c.app_type),
            first_callback: c.callbacks.first().map(String::as_str),
            more_callbacks: c.callbacks.len().saturating_sub(1),
        })
        .collect();
    let resource_servers = match console.state.services.tenant.list_resource_servers().await {
        Ok(r) => r,
        Err(err) => {
            return failed("listing APIs in the console", err);
        }
    };
    let apis = resource_servers
        .iter()
        .map(|rs| ApiRow {
            name: &rs.name,
            identifier: &rs.identifier,
            system: rs.is_system,
            scopes: rs.scopes.len(),
            token_lifetime: rs.token_lifetime,
            offline: rs.allow_offline_access,
        })
        .collect();
    let notice = q.done.as_deref().and_then(notice_text).map(Notice::Ok);
    console.render(
        StatusCode::OK,
        SECTION,
        "Applications",
        notice,
        &views::List { rows, apis },
    )
}

/// The URL lists, one a line in a textarea.
#[derive(Deserialize, Default)]
struct UrlFields {
    #[serde(default)]
    callbacks: String,
    #[serde(default)]
    allowed_logout_urls: String,
    #[serde(default)]
    web_origins: String,
    #[serde(default)]
    allowed_origins: String,
    /// The "Allow cross-origin authentication" checkbox: present (`yes`) when ticked.
    #[serde(default)]
    cross_origin_authentication: Option<String>,
    #[serde(default)]
    cross_origin_loc: String,
}

impl UrlFields {
    fn from_client(c: &Client) -> Self {
        Self {
            callbacks: c.callbacks.join("\n"),
            allowed_logout_urls: c.allowed_logout_urls.join("\n"),
            web_origins: c.web_origins.join("\n"),
            allowed_origins: c.allowed_origins.join("\n"),
            cross_origin_authentication: c.cross_origin_authentication.then(|| "yes".into()),
            cross_origin_loc: c.cross_origin_loc.clone().unwrap_or_default(),
        }
    }

    /// What `PATCH /clients/{id}` with these four arrays and the cross-origin settings makes.
    fn patch(&self) -> ClientPatch {
        ClientPatch {
            callbacks: Some(lines(&self.callbacks)),
            allowed_logout_urls: Some(lines(&self.allowed_logout_urls)),
            web_origins: Some(lines(&self.web_origins)),
            allowed_origins: Some(lines(&self.allowed_origins)),
            cross_origin_authentication: Some(self.cross_origin_authentication.is_some()),
            cross_origin_loc: Some(
                Some(self.cross_origin_loc.trim().to_owned()).filter(|l| !l.is_empty()),
            ),
            ..ClientPatch::default()
        }
    }
}

/// One entry a line, trimmed, blank lines dropped.
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// What the page shows besides the application.
#[derive(Default)]
struct Extra<'a> {
    /// The URL form as typed (after a refusal); otherwise the saved values.
    urls: Option<&'a UrlFields>,
    /// The secret just made by a rotation: shown this once.
    new_secret: Option<&'a str>,
}

fn app_page(
    console: &Console,
    c: &Client,
    extra: Extra<'_>,
    notice: Option<Notice<'_>>,
    status: StatusCode,
) -> Response {
    let saved = UrlFields::from_client(c);
    let urls = extra.urls.unwrap_or(&saved);
    let view = views::Detail {
        csrf: console.csrf(),
        path: app_path(c.client_id.as_str()),
        new_secret: extra.new_secret,
        id: c.client_id.as_str(),
        kind: app_type(c.app_type),
        description: &c.description,
        grants: c.grant_types.join(", "),
        method: auth_method(c.token_endpoint_auth_method),
        created: c.created_at.to_iso(),
        global: c.is_global,
        callbacks: &urls.callbacks,
        allowed_logout_urls: &urls.allowed_logout_urls,
        web_origins: &urls.web_origins,
        allowed_origins: &urls.allowed_origins,
        cross_origin_authentication: urls.cross_origin_authentication.is_some(),
        cross_origin_loc: &urls.cross_origin_loc,
    };
    let title = if c.name.is_empty() {
        c.client_id.as_str()
    } else {
        &c.name
    };
    console.render(status, SECTION, title, notice, &view)
}

fn no_such_app(console: &Console) -> Response {
    console.render(
        StatusCode::NOT_FOUND,
        SECTION,
        "Application not found",
        None,
        &views::Missing,
    )
}

async fn find(console: &Console, id: &str) -> Result<Client, Response> {
    match console.state.services.tenant.get_client(id).await {
        Ok(c) => Ok(c),
        Err(ServiceError::NotFound { .. }) => Err(no_such_app(console)),
        Err(err) => Err(failed("loading an application in the console", err)),
    }
}

/// A refusal to show with the service's message, or `None` for our own failure.
fn refusal(err: &ServiceError) -> Option<String> {
    match err {
        ServiceError::Invalid(p) => Some(p.to_string()),
        ServiceError::BadRequest { message, .. } | ServiceError::Conflict { message, .. } => {
            Some(message.clone())
        }
        _ => None,
    }
}

async fn detail(console: Console, Path(id): Path<String>, Query(q): Query<DoneQuery>) -> Response {
    let client = match find(&console, &id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let notice = q.done.as_deref().and_then(notice_text).map(Notice::Ok);
    app_page(&console, &client, Extra::default(), notice, StatusCode::OK)
}

async fn save(
    Meta(meta): Meta,
    Path(id): Path<String>,
    ConsoleForm(console, f): ConsoleForm<UrlFields>,
) -> Response {
    let client = match find(&console, &id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let caller = console.admin.caller(meta);
    match console
        .state
        .services
        .tenant
        .update_client(client.client_id.as_str(), f.patch(), &caller)
        .await
    {
        Ok(saved) => done(&app_path(saved.client_id.as_str()), "saved"),
        Err(ServiceError::NotFound { .. }) => no_such_app(&console),
        Err(err) => match refusal(&err) {
            Some(message) => {
                let extra = Extra {
                    urls: Some(&f),
                    ..Extra::default()
                };
                app_page(
                    &console,
                    &client,
                    extra,
                    Some(Notice::Error(&message)),
                    StatusCode::BAD_REQUEST,
                )
            }
            None => failed("saving an application in the console", err),
        },
    }
}

#[derive(Deserialize)]
struct RotateFields {
    #[serde(default)]
    confirm: String,
}

async fn rotate_secret(
    Meta(meta): Meta,
    Path(id): Path<String>,
    ConsoleForm(console, f): ConsoleForm<RotateFields>,
) -> Response {
    let client = match find(&console, &id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if f.confirm != "yes" {
        return app_page(
            &console,
            &client,
            Extra::default(),
            Some(Notice::Error(
                "Nothing changed: tick the box to confirm that the current secret stops working.",
            )),
            StatusCode::BAD_REQUEST,
        );
    }
    let caller = console.admin.caller(meta);
    match console
        .state
        .services
        .tenant
        .rotate_client_secret(client.client_id.as_str(), &caller)
        .await
    {
        Ok(rotated) => {
            let extra = Extra {
                new_secret: rotated.client_secret.as_ref().map(|s| s.expose_secret()),
                ..Extra::default()
            };
            app_page(
                &console,
                &rotated,
                extra,
                Some(Notice::Ok(
                    "Secret rotated. The old secret no longer works.",
                )),
                StatusCode::OK,
            )
        }
        Err(ServiceError::NotFound { .. }) => no_such_app(&console),
        Err(err) => match refusal(&err) {
            Some(message) => app_page(
                &console,
                &client,
                Extra::default(),
                Some(Notice::Error(&message)),
                StatusCode::BAD_REQUEST,
            ),
            None => failed("rotating a client secret in the console", err),
        },
    }
}
