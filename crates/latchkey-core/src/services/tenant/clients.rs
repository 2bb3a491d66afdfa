use crate::domain::{
    AppType, Client, ClientGrant, ClientId, KNOWN_LOGOUT_INITIATORS, LogoutInitiators, ParseError,
    TokenEndpointAuthMethod,
};
use crate::error::{ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::random;
use crate::services::{Caller, TenantConfig};
use crate::time::Timestamp;
use secrecy::SecretString;
use serde_json::{Map, Value};

/// The settable fields of a client, for create (`name` required) and update (all optional).
#[derive(Debug, Default)]
pub struct ClientPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub app_type: Option<AppType>,
    pub is_first_party: Option<bool>,
    pub oidc_conformant: Option<bool>,
    pub callbacks: Option<Vec<String>>,
    pub allowed_origins: Option<Vec<String>>,
    pub web_origins: Option<Vec<String>>,
    pub allowed_logout_urls: Option<Vec<String>>,
    pub grant_types: Option<Vec<String>>,
    pub token_endpoint_auth_method: Option<TokenEndpointAuthMethod>,
    pub id_token_lifetime_secs: Option<i64>,
    pub initiate_login_uri: Option<Option<String>>,
    pub logo_uri: Option<Option<String>>,
    pub client_metadata: Option<Map<String, Value>>,
    pub refresh_token_lifetime_secs: Option<i64>,
    pub refresh_token_rotation: Option<bool>,
    /// `oidc_logout`: `Some(None)` (JSON `null`) removes it; the fields given replace the
    /// stored ones.
    pub oidc_logout: Option<Option<OidcLogoutPatch>>,
    pub cross_origin_authentication: Option<bool>,
    /// `cross_origin_loc`: `Some(None)` (JSON `null`) removes it.
    pub cross_origin_loc: Option<Option<String>>,
    /// Create only: keep an existing application's id and secret when moving it from Auth0,
    /// so the SDK configurations that name them keep working.
    pub imported_credentials: Option<(String, Option<SecretString>)>,
}

pub type NewClient = ClientPatch;

/// `oidc_logout` in a create or update.
#[derive(Debug, Default)]
pub struct OidcLogoutPatch {
    pub backchannel_logout_urls: Option<Vec<String>>,
    pub backchannel_logout_initiators: Option<LogoutInitiators>,
}

#[derive(Debug)]
pub struct NewClientGrant {
    pub client_id: String,
    pub audience: String,
    pub scope: Vec<String>,
}

#[derive(Debug)]
pub struct ClientGrantPatch {
    pub scope: Option<Vec<String>>,
}

/// The grants Auth0 enables by default for each kind of application.
fn default_grants(app: Option<AppType>) -> Vec<String> {
    let g: &[&str] = match app {
        Some(AppType::NonInteractive) => &["client_credentials"],
        Some(AppType::Spa | AppType::Native) => {
            &["authorization_code", "implicit", "refresh_token"]
        }
        Some(AppType::RegularWeb) | None => &[
            "authorization_code",
            "implicit",
            "refresh_token",
            "client_credentials",
        ],
    };
    g.iter().map(|s| (*s).to_owned()).collect()
}

const KNOWN_GRANTS: [&str; 9] = [
    "authorization_code",
    "implicit",
    "refresh_token",
    "client_credentials",
    "password",
    "http://auth0.com/oauth/grant-type/password-realm",
    "http://auth0.com/oauth/grant-type/mfa-oob",
    "http://auth0.com/oauth/grant-type/mfa-otp",
    "http://auth0.com/oauth/grant-type/mfa-recovery-code",
];

fn check_urls(field: &'static str, urls: &[String]) -> Result<(), ParseError> {
    for u in urls {
        // Auth0 allows `*` wildcards in subdomains; the rest must be an absolute URL.
        let probe = u.replace("*.", "wildcard.");
        let parsed = url::Url::parse(&probe)
            .map_err(|_| ParseError::new(field, format!("contains an invalid URL: {u}")))?;
        if parsed.cannot_be_a_base() {
            return Err(ParseError::new(
                field,
                format!("contains an invalid URL: {u}"),
            ));
        }
    }
    Ok(())
}

/// Back-channel logout URLs receive logout tokens from this server: absolute https URLs (http
/// only on loopback, for development), without a fragment (OIDC Back-Channel Logout §2.2).
fn check_backchannel_urls(urls: &[String]) -> Result<(), ParseError> {
    const FIELD: &str = "oidc_logout.backchannel_logout_urls";
    if urls.len() > 10 {
        return Err(ParseError::new(FIELD, "must hold at most 10 URLs"));
    }
    for u in urls {
        let invalid = || ParseError::new(FIELD, format!("contains an invalid URL: {u}"));
        let parsed = url::Url::parse(u).map_err(|_| invalid())?;
        if parsed.cannot_be_a_base() || parsed.fragment().is_some() || !parsed.has_host() {
            return Err(invalid());
        }
        let loopback = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
        match parsed.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => {
                return Err(ParseError::new(
                    FIELD,
                    format!("must hold https URLs (http only for localhost): {u}"),
                ));
            }
        }
    }
    Ok(())
}

fn check_initiators(i: &LogoutInitiators) -> Result<(), ParseError> {
    const FIELD: &str = "oidc_logout.backchannel_logout_initiators.selected_initiators";
    if let Some(bad) = i
        .selected_initiators
        .iter()
        .find(|s| !KNOWN_LOGOUT_INITIATORS.contains(&s.as_str()))
    {
        return Err(ParseError::new(
            FIELD,
            format!("contains an unknown initiator: {bad}"),
        ));
    }
    Ok(())
}

fn apply(client: &mut Client, patch: ClientPatch) -> Result<(), ParseError> {
    if let Some(name) = patch.name {
        let name = name.trim().to_owned();
        if name.is_empty() || name.contains(['<', '>']) || name.chars().count() > 100 {
            return Err(ParseError::new(
                "name",
                "must be 1 to 100 characters without < or >",
            ));
        }
        client.name = name;
    }
    if let Some(d) = patch.description {
        if d.chars().count() > 140 {
            return Err(ParseError::new(
                "description",
                "must be at most 140 characters",
            ));
        }
        client.description = d;
    }
    if let Some(a) = patch.app_type {
        client.app_type = Some(a);
    }
    if let Some(v) = patch.is_first_party {
        client.is_first_party = v;
    }
    if let Some(v) = patch.oidc_conformant {
        client.oidc_conformant = v;
    }
    for (field, slot, value) in [
        ("callbacks", &mut client.callbacks, patch.callbacks),
        (
            "allowed_origins",
            &mut client.allowed_origins,
            patch.allowed_origins,
        ),
        ("web_origins", &mut client.web_origins, patch.web_origins),
        (
            "allowed_logout_urls",
            &mut client.allowed_logout_urls,
            patch.allowed_logout_urls,
        ),
    ] {
        if let Some(urls) = value {
            check_urls(field, &urls)?;
            *slot = urls;
        }
    }
    if let Some(g) = patch.grant_types {
        if let Some(bad) = g.iter().find(|g| !KNOWN_GRANTS.contains(&g.as_str())) {
            return Err(ParseError::new(
                "grant_types",
                format!("contains an unknown grant type: {bad}"),
            ));
        }
        client.grant_types = g;
    }
    if let Some(m) = patch.token_endpoint_auth_method {
        client.token_endpoint_auth_method = m;
    }
    if let Some(l) = patch.id_token_lifetime_secs {
        if !(1..=2_592_000).contains(&l) {
            return Err(ParseError::new(
                "jwt_configuration.lifetime_in_seconds",
                "must be between 1 and 2592000",
            ));
        }
        client.id_token_lifetime_secs = l;
    }
    if let Some(u) = patch.initiate_login_uri {
        if let Some(u) = &u {
            check_urls("initiate_login_uri", std::slice::from_ref(u))?;
        }
        client.initiate_login_uri = u;
    }
    if let Some(u) = patch.logo_uri {
        client.logo_uri = u;
    }
    if let Some(m) = patch.client_metadata {
        client.client_metadata = m;
    }
    if let Some(l) = patch.refresh_token_lifetime_secs {
        if !(60..=31_557_600).contains(&l) {
            return Err(ParseError::new(
                "refresh_token.token_lifetime",
                "must be between 60 and 31557600",
            ));
        }
        client.refresh_token_lifetime_secs = l;
    }
    if let Some(r) = patch.refresh_token_rotation {
        client.refresh_token_rotation = r;
    }
    if let Some(v) = patch.cross_origin_authentication {
        client.cross_origin_authentication = v;
    }
    if let Some(loc) = patch.cross_origin_loc {
        if let Some(u) = &loc {
            check_urls("cross_origin_loc", std::slice::from_ref(u))?;
        }
        client.cross_origin_loc = loc;
    }
    if let Some(o) = patch.oidc_logout {
        client.oidc_logout = match o {
            None => None,
            Some(p) => {
                let mut logout = client.oidc_logout.take().unwrap_or_default();
                if let Some(urls) = p.backchannel_logout_urls {
                    check_backchannel_urls(&urls)?;
                    logout.backchannel_logout_urls = urls;
                }
                if let Some(i) = p.backchannel_logout_initiators {
                    check_initiators(&i)?;
                    logout.backchannel_logout_initiators = Some(i);
                }
                Some(logout)
            }
        };
    }
    Ok(())
}

/// Grant scopes are stored trimmed and without duplicates, so a token can carry them as stored.
fn normalized(scope: Vec<String>) -> Vec<String> {
    crate::domain::Scope::from_items(scope).items().to_vec()
}

fn client_not_found() -> ServiceError {
    ServiceError::not_found(ErrorCode::InexistentClient, "The client does not exist")
}

impl TenantConfig {
    /// A blank client: the defaults every path (bootstrap, Management API, dashboard) starts from.
    pub fn blank_client(app_type: Option<AppType>) -> Result<Client, crate::random::RandomError> {
        let method = match app_type {
            Some(AppType::Spa | AppType::Native) => TokenEndpointAuthMethod::None,
            _ => TokenEndpointAuthMethod::ClientSecretPost,
        };
        Ok(Client {
            client_id: ClientId::generate()?,
            client_secret: Some(SecretString::from(random::alnum(64)?)),
            name: String::new(),
            description: String::new(),
            app_type,
            is_first_party: true,
            oidc_conformant: true,
            callbacks: Vec::new(),
            allowed_origins: Vec::new(),
            web_origins: Vec::new(),
            allowed_logout_urls: Vec::new(),
            grant_types: default_grants(app_type),
            token_endpoint_auth_method: method,
            id_token_lifetime_secs: 36_000,
            initiate_login_uri: None,
            logo_uri: None,
            client_metadata: Map::new(),
            refresh_token_lifetime_secs: 2_592_000,
            refresh_token_rotation: true,
            created_at: Timestamp::now(),
            is_global: false,
            oidc_logout: None,
            cross_origin_authentication: false,
            cross_origin_loc: None,
        })
    }

    pub async fn create_client(&self, fields: NewClient, caller: &Caller) -> ServiceResult<Client> {
        if fields.name.is_none() {
            return Err(ParseError::new("name", "is required").into());
        }
        let mut client = Self::blank_client(fields.app_type)?;
        let mut fields = fields;
        if let Some((id, secret)) = fields.imported_credentials.take() {
            client.client_id = ClientId::parse(&id)?;
            if let Some(secret) = secret {
                if secrecy::ExposeSecret::expose_secret(&secret).len() < 32 {
                    return Err(
                        ParseError::new("client_secret", "must be at least 32 characters").into(),
                    );
                }
                client.client_secret = Some(secret);
            }
        }
        apply(&mut client, fields)?;
        self.store.insert_client(&client).await?;
        self.cache.forget_client(client.client_id.as_str());
        self.audit.record_some(
            caller
                .api_log("Create a client")
                .map(|log| log.client(client.client_id.as_str(), &client.name)),
        );
        Ok(client)
    }

    pub async fn get_client(&self, id: &str) -> ServiceResult<Client> {
        let id = ClientId::parse(id).map_err(|_| client_not_found())?;
        self.store
            .get_client(&id)
            .await?
            .ok_or_else(client_not_found)
    }

    pub async fn list_clients(&self) -> ServiceResult<Vec<Client>> {
        Ok(self.store.list_clients().await?)
    }

    pub async fn update_client(
        &self,
        id: &str,
        patch: ClientPatch,
        caller: &Caller,
    ) -> ServiceResult<Client> {
        let mut client = self.get_client(id).await?;
        apply(&mut client, patch)?;
        if !self.store.update_client(&client).await? {
            return Err(client_not_found());
        }
        self.cache.forget_client(client.client_id.as_str());
        self.audit.record_some(
            caller
                .api_log("Update a client")
                .map(|log| log.client(client.client_id.as_str(), &client.name)),
        );
        Ok(client)
    }

    pub async fn rotate_client_secret(&self, id: &str, caller: &Caller) -> ServiceResult<Client> {
        let mut client = self.get_client(id).await?;
        client.client_secret = Some(SecretString::from(random::alnum(64)?));
        if !self.store.update_client(&client).await? {
            return Err(client_not_found());
        }
        self.cache.forget_client(client.client_id.as_str());
        self.audit.record_some(
            caller
                .api_log("Rotate a client secret")
                .map(|log| log.client(client.client_id.as_str(), &client.name)),
        );
        Ok(client)
    }

    pub async fn delete_client(&self, id: &str, caller: &Caller) -> ServiceResult<()> {
        let client = self.get_client(id).await?;
        if let crate::services::Actor::Api { client_id } = &caller.actor
            && client_id == client.client_id.as_str()
        {
            return Err(ServiceError::bad_request(
                ErrorCode::InvalidBody,
                "A client cannot delete itself: the Management API would lock you out.",
            ));
        }
        if !self.store.delete_client(&client.client_id).await? {
            return Err(client_not_found());
        }
        self.cache.forget_client(client.client_id.as_str());
        self.audit.record_some(
            caller
                .api_log("Delete a client")
                .map(|log| log.client(client.client_id.as_str(), &client.name)),
        );
        Ok(())
    }

    pub async fn create_client_grant(
        &self,
        new: NewClientGrant,
        caller: &Caller,
    ) -> ServiceResult<ClientGrant> {
        let client = self.get_client(&new.client_id).await?;
        let audience = new.audience.trim().to_owned();
        if audience.is_empty() || audience.len() > 600 {
            return Err(ParseError::new("audience", "must be 1 to 600 characters").into());
        }
        if self
            .resource_server_for_audience(&audience)
            .await?
            .is_none()
        {
            return Err(ServiceError::not_found(
                ErrorCode::InexistentResourceServer,
                format!("No resource server found by identifier: {audience}"),
            ));
        }
        if self
            .store
            .find_client_grant(&client.client_id, &audience)
            .await?
            .is_some()
        {
            return Err(ServiceError::conflict(
                ErrorCode::ClientGrantConflict,
                "A resource server with the same identifier is already granted to this client.",
            ));
        }
        let grant = ClientGrant {
            id: format!("cgr_{}", random::alnum(16)?),
            client_id: client.client_id,
            audience,
            scope: normalized(new.scope),
        };
        self.store.insert_client_grant(&grant).await?;
        self.audit
            .record_some(caller.api_log("Create client grant"));
        Ok(grant)
    }

    pub async fn list_client_grants(&self) -> ServiceResult<Vec<ClientGrant>> {
        Ok(self.store.list_client_grants().await?)
    }

    pub async fn update_client_grant(
        &self,
        id: &str,
        patch: ClientGrantPatch,
        caller: &Caller,
    ) -> ServiceResult<ClientGrant> {
        let not_found = || {
            ServiceError::not_found(
                ErrorCode::InexistentClientGrant,
                "The client grant does not exist.",
            )
        };
        let mut grant = self
            .store
            .get_client_grant(id)
            .await?
            .ok_or_else(not_found)?;
        if let Some(scope) = patch.scope {
            grant.scope = normalized(scope);
        }
        if !self.store.update_client_grant(&grant).await? {
            return Err(not_found());
        }
        self.cache.forget_grants();
        self.audit
            .record_some(caller.api_log("Update client grant"));
        Ok(grant)
    }

    pub async fn delete_client_grant(&self, id: &str, caller: &Caller) -> ServiceResult<()> {
        if !self.store.delete_client_grant(id).await? {
            return Err(ServiceError::not_found(
                ErrorCode::InexistentClientGrant,
                "The client grant does not exist.",
            ));
        }
        self.cache.forget_grants();
        self.audit
            .record_some(caller.api_log("Delete client grant"));
        Ok(())
    }
}
