//! The CLI's export with secrets: each user in Auth0's bulk-import shape (what
//! `POST /jobs/users-imports` and `latchkey users import` take), with the password hash as
//! `custom_password_hash` (Latchkey's argon2id as `argon2`, bcrypt as `bcrypt`, a hash still
//! held from an earlier import as its original algorithm) and confirmed TOTP keys as
//! `mfa_factors`. Only the CLI reaches this (its output is sealed to a passphrase); the API
//! never exports hashes or second-factor secrets.

use super::Migration;
use crate::domain::User;
use crate::error::ServiceResult;
use crate::password::ImportedHash;
use secrecy::ExposeSecret;
use serde_json::{Map, Value, json};

/// One user in the bulk-import shape, secrets included: never printed by `Debug`.
pub struct BulkUser(Value);

impl std::fmt::Debug for BulkUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BulkUser([REDACTED])")
    }
}

impl BulkUser {
    /// The JSON to write (it holds the user's password hash and TOTP keys).
    pub fn into_json(self) -> Value {
        self.0
    }
}

/// A stored password hash as Auth0's `custom_password_hash`.
fn custom_password_hash(stored: &str) -> Option<Value> {
    if stored.starts_with("$argon2") {
        return Some(json!({"algorithm": "argon2", "hash": {"value": stored}}));
    }
    if ["$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|p| stored.starts_with(p))
    {
        return Some(json!({"algorithm": "bcrypt", "hash": {"value": stored}}));
    }
    ImportedHash::from_stored(stored).map(|h| h.to_auth0())
}

fn bulk_object(user: &User, totp_keys: Vec<String>) -> Value {
    let mut m = Map::new();
    let id = user.user_id.as_str();
    m.insert(
        "user_id".into(),
        json!(id.strip_prefix("auth0|").unwrap_or(id)),
    );
    if let Some(e) = &user.email {
        m.insert("email".into(), json!(e.as_str()));
    }
    m.insert("email_verified".into(), json!(user.email_verified));
    m.insert("blocked".into(), json!(user.blocked));
    let optional = [
        ("username", user.username.clone()),
        ("name", user.profile.name.clone()),
        ("nickname", user.profile.nickname.clone()),
        ("given_name", user.profile.given_name.clone()),
        ("family_name", user.profile.family_name.clone()),
        ("picture", user.profile.picture.clone()),
    ];
    for (k, v) in optional {
        if let Some(v) = v {
            m.insert(k.into(), json!(v));
        }
    }
    if !user.user_metadata.is_empty() {
        m.insert(
            "user_metadata".into(),
            Value::Object(user.user_metadata.clone()),
        );
    }
    if !user.app_metadata.is_empty() {
        m.insert(
            "app_metadata".into(),
            Value::Object(user.app_metadata.clone()),
        );
    }
    if let Some(hash) = user
        .password_hash
        .as_ref()
        .and_then(|h| custom_password_hash(h.as_str()))
    {
        m.insert("custom_password_hash".into(), hash);
    }
    if !totp_keys.is_empty() {
        m.insert(
            "mfa_factors".into(),
            Value::Array(
                totp_keys
                    .into_iter()
                    .map(|k| json!({"totp": {"secret": k}}))
                    .collect(),
            ),
        );
    }
    Value::Object(m)
}

impl Migration {
    /// Up to `limit` users after id `after` (of one connection, when named), in id order, in
    /// the bulk-import shape with their secrets; the last one's id is the next page's `after`.
    pub async fn bulk_users_page(
        &self,
        connection_name: Option<&str>,
        after: &str,
        limit: u32,
    ) -> ServiceResult<Vec<(String, BulkUser)>> {
        if let Some(name) = connection_name {
            self.tenant.connection_named(name).await?;
        }
        let users = self
            .store
            .users_after(connection_name, after, limit)
            .await?;
        let mut out = Vec::with_capacity(users.len());
        for user in users {
            let totp_keys = self
                .store
                .list_authenticators(&user.user_id)
                .await?
                .into_iter()
                .filter(|a| a.kind == "totp" && a.confirmed)
                .map(|a| a.secret.expose_secret().to_owned())
                .collect();
            let object = bulk_object(&user, totp_keys);
            out.push((user.user_id.as_str().to_owned(), BulkUser(object)));
        }
        Ok(out)
    }
}
