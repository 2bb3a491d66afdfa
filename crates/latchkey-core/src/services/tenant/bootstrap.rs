use crate::domain::{
    AppType, ClientGrant, ClientId, Connection, ConnectionId, ConnectionOptions, Email, Password,
    PasswordPolicyLevel, Strategy, TenantSettings,
};
use crate::keys::Keys;
use crate::password::PasswordHasher;
use crate::random;
use crate::store::{Admin, BootstrapData, Store};
use crate::time::Timestamp;
use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Map;

pub const DEFAULT_CONNECTION: &str = "Username-Password-Authentication";

/// Every Management API permission Latchkey knows; the bootstrap client holds them all.
pub const MANAGEMENT_SCOPES: &[&str] = &[
    "read:users",
    "update:users",
    "delete:users",
    "create:users",
    "read:users_app_metadata",
    "update:users_app_metadata",
    "delete:users_app_metadata",
    "create:users_app_metadata",
    "read:user_idp_tokens",
    "create:user_tickets",
    "read:actions",
    "create:actions",
    "update:actions",
    "delete:actions",
    "read:authentication_methods",
    "create:authentication_methods",
    "delete:guardian_enrollments",
    "read:guardian_factors",
    "update:guardian_factors",
    "read:mfa_policies",
    "update:mfa_policies",
    "read:sessions",
    "delete:sessions",
    "read:current_user",
    "update:current_user_metadata",
    "read:clients",
    "update:clients",
    "delete:clients",
    "create:clients",
    "read:client_keys",
    "update:client_keys",
    "read:client_credentials",
    "read:client_grants",
    "create:client_grants",
    "update:client_grants",
    "delete:client_grants",
    "read:connections",
    "update:connections",
    "delete:connections",
    "create:connections",
    "read:tenant_settings",
    "update:tenant_settings",
    "read:logs",
    "read:log_streams",
    "create:log_streams",
    "update:log_streams",
    "delete:log_streams",
    "read:logs_users",
    "read:email_provider",
    "create:email_provider",
    "update:email_provider",
    "delete:email_provider",
    "read:email_templates",
    "create:email_templates",
    "update:email_templates",
    "read:refresh_tokens",
    "delete:refresh_tokens",
    "read:signing_keys",
    "create:signing_keys",
    "update:signing_keys",
    "read:guardian_enrollments",
    "create:guardian_enrollment_tickets",
    "read:user_blocks",
    "update:user_blocks",
    "delete:user_blocks",
    "read:resource_servers",
    "create:resource_servers",
    "update:resource_servers",
    "delete:resource_servers",
    "read:prompts",
    "update:prompts",
    "read:branding",
    "update:branding",
    "delete:branding",
    "read:attack_protection",
    "update:attack_protection",
    "read:rules_configs",
    "update:rules_configs",
    "delete:rules_configs",
    "read:rules",
    "create:rules",
    "update:rules",
    "delete:rules",
    "read:hooks",
    "create:hooks",
    "update:hooks",
    "delete:hooks",
    "read:custom_domains",
    "create:custom_domains",
    "update:custom_domains",
    "delete:custom_domains",
    "read:forms",
    "create:forms",
    "update:forms",
    "delete:forms",
    "read:flows",
    "create:flows",
    "update:flows",
    "delete:flows",
    "read:flows_vault_connections",
    "create:flows_vault_connections",
    "update:flows_vault_connections",
    "delete:flows_vault_connections",
    "read:self_service_profiles",
    "create:self_service_profiles",
    "update:self_service_profiles",
    "delete:self_service_profiles",
    "read:token_exchange_profiles",
    "create:token_exchange_profiles",
    "update:token_exchange_profiles",
    "delete:token_exchange_profiles",
    "read:event_streams",
    "create:event_streams",
    "update:event_streams",
    "delete:event_streams",
    "read:network_acls",
    "create:network_acls",
    "update:network_acls",
    "delete:network_acls",
    "read:roles",
    "create:roles",
    "update:roles",
    "delete:roles",
    "read:organizations",
    "create:organizations",
    "update:organizations",
    "delete:organizations",
    "read:user_attribute_profiles",
    "create:user_attribute_profiles",
    "update:user_attribute_profiles",
    "delete:user_attribute_profiles",
    "read:connection_profiles",
    "create:connection_profiles",
    "update:connection_profiles",
    "delete:connection_profiles",
    "read:phone_providers",
    "create:phone_providers",
    "update:phone_providers",
    "delete:phone_providers",
    "read:phone_templates",
    "create:phone_templates",
    "update:phone_templates",
    "delete:phone_templates",
];

/// Values an operator may fix in advance (`LATCHKEY_BOOTSTRAP_*`) instead of having them generated.
#[derive(Debug, Default, Clone)]
pub struct BootstrapPresets {
    pub admin_email: Option<String>,
    pub admin_password: Option<SecretString>,
    pub management_client_id: Option<String>,
    pub management_client_secret: Option<SecretString>,
    pub default_client_id: Option<String>,
    pub default_client_secret: Option<SecretString>,
}

/// What a first start created, to print once and write to `bootstrap.json`.
pub struct BootstrapOutcome {
    pub issuer: String,
    pub management_audience: String,
    pub management_client_id: String,
    pub management_client_secret: SecretString,
    pub default_client_id: String,
    pub default_client_secret: SecretString,
    pub connection: String,
    pub admin_email: String,
    pub admin_password: SecretString,
}

impl BootstrapOutcome {
    /// The `bootstrap.json` document (README, "What the first start prints").
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "issuer": self.issuer,
            "management_api": {
                "audience": self.management_audience,
                "client_id": self.management_client_id,
                "client_secret": self.management_client_secret.expose_secret(),
            },
            "default_client": {
                "client_id": self.default_client_id,
                "client_secret": self.default_client_secret.expose_secret(),
            },
            "connection": self.connection,
            "admin": {"email": self.admin_email, "password": self.admin_password.expose_secret()},
        })
    }
}

fn secret_or_generate(preset: &Option<SecretString>) -> anyhow::Result<SecretString> {
    match preset {
        Some(s) => Ok(s.clone()),
        None => Ok(SecretString::from(random::alnum(64)?)),
    }
}

/// Creates the tenant on an empty store; on a bootstrapped store does nothing and returns None.
pub async fn bootstrap(
    store: &dyn Store,
    hasher: &PasswordHasher,
    issuer: &str,
    presets: &BootstrapPresets,
) -> anyhow::Result<Option<BootstrapOutcome>> {
    if store.get_tenant().await?.is_some() {
        return Ok(None);
    }
    let management_audience = format!("{issuer}api/v2/");

    let mut default_app = crate::services::TenantConfig::blank_client(Some(AppType::RegularWeb))?;
    default_app.name = "Default App".into();
    if let Some(id) = &presets.default_client_id {
        default_app.client_id =
            ClientId::parse(id).context("LATCHKEY_BOOTSTRAP_DEFAULT_CLIENT_ID")?;
    }
    let default_secret = secret_or_generate(&presets.default_client_secret)?;
    default_app.client_secret = Some(default_secret.clone());
    default_app.callbacks = vec!["http://localhost:3000/callback".into()];
    default_app.allowed_logout_urls = vec!["http://localhost:3000".into()];
    default_app.web_origins = vec!["http://localhost:3000".into()];
    default_app.allowed_origins = vec!["http://localhost:3000".into()];
    default_app.grant_types = [
        "authorization_code",
        "refresh_token",
        "password",
        "http://auth0.com/oauth/grant-type/password-realm",
        "http://auth0.com/oauth/grant-type/mfa-otp",
        "http://auth0.com/oauth/grant-type/mfa-recovery-code",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();

    let mut management =
        crate::services::TenantConfig::blank_client(Some(AppType::NonInteractive))?;
    management.name = "Latchkey Management API (bootstrap)".into();
    management.is_global = true;
    if let Some(id) = &presets.management_client_id {
        management.client_id =
            ClientId::parse(id).context("LATCHKEY_BOOTSTRAP_MANAGEMENT_CLIENT_ID")?;
    }
    let management_secret = secret_or_generate(&presets.management_client_secret)?;
    management.client_secret = Some(management_secret.clone());
    let grant = ClientGrant {
        id: format!("cgr_{}", random::alnum(16)?),
        client_id: management.client_id.clone(),
        audience: management_audience.clone(),
        scope: MANAGEMENT_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
    };

    let connection = Connection {
        id: ConnectionId::generate()?,
        name: DEFAULT_CONNECTION.into(),
        strategy: Strategy::Database,
        display_name: None,
        options: ConnectionOptions {
            password_policy: Some(PasswordPolicyLevel::Good),
            brute_force_protection: Some(true),
            ..ConnectionOptions::default()
        },
        enabled_clients: vec![default_app.client_id.clone(), management.client_id.clone()],
        realms: vec![DEFAULT_CONNECTION.into()],
        is_domain_connection: false,
        metadata: Map::new(),
    };

    let admin_email = Email::parse(
        presets
            .admin_email
            .as_deref()
            .unwrap_or("admin@latchkey.local"),
    )
    .context("LATCHKEY_BOOTSTRAP_ADMIN_EMAIL")?;
    let admin_password = match &presets.admin_password {
        Some(p) => p.clone(),
        // Four groups of six: strong, and easy to read off a terminal.
        None => SecretString::from(format!(
            "{}-{}-{}-{}",
            random::alnum(6)?,
            random::alnum(6)?,
            random::alnum(6)?,
            random::alnum(6)?
        )),
    };
    let admin_hash = hasher
        .hash(
            &Password::parse(admin_password.expose_secret().to_owned())
                .context("admin password")?,
        )
        .await?;

    let tenant = TenantSettings {
        default_directory: Some(DEFAULT_CONNECTION.into()),
        ..TenantSettings::default()
    };
    let data = BootstrapData {
        tenant,
        connection,
        clients: vec![default_app.clone(), management.clone()],
        grants: vec![grant],
        admin: Admin {
            id: format!("adm_{}", random::alnum(16)?),
            email: admin_email.clone(),
            password_hash: admin_hash,
            created_at: Timestamp::now(),
            credential_epoch: 0,
            totp_secret: None,
            last_login_at: None,
        },
        key: Keys::generate()?,
    };
    if !store.bootstrap(&data).await? {
        // Another node bootstrapped the same store first.
        return Ok(None);
    }
    Ok(Some(BootstrapOutcome {
        issuer: issuer.to_owned(),
        management_audience,
        management_client_id: management.client_id.to_string(),
        management_client_secret: management_secret,
        default_client_id: default_app.client_id.to_string(),
        default_client_secret: default_secret,
        connection: DEFAULT_CONNECTION.into(),
        admin_email: admin_email.to_string(),
        admin_password,
    }))
}

/// The Management API's identifier follows the issuer: a client grant made under an earlier
/// public URL (an http(s) URL ending in `/api/v2/`) still grants the Management API at the
/// current one (see `client_credentials`). Grants are not rewritten, so nodes of one store that
/// briefly disagree on their URL (a rolling change) never take grants from each other. Returns
/// the earlier audiences, for the start-up log.
pub async fn earlier_management_audiences(
    store: &dyn Store,
    issuer: &str,
) -> anyhow::Result<Vec<String>> {
    let current = format!("{issuer}api/v2/");
    let earlier: std::collections::BTreeSet<String> = store
        .list_client_grants()
        .await?
        .into_iter()
        .map(|g| g.audience)
        .filter(|a| *a != current && names_a_management_api(a))
        .collect();
    Ok(earlier.into_iter().collect())
}

pub(crate) fn names_a_management_api(audience: &str) -> bool {
    url::Url::parse(audience).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https")
            && u.path().ends_with("/api/v2/")
            && u.query().is_none()
            && u.fragment().is_none()
    })
}

#[cfg(test)]
mod scope_list_tests {
    #[test]
    fn only_management_api_identifiers_follow_the_issuer() {
        assert!(super::names_a_management_api(
            "http://127.0.0.1:8080/api/v2/"
        ));
        assert!(super::names_a_management_api(
            "https://id.example.com/auth/api/v2/"
        ));
        assert!(!super::names_a_management_api("https://api.example.com/"));
        assert!(!super::names_a_management_api("urn:my-api"));
        assert!(!super::names_a_management_api(
            "https://x.example/api/v2/?a=1"
        ));
    }

    #[test]
    fn management_scopes_are_listed_once() {
        let mut seen = std::collections::BTreeSet::new();
        for s in crate::services::MANAGEMENT_SCOPES {
            assert!(seen.insert(*s), "{s} is listed twice");
        }
    }
}
