//! Row ⇄ domain conversions. JSON columns hold the parts of an aggregate that are never queried.

use anyhow::Context;
use latchkey_core::domain::{
    Client, ClientGrant, ClientId, Connection, ConnectionId, ConnectionOptions, Email,
    PasswordHash, Profile, Strategy, User, UserId,
};
use latchkey_core::store::{RefreshTokenRecord, SigningKeyRecord};
use latchkey_core::time::Timestamp;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::Row;
use sqlx::any::AnyRow;

pub const USER_COLUMNS: &str = user_columns!();

fn json_map(s: &str) -> anyhow::Result<Map<String, Value>> {
    serde_json::from_str(s).context("stored JSON is not an object")
}

pub fn user(row: &AnyRow) -> anyhow::Result<User> {
    let history: Vec<String> =
        serde_json::from_str(&row.try_get::<String, _>("password_history")?)?;
    let profile: Profile = serde_json::from_str(&row.try_get::<String, _>("profile")?)?;
    Ok(User {
        user_id: UserId::from_trusted(row.try_get("user_id")?),
        connection: row.try_get("connection")?,
        email: row
            .try_get::<Option<String>, _>("email")?
            .map(Email::from_trusted),
        email_verified: row.try_get::<i64, _>("email_verified")? != 0,
        username: row.try_get("username")?,
        profile,
        user_metadata: json_map(&row.try_get::<String, _>("user_metadata")?)?,
        app_metadata: json_map(&row.try_get::<String, _>("app_metadata")?)?,
        blocked: row.try_get::<i64, _>("blocked")? != 0,
        password_hash: row
            .try_get::<Option<String>, _>("password_hash")?
            .map(PasswordHash::new),
        password_history: history.into_iter().map(PasswordHash::new).collect(),
        credential_epoch: row.try_get("credential_epoch")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
        last_login: row
            .try_get::<Option<i64>, _>("last_login")?
            .map(Timestamp::from_millis),
        last_ip: row.try_get("last_ip")?,
        last_password_reset: row
            .try_get::<Option<i64>, _>("last_password_reset")?
            .map(Timestamp::from_millis),
        logins_count: row.try_get("logins_count")?,
    })
}

pub fn history_json(history: &[PasswordHash]) -> String {
    let list: Vec<&str> = history.iter().map(PasswordHash::as_str).collect();
    serde_json::to_string(&list).unwrap_or_else(|_| "[]".into())
}

/// The non-key columns of a connection, kept together as JSON.
#[derive(Serialize, Deserialize)]
pub struct ConnectionData {
    display_name: Option<String>,
    options: ConnectionOptions,
    enabled_clients: Vec<ClientId>,
    realms: Vec<String>,
    is_domain_connection: bool,
    metadata: Map<String, Value>,
}

impl ConnectionData {
    pub fn of(c: &Connection) -> String {
        let data = Self {
            display_name: c.display_name.clone(),
            options: c.options.clone(),
            enabled_clients: c.enabled_clients.clone(),
            realms: c.realms.clone(),
            is_domain_connection: c.is_domain_connection,
            metadata: c.metadata.clone(),
        };
        serde_json::to_string(&data).unwrap_or_else(|_| "{}".into())
    }
}

pub fn connection(row: &AnyRow) -> anyhow::Result<Connection> {
    let data: ConnectionData = serde_json::from_str(&row.try_get::<String, _>("data")?)?;
    Ok(Connection {
        id: ConnectionId::from_trusted(row.try_get("id")?),
        name: row.try_get("name")?,
        strategy: Strategy::parse(&row.try_get::<String, _>("strategy")?)?,
        display_name: data.display_name,
        options: data.options,
        enabled_clients: data.enabled_clients,
        realms: data.realms,
        is_domain_connection: data.is_domain_connection,
        metadata: data.metadata,
    })
}

pub fn client(row: &AnyRow) -> anyhow::Result<Client> {
    let mut c: Client = serde_json::from_str(&row.try_get::<String, _>("data")?)?;
    c.client_secret = row
        .try_get::<Option<String>, _>("client_secret")?
        .map(SecretString::from);
    Ok(c)
}

pub fn client_grant(row: &AnyRow) -> anyhow::Result<ClientGrant> {
    Ok(ClientGrant {
        id: row.try_get("id")?,
        client_id: ClientId::from_trusted(row.try_get("client_id")?),
        audience: row.try_get("audience")?,
        scope: serde_json::from_str(&row.try_get::<String, _>("scope")?)?,
    })
}

pub fn refresh_token(row: &AnyRow) -> anyhow::Result<RefreshTokenRecord> {
    Ok(RefreshTokenRecord {
        id: row.try_get("id")?,
        digest: row.try_get("digest")?,
        family: row.try_get("family")?,
        user_id: UserId::from_trusted(row.try_get("user_id")?),
        client_id: ClientId::from_trusted(row.try_get("client_id")?),
        audience: row.try_get("audience")?,
        scope: row.try_get("scope")?,
        credential_epoch: row.try_get("credential_epoch")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        expires_at: Timestamp::from_millis(row.try_get("expires_at")?),
        last_used_at: row
            .try_get::<Option<i64>, _>("last_used_at")?
            .map(Timestamp::from_millis),
        rotated: row.try_get::<i64, _>("rotated")? != 0,
    })
}

pub fn signing_key(row: &AnyRow) -> anyhow::Result<SigningKeyRecord> {
    Ok(SigningKeyRecord {
        kid: row.try_get("kid")?,
        private_pkcs8: SecretString::from(row.try_get::<String, _>("private_pkcs8")?),
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        current: row.try_get::<i64, _>("is_current")? != 0,
        revoked: row.try_get::<i64, _>("revoked")? != 0,
    })
}

pub fn verification_ticket(
    row: &AnyRow,
) -> anyhow::Result<latchkey_core::store::VerificationTicket> {
    Ok(latchkey_core::store::VerificationTicket {
        id: row.try_get("id")?,
        digest: row.try_get("digest")?,
        user_id: UserId::from_trusted(row.try_get("user_id")?),
        email: row.try_get("email")?,
        client_id: row.try_get("client_id")?,
        result_url: row.try_get("result_url")?,
        include_email: row.try_get::<i64, _>("include_email")? != 0,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        expires_at: Timestamp::from_millis(row.try_get("expires_at")?),
        used_at: row
            .try_get::<Option<i64>, _>("used_at")?
            .map(Timestamp::from_millis),
    })
}

pub fn password_ticket(row: &AnyRow) -> anyhow::Result<latchkey_core::store::PasswordTicket> {
    let kind: String = row.try_get("kind")?;
    Ok(latchkey_core::store::PasswordTicket {
        id: row.try_get("id")?,
        digest: row.try_get("digest")?,
        user_id: UserId::from_trusted(row.try_get("user_id")?),
        credential_epoch: row.try_get("credential_epoch")?,
        kind: latchkey_core::store::TicketKind::parse(&kind)
            .with_context(|| format!("unknown ticket kind {kind}"))?,
        client_id: row.try_get("client_id")?,
        result_url: row.try_get("result_url")?,
        include_email: row.try_get::<i64, _>("include_email")? != 0,
        mark_email_verified: row.try_get::<i64, _>("mark_email_verified")? != 0,
        pending_hash: row
            .try_get::<Option<String>, _>("pending_hash")?
            .map(PasswordHash::new),
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        expires_at: Timestamp::from_millis(row.try_get("expires_at")?),
        used_at: row
            .try_get::<Option<i64>, _>("used_at")?
            .map(Timestamp::from_millis),
    })
}
