use crate::domain::Connection;
use crate::domain::{Email, ParseError, TenantSettings};
use crate::error::{ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::services::{Caller, TenantConfig};
use anyhow::Context;
use serde_json::{Map, Value};

/// Session lifetimes, in hours: at most a year, and an idle timeout of at most 100 days
/// (Auth0's limits).
const MAX_SESSION_HOURS: f64 = 8760.0;
const MAX_IDLE_SESSION_HOURS: f64 = 2400.0;

fn absolute_http_url(field: &'static str, value: Option<&str>) -> Result<(), ParseError> {
    let Some(u) = value else { return Ok(()) };
    let ok = u.len() <= 2048
        && url::Url::parse(u).is_ok_and(|p| matches!(p.scheme(), "http" | "https") && p.has_host());
    if ok {
        Ok(())
    } else {
        Err(ParseError::new(
            field,
            format!("must be an absolute http(s) URL: {u}"),
        ))
    }
}

fn hex_colour(field: &'static str, value: &Value) -> Result<(), ParseError> {
    let ok = value.as_str().is_some_and(crate::domain::is_hex_colour);
    if ok {
        Ok(())
    } else {
        Err(ParseError::new(
            field,
            format!("must be a colour written #rrggbb, not {value}"),
        ))
    }
}

fn lifetime(field: &'static str, hours: f64, max: f64) -> Result<(), ParseError> {
    if hours.is_finite() && hours > 0.0 && hours <= max {
        Ok(())
    } else {
        Err(ParseError::new(
            field,
            format!("must be a number of hours above 0 and at most {max}"),
        ))
    }
}

/// Auth0 also takes the session lifetimes in minutes (`session_lifetime_in_minutes`, as
/// auth0-deploy-cli sends them): they become the hours the settings keep.
fn minutes_to_hours(patch: &mut Map<String, Value>) -> Result<(), ParseError> {
    for (minutes, hours) in [
        ("session_lifetime_in_minutes", "session_lifetime"),
        ("idle_session_lifetime_in_minutes", "idle_session_lifetime"),
    ] {
        if let Some(v) = patch.remove(minutes) {
            let m = v
                .as_f64()
                .ok_or_else(|| ParseError::new(hours, "must be a number of minutes"))?;
            patch.insert(hours.into(), Value::from(m / 60.0));
        }
    }
    Ok(())
}

/// The patch's own values, checked before they are merged: a lifetime must be a number.
fn check_patch(patch: &Map<String, Value>) -> Result<(), ParseError> {
    for field in ["session_lifetime", "idle_session_lifetime"] {
        if let Some(v) = patch.get(field)
            && !(v.is_number() || v.is_null())
        {
            return Err(ParseError::new(field, "must be a number of hours"));
        }
    }
    Ok(())
}

/// The merged settings, for the keys the patch set (a value stored before these checks existed
/// does not block other changes).
fn check_settings(s: &TenantSettings, touched: &[String]) -> Result<(), ParseError> {
    let set = |k: &str| touched.iter().any(|t| t == k);
    if set("friendly_name") && s.friendly_name.chars().count() > 255 {
        return Err(ParseError::new(
            "friendly_name",
            "must be at most 255 characters",
        ));
    }
    if set("picture_url") {
        absolute_http_url("picture_url", s.picture_url.as_deref())?;
    }
    if set("support_url") {
        absolute_http_url("support_url", s.support_url.as_deref())?;
    }
    // Auth0 takes only https here (loopback http is allowed for development).
    if set("default_redirection_uri") {
        absolute_http_url(
            "default_redirection_uri",
            s.default_redirection_uri.as_deref(),
        )?;
        if let Some(u) = s
            .default_redirection_uri
            .as_deref()
            .and_then(|u| url::Url::parse(u).ok())
            && u.scheme() != "https"
            && !matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
        {
            return Err(ParseError::new(
                "default_redirection_uri",
                "must be an https URL",
            ));
        }
    }
    if set("support_email")
        && let Some(m) = &s.support_email
    {
        Email::parse(m).map_err(|_| {
            ParseError::new(
                "support_email",
                format!("is not a valid email address: {m}"),
            )
        })?;
    }
    if set("session_lifetime") {
        lifetime("session_lifetime", s.session_lifetime, MAX_SESSION_HOURS)?;
    }
    if set("idle_session_lifetime") {
        lifetime(
            "idle_session_lifetime",
            s.idle_session_lifetime,
            MAX_IDLE_SESSION_HOURS,
        )?;
    }
    if set("universal_login")
        && let Some(ul) = s.extra.get("universal_login")
    {
        let Some(ul) = ul.as_object() else {
            return Err(ParseError::new("universal_login", "must be an object"));
        };
        if let Some(colors) = ul.get("colors") {
            let Some(colors) = colors.as_object() else {
                return Err(ParseError::new(
                    "universal_login.colors",
                    "must be an object",
                ));
            };
            if let Some(c) = colors.get("primary") {
                hex_colour("universal_login.colors.primary", c)?;
            }
            if let Some(c) = colors.get("page_background")
                && c.is_string()
            {
                hex_colour("universal_login.colors.page_background", c)?;
            }
        }
    }
    Ok(())
}

impl TenantConfig {
    pub async fn tenant_settings(&self) -> ServiceResult<TenantSettings> {
        Ok(self
            .store
            .get_tenant()
            .await?
            .context("tenant settings are missing: the store was not bootstrapped")?)
    }

    /// Tenant settings for the request paths, through the configuration cache.
    pub(crate) async fn active_tenant(&self) -> ServiceResult<TenantSettings> {
        if let Some(t) = self.cache.tenant() {
            return Ok(t);
        }
        let t = self.tenant_settings().await?;
        self.cache.keep_tenant(&t);
        Ok(t)
    }

    /// Merges `patch` into the settings: top-level keys replace, `flags` merge key by key,
    /// `null` removes an optional setting.
    pub async fn update_tenant_settings(
        &self,
        mut patch: Map<String, Value>,
        caller: &Caller,
    ) -> ServiceResult<TenantSettings> {
        minutes_to_hours(&mut patch)?;
        check_patch(&patch)?;
        let current = self.tenant_settings().await?;
        let touched: Vec<String> = patch.keys().cloned().collect();
        let mut merged = serde_json::to_value(&current).context("serialise tenant settings")?;
        if let Value::Object(obj) = &mut merged {
            for (k, v) in patch {
                match (k.as_str(), v) {
                    ("flags", Value::Object(flags)) => {
                        let entry = obj
                            .entry("flags")
                            .or_insert_with(|| Value::Object(Map::new()));
                        if let Value::Object(existing) = entry {
                            for (fk, fv) in flags {
                                if !fv.is_boolean() {
                                    return Err(ParseError::new(
                                        "flags",
                                        format!("{fk} must be a boolean"),
                                    )
                                    .into());
                                }
                                existing.insert(fk, fv);
                            }
                        }
                    }
                    (_, Value::Null) => {
                        obj.remove(&k);
                    }
                    (_, v) => {
                        obj.insert(k, v);
                    }
                }
            }
        }
        let settings: TenantSettings = serde_json::from_value(merged)
            .map_err(|e| ParseError::new("settings", format!("are invalid: {e}")))?;
        check_settings(&settings, &touched)?;
        if let Some(dir) = &settings.default_directory {
            let conn = self.store.find_connection_by_name(dir).await?;
            if !conn.is_some_and(|c| c.is_database()) {
                return Err(ParseError::new(
                    "default_directory",
                    "must name an existing database connection",
                )
                .into());
            }
        }
        self.store.put_tenant(&settings).await?;
        self.cache.forget_tenant();
        self.audit
            .record_some(caller.api_log("Update tenant settings"));
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn checked(patch: Value) -> Result<(), ParseError> {
        let Value::Object(patch) = patch else {
            unreachable!()
        };
        check_patch(&patch)?;
        let mut merged = serde_json::to_value(TenantSettings::default()).unwrap();
        for (k, v) in &patch {
            merged[k] = v.clone();
        }
        let settings: TenantSettings = serde_json::from_value(merged).unwrap_or_default();
        let touched: Vec<String> = patch.keys().cloned().collect();
        check_settings(&settings, &touched)
    }

    #[test]
    fn good_settings_pass() {
        checked(json!({"friendly_name": "Acme", "picture_url": "https://cdn.acme.example/l.png",
                       "support_url": "http://acme.example/help", "support_email": "help@acme.example",
                       "session_lifetime": 24, "idle_session_lifetime": 0.5,
                       "universal_login": {"colors": {"primary": "#0A7e3c", "page_background": "#ffffff"}}}))
        .unwrap();
    }

    #[test]
    fn bad_settings_are_refused_by_field() {
        for (patch, field) in [
            (json!({"picture_url": "not a url"}), "picture_url"),
            (json!({"picture_url": "javascript:alert(1)"}), "picture_url"),
            (json!({"support_url": "ftp://acme.example"}), "support_url"),
            (json!({"support_email": "nobody"}), "support_email"),
            (json!({"session_lifetime": 0}), "session_lifetime"),
            (json!({"session_lifetime": 8761}), "session_lifetime"),
            (json!({"session_lifetime": "24"}), "session_lifetime"),
            (
                json!({"idle_session_lifetime": 2401}),
                "idle_session_lifetime",
            ),
            (json!({"universal_login": []}), "universal_login"),
            (
                json!({"universal_login": {"colors": {"primary": "green"}}}),
                "universal_login.colors.primary",
            ),
            (
                json!({"universal_login": {"colors": {"primary": "#12345"}}}),
                "universal_login.colors.primary",
            ),
            (json!({"friendly_name": "x".repeat(256)}), "friendly_name"),
            (
                json!({"default_redirection_uri": "http://app.example/login"}),
                "default_redirection_uri",
            ),
            (
                json!({"default_redirection_uri": "javascript:alert(1)"}),
                "default_redirection_uri",
            ),
        ] {
            assert_eq!(checked(patch.clone()).unwrap_err().field, field, "{patch}");
        }
    }
}

/// The tenant's look, for hosted pages.
#[derive(Debug, Clone)]
pub struct Branding {
    pub name: String,
    pub logo_url: Option<String>,
    /// `#rrggbb`.
    pub primary_color: String,
}

pub(crate) fn http_url(s: &str) -> bool {
    url::Url::parse(s).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
}

impl TenantConfig {
    /// The tenant's look for hosted pages.
    pub async fn branding(&self) -> ServiceResult<Branding> {
        let t = self.active_tenant().await?;
        let color = t
            .extra
            .get("universal_login")
            .and_then(|u| u.get("colors"))
            .and_then(|c| c.get("primary"))
            .and_then(|p| p.as_str())
            .filter(|p| crate::domain::is_hex_colour(p))
            .unwrap_or("#635bff")
            .to_owned();
        Ok(Branding {
            name: if t.friendly_name.is_empty() {
                "Latchkey".into()
            } else {
                t.friendly_name.clone()
            },
            logo_url: t.picture_url.clone().filter(|u| http_url(u)),
            primary_color: color,
        })
    }

    /// The database connection called `name`, for the Authentication API's sign-up and
    /// reset requests (Auth0 answers `invalid_connection` for any other kind).
    pub(crate) async fn database_connection(&self, name: &str) -> ServiceResult<Connection> {
        self.find_connection(name)
            .await?
            .filter(|c| c.is_database())
            .ok_or_else(|| {
                ServiceError::bad_request(
                    ErrorCode::InvalidConnection,
                    "The connection does not exist",
                )
            })
    }

    pub(crate) async fn connection_named(&self, name: &str) -> ServiceResult<Connection> {
        self.find_connection(name).await?.ok_or_else(|| {
            ServiceError::bad_request(
                ErrorCode::InexistentConnection,
                "The connection does not exist.",
            )
        })
    }
}
