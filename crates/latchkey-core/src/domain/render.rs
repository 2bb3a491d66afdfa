//! Auth0's JSON representations of the aggregates, shared by the Management API, the
//! dashboard and Actions so that every surface shows the same object.

use super::{Client, ClientGrant, Connection, ResourceServer, TokenEndpointAuthMethod, User};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

impl User {
    pub fn to_auth0_json(&self) -> Value {
        let mut v = json!({
            "user_id": self.user_id,
            "email": self.email,
            "email_verified": self.email_verified,
            "name": self.display_name(),
            "nickname": self.nickname(),
            "picture": self.profile.picture.clone().unwrap_or_else(|| default_picture(self)),
            "identities": self.identities(),
            "created_at": self.created_at.to_iso(),
            "updated_at": self.updated_at.to_iso(),
            "user_metadata": self.user_metadata,
            "app_metadata": self.app_metadata,
            "logins_count": self.logins_count,
            "blocked": self.blocked,
        });
        if let Value::Object(m) = &mut v {
            let optional = [
                ("username", self.username.clone()),
                ("given_name", self.profile.given_name.clone()),
                ("family_name", self.profile.family_name.clone()),
                ("phone_number", self.profile.phone_number.clone()),
                ("last_ip", self.last_ip.clone()),
                ("last_login", self.last_login.map(|t| t.to_iso())),
                (
                    "last_password_reset",
                    self.last_password_reset.map(|t| t.to_iso()),
                ),
            ];
            for (k, val) in optional {
                if let Some(s) = val {
                    m.insert(k.into(), Value::String(s));
                }
            }
            if self.profile.phone_number.is_some() {
                m.insert(
                    "phone_verified".into(),
                    Value::Bool(self.profile.phone_verified),
                );
            }
        }
        v
    }
}

/// Auth0 gives users without a picture a generated avatar URL; we use a data-free placeholder
/// under the same key so clients that expect a string get one.
fn default_picture(user: &User) -> String {
    let initials: String = user
        .nickname()
        .chars()
        .take(2)
        .collect::<String>()
        .to_lowercase();
    format!(
        "https://cdn.auth0.com/avatars/{}.png",
        if initials.is_empty() {
            "xx".into()
        } else {
            initials
        }
    )
}

impl Client {
    pub fn to_auth0_json(&self, include_secret: bool) -> Value {
        let method = match self.token_endpoint_auth_method {
            TokenEndpointAuthMethod::None => "none",
            TokenEndpointAuthMethod::ClientSecretPost => "client_secret_post",
            TokenEndpointAuthMethod::ClientSecretBasic => "client_secret_basic",
        };
        let mut v = json!({
            "client_id": self.client_id,
            "name": self.name,
            "description": self.description,
            "app_type": self.app_type,
            "global": false,
            "is_first_party": self.is_first_party,
            "oidc_conformant": self.oidc_conformant,
            "callbacks": self.callbacks,
            "allowed_origins": self.allowed_origins,
            "web_origins": self.web_origins,
            "allowed_logout_urls": self.allowed_logout_urls,
            "grant_types": self.grant_types,
            "token_endpoint_auth_method": method,
            "jwt_configuration": {"alg": "RS256", "lifetime_in_seconds": self.id_token_lifetime_secs, "secret_encoded": false},
            "refresh_token": {
                "rotation_type": if self.refresh_token_rotation { "rotating" } else { "non-rotating" },
                "expiration_type": "expiring",
                "token_lifetime": self.refresh_token_lifetime_secs,
                "infinite_token_lifetime": false,
                "leeway": 0,
            },
            "client_metadata": self.client_metadata,
            "cross_origin_authentication": self.cross_origin_authentication,
        });
        if let Value::Object(m) = &mut v {
            if let Some(u) = &self.initiate_login_uri {
                m.insert("initiate_login_uri".into(), json!(u));
            }
            if let Some(u) = &self.logo_uri {
                m.insert("logo_uri".into(), json!(u));
            }
            if let Some(u) = &self.cross_origin_loc {
                m.insert("cross_origin_loc".into(), json!(u));
            }
            if include_secret && let Some(s) = &self.client_secret {
                m.insert("client_secret".into(), json!(s.expose_secret()));
            }
            if let Some(o) = &self.oidc_logout {
                // Without initiators every event is announced: say so.
                let initiators = o
                    .backchannel_logout_initiators
                    .as_ref()
                    .map_or_else(|| json!({"mode": "all"}), |i| json!(i));
                m.insert(
                    "oidc_logout".into(),
                    json!({
                        "backchannel_logout_urls": o.backchannel_logout_urls,
                        "backchannel_logout_initiators": initiators,
                    }),
                );
            }
        }
        v
    }
}

impl Connection {
    pub fn to_auth0_json(&self) -> Value {
        let mut v = json!({
            "id": self.id,
            "name": self.name,
            "strategy": self.strategy.as_str(),
            "options": self.options.to_json(),
            "enabled_clients": self.enabled_clients,
            "realms": self.realms,
            "is_domain_connection": self.is_domain_connection,
            "metadata": self.metadata,
        });
        if let (Value::Object(m), Some(d)) = (&mut v, &self.display_name) {
            m.insert("display_name".into(), json!(d));
        }
        v
    }
}

impl ClientGrant {
    pub fn to_auth0_json(&self) -> Value {
        json!({"id": self.id, "client_id": self.client_id, "audience": self.audience, "scope": self.scope})
    }
}

impl ResourceServer {
    /// Auth0's shape. `signing_secret` never appears: Latchkey signs with RS256 only.
    pub fn to_auth0_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "identifier": self.identifier,
            "is_system": self.is_system,
            "scopes": self.scopes,
            "signing_alg": "RS256",
            "allow_offline_access": self.allow_offline_access,
            "skip_consent_for_verifiable_first_party_clients":
                self.skip_consent_for_verifiable_first_party_clients,
            "token_lifetime": self.token_lifetime,
            "token_lifetime_for_web": self.token_lifetime_for_web,
            "enforce_policies": false,
            "token_dialect": "access_token",
        })
    }
}
