//! One user of a bulk-import file, read against Auth0's bulk-import user schema: every problem
//! found is reported (Auth0's validator codes, the property as `path`), or the user comes out
//! whole, password hash included.

use crate::domain::{Connection, Email, ImportError, ImportErrorCode, Profile, User, UserId};
use crate::password::ImportedHash;
use crate::store::Authenticator;
use crate::time::Timestamp;
use secrecy::SecretString;
use serde_json::{Map, Value};

/// The properties Auth0's schema allows on an imported user.
const ALLOWED: &[&str] = &[
    "email",
    "email_verified",
    "user_id",
    "username",
    "given_name",
    "family_name",
    "name",
    "nickname",
    "picture",
    "blocked",
    "password_hash",
    "custom_password_hash",
    "app_metadata",
    "user_metadata",
    "mfa_factors",
];

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Collects the errors of one user while reading it.
struct Reader<'a> {
    object: &'a Map<String, Value>,
    errors: Vec<ImportError>,
}

impl Reader<'_> {
    fn wrong_type(&mut self, key: &str, expected: &str, found: &Value) {
        self.errors.push(ImportError::new(
            ImportErrorCode::InvalidType,
            format!(
                "Expected type {expected} but found type {}",
                type_name(found)
            ),
            key,
        ));
    }

    fn string(&mut self, key: &str) -> Option<String> {
        match self.object.get(key)? {
            Value::String(s) => Some(s.clone()),
            other => {
                self.wrong_type(key, "string", other);
                None
            }
        }
    }

    fn bool(&mut self, key: &str) -> bool {
        match self.object.get(key) {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                self.wrong_type(key, "boolean", other);
                false
            }
        }
    }

    fn object(&mut self, key: &str) -> Map<String, Value> {
        match self.object.get(key) {
            None => Map::new(),
            Some(Value::Object(m)) => {
                let size = serde_json::to_string(m).map_or(usize::MAX, |s| s.len());
                if size > 16 * 1024 {
                    self.invalid(key, format!("{key} must be at most 16 KB"));
                }
                m.clone()
            }
            Some(other) => {
                self.wrong_type(key, "object", other);
                Map::new()
            }
        }
    }

    fn invalid(&mut self, key: &str, message: String) {
        self.errors.push(ImportError::new(
            ImportErrorCode::InvalidFormat,
            message,
            key,
        ));
    }
}

/// Reads `value` as a user of `connection`, or says everything that is wrong with it.
pub(super) fn read_user(
    value: &Value,
    connection: &Connection,
    now: Timestamp,
) -> Result<(User, Vec<Authenticator>), Vec<ImportError>> {
    let Value::Object(object) = value else {
        return Err(vec![ImportError::new(
            ImportErrorCode::InvalidType,
            format!("Expected type object but found type {}", type_name(value)),
            "",
        )]);
    };
    let mut r = Reader {
        object,
        errors: Vec::new(),
    };
    let extra: Vec<&str> = object
        .keys()
        .map(String::as_str)
        .filter(|k| !ALLOWED.contains(k))
        .collect();
    if !extra.is_empty() {
        r.errors.push(ImportError::new(
            ImportErrorCode::ObjectAdditionalProperties,
            format!("Additional properties not allowed: {}", extra.join(",")),
            "",
        ));
    }
    let email = match r.string("email") {
        Some(e) => match Email::parse(&e) {
            Ok(e) => Some(e),
            Err(_) => {
                r.invalid(
                    "email",
                    format!("Object didn't pass validation for format email: {e}"),
                );
                None
            }
        },
        None => {
            if !object.contains_key("email") {
                r.errors.push(ImportError::new(
                    ImportErrorCode::ObjectMissingRequiredProperty,
                    "Missing required property: email",
                    "",
                ));
            }
            None
        }
    };
    let username = match r.string("username") {
        Some(u) => match crate::services::users::lifecycle::parse_username(&u) {
            Ok(u) => Some(u),
            Err(e) => {
                r.invalid("username", format!("username {}", e.reason));
                None
            }
        },
        None => None,
    };
    if username.is_none() && connection.options.requires_username() && r.errors.is_empty() {
        r.errors.push(ImportError::new(
            ImportErrorCode::ObjectMissingRequiredProperty,
            "Missing required property: username",
            "",
        ));
    }
    // Auth0 adds `auth0|` to the ids it imports; an id exported from Auth0 keeps its own.
    let user_id = match r.string("user_id") {
        Some(id) => match UserId::parse(&format!("auth0|{}", id.trim_start_matches("auth0|"))) {
            Ok(id) => Some(id),
            Err(_) => {
                r.invalid("user_id", format!("Invalid user_id: {id}"));
                None
            }
        },
        None => None,
    };
    let profile = Profile {
        name: r.string("name"),
        nickname: r.string("nickname"),
        given_name: r.string("given_name"),
        family_name: r.string("family_name"),
        picture: r.string("picture"),
        phone_number: None,
        phone_verified: false,
    };
    let email_verified = r.bool("email_verified");
    let blocked = r.bool("blocked");
    let user_metadata = r.object("user_metadata");
    let app_metadata = r.object("app_metadata");
    let hash = match (
        object.get("password_hash"),
        object.get("custom_password_hash"),
    ) {
        (Some(_), Some(_)) => {
            r.invalid(
                "custom_password_hash",
                "password_hash and custom_password_hash cannot both be given".into(),
            );
            None
        }
        (Some(_), None) => r.string("password_hash").and_then(|h| {
            let parsed = ImportedHash::from_auth0(&serde_json::json!({
                "algorithm": "bcrypt", "hash": {"value": h}
            }));
            match parsed {
                Ok(p) => Some(p.to_stored()),
                Err(_) => {
                    r.invalid(
                        "password_hash",
                        "password_hash must be a bcrypt hash".into(),
                    );
                    None
                }
            }
        }),
        (None, Some(custom)) => match ImportedHash::from_auth0(custom) {
            Ok(p) => Some(p.to_stored()),
            Err(e) => {
                r.invalid("custom_password_hash", format!("custom_password_hash: {e}"));
                None
            }
        },
        (None, None) => None,
    };
    let totp_keys = match object.get("mfa_factors") {
        None => Vec::new(),
        Some(factors) => read_factors(factors, &mut r.errors),
    };
    let Some(email) = email.filter(|_| r.errors.is_empty()) else {
        return Err(r.errors);
    };
    let user_id = match user_id {
        Some(id) => id,
        None => UserId::new_database().map_err(|e| {
            vec![ImportError::new(
                ImportErrorCode::InvalidFormat,
                format!("no id could be made: {e}"),
                "user_id",
            )]
        })?,
    };
    let authenticators = totp_keys
        .into_iter()
        .map(|key| {
            Ok(Authenticator {
                id: format!("totp|dev_{}", crate::random::alnum(16)?),
                user_id: user_id.clone(),
                kind: "totp".into(),
                name: None,
                secret: SecretString::from(key),
                confirmed: true,
                created_at: now,
            })
        })
        .collect::<Result<Vec<_>, crate::random::RandomError>>()
        .map_err(|e| {
            vec![ImportError::new(
                ImportErrorCode::InvalidFormat,
                format!("no authenticator id could be made: {e}"),
                "mfa_factors",
            )]
        })?;
    let user = User {
        email_verified,
        username,
        profile,
        user_metadata,
        app_metadata,
        blocked,
        password_hash: hash,
        ..User::fresh(user_id, connection.name.clone(), Some(email), now)
    };
    Ok((user, authenticators))
}

/// Auth0's `mfa_factors`: `[{"totp": {"secret": BASE32}}, {"phone": {…}}, {"email": {…}}]`.
/// TOTP keys become confirmed authenticators; phone and email factors are refused, because
/// Latchkey sends no SMS and has no email second factor: importing them would drop a factor
/// the user relies on without saying so.
fn read_factors(factors: &Value, errors: &mut Vec<ImportError>) -> Vec<String> {
    let Value::Array(list) = factors else {
        errors.push(ImportError::new(
            ImportErrorCode::InvalidType,
            format!("Expected type array but found type {}", type_name(factors)),
            "mfa_factors",
        ));
        return Vec::new();
    };
    let mut keys = Vec::new();
    for (i, factor) in list.iter().enumerate() {
        let path = format!("mfa_factors/{i}");
        let kind = factor
            .as_object()
            .filter(|o| o.len() == 1)
            .and_then(|o| o.keys().next().cloned());
        match kind.as_deref() {
            Some("totp") => {
                let secret = factor["totp"]["secret"].as_str().unwrap_or_default();
                let secret = secret.trim().to_ascii_uppercase();
                if crate::totp::decode_base32(&secret).is_some_and(|k| k.len() >= 10) {
                    keys.push(secret);
                } else {
                    errors.push(ImportError::new(
                        ImportErrorCode::InvalidFormat,
                        "totp.secret must be a base32 key of at least 16 characters",
                        format!("{path}/totp/secret"),
                    ));
                }
            }
            Some(kind @ ("phone" | "email")) => errors.push(ImportError::new(
                ImportErrorCode::UnsupportedValue,
                format!(
                    "{kind} factors cannot be used by Latchkey (no SMS or email second factor); \
                     import the user without it, or with a totp factor"
                ),
                path,
            )),
            _ => errors.push(ImportError::new(
                ImportErrorCode::InvalidFormat,
                "each factor must be one of {\"totp\": …}, {\"phone\": …}, {\"email\": …}",
                path,
            )),
        }
    }
    keys
}
