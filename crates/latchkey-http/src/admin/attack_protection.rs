//! Attack protection: breached-password detection and brute-force protection. Each form builds
//! the body `PATCH /attack-protection/…` takes and calls the same service, which checks it.

use super::attack_protection_views::AttackProtection;
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
use latchkey_core::domain::attack_protection::{
    BreachedPasswordDetection, BreachedShield, BruteForceProtection, NotificationFrequency,
    StageShield,
};
use latchkey_core::services::SettingsDocument;
use serde::Deserialize;
use serde_json::{Map, Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/attack-protection", get(show))
        .route(
            "/admin/attack-protection/breached-passwords",
            post(save_breached),
        )
        .route(
            "/admin/attack-protection/brute-force",
            post(save_brute_force),
        )
}

const SECTION: &str = "/admin/attack-protection";

#[derive(Deserialize, Default)]
struct DoneQuery {
    done: Option<String>,
}

/// What the page shows of breached-password detection.
pub(super) struct BreachedView {
    pub(super) enabled: bool,
    pub(super) block: bool,
    pub(super) notify_user: bool,
    pub(super) notify_admins: bool,
    pub(super) frequency: &'static str,
    pub(super) signup_block: bool,
    pub(super) signup_admins: bool,
    pub(super) change_block: bool,
    pub(super) change_admins: bool,
}

impl BreachedView {
    fn of(d: &BreachedPasswordDetection) -> Self {
        let signup = &d.stage.pre_user_registration.shields;
        let change = &d.stage.pre_change_password.shields;
        Self {
            enabled: d.enabled,
            block: d.shields.contains(&BreachedShield::Block),
            notify_user: d.shields.contains(&BreachedShield::UserNotification),
            notify_admins: d.shields.contains(&BreachedShield::AdminNotification),
            frequency: match d.admin_notification_frequency.first() {
                Some(NotificationFrequency::Daily) => "daily",
                Some(NotificationFrequency::Weekly) => "weekly",
                Some(NotificationFrequency::Monthly) => "monthly",
                _ => "immediately",
            },
            signup_block: signup.contains(&StageShield::Block),
            signup_admins: signup.contains(&StageShield::AdminNotification),
            change_block: change.contains(&StageShield::Block),
            change_admins: change.contains(&StageShield::AdminNotification),
        }
    }
}

async fn document<T: SettingsDocument>(console: &Console) -> Result<T, Response> {
    console
        .state
        .services
        .tenant
        .settings_document::<T>()
        .await
        .map_err(|err| failed("reading attack-protection settings in the console", err))
}

async fn page(console: &Console, notice: Option<Notice<'_>>, status: StatusCode) -> Response {
    let breached = match document::<BreachedPasswordDetection>(console).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let brute = match document::<BruteForceProtection>(console).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let view = AttackProtection {
        csrf: console.csrf(),
        breached: BreachedView::of(&breached),
        max_attempts: brute.max_attempts,
        brute_force_on: brute.blocks(),
    };
    console.render(status, SECTION, "Attack protection", notice, &view)
}

async fn show(console: Console, Query(q): Query<DoneQuery>) -> Response {
    let notice = match q.done.as_deref() {
        Some("breached") => Some(Notice::Ok(
            "Breached-password detection saved. Logins, sign-ups and password changes use it at once.",
        )),
        Some("brute-force") => Some(Notice::Ok("Brute-force protection saved.")),
        _ => None,
    };
    page(&console, notice, StatusCode::OK).await
}

#[derive(Deserialize)]
struct BreachedFields {
    enabled: Option<String>,
    block: Option<String>,
    notify_user: Option<String>,
    notify_admins: Option<String>,
    #[serde(default)]
    frequency: String,
    signup_block: Option<String>,
    signup_admins: Option<String>,
    change_block: Option<String>,
    change_admins: Option<String>,
}

impl BreachedFields {
    /// The `PATCH /attack-protection/breached-password-detection` body.
    fn patch(&self) -> Map<String, Value> {
        fn pick(pairs: &[(&Option<String>, &'static str)]) -> Vec<&'static str> {
            pairs
                .iter()
                .filter(|(on, _)| on.is_some())
                .map(|(_, name)| *name)
                .collect()
        }
        let mut p = Map::new();
        p.insert("enabled".into(), json!(self.enabled.is_some()));
        p.insert(
            "shields".into(),
            json!(pick(&[
                (&self.block, "block"),
                (&self.notify_user, "user_notification"),
                (&self.notify_admins, "admin_notification"),
            ])),
        );
        p.insert(
            "admin_notification_frequency".into(),
            json!([self.frequency.as_str()]),
        );
        p.insert(
            "stage".into(),
            json!({
                "pre-user-registration": {"shields": pick(&[
                    (&self.signup_block, "block"),
                    (&self.signup_admins, "admin_notification"),
                ])},
                "pre-change-password": {"shields": pick(&[
                    (&self.change_block, "block"),
                    (&self.change_admins, "admin_notification"),
                ])},
            }),
        );
        p
    }
}

/// A refusal the page shows (the service's message), or `None` for our own failure.
fn refusal(err: &ServiceError) -> Option<String> {
    match err {
        ServiceError::Invalid(p) => Some(p.to_string()),
        ServiceError::BadRequest { message, .. } => Some(message.clone()),
        _ => None,
    }
}

async fn save<T: SettingsDocument>(
    console: Console,
    meta: latchkey_core::audit::RequestMeta,
    patch: Map<String, Value>,
    done_code: &str,
) -> Response {
    let caller = console.admin.caller(meta);
    match console
        .state
        .services
        .tenant
        .update_settings_document::<T>(patch, &caller)
        .await
    {
        Ok(_) => done(SECTION, done_code),
        Err(err) => match refusal(&err) {
            Some(message) => {
                page(
                    &console,
                    Some(Notice::Error(&message)),
                    StatusCode::BAD_REQUEST,
                )
                .await
            }
            None => failed("saving attack-protection settings in the console", err),
        },
    }
}

async fn save_breached(
    Meta(meta): Meta,
    ConsoleForm(console, f): ConsoleForm<BreachedFields>,
) -> Response {
    save::<BreachedPasswordDetection>(console, meta, f.patch(), "breached").await
}

#[derive(Deserialize)]
struct BruteForceFields {
    #[serde(default)]
    max_attempts: String,
}

async fn save_brute_force(
    Meta(meta): Meta,
    ConsoleForm(console, f): ConsoleForm<BruteForceFields>,
) -> Response {
    // A number as a number; anything else as typed, for the service to refuse in its words.
    let max_attempts = f
        .max_attempts
        .trim()
        .parse::<i64>()
        .map_or_else(|_| json!(f.max_attempts.trim()), |n| json!(n));
    let mut patch = Map::new();
    patch.insert("max_attempts".into(), max_attempts);
    save::<BruteForceProtection>(console, meta, patch, "brute-force").await
}
