//! The tenant's configuration: applications and their grants, connections, tenant settings
//! and branding, email templates and provider, APIs (resource servers), the settings
//! documents (prompts, attack protection), signing keys, the Management API's token check and
//! the first-start bootstrap. Everything else reads configuration through here.

pub(super) mod bootstrap;
pub(super) mod clients;
pub(super) mod config_cache;
pub(super) mod connections;
pub(super) mod email_provider;
pub(super) mod email_templates;
pub(super) mod lock_config;
pub(super) mod mail_defaults;
pub(super) mod management_auth;
pub(super) mod origins;
pub(super) mod resource_servers;
pub(super) mod settings;
pub(super) mod settings_documents;
pub(super) mod signing_keys;

use crate::config::CoreConfig;
use crate::store::Store;
pub(crate) use config_cache::ConfigCache;
use std::sync::Arc;

/// Tenant configuration: its reads go through a short-lived cache that its writes clear.
pub struct TenantConfig {
    pub(in crate::services) audit: crate::audit::AuditLog,
    pub(in crate::services) cache: Arc<crate::services::tenant::ConfigCache>,
    pub(in crate::services) config: Arc<CoreConfig>,
    pub(in crate::services) keys: Arc<crate::keys::Keys>,
    pub(in crate::services) store: Arc<dyn Store>,
    pub(in crate::services) templates: Arc<dyn crate::mail::TemplateEngine>,
    pub(in crate::services) actions: Arc<crate::services::Actions>,
}
