//! Settings: the tenant's name, logo, colour, support contacts and session lifetimes; the
//! change-password flow (v1 or v2); multi-factor authentication. Each form builds what the
//! Management API takes (`PATCH /tenants/settings`, `PUT /guardian/factors/otp`,
//! `PUT /guardian/policies`) and calls the same services, which check it.

use super::e;
use super::{Console, ConsoleForm, Notice, done};
use crate::AppState;
use crate::extract::Meta;
use crate::web::error_page;
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
struct GeneralFields {
    #[serde(default)]
    friendly_name: String,
    #[serde(default)]
    picture_url: String,
    #[serde(default)]
    primary_color: String,
    #[serde(default)]
    support_email: String,
    #[serde(default)]
    support_url: String,
    #[serde(default)]
    session_lifetime: String,
    #[serde(default)]
    idle_session_lifetime: String,
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
        .tenant_settings()
        .await
        .map_err(|err| {
            tracing::error!(error = ?err, "reading tenant settings in the console");
            error_page()
        })
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
    let csrf = console.csrf_field();
    let v1 = s.flags.change_pwd_flow_v1;
    let flow_state = if v1 {
        r#"<p><span class="badge bad">v1 (legacy)</span> The password-change request carries the new password.</p>"#
    } else {
        r#"<p><span class="badge ok">v2</span> Users choose their new password after opening the link.</p>"#
    };
    let radio = |value: &str, on: bool, label: &str, hint: &str| {
        format!(
            r#"<label><input type="radio" name="flow" value="{value}"{checked}> {label}</label><p class="hint">{hint}</p>"#,
            checked = if on { " checked" } else { "" },
        )
    };
    let otp = s.mfa.otp_enabled;
    let all_apps = s.mfa.policies.iter().any(|p| p == "all-applications");
    let mfa_state = match (otp, all_apps) {
        (true, true) => {
            r#"<p><span class="badge ok">Required</span> Every login asks for a code; users without an authenticator app set one up at their next login.</p>"#
        }
        (true, false) => {
            r#"<p><span class="badge">Optional</span> Users who set up an authenticator app are asked for a code; nobody else is.</p>"#
        }
        (false, true) => {
            r#"<p><span class="badge bad">Not in effect</span> The policy asks for MFA on every login, but the authenticator-app factor is off, so nobody is asked.</p>"#
        }
        (false, false) => {
            r#"<p><span class="badge">Off</span> Nobody is asked for a second factor.</p>"#
        }
    };
    let selected = |on: bool| if on { " selected" } else { "" };
    let body = format!(
        r##"<div class="grid">
<section class="panel" aria-labelledby="tn"><h2 id="tn">Tenant</h2>
<form method="post" action="/admin/settings" novalidate>{csrf}
<label for="friendly_name">Name</label>
<input id="friendly_name" name="friendly_name" type="text" value="{friendly_name}" aria-describedby="name-hint">
<p id="name-hint" class="hint">Shown on the hosted login pages and in emails.</p>
<label for="picture_url">Logo URL</label>
<input id="picture_url" name="picture_url" type="url" value="{picture_url}" placeholder="https://example.com/logo.png">
<label for="primary_color">Primary colour</label>
<input id="primary_color" name="primary_color" type="text" value="{primary_color}" placeholder="#635bff" aria-describedby="colour-hint">
<p id="colour-hint" class="hint">Buttons and links of the hosted pages, written <code>#rrggbb</code>. Empty: the default.</p>
<label for="support_email">Support email</label>
<input id="support_email" name="support_email" type="email" value="{support_email}">
<label for="support_url">Support URL</label>
<input id="support_url" name="support_url" type="url" value="{support_url}">
<label for="session_lifetime">Session lifetime (hours)</label>
<input id="session_lifetime" name="session_lifetime" type="number" step="any" min="0" value="{session_lifetime}" aria-describedby="session-hint">
<p id="session-hint" class="hint">How long a login session lasts, however active the user is (at most 8760 hours, a year).</p>
<label for="idle_session_lifetime">Idle session lifetime (hours)</label>
<input id="idle_session_lifetime" name="idle_session_lifetime" type="number" step="any" min="0" value="{idle_session_lifetime}" aria-describedby="idle-hint">
<p id="idle-hint" class="hint">A session unused this long ends (at most 2400 hours, 100 days).</p>
<button type="submit">Save</button></form></section>
<section class="panel" aria-labelledby="cp"><h2 id="cp">Change-password flow</h2>{flow_state}
<p>When a user asks to change a forgotten password, they get an email with a link.</p>
<ul>
<li><strong>v2</strong>: the link opens a page where the user chooses the new password. Nothing changes unless the owner of the mailbox acts.</li>
<li><strong>v1</strong> (legacy): the request itself carries the new password, and the link only confirms it. Anyone who knows a user's email address can send such a request with a password of their own choosing; if the user clicks the link in the email (it looks like any reset email), that password is applied and the sender can sign in as them.</li>
</ul>
<form method="post" action="/admin/settings/password-flow">{csrf}
<div role="radiogroup" aria-labelledby="cp">{v2_radio}{v1_radio}</div>
<button type="submit">Save</button></form></section>
<section class="panel" aria-labelledby="mf"><h2 id="mf">Multi-factor authentication</h2>{mfa_state}
<form method="post" action="/admin/settings/mfa">{csrf}
<label><input type="checkbox" name="otp"{otp_checked}> Authenticator app (one-time codes, with a recovery code)</label>
<label for="policy">Require MFA</label>
<select id="policy" name="policy"><option value="never"{never}>Never: only users who set up an authenticator app</option><option value="all-applications"{all}>Always: every login, for all applications</option></select>
<button type="submit">Save</button></form></section>
</div>"##,
        friendly_name = e(&general.friendly_name),
        picture_url = e(&general.picture_url),
        primary_color = e(&general.primary_color),
        support_email = e(&general.support_email),
        support_url = e(&general.support_url),
        session_lifetime = e(&general.session_lifetime),
        idle_session_lifetime = e(&general.idle_session_lifetime),
        v2_radio = radio(
            "v2",
            !v1,
            "v2 (recommended)",
            "The user opens the link, then chooses the password."
        ),
        v1_radio = radio(
            "v1",
            v1,
            "v1 (legacy)",
            "Only for old applications that send the new password with the request. Risky: see above."
        ),
        otp_checked = if otp { " checked" } else { "" },
        never = selected(!all_apps),
        all = selected(all_apps),
    );
    console.page(status, SECTION, "Settings", notice, &body)
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
        .update_tenant_settings(f.patch(&current), &caller)
        .await
    {
        Ok(_) => done(SECTION, "saved"),
        Err(err) => match refusal(&err) {
            Some(message) => refused(&console, Some(&f), &message).await,
            None => {
                tracing::error!(error = ?err, "saving tenant settings in the console");
                error_page()
            }
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
        .update_tenant_settings(patch, &caller)
        .await
    {
        Ok(_) => done(SECTION, if v1 { "flow-v1" } else { "flow-v2" }),
        Err(err) => match refusal(&err) {
            Some(message) => refused(&console, None, &message).await,
            None => {
                tracing::error!(error = ?err, "saving the change-password flow in the console");
                error_page()
            }
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
            .set_guardian_factor("otp", f.otp.is_some(), &caller)
            .await?;
        services.set_mfa_policies(policies, &caller).await
    }
    .await;
    match result {
        Ok(_) => done(SECTION, "mfa"),
        Err(err) => match refusal(&err) {
            Some(message) => refused(&console, None, &message).await,
            None => {
                tracing::error!(error = ?err, "saving MFA settings in the console");
                error_page()
            }
        },
    }
}
