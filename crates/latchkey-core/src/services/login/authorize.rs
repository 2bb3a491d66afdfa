//! `GET /authorize`: validation, single sign-on, the login form, and the answer: a code,
//! tokens (implicit and hybrid flows), or both.

use super::grants::{FrontChannel, LoginContext, OIDC_SCOPES};
use super::{
    AuthorizationResponse, AuthorizeOutcome, AuthorizeRequest, CODE_TTL_SECS, LoginForm, LoginStep,
    PendingLogin, PostLoginProgress, ResponseMode, ResponseType, TRANSACTION_TTL_SECS,
    TokenResponse, Transaction,
};
use crate::domain::{Client, ClientId, IMPLICIT_GRANT, Scope};
use crate::error::{ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::services::tenant::origins::origin_matches;
use crate::services::{Caller, Login};
use crate::store::{AuthorizationCode, SessionRecord};
use crate::time::Timestamp;
use secrecy::{ExposeSecret, SecretString};

impl Login {
    /// `GET /authorize`. Errors about the client or the callback are shown, never redirected;
    /// every later error goes back to the callback with `state`.
    pub async fn authorize(
        &self,
        req: AuthorizeRequest,
        session_token: Option<&str>,
        caller: &Caller,
    ) -> ServiceResult<AuthorizeOutcome> {
        let client = match req.client_id.as_deref().map(ClientId::parse) {
            Some(Ok(id)) => self.tenant.active_client(&id).await?,
            _ => None,
        };
        let Some(client) = client else {
            return Ok(AuthorizeOutcome::Refuse("Unknown client.".into()));
        };
        let redirect_uri_omitted = req.redirect_uri.is_none();
        let redirect_uri = match (&req.redirect_uri, client.callbacks.as_slice()) {
            (Some(r), callbacks) if callbacks.iter().any(|c| c == r) => r.clone(),
            (None, [only]) => only.clone(),
            (Some(_), _) => {
                return Ok(AuthorizeOutcome::Refuse(
                    "The redirect_uri is not in the application's list of allowed callback URLs."
                        .into(),
                ));
            }
            (None, _) => {
                return Ok(AuthorizeOutcome::Refuse(
                    "Missing required parameter: redirect_uri".into(),
                ));
            }
        };
        let response_type = req.response_type.as_deref().and_then(ResponseType::parse);
        let mode = req
            .response_mode
            .as_deref()
            .and_then(ResponseMode::parse)
            .unwrap_or_else(|| {
                response_type.map_or(ResponseMode::Query, ResponseType::default_mode)
            });
        // web_message posts the answer to the callback's origin: only one the client lists
        // among its web origins, and never an error posted to an origin it does not.
        if mode == ResponseMode::WebMessage
            && !origin_of(&redirect_uri).is_some_and(|o| {
                client
                    .web_origins
                    .iter()
                    .any(|w| origin_matches(w.trim_end_matches('/'), &o))
            })
        {
            return Ok(AuthorizeOutcome::Refuse(
                "response_mode=web_message needs the redirect_uri's origin in the application's Allowed Web Origins.".into(),
            ));
        }
        let mut tx = Transaction {
            client_id: client.client_id.as_str().to_owned(),
            redirect_uri,
            redirect_uri_omitted,
            mode,
            scope: String::new(),
            state: req.state.clone(),
            nonce: req.nonce.clone(),
            audience: None,
            connection: String::new(),
            code_challenge: None,
            max_age: None,
            login_hint: req.login_hint.clone(),
            expires: Timestamp::now().seconds() + TRANSACTION_TTL_SECS,
            requested_scope: req.scope.clone().unwrap_or_else(|| "openid".into()),
            prompt: req.prompt.clone(),
            response_type: response_type.unwrap_or(ResponseType::CODE),
        };
        match self.validate_authorize(&req, &client, &mut tx).await? {
            Ok(()) => {}
            Err((error, description)) => {
                return Ok(AuthorizeOutcome::Respond(tx.error(error, &description)));
            }
        }
        if let Some(ticket) = req.login_ticket.as_deref() {
            let verifier = req.co_verifier.as_ref().map(|v| v.expose_secret());
            return self
                .authorize_with_login_ticket(ticket, verifier, &client, tx, caller)
                .await;
        }
        let prompt = req.prompt.as_deref().unwrap_or_default();
        if prompt != "login"
            && let Some(session) = self.sessions.live_session(session_token).await?
        {
            // max_age=0 always asks again (J4: re-authenticate before a password change).
            let fresh_enough = tx.max_age.is_none_or(|max| {
                max > 0 && Timestamp::now().seconds() - session.auth_time.seconds() <= max
            });
            if fresh_enough {
                if self
                    .actions
                    .trigger_has_actions(crate::actions::Trigger::PostLogin)
                    .await?
                {
                    let pending = PendingLogin {
                        user_id: session.user_id.as_str().to_owned(),
                        auth_time: session.auth_time.millis(),
                        enroll_secret: None,
                        enroll_uri: None,
                        expires: tx.expires,
                        post_login: PostLoginProgress {
                            session_id: Some(session.id.clone()),
                            ..PostLoginProgress::default()
                        },
                        tx,
                    };
                    let silent = prompt == "none";
                    let error_tx = pending.tx.clone();
                    let step = self
                        .finish_login(&pending, session.amr.clone(), None, caller)
                        .await?;
                    // prompt=none: an action that needs the user (a second factor, a redirect)
                    // cannot be shown; the application hears it must ask interactively.
                    if silent && !matches!(step, LoginStep::Respond { .. }) {
                        return Ok(AuthorizeOutcome::Respond(
                            error_tx.error(ErrorCode::InteractionRequired, "Interaction required"),
                        ));
                    }
                    return Ok(AuthorizeOutcome::Step(step));
                }
                let response = self
                    .answer_authorization(&tx, &session, Default::default())
                    .await?;
                return Ok(AuthorizeOutcome::Respond(response));
            }
        }
        if prompt == "none" {
            return Ok(AuthorizeOutcome::Respond(
                tx.error(ErrorCode::LoginRequired, "Login required"),
            ));
        }
        let mut form = self.login_form(&self.tenant_keys.seal(&tx)?).await?;
        form.show_signup = req.screen_hint.as_deref() == Some("signup") && form.signup_allowed;
        Ok(AuthorizeOutcome::Login(form))
    }

    /// Fills `tx` from the request, or names the OAuth error to send back.
    pub(in crate::services) async fn validate_authorize(
        &self,
        req: &AuthorizeRequest,
        client: &Client,
        tx: &mut Transaction,
    ) -> ServiceResult<Result<(), (ErrorCode, String)>> {
        let Some(response_type) = req.response_type.as_deref().and_then(ResponseType::parse) else {
            return Ok(Err((
                ErrorCode::UnsupportedResponseType,
                format!(
                    "Unsupported response type: {}",
                    req.response_type.as_deref().unwrap_or_default()
                ),
            )));
        };
        if let Some(mode) = &req.response_mode
            && ResponseMode::parse(mode).is_none()
        {
            return Ok(Err((
                ErrorCode::InvalidRequest,
                format!("Unsupported response_mode: {mode}"),
            )));
        }
        // OAuth 2.0 Multiple Response Types §5: tokens never travel in the query.
        if response_type.is_implicit_or_hybrid() && tx.mode == ResponseMode::Query {
            tx.mode = ResponseMode::Fragment;
            return Ok(Err((
                ErrorCode::InvalidRequest,
                "response_mode=query is not allowed for response types that return tokens.".into(),
            )));
        }
        if response_type.is_implicit_or_hybrid() && !client.allows_implicit() {
            return Ok(Err((
                ErrorCode::UnauthorizedClient,
                "The client may not use the implicit flow (grant type implicit).".into(),
            )));
        }
        if response_type.code && !client.allows_grant(crate::domain::GrantType::AuthorizationCode) {
            return Ok(Err((
                ErrorCode::UnauthorizedClient,
                "The client may not use the authorization code flow.".into(),
            )));
        }
        if response_type.requires_nonce() && req.nonce.as_deref().is_none_or(str::is_empty) {
            return Ok(Err((
                ErrorCode::InvalidRequest,
                "Missing required parameter: nonce".into(),
            )));
        }
        match (&req.code_challenge, req.code_challenge_method.as_deref()) {
            (Some(c), None | Some("S256")) if c.len() >= 43 && c.len() <= 128 => {
                tx.code_challenge = Some(c.clone());
            }
            (Some(_), Some("S256") | None) => {
                return Ok(Err((
                    ErrorCode::InvalidRequest,
                    "Invalid code_challenge".into(),
                )));
            }
            (Some(_), Some(_)) => {
                return Ok(Err((
                    ErrorCode::InvalidRequest,
                    "Only code_challenge_method=S256 is supported.".into(),
                )));
            }
            // PKCE protects a code; an answer without one has nothing for it to protect.
            (None, _) if client.is_public() && response_type.code => {
                return Ok(Err((
                    ErrorCode::InvalidRequest,
                    "Public clients must use PKCE (code_challenge with S256).".into(),
                )));
            }
            (None, _) => {}
        }
        let requested = Scope::parse(req.scope.as_deref().unwrap_or("openid"));
        let mut scope = requested.intersect(&Scope::from_items(OIDC_SCOPES));
        if !scope.contains("openid") {
            scope = Scope::from_items(
                std::iter::once("openid".to_owned()).chain(scope.items().iter().cloned()),
            );
        }
        let api = match self.api_for_user(req.audience.as_deref()).await? {
            Ok(api) => api,
            Err(message) => return Ok(Err((ErrorCode::AccessDenied, message))),
        };
        tx.scope = super::audience::scope_for_api(scope, &requested, api.as_deref()).to_string();
        tx.audience = req.audience.clone();
        let tenant = self.tenant.active_tenant().await?;
        let name = req
            .connection
            .clone()
            .or_else(|| req.login_ticket.as_ref().and(req.realm.clone()))
            .or(tenant.default_directory.clone())
            .unwrap_or_else(|| crate::services::DEFAULT_CONNECTION.to_owned());
        let connection = self
            .tenant
            .find_connection(&name)
            .await?
            .filter(|c| c.is_database());
        match connection {
            Some(c) if c.is_enabled_for(&client.client_id) => tx.connection = c.name,
            _ => {
                return Ok(Err((
                    ErrorCode::InvalidRequest,
                    "The connection does not exist or is not enabled for this client.".into(),
                )));
            }
        }
        match req.prompt.as_deref() {
            None | Some("login" | "none" | "consent" | "select_account") => {}
            Some(_) => {
                return Ok(Err((
                    ErrorCode::InvalidRequest,
                    "Unsupported prompt value".into(),
                )));
            }
        }
        tx.max_age = match req.max_age.as_deref().map(str::parse::<i64>) {
            None => None,
            Some(Ok(v)) if v >= 0 => Some(v),
            Some(_) => {
                return Ok(Err((
                    ErrorCode::InvalidRequest,
                    "max_age must be a number of seconds".into(),
                )));
            }
        };
        Ok(Ok(()))
    }

    /// The answer to a logged-in authorization request, with what its `response_type`
    /// asked for: a code (stored, single-use), an access token, an ID token (with `at_hash`
    /// and `c_hash` for what travels beside it, OIDC Core §3.3.2.11).
    pub(in crate::services) async fn answer_authorization(
        &self,
        tx: &Transaction,
        session: &SessionRecord,
        custom_claims: crate::actions::CustomClaims,
    ) -> ServiceResult<AuthorizationResponse> {
        let rt = tx.response_type;
        let mut params = Vec::new();
        let code = if rt.code {
            let code = self.issue_code(tx, session, custom_claims.clone()).await?;
            params.push(("code".to_owned(), code.expose_secret().to_owned()));
            Some(code)
        } else {
            None
        };
        if rt.is_implicit_or_hybrid() {
            let tokens = self
                .front_channel_tokens(tx, session, custom_claims, code.as_ref())
                .await?;
            if rt.token {
                params.push((
                    "access_token".to_owned(),
                    tokens.access_token.expose_secret().to_owned(),
                ));
                params.push(("token_type".to_owned(), "Bearer".to_owned()));
                params.push(("expires_in".to_owned(), tokens.expires_in.to_string()));
            }
            if rt.id_token
                && let Some(id_token) = &tokens.id_token
            {
                params.push(("id_token".to_owned(), id_token.expose_secret().to_owned()));
            }
        }
        Ok(tx.respond(params))
    }

    /// The tokens the implicit and hybrid flows hand over at `/authorize`. Never a refresh
    /// token: those only come from the token endpoint.
    async fn front_channel_tokens(
        &self,
        tx: &Transaction,
        session: &SessionRecord,
        custom_claims: crate::actions::CustomClaims,
        code: Option<&SecretString>,
    ) -> ServiceResult<TokenResponse> {
        let id = ClientId::parse(&tx.client_id).map_err(ServiceError::from)?;
        let client = self.tenant.active_client(&id).await?.ok_or_else(|| {
            ServiceError::bad_request(ErrorCode::InvalidRequest, "Unknown client.")
        })?;
        let user = self.directory.get_user(&session.user_id).await?;
        let login = LoginContext {
            nonce: tx.nonce.clone(),
            auth_time: Some(session.auth_time),
            amr: session.amr.clone(),
            sid: Some(session.id.clone()),
            custom_claims,
            refresh_family: None,
            front_channel: Some(FrontChannel {
                at_hash: tx.response_type.token,
                c_hash_of: code.cloned(),
            }),
        };
        // A custom API's tokens handed over in the browser live `token_lifetime_for_web`, as
        // Auth0's; the scope was fitted to the API when the login was accepted.
        let lifetime = match self.api_for_user(tx.audience.as_deref()).await? {
            Ok(Some(api)) if !api.is_system => i64::from(api.token_lifetime_for_web),
            _ => self.config.access_token_lifetime_secs,
        };
        self.user_tokens(
            &client,
            &user,
            &Scope::parse(&tx.scope),
            tx.audience.as_deref(),
            IMPLICIT_GRANT,
            (Timestamp::now(), lifetime),
            &login,
        )
    }

    /// A new single-use code for the logged-in request.
    async fn issue_code(
        &self,
        tx: &Transaction,
        session: &SessionRecord,
        custom_claims: crate::actions::CustomClaims,
    ) -> ServiceResult<SecretString> {
        let code = crate::random::opaque_token()?;
        let now = Timestamp::now();
        self.store
            .insert_code(&AuthorizationCode {
                digest: crate::random::token_digest(code.expose_secret()),
                client_id: tx.client_id.clone(),
                user_id: session.user_id.clone(),
                session_id: Some(session.id.clone()),
                // Empty: the exchange need not name it (the request did not).
                redirect_uri: if tx.redirect_uri_omitted {
                    String::new()
                } else {
                    tx.redirect_uri.clone()
                },
                scope: tx.scope.clone(),
                audience: tx.audience.clone(),
                nonce: tx.nonce.clone(),
                code_challenge: tx.code_challenge.clone(),
                auth_time: session.auth_time,
                amr: session.amr.clone(),
                credential_epoch: session.credential_epoch,
                created_at: now,
                expires_at: now.plus_seconds(CODE_TTL_SECS),
                custom_claims,
            })
            .await?;
        Ok(code)
    }

    /// The login form's context again (after a failed attempt), if the transaction is valid.
    pub async fn login_form(&self, transaction: &str) -> ServiceResult<LoginForm> {
        let tx = self.tenant_keys.unseal(transaction)?;
        let id = ClientId::parse(&tx.client_id).map_err(ServiceError::from)?;
        let client = self.tenant.active_client(&id).await?.ok_or_else(|| {
            ServiceError::bad_request(ErrorCode::InvalidRequest, "Unknown client.")
        })?;
        let connection = self.tenant.connection_named(&tx.connection).await?;
        Ok(LoginForm {
            transaction: transaction.to_owned(),
            login_hint: tx.login_hint.clone(),
            client_name: client.name.clone(),
            connection: tx.connection.clone(),
            redirect_uri: tx.redirect_uri.clone(),
            signup_allowed: !connection.options.disable_signup.unwrap_or(false),
            show_signup: false,
            rules: crate::password::PasswordPolicy::from_options(&connection.options).describe(),
        })
    }
}

/// `scheme://host[:port]` of an absolute URL.
fn origin_of(url: &str) -> Option<String> {
    let origin = url::Url::parse(url).ok()?.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}
