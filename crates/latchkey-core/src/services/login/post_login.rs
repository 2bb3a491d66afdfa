//! Post-login Actions: the event, claims, deny, multifactor, and the redirect that
//! suspends a login until `/continue`.

use super::{
    GrantPostLogin, LoginStep, PendingLogin, PostLoginProgress, ResponseMode, TRANSACTION_TTL_SECS,
    Transaction, set_or_remove,
};
use crate::domain::{Client, ClientId, UserId};
use crate::error::{ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::services::{Caller, Login};
use crate::time::Timestamp;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

impl Login {
    /// Runs the post-login actions (from the start, or from the one that redirected when the
    /// user comes back with `resume`), folding what they asked for into `pending`. Returns the
    /// step that ends the login here (a redirect, a denial), or `None` to go on.
    pub(in crate::services) async fn run_post_login(
        &self,
        pending: &mut PendingLogin,
        amr: &[String],
        resume: Option<(usize, Value)>,
        caller: &Caller,
    ) -> ServiceResult<Option<LoginStep>> {
        use crate::actions::{ActionCommand, Entry, Trigger};
        pending.post_login.done = true;
        if !self.actions.trigger_has_actions(Trigger::PostLogin).await? {
            return Ok(None);
        }
        let mut user = self
            .directory
            .get_user(&UserId::from_trusted(pending.user_id.clone()))
            .await?;
        let (from, entry, query) = match resume {
            Some((at, query)) => (at, Entry::Continue, Some(query)),
            None => (0, Entry::Execute, None),
        };
        let event = self
            .post_login_event(&pending.tx, &user, amr, pending.auth_time, query, caller)
            .await?;
        let run = self
            .actions
            .run_trigger(Trigger::PostLogin, &event, from, entry, true)
            .await?;
        // Auth0 names the execution in the log entry, for GET /actions/executions/{id}.
        let executions = json!({"executions": run.execution_id.iter().collect::<Vec<_>>()});
        if let Some((name, _)) = &run.failure {
            self.audit.record(
                crate::audit::LogEntry::new(crate::audit::codes::FAILED_LOGIN, &caller.meta)
                    .description(format!("The post-login action {name} failed"))
                    .user(user.user_id.as_str(), &user.display_name())
                    .client(&pending.tx.client_id, "")
                    .detail("actions", executions.clone()),
            );
            return Err(ServiceError::AccessDenied(
                "The login could not be completed because one of the application's login rules failed. Try again later, or contact the application's support.".into(),
            ));
        }
        if let Some(reason) = run.denied() {
            self.audit.record(
                crate::audit::LogEntry::new(crate::audit::codes::FAILED_LOGIN, &caller.meta)
                    .description(reason)
                    .user(user.user_id.as_str(), &user.display_name())
                    .client(&pending.tx.client_id, "")
                    .detail("actions", executions),
            );
            return Ok(Some(LoginStep::Respond {
                response: pending.tx.error(ErrorCode::AccessDenied, reason),
            }));
        }
        let mut metadata = Vec::new();
        let mut redirect = None;
        for command in run.commands {
            match command {
                ActionCommand::IdTokenClaim { name, value } => {
                    pending.post_login.claims.id_token.insert(name, value);
                }
                ActionCommand::AccessTokenClaim { name, value } => {
                    pending.post_login.claims.access_token.insert(name, value);
                }
                ActionCommand::EnableMultifactor { .. } | ActionCommand::ChallengeWith { .. } => {
                    pending.post_login.mfa_required = true;
                }
                ActionCommand::SetAppMetadata { name, value } => {
                    metadata.push((true, name, value));
                }
                ActionCommand::SetUserMetadata { name, value } => {
                    metadata.push((false, name, value));
                }
                ActionCommand::Redirect { url, query } => redirect = Some((url, query)),
                ActionCommand::Deny { .. } => {}
            }
        }
        if !metadata.is_empty() {
            // Onto the user as stored now: the actions' own Management API calls (a block,
            // an update) must not be undone by a copy read before they ran.
            user = self.directory.get_user(&user.user_id).await?;
            for (app, name, value) in metadata {
                let map = if app {
                    &mut user.app_metadata
                } else {
                    &mut user.user_metadata
                };
                set_or_remove(map, name, value);
            }
            user.updated_at = Timestamp::now();
            self.store.update_user(&user, None).await?;
        }
        let (Some(at), Some((url, query))) = (run.suspended_at, redirect) else {
            return Ok(None);
        };
        // Silent authentication cannot show the user anything.
        if pending
            .tx
            .prompt
            .as_deref()
            .is_some_and(|p| p.split_whitespace().any(|p| p == "none"))
        {
            return Ok(Some(LoginStep::Respond {
                response: pending
                    .tx
                    .error(ErrorCode::InteractionRequired, "Interaction required"),
            }));
        }
        let binding = crate::random::opaque_token()?;
        pending.post_login.done = false;
        pending.post_login.resume_at = Some(at);
        pending.post_login.amr = amr.to_vec();
        pending.post_login.credential_epoch = user.credential_epoch;
        pending.post_login.browser_binding =
            Some(crate::random::token_digest(binding.expose_secret()));
        pending.expires = Timestamp::now().seconds() + TRANSACTION_TTL_SECS;
        let state = self
            .tenant_keys
            .seal_private("login-continue", &*pending, pending.expires)?;
        let mut target = url::Url::parse(&url).map_err(|_| {
            ServiceError::AccessDenied(
                "The login could not be completed: an action redirected to an invalid URL.".into(),
            )
        })?;
        if !matches!(target.scheme(), "https" | "http") {
            return Err(ServiceError::AccessDenied(
                "The login could not be completed: an action redirected to an invalid URL.".into(),
            ));
        }
        target
            .query_pairs_mut()
            .extend_pairs(query.iter())
            .append_pair("state", &state);
        Ok(Some(LoginStep::Redirect {
            url: target.to_string(),
            browser_binding: binding,
        }))
    }

    /// The post-login actions of a login without a browser (the password and MFA grants):
    /// their claims for the tokens. A denial, a failure, or a redirect (which this grant
    /// cannot follow) refuses the login with `access_denied`.
    pub(crate) async fn post_login_for_grant(
        &self,
        client: &Client,
        user: &crate::domain::User,
        requested_scope: &str,
        audience: Option<&str>,
        amr: &[String],
        meta: &crate::audit::RequestMeta,
    ) -> ServiceResult<GrantPostLogin> {
        if !self
            .actions
            .trigger_has_actions(crate::actions::Trigger::PostLogin)
            .await?
        {
            return Ok(GrantPostLogin::default());
        }
        let now = Timestamp::now();
        let mut pending = PendingLogin {
            tx: Transaction {
                client_id: client.client_id.as_str().to_owned(),
                redirect_uri: String::new(),
                redirect_uri_omitted: true,
                mode: ResponseMode::Query,
                scope: requested_scope.to_owned(),
                state: None,
                nonce: None,
                audience: audience.map(str::to_owned),
                connection: user.connection.clone(),
                code_challenge: None,
                max_age: None,
                login_hint: None,
                expires: now.seconds() + 300,
                requested_scope: requested_scope.to_owned(),
                prompt: None,
                response_type: super::ResponseType::CODE,
            },
            user_id: user.user_id.as_str().to_owned(),
            auth_time: now.millis(),
            enroll_secret: None,
            enroll_uri: None,
            expires: now.seconds() + 300,
            post_login: PostLoginProgress::default(),
        };
        let caller = Caller::end_user(meta.clone());
        match self
            .run_post_login(&mut pending, amr, None, &caller)
            .await?
        {
            None => Ok(GrantPostLogin {
                claims: pending.post_login.claims,
                mfa_required: pending.post_login.mfa_required,
            }),
            Some(LoginStep::Respond { response }) => Err(ServiceError::AccessDenied(
                response
                    .params
                    .iter()
                    .find(|(k, _)| k == "error_description")
                    .map_or_else(|| "Access denied".to_owned(), |(_, v)| v.clone()),
            )),
            Some(_) => Err(ServiceError::AccessDenied(
                "A post-login action redirects the user, which needs the browser-based login."
                    .into(),
            )),
        }
    }

    /// `GET /continue?state=…`: the user is back from a post-login action's redirect. Runs that
    /// action's `onContinuePostLogin` and the actions after it, then finishes the login.
    /// `browser_binding` is the cookie set with the redirect; `query` is `/continue`'s query.
    pub async fn continue_login(
        &self,
        state: &str,
        browser_binding: Option<&str>,
        query: Value,
        caller: &Caller,
    ) -> ServiceResult<LoginStep> {
        let mut pending: PendingLogin = self.tenant_keys.unseal_private("login-continue", state)?;
        let expired = || {
            ServiceError::bad_request(
                ErrorCode::InvalidTransaction,
                "This login can no longer continue. Go back to the application and log in again.",
            )
        };
        let bound = match (&pending.post_login.browser_binding, browser_binding) {
            (Some(digest), Some(cookie)) => bool::from(subtle::ConstantTimeEq::ct_eq(
                digest.as_bytes(),
                crate::random::token_digest(cookie).as_bytes(),
            )),
            _ => false,
        };
        let at = pending.post_login.resume_at.ok_or_else(expired)?;
        let user = self
            .directory
            .get_user(&UserId::from_trusted(pending.user_id.clone()))
            .await?;
        // A password change (J4's very purpose) or a block ends the login: log in again.
        if !bound || user.blocked || user.credential_epoch != pending.post_login.credential_epoch {
            return Err(expired());
        }
        let amr = pending.post_login.amr.clone();
        pending.post_login.resume_at = None;
        pending.post_login.browser_binding = None;
        if let Some(step) = self
            .run_post_login(&mut pending, &amr, Some((at, query)), caller)
            .await?
        {
            return Ok(step);
        }
        self.finish_login(&pending, amr, None, caller).await
    }

    /// Auth0's post-login `event`.
    pub(in crate::services) async fn post_login_event(
        &self,
        tx: &Transaction,
        user: &crate::domain::User,
        amr: &[String],
        auth_time_ms: i64,
        continue_query: Option<Value>,
        caller: &Caller,
    ) -> ServiceResult<Value> {
        let client = match ClientId::parse(&tx.client_id) {
            Ok(id) => self.tenant.active_client(&id).await?,
            Err(_) => None,
        };
        let connection = self.tenant.connection_named(&tx.connection).await?;
        let scopes: Vec<&str> = tx.requested_scope.split_whitespace().collect();
        let mut query = serde_json::Map::new();
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                query.insert(k.to_owned(), Value::String(v));
            }
        };
        put("client_id", Some(tx.client_id.clone()));
        put("redirect_uri", Some(tx.redirect_uri.clone()));
        put("response_type", Some(tx.response_type.as_words().join(" ")));
        put("scope", Some(tx.requested_scope.clone()));
        put("state", tx.state.clone());
        put("nonce", tx.nonce.clone());
        put("audience", tx.audience.clone());
        put("connection", Some(tx.connection.clone()));
        put("prompt", tx.prompt.clone());
        put("max_age", tx.max_age.map(|m| m.to_string()));
        put("login_hint", tx.login_hint.clone());
        if tx.mode != ResponseMode::Query {
            put("response_mode", Some(tx.mode.as_str().into()));
        }
        let auth_time = Timestamp::from_millis(auth_time_ms).to_iso();
        let (method, query) = match continue_query {
            Some(q) => ("GET", q),
            None => ("POST", Value::Object(query)),
        };
        Ok(json!({
            "transaction": {
                "requested_scopes": scopes,
                "protocol": "oidc-basic-profile",
                "redirect_uri": tx.redirect_uri,
                "state": tx.state,
                "prompt": tx.prompt.as_deref().map(|p| p.split_whitespace().collect::<Vec<_>>()).unwrap_or_default(),
                "login_hint": tx.login_hint,
                "acr_values": [],
                "ui_locales": [],
                "locale": "en",
                "response_mode": tx.mode.as_str(),
                "response_type": tx.response_type.as_words(),
            },
            "request": self.actions.action_request(&caller.meta, json!({"method": method, "query": query, "body": {}})),
            "user": user.to_auth0_json(),
            "client": client.as_ref().map(|c| json!({"client_id": c.client_id, "name": c.name, "metadata": {}})),
            "connection": {"id": connection.id, "name": connection.name, "strategy": "auth0", "metadata": {}},
            "authentication": {
                "methods": amr.iter().map(|m| json!({"name": m, "timestamp": auth_time})).collect::<Vec<_>>(),
            },
            "stats": {"logins_count": user.logins_count},
            "tenant": self.actions.action_tenant(),
            "resource_server": tx.audience.as_ref().map(|a| json!({"identifier": a})),
            "authorization": {"roles": []},
            "secrets": {},
        }))
    }
}
