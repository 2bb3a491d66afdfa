//! `GET /authorize`: validation, single sign-on, the login form, authorization codes.

use super::grants::OIDC_SCOPES;
use super::{
    AuthorizationResponse, AuthorizeOutcome, AuthorizeRequest, CODE_TTL_SECS, LoginForm,
    PendingLogin, PostLoginProgress, ResponseMode, TRANSACTION_TTL_SECS, Transaction,
};
use crate::domain::{Client, ClientId, Scope};
use crate::error::{ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::services::{Caller, Services};
use crate::store::{AuthorizationCode, SessionRecord};
use crate::time::Timestamp;
use secrecy::ExposeSecret;

impl Services {
    /// `GET /authorize`. Errors about the client or the callback are shown, never redirected;
    /// every later error goes back to the callback with `state`.
    pub async fn authorize(
        &self,
        req: AuthorizeRequest,
        session_token: Option<&str>,
        caller: &Caller,
    ) -> ServiceResult<AuthorizeOutcome> {
        let client = match req.client_id.as_deref().map(ClientId::parse) {
            Some(Ok(id)) => self.active_client(&id).await?,
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
        let mode = match req.response_mode.as_deref() {
            None | Some("query") => ResponseMode::Query,
            Some("form_post") => ResponseMode::FormPost,
            Some(_) => ResponseMode::Query,
        };
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
            && let Some(session) = self.live_session(session_token).await?
        {
            // max_age=0 always asks again (J4: re-authenticate before a password change).
            let fresh_enough = tx.max_age.is_none_or(|max| {
                max > 0 && Timestamp::now().seconds() - session.auth_time.seconds() <= max
            });
            if fresh_enough {
                if self
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
                    let step = self
                        .finish_login(&pending, session.amr.clone(), None, caller)
                        .await?;
                    return Ok(AuthorizeOutcome::Step(step));
                }
                let response = self.issue_code(&tx, &session, Default::default()).await?;
                return Ok(AuthorizeOutcome::Respond(response));
            }
        }
        if prompt == "none" {
            return Ok(AuthorizeOutcome::Respond(
                tx.error(ErrorCode::LoginRequired, "Login required"),
            ));
        }
        let mut form = self.login_form(&self.seal(&tx)?).await?;
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
        if req.response_type.as_deref() != Some("code") {
            return Ok(Err((
                ErrorCode::UnsupportedResponseType,
                "Only response_type=code is supported.".into(),
            )));
        }
        if !matches!(
            req.response_mode.as_deref(),
            None | Some("query" | "form_post")
        ) {
            return Ok(Err((
                ErrorCode::InvalidRequest,
                "response_mode must be query or form_post".into(),
            )));
        }
        if !client.allows_grant(crate::domain::GrantType::AuthorizationCode) {
            return Ok(Err((
                ErrorCode::UnauthorizedClient,
                "The client may not use the authorization code flow.".into(),
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
            (None, _) if client.is_public() => {
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
        tx.scope = scope.to_string();
        if let Some(aud) = &req.audience
            && *aud != self.config.management_audience()
            && *aud != self.config.userinfo_audience()
        {
            return Ok(Err((
                ErrorCode::AccessDenied,
                format!("Service not found: {aud}"),
            )));
        }
        tx.audience = req.audience.clone();
        let tenant = self.active_tenant().await?;
        let name = req
            .connection
            .clone()
            .or_else(|| req.login_ticket.as_ref().and(req.realm.clone()))
            .or(tenant.default_directory.clone())
            .unwrap_or_else(|| crate::services::DEFAULT_CONNECTION.to_owned());
        let connection = self
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

    pub(in crate::services) async fn issue_code(
        &self,
        tx: &Transaction,
        session: &SessionRecord,
        custom_claims: crate::actions::CustomClaims,
    ) -> ServiceResult<AuthorizationResponse> {
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
        Ok(tx.respond(vec![("code".into(), code.expose_secret().to_owned())]))
    }

    /// The login form's context again (after a failed attempt), if the transaction is valid.
    pub async fn login_form(&self, transaction: &str) -> ServiceResult<LoginForm> {
        let tx = self.unseal(transaction)?;
        let id = ClientId::parse(&tx.client_id).map_err(ServiceError::from)?;
        let client = self.active_client(&id).await?.ok_or_else(|| {
            ServiceError::bad_request(ErrorCode::InvalidRequest, "Unknown client.")
        })?;
        let connection = self.connection_named(&tx.connection).await?;
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
