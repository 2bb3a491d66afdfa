use super::{Caller, Services};
use crate::domain::{ParseError, TenantSettings};
use crate::error::ServiceResult;
use anyhow::Context;
use serde_json::{Map, Value};

impl Services {
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
        patch: Map<String, Value>,
        caller: &Caller,
    ) -> ServiceResult<TenantSettings> {
        let current = self.tenant_settings().await?;
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
        self.record(caller.api_log("Update tenant settings"));
        Ok(settings)
    }
}
