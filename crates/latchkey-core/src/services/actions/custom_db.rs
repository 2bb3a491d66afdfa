//! Custom database connections (Auth0's `options.enabledDatabaseCustomization` with
//! `options.customScripts`): the connection's users live in an external store that the
//! connection's callback-style scripts reach, run in the Actions sandbox with
//! `options.configuration` as their `configuration` global (sealed at rest here).
//!
//! With `options.import_mode` (lazy migration), a user whom the `login` script accepts is
//! created here with that password, and later logins are checked here without the script.
//! Without it, every login asks the script and the user here holds no password.

use crate::actions::{ActionExecution, ActionOutcome, Entry, ScriptCall, ScriptResult, Trigger};
use crate::domain::{Connection, Email, Password, User, UserId};
use crate::error::{ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::services::Actions;
use crate::time::Timestamp;
use secrecy::SecretString;
use serde_json::{Map, Value, json};

/// Marks a configuration value sealed by `seal_configuration`.
const SEALED: &str = "lk-sealed:";

/// A connection's custom database.
pub(crate) struct CustomDatabase {
    pub import_mode: bool,
    connection: String,
    scripts: Map<String, Value>,
    configuration: Vec<(String, SecretString)>,
}

impl CustomDatabase {
    pub fn has(&self, script: &str) -> bool {
        self.scripts
            .get(script)
            .and_then(Value::as_str)
            .is_some_and(|s| !s.trim().is_empty())
    }
}

fn unavailable() -> ServiceError {
    ServiceError::AccessDenied(
        "The user store could not be reached. Try again later, or contact the application's support.".into(),
    )
}

impl Actions {
    /// Seals every clear value of `options.configuration` (on create and update); values
    /// already sealed (read back and sent again) are kept.
    pub(crate) fn seal_configuration(&self, options: &mut Map<String, Value>) -> ServiceResult<()> {
        let Some(Value::Object(config)) = options.get_mut("configuration") else {
            return Ok(());
        };
        for (key, value) in config.iter_mut() {
            let clear = match &*value {
                Value::String(s) if s.starts_with(SEALED) => continue,
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let sealed = self
                .tenant_keys
                .seal_secret(&format!("connection-configuration\0{key}"), &clear)?;
            *value = Value::String(format!("{SEALED}{sealed}"));
        }
        Ok(())
    }

    /// The connection's custom database, if customization is enabled.
    pub(crate) fn custom_database(&self, connection: &Connection) -> Option<CustomDatabase> {
        let extra = &connection.options.extra;
        if extra.get("enabledDatabaseCustomization") != Some(&Value::Bool(true)) {
            return None;
        }
        let scripts = extra.get("customScripts")?.as_object()?.clone();
        let configuration = extra
            .get("configuration")
            .and_then(Value::as_object)
            .map(|config| {
                config
                    .iter()
                    .filter_map(|(k, v)| {
                        let sealed = v.as_str()?.strip_prefix(SEALED)?;
                        let clear = self
                            .tenant_keys
                            .open_secret(&format!("connection-configuration\0{k}"), sealed)?;
                        Some((k.clone(), clear))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(CustomDatabase {
            import_mode: connection.options.import_mode.unwrap_or(false),
            connection: connection.name.clone(),
            scripts,
            configuration,
        })
    }

    /// Runs one of the connection's scripts. A script that fails, times out or is missing
    /// stops the flow with a clear error; what it passed to its callback is returned.
    async fn run_db_script(
        &self,
        db: &CustomDatabase,
        script: &str,
        args: Vec<Value>,
    ) -> ServiceResult<ScriptResult> {
        let code = db
            .scripts
            .get(script)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let function = match script {
            "get_user" => "getByEmail",
            "change_password" => "changePassword",
            "delete" => "remove",
            other => other,
        };
        let execution = ActionExecution {
            action_id: format!("connection:{}", db.connection),
            action_name: format!("{} {script} script", db.connection),
            trigger: Trigger::PostLogin,
            entry: Entry::Execute,
            code,
            event: Value::Null,
            secrets: db.configuration.clone(),
            limits: self.config.actions.clone(),
            script: Some(ScriptCall {
                function: function.to_owned(),
                args,
            }),
        };
        let report = self.run_execution(execution).await;
        match (report.outcome, report.script_result) {
            (ActionOutcome::Completed, Some(result)) => Ok(result),
            (outcome, _) => {
                // Neither the script's logs nor its message: the login and change_password
                // scripts hold the user's plaintext password.
                let kind = match outcome {
                    ActionOutcome::TimedOut => "timed out",
                    ActionOutcome::OutOfMemory => "ran out of memory",
                    ActionOutcome::Failed { .. } => "threw or never called back",
                    ActionOutcome::Crashed { .. } => "could not run",
                    ActionOutcome::Completed => "gave no answer",
                };
                tracing::warn!(connection = %db.connection, script, kind, "a custom database script failed");
                Err(unavailable())
            }
        }
    }

    /// A login on a custom-database connection that the script must answer: the user here
    /// (created or refreshed from the script's profile), or `None` for wrong credentials.
    pub(crate) async fn login_through_script(
        &self,
        db: &CustomDatabase,
        username: &str,
        password: &Password,
        local: Option<User>,
    ) -> ServiceResult<Option<User>> {
        if !db.has("login") {
            return Err(unavailable());
        }
        let result = self
            .run_db_script(db, "login", vec![json!(username), json!(password.expose())])
            .await?;
        let profile = match result {
            ScriptResult::Value(Value::Object(p)) => p,
            ScriptResult::Value(_) => return Ok(None),
            ScriptResult::Error { name, .. } => {
                if name != "WrongUsernameOrPasswordError" {
                    tracing::info!(connection = %db.connection, %name, "the login script refused a login");
                }
                return Ok(None);
            }
        };
        let hash = if db.import_mode {
            Some(self.hasher.hash(password).await?)
        } else {
            None
        };
        self.user_from_profile(db, &profile, hash, local)
            .await
            .map(Some)
    }

    /// Finds a user of a custom-database connection the store does not hold yet through the
    /// `get_user` script (a reset requested for a user not migrated yet), and keeps it here.
    pub(crate) async fn user_through_script(
        &self,
        db: &CustomDatabase,
        email: &Email,
    ) -> ServiceResult<Option<User>> {
        if !db.has("get_user") {
            return Ok(None);
        }
        match self
            .run_db_script(db, "get_user", vec![json!(email.as_str())])
            .await?
        {
            ScriptResult::Value(Value::Object(profile)) => self
                .user_from_profile(db, &profile, None, None)
                .await
                .map(Some),
            _ => Ok(None),
        }
    }

    /// Tells the external store a password changed (`change_password(email, newPassword)`),
    /// for users whose password lives there: every user without import mode, and users not
    /// migrated yet. Refuses the change if the store does not confirm it.
    pub(crate) async fn change_password_through_script(
        &self,
        connection: &Connection,
        user: &User,
        password: &Password,
    ) -> ServiceResult<()> {
        let Some(db) = self.custom_database(connection) else {
            return Ok(());
        };
        let migrated = db.import_mode && user.password_hash.is_some();
        if migrated || !db.has("change_password") {
            return Ok(());
        }
        let email = user.email.as_ref().map(|e| e.as_str().to_owned());
        match self
            .run_db_script(
                &db,
                "change_password",
                vec![json!(email), json!(password.expose())],
            )
            .await?
        {
            ScriptResult::Value(Value::Bool(false)) | ScriptResult::Error { .. } => {
                Err(ServiceError::bad_request(
                    ErrorCode::PasswordChangeFailed,
                    "The user store did not accept the new password.",
                ))
            }
            ScriptResult::Value(_) => Ok(()),
        }
    }

    /// The user here for a script's profile: `auth0|<profile.user_id>`, created on first sight,
    /// its profile refreshed, and (import mode) its password stored.
    async fn user_from_profile(
        &self,
        db: &CustomDatabase,
        profile: &Map<String, Value>,
        hash: Option<crate::domain::PasswordHash>,
        local: Option<User>,
    ) -> ServiceResult<User> {
        let text = |k: &str| profile.get(k).and_then(Value::as_str).map(str::to_owned);
        let external_id = text("user_id")
            .or_else(|| profile.get("user_id").map(Value::to_string))
            .or_else(|| text("id"))
            .ok_or_else(unavailable)?;
        let external_id = external_id.trim_start_matches("auth0|").to_owned();
        let user_id = UserId::parse(&format!("auth0|{external_id}"))?;
        let email = text("email").map(|e| Email::parse(&e)).transpose()?;
        let existing = match local.filter(|u| u.user_id == user_id) {
            Some(u) => Some(u),
            None => self.store.get_user(&user_id).await?,
        };
        // The script speaks for its own connection only: an id that names a user of another
        // connection (or a local user whose address the script gives another id) is refused.
        if existing
            .as_ref()
            .is_some_and(|u| u.connection != db.connection)
        {
            tracing::warn!(connection = %db.connection, "a custom database script answered with another connection's user");
            return Err(unavailable());
        }
        if let Some(e) = &email
            && let Some(other) = self.store.find_user_by_email(&db.connection, e).await?
            && other.user_id != user_id
        {
            tracing::warn!(connection = %db.connection, "a custom database script answered with an address another user holds");
            return Err(unavailable());
        }
        let now = Timestamp::now();
        let mut user = existing.clone().unwrap_or_else(|| {
            User::fresh(user_id.clone(), db.connection.clone(), email.clone(), now)
        });
        user.email = email.or(user.email);
        if let Some(v) = profile.get("email_verified").and_then(Value::as_bool) {
            user.email_verified = v;
        }
        if let Some(u) = text("username") {
            user.username = Some(u);
        }
        for (field, slot) in [
            ("name", &mut user.profile.name),
            ("nickname", &mut user.profile.nickname),
            ("given_name", &mut user.profile.given_name),
            ("family_name", &mut user.profile.family_name),
            ("picture", &mut user.profile.picture),
        ] {
            if let Some(v) = text(field) {
                *slot = Some(v);
            }
        }
        if let Some(Value::Object(m)) = profile.get("user_metadata") {
            user.user_metadata.extend(m.clone());
        }
        if let Some(Value::Object(m)) = profile.get("app_metadata") {
            user.app_metadata.extend(m.clone());
        }
        user.updated_at = now;
        match existing {
            None => {
                user.password_hash = hash;
                self.store.insert_user(&user, None).await?;
            }
            Some(_) => {
                self.store.update_user(&user, None).await?;
                if let Some(hash) = hash {
                    // The migration: the password the script accepted becomes the local one.
                    self.store
                        .apply_password_change(&crate::store::PasswordChange {
                            user_id: user.user_id.clone(),
                            expected_epoch: user.credential_epoch,
                            new_hash: hash,
                            history: Vec::new(),
                            at: now,
                            mark_email_verified: false,
                            log: crate::audit::LogEntry::new(
                                crate::audit::codes::SUCCESS_CHANGE_PASSWORD,
                                &crate::audit::RequestMeta::default(),
                            )
                            .description("Password imported from the custom database")
                            .user(user.user_id.as_str(), &user.display_name())
                            .connection(&user.connection),
                            ticket_digest: None,
                            outbox: Vec::new(),
                        })
                        .await?;
                }
            }
        }
        Ok(self.store.get_user(&user.user_id).await?.unwrap_or(user))
    }
}
