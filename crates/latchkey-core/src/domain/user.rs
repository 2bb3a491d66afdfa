use super::{Email, UserId};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The root-level profile attributes Auth0 lets a database user carry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(default)]
    pub phone_verified: bool,
}

/// A PHC-format password hash (`$argon2id$…` or an imported `$2b$…`). Redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    pub fn new(phc: String) -> Self {
        Self(phc)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash([REDACTED])")
    }
}

/// A user of one connection. The credential epoch moves on every password change; anything
/// issued under an older epoch (refresh tokens, sessions, reset tickets) is dead.
#[derive(Debug, Clone)]
pub struct User {
    pub user_id: UserId,
    pub connection: String,
    pub email: Option<Email>,
    pub email_verified: bool,
    pub username: Option<String>,
    pub profile: Profile,
    pub user_metadata: Map<String, Value>,
    pub app_metadata: Map<String, Value>,
    pub blocked: bool,
    pub password_hash: Option<PasswordHash>,
    /// Earlier hashes, newest first, kept only as deep as the connection's history policy asks.
    pub password_history: Vec<PasswordHash>,
    pub credential_epoch: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_login: Option<Timestamp>,
    pub last_ip: Option<String>,
    pub last_password_reset: Option<Timestamp>,
    pub logins_count: i64,
}

/// One entry of `identities[]` as the Management API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Identity {
    pub connection: String,
    pub user_id: String,
    pub provider: String,
    #[serde(rename = "isSocial")]
    pub is_social: bool,
}

impl User {
    /// A user as first stored: no password, no profile, no logins, credential epoch 0.
    pub fn fresh(
        user_id: UserId,
        connection: String,
        email: Option<Email>,
        now: Timestamp,
    ) -> Self {
        Self {
            user_id,
            connection,
            email,
            email_verified: false,
            username: None,
            profile: Profile::default(),
            user_metadata: Map::new(),
            app_metadata: Map::new(),
            blocked: false,
            password_hash: None,
            password_history: Vec::new(),
            credential_epoch: 0,
            created_at: now,
            updated_at: now,
            last_login: None,
            last_ip: None,
            last_password_reset: None,
            logins_count: 0,
        }
    }

    pub fn identities(&self) -> Vec<Identity> {
        let provider = self.user_id.provider().to_owned();
        vec![Identity {
            connection: self.connection.clone(),
            user_id: self.user_id.bare().to_owned(),
            is_social: !matches!(provider.as_str(), "auth0" | "email" | "sms"),
            provider,
        }]
    }

    /// The name Auth0 falls back to when none was given: the email, else the username.
    pub fn display_name(&self) -> String {
        self.profile
            .name
            .clone()
            .or_else(|| self.email.as_ref().map(|e| e.as_str().to_owned()))
            .or_else(|| self.username.clone())
            .unwrap_or_else(|| self.user_id.as_str().to_owned())
    }

    pub fn nickname(&self) -> String {
        self.profile
            .nickname
            .clone()
            .or_else(|| self.email.as_ref().map(|e| e.local_part().to_owned()))
            .or_else(|| self.username.clone())
            .unwrap_or_default()
    }
}
