use crate::audit::{LogEntry, codes};
use crate::domain::{Email, ParseError, Password, Profile, User, UserId};
use crate::error::{ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::password::{PasswordPolicy, PersonalInfo};
use crate::services::{Caller, PasswordChangeReason, Users};
use crate::time::Timestamp;
use serde_json::{Map, Value};

/// `POST /api/v2/users` and signup, parsed.
#[derive(Debug)]
pub struct NewUser {
    pub connection: String,
    pub email: Option<Email>,
    pub email_verified: bool,
    pub username: Option<String>,
    pub password: Option<Password>,
    /// A chosen id (the part after `auth0|`), as Auth0 allows on database connections.
    pub user_id: Option<String>,
    pub profile: Profile,
    pub user_metadata: Map<String, Value>,
    pub app_metadata: Map<String, Value>,
    pub blocked: bool,
    /// Send the `verify_email` mail once the user exists (unless the address is verified).
    pub verify_email: bool,
}

/// `PATCH /api/v2/users/{id}`, parsed. `Some(None)` clears an optional field.
#[derive(Debug, Default)]
pub struct UserPatch {
    pub connection: Option<String>,
    pub email: Option<Email>,
    pub email_verified: Option<bool>,
    pub username: Option<String>,
    pub password: Option<Password>,
    pub blocked: Option<bool>,
    pub name: Option<Option<String>>,
    pub nickname: Option<Option<String>>,
    pub given_name: Option<Option<String>>,
    pub family_name: Option<Option<String>>,
    pub picture: Option<Option<String>>,
    pub phone_number: Option<Option<String>>,
    pub phone_verified: Option<bool>,
    pub user_metadata: Option<Map<String, Value>>,
    pub app_metadata: Option<Map<String, Value>>,
}

impl UserPatch {
    /// True when nothing besides the password (and the `connection` that names it) is set.
    fn is_empty(&self) -> bool {
        let Self {
            connection: _,
            password: _,
            email,
            email_verified,
            username,
            blocked,
            name,
            nickname,
            given_name,
            family_name,
            picture,
            phone_number,
            phone_verified,
            user_metadata,
            app_metadata,
        } = self;
        email.is_none()
            && email_verified.is_none()
            && username.is_none()
            && blocked.is_none()
            && [
                name,
                nickname,
                given_name,
                family_name,
                picture,
                phone_number,
            ]
            .iter()
            .all(|f| f.is_none())
            && phone_verified.is_none()
            && user_metadata.is_none()
            && app_metadata.is_none()
    }
}

/// Validates a username the way Auth0 does for database connections.
pub fn parse_username(s: &str) -> Result<String, ParseError> {
    let s = s.trim();
    let ok = (1..=128).contains(&s.chars().count())
        && s.chars()
            .all(|c| c.is_alphanumeric() || "_+-.!#$'^`~@".contains(c));
    if ok {
        Ok(s.to_owned())
    } else {
        Err(ParseError::new(
            "username",
            "must be 1 to 128 letters, digits or _+-.!#$'^`~@",
        ))
    }
}

/// Merges metadata at the first level; a `null` value removes the key (Auth0's rule).
fn merge_metadata(target: &mut Map<String, Value>, patch: Map<String, Value>) {
    for (k, v) in patch {
        if v.is_null() {
            target.remove(&k);
        } else {
            target.insert(k, v);
        }
    }
}

fn check_metadata(m: &Map<String, Value>, field: &'static str) -> Result<(), ParseError> {
    let size = serde_json::to_string(m).map_or(usize::MAX, |s| s.len());
    if size > 16 * 1024 {
        return Err(ParseError::new(field, "must be at most 16 KB"));
    }
    Ok(())
}

impl Users {
    pub async fn create_user(&self, new: NewUser, caller: &Caller) -> ServiceResult<User> {
        self.create_user_from(new, None, caller).await
    }

    /// `create_user`, for a sign-up through `client_id` (named in the verification mail).
    pub(crate) async fn create_user_from(
        &self,
        new: NewUser,
        client_id: Option<&str>,
        caller: &Caller,
    ) -> ServiceResult<User> {
        let verify_email = new.verify_email;
        let connection = self.tenant.connection_named(&new.connection).await?;
        if !connection.is_database() {
            return Err(ServiceError::bad_request(
                ErrorCode::OperationNotSupported,
                "Connection is not supported for this operation.",
            ));
        }
        let email = new
            .email
            .ok_or_else(|| ParseError::new("email", "is required for database connections"))?;
        let username = match (connection.options.requires_username(), new.username) {
            (true, Some(u)) => Some(parse_username(&u)?),
            (true, None) => {
                return Err(ParseError::new("username", "is required by this connection").into());
            }
            (false, Some(_)) => {
                return Err(ServiceError::bad_request(
                    ErrorCode::InvalidBody,
                    "Cannot set username for connection without requires_username",
                ));
            }
            (false, None) => None,
        };
        let password = new
            .password
            .ok_or_else(|| ParseError::new("password", "is required for database connections"))?;
        check_metadata(&new.user_metadata, "user_metadata")?;
        check_metadata(&new.app_metadata, "app_metadata")?;
        let user_id = match new.user_id {
            Some(custom) => {
                UserId::parse(&format!("auth0|{}", custom.trim_start_matches("auth0|")))?
            }
            None => UserId::new_database()?,
        };
        let now = Timestamp::now();
        let mut user = User {
            email_verified: new.email_verified,
            username,
            profile: new.profile,
            user_metadata: new.user_metadata,
            app_metadata: new.app_metadata,
            blocked: new.blocked,
            ..User::fresh(user_id, connection.name.clone(), Some(email), now)
        };
        let policy = PasswordPolicy::from_options(&connection.options);
        policy
            .evaluate(password.expose(), &PersonalInfo::of_user(&user))
            .map_err(ServiceError::PasswordPolicy)?;
        self.credentials
            .screen_new_password(
                crate::domain::attack_protection::BreachStage::Registration,
                Some(&user),
                &password,
                &caller.meta,
            )
            .await?;
        user.password_hash = Some(self.hasher.hash(&password).await?);
        let log = match &caller.actor {
            crate::services::Actor::EndUser => Some(
                LogEntry::new(codes::SUCCESS_SIGNUP, &caller.meta)
                    .user(user.user_id.as_str(), &user.display_name())
                    .connection(&connection.name),
            ),
            _ => caller.api_log("Create a User").map(|l| {
                l.user(user.user_id.as_str(), &user.display_name())
                    .connection(&connection.name)
            }),
        };
        self.store
            .insert_user(&user, log.as_ref())
            .await
            .map_err(|e| match e {
                crate::store::StoreError::Conflict(_) => {
                    ServiceError::conflict(ErrorCode::Auth0IdpError, "The user already exists.")
                }
                other => other.into(),
            })?;
        if verify_email {
            self.credentials
                .queue_verification_email(&user, client_id.map(str::to_owned))
                .await?;
        }
        Ok(user)
    }

    pub async fn update_user(
        &self,
        id: &UserId,
        mut patch: UserPatch,
        caller: &Caller,
    ) -> ServiceResult<User> {
        let mut user = self.directory.get_user(id).await?;
        let both = |a: bool, b: bool, what: &str| -> ServiceResult<()> {
            if a && b {
                Err(ServiceError::bad_request(
                    ErrorCode::InvalidBody,
                    format!("Cannot update {what} simultaneously."),
                ))
            } else {
                Ok(())
            }
        };
        let (has_pw, has_email, has_ev, has_user) = (
            patch.password.is_some(),
            patch.email.is_some(),
            patch.email_verified.is_some(),
            patch.username.is_some(),
        );
        both(has_pw, has_email, "password and email")?;
        both(has_pw, has_ev, "password and email_verified")?;
        both(has_user, has_email, "username and email")?;
        both(has_user, has_ev, "username and email_verified")?;
        both(has_user, has_pw, "username and password")?;

        let connection = match &patch.connection {
            Some(name) => {
                let c = self.tenant.find_connection(name).await?.ok_or_else(|| {
                    ServiceError::bad_request(ErrorCode::InvalidBody, "Connection does not exist.")
                })?;
                if c.name != user.connection {
                    return Err(ServiceError::bad_request(
                        ErrorCode::InvalidBody,
                        "The user does not have an identity for the given connection.",
                    ));
                }
                c
            }
            None => self.tenant.connection_named(&user.connection).await?,
        };
        if (has_pw || has_email || has_user) && !connection.is_database() {
            let what = if has_pw {
                "password"
            } else if has_email {
                "email"
            } else {
                "username"
            };
            return Err(ServiceError::bad_request(
                ErrorCode::OperationNotSupported,
                format!("Cannot update {what} for non-database user."),
            ));
        }

        // The password first, through the one function every path uses: if the policy refuses
        // it, nothing at all has been written. (Auth0 forbids combining a password with the
        // email or username, the only fields whose write could still fail afterwards.)
        if let Some(password) = patch.password.take() {
            let reason = match &caller.actor {
                crate::services::Actor::Admin { .. } => PasswordChangeReason::Dashboard,
                _ => PasswordChangeReason::ManagementApi,
            };
            user = self
                .credentials
                .set_password(id, password, reason, caller)
                .await?;
            if patch.is_empty() {
                return Ok(user);
            }
        }

        if let Some(email) = patch.email
            && user.email.as_ref() != Some(&email)
        {
            user.email = Some(email);
            user.email_verified = false;
        }
        if let Some(v) = patch.email_verified {
            user.email_verified = v;
        }
        if let Some(u) = patch.username {
            if !connection.options.requires_username() {
                return Err(ServiceError::bad_request(
                    ErrorCode::InvalidBody,
                    "Cannot set username for connection without requires_username",
                ));
            }
            user.username = Some(parse_username(&u)?);
        }
        if let Some(b) = patch.blocked {
            user.blocked = b;
        }
        let p = &mut user.profile;
        for (slot, value) in [
            (&mut p.name, patch.name),
            (&mut p.nickname, patch.nickname),
            (&mut p.given_name, patch.given_name),
            (&mut p.family_name, patch.family_name),
            (&mut p.picture, patch.picture),
            (&mut p.phone_number, patch.phone_number),
        ] {
            if let Some(v) = value {
                *slot = v;
            }
        }
        if let Some(v) = patch.phone_verified {
            p.phone_verified = v;
        }
        if let Some(m) = patch.user_metadata {
            merge_metadata(&mut user.user_metadata, m);
            check_metadata(&user.user_metadata, "user_metadata")?;
        }
        if let Some(m) = patch.app_metadata {
            merge_metadata(&mut user.app_metadata, m);
            check_metadata(&user.app_metadata, "app_metadata")?;
        }

        user.updated_at = Timestamp::now();
        let log = caller.api_log("Update a User").map(|l| {
            l.user(user.user_id.as_str(), &user.display_name())
                .connection(&user.connection)
        });
        let updated = self
            .store
            .update_user(&user, log.as_ref())
            .await
            .map_err(|e| match e {
                crate::store::StoreError::Conflict(_) => ServiceError::conflict(
                    ErrorCode::Auth0IdpError,
                    "The specified new email already exists",
                ),
                other => other.into(),
            })?;
        if !updated {
            return Err(ServiceError::user_not_found());
        }
        Ok(user)
    }

    pub async fn delete_user(&self, id: &UserId, caller: &Caller) -> ServiceResult<()> {
        let log = caller
            .api_log("Delete a User")
            .map(|l| l.user(id.as_str(), ""));
        if self.store.delete_user(id, log.as_ref()).await? {
            Ok(())
        } else {
            Err(ServiceError::user_not_found())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_merges_at_the_first_level_and_null_removes() {
        let mut m: Map<String, Value> =
            serde_json::from_str(r#"{"a":1,"b":{"x":1},"c":3}"#).unwrap_or_default();
        let patch: Map<String, Value> =
            serde_json::from_str(r#"{"b":{"y":2},"c":null,"d":4}"#).unwrap_or_default();
        merge_metadata(&mut m, patch);
        assert_eq!(
            Value::Object(m),
            serde_json::json!({"a":1,"b":{"y":2},"d":4})
        );
    }

    #[test]
    fn usernames_are_checked() {
        assert!(parse_username("jane_doe").is_ok());
        assert!(parse_username("").is_err());
        assert!(parse_username("has space").is_err());
    }
}
