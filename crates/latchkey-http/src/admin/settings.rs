//! Settings: the tenant's name, logo, colour, support contacts and session lifetimes; the
//! change-password flow (v1 or v2); multi-factor authentication. Each form builds what the
//! Management API takes (`PATCH /tenants/settings`, `PUT /guardian/factors/otp`,
//! `PUT /guardian/policies`) and calls the same services, which check it.

use super::settings_views::Settings;
use super::{Console, ConsoleForm, Notice, done};
use crate::AppState;
use crate::extract::Meta;
use crate::web::failed;
use axum::Router;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use latchkey_core::ServiceError;
use latchkey_core::domain::TenantSettings;
use serde::Deserialize;
use serde_json::{Map, Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/settings", get(show).post(save))
        .route("/admin/settings/password-flow", post(save_flow))
        .route("/admin/settings/mfa", post(save_mfa))
}

const SECTION: &str = "/admin/settings";

#[derive(Deserialize, Default)]
struct DoneQuery {
    done: Option<String>,
}

fn notice_text(code: &str) -> Option<&'static str> {
    Some(match code {
        "saved" => "Settings saved. The hosted pages and new sessions use them at once.",
        "flow-v1" => {
            "The change-password flow is now v1 (legacy). Turn it back to v2 as soon as the applications that need it allow."
        }
        "flow-v2" => {
            "The change-password flow is now v2: users choose their new password after opening the link."
        }
        "mfa" => "Multi-factor authentication settings saved.",
        _ => return None,
    })
}

/// The general form's fields, as posted (and as shown: from the settings or the attempt).
#[derive(Deserialize, Default)]
pub(super) struct GeneralFields {
    #[serde(default)]
    pub(super) friendly_name: String,
    #[serde(default)]
    pub(super) picture_url: String,
    #[serde(default)]
    pub(super) primary_color: String,
    #[serde(default)]
    pub(super) support_email: String,
    #[serde(default)]
    pub(super) support_url: String,
    #[serde(default)]
    pub(super) session_lifetime: String,
    #[serde(default)]
    pub(super) idle_session_lifetime: String,
}

/// `universal_login.colors.primary`, where the hosted pages read their colour.
fn primary_color(s: &TenantSettings) -> Option<&str> {
    s.extra
        .get("universal_login")
        .and_then(|u| u.get("colors"))
        .and_then(|c| c.get("primary"))
        .and_then(Value::as_str)
}

fn hours(h: f64) -> String {
    format!("{h}")
}

impl GeneralFields {
    fn from_settings(s: &TenantSettings) -> Self {
        Self {
            friendly_name: s.friendly_name.clone(),
            picture_url: s.picture_url.clone().unwrap_or_default(),
            primary_color: primary_color(s).unwrap_or_default().to_owned(),
            support_email: s.support_email.clone().unwrap_or_default(),
            support_url: s.support_url.clone().unwrap_or_default(),
            session_lifetime: hours(s.session_lifetime),
            idle_session_lifetime: hours(s.idle_session_lifetime),
        }
    }

    /// The `PATCH /tenants/settings` body these fields make: an empty optional field removes
    /// the setting (`null`), as in the API.
    fn patch(&self, current: &TenantSettings) -> Map<String, Value> {
        let optional = |v: &str| {
            let v = v.trim();
            if v.is_empty() { Value::Null } else { json!(v) }
        };
        let mut p = Map::new();
        p.insert("friendly_name".into(), json!(self.friendly_name.trim()));
        p.insert("picture_url".into(), optional(&self.picture_url));
        p.insert("support_email".into(), optional(&self.support_email));
        p.insert("support_url".into(), optional(&self.support_url));
        p.insert(
            "session_lifetime".into(),
            number_or_text(&self.session_lifetime),
        );
        p.insert(
            "idle_session_lifetime".into(),
            number_or_text(&self.idle_session_lifetime),
        );
        // `universal_login` replaces as a whole: keep what else it holds, change the colour only
        // when it changed.
        let colour = self.primary_color.trim();
        if primary_color(current).unwrap_or_default() != colour {
            let mut ul = match current.extra.get("universal_login") {
                Some(Value::Object(m)) => m.clone(),
                _ => Map::new(),
            };
            let mut colors = match ul.remove("colors") {
                Some(Value::Object(m)) => m,
                _ => Map::new(),
            };
            if colour.is_empty() {
                colors.remove("primary");
            } else {
                colors.insert("primary".into(), json!(colour));
            }
            ul.insert("colors".into(), Value::Object(colors));
            p.insert("universal_login".into(), Value::Object(ul));
        }
        p
    }
}

/// A number as a JSON number; anything else as the text typed, for the service to refuse with
/// its own message.
fn number_or_text(s: &str) -> Value {
    let s = s.trim();
    s.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or_else(|| json!(s), Value::Number)
}

async fn settings(console: &Console) -> Result<TenantSettings, Response> {
    console
        .state
        .services
        .tenant
        .tenant_settings()
        .await
        .map_err(|err| failed("reading tenant settings in the console", err))
}

/// A refusal the page shows (the service's message), or `None` for our own failure.
fn refusal(err: &ServiceError) -> Option<String> {
    match err {
        ServiceError::Invalid(p) => Some(p.to_string()),
        ServiceError::BadRequest { message, .. }
        | ServiceError::NotFound { message, .. }
        | ServiceError::Conflict { message, .. } => Some(message.clone()),
        _ => None,
    }
}

fn settings_page(
    console: &Console,
    s: &TenantSettings,
    general: &GeneralFields,
    notice: Option<Notice<'_>>,
    status: StatusCode,
) -> Response {
    let view = Settings {
        csrf: console.csrf(),
        general,
        flow_v1: s.flags.change_pwd_flow_v1,
        otp: s.mfa.otp_enabled,
        all_apps: s.mfa.policies.iter().any(|p| p == "all-applications"),
    };
    console.render(status, SECTION, "Settings", notice, &view)
}

async fn show(console: Console, Query(q): Query<DoneQuery>) -> Response {
    let s = match settings(&console).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let notice = q.done.as_deref().and_then(notice_text).map(Notice::Ok);
    let general = GeneralFields::from_settings(&s);
    settings_page(&console, &s, &general, notice, StatusCode::OK)
}

/// The settings page again with `message`, a 400 and, in the general form, what was typed.
async fn refused(console: &Console, general: Option<&GeneralFields>, message: &str) -> Response {
    let s = match settings(console).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let shown;
    let general = match general {
        Some(g) => g,
        None => {
            shown = GeneralFields::from_settings(&s);
            &shown
        }
    };
    settings_page(
        console,
        &s,
        general,
        Some(Notice::Error(message)),
        StatusCode::BAD_REQUEST,
    )
}

async fn save(Meta(meta): Meta, ConsoleForm(console, f): ConsoleForm<GeneralFields>) -> Response {
    let current = match settings(&console).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let caller = console.admin.caller(meta);
    match console
        .state
        .services
        .tenant
        .update_tenant_settings(f.patch(&current), &caller)
        .await
    {
        Ok(_) => done(SECTION, "saved"),
        Err(err) => match refusal(&err) {
            Some(message) => refused(&console, Some(&f), &message).await,
            None => failed("saving tenant settings in the console", err),
        },
    }
}

#[derive(Deserialize)]
struct FlowFields {
    #[serde(default)]
    flow: String,
}

async fn save_flow(Meta(meta): Meta, ConsoleForm(console, f): ConsoleForm<FlowFields>) -> Response {
    let v1 = match f.flow.as_str() {
        "v1" => true,
        "v2" => false,
        _ => return refused(&console, None, "Nothing changed: choose v1 or v2.").await,
    };
    let mut patch = Map::new();
    patch.insert("flags".into(), json!({"change_pwd_flow_v1": v1}));
    let caller = console.admin.caller(meta);
    match console
        .state
        .services
        .tenant
        .update_tenant_settings(patch, &caller)
        .await
    {
        Ok(_) => done(SECTION, if v1 { "flow-v1" } else { "flow-v2" }),
        Err(err) => match refusal(&err) {
            Some(message) => refused(&console, None, &message).await,
            None => failed("saving the change-password flow in the console", err),
        },
    }
}

#[derive(Deserialize)]
struct MfaFields {
    #[serde(default)]
    otp: Option<String>,
    #[serde(default)]
    policy: String,
}

async fn save_mfa(Meta(meta): Meta, ConsoleForm(console, f): ConsoleForm<MfaFields>) -> Response {
    // `PUT /guardian/policies` bodies: `[]` is Auth0's "never".
    let policies = match f.policy.as_str() {
        "never" => Vec::new(),
        "all-applications" => vec!["all-applications".to_owned()],
        _ => {
            return refused(
                &console,
                None,
                "Nothing changed: choose when MFA is required.",
            )
            .await;
        }
    };
    let caller = console.admin.caller(meta);
    let services = console.state.services.clone();
    // The factor, then the policy: the two Management API calls the dashboard makes.
    let result = async {
        services
            .mfa
            .set_guardian_factor("otp", f.otp.is_some(), &caller)
            .await?;
        services.mfa.set_mfa_policies(policies, &caller).await
    }
    .await;
    match result {
        Ok(_) => done(SECTION, "mfa"),
        Err(err) => match refusal(&err) {
            Some(message) => refused(&console, None, &message).await,
            None => failed("saving MFA settings in the console", err),
        },
    }
}
