//! Cross-origin authentication, the embedded login of Lock and auth0-js `login`:
//! `/co/authenticate` checks the password exactly as the hosted form does
//! (`authenticate_user`: brute-force counting and blocks, custom databases) and mints a login
//! ticket; `/authorize?login_ticket=` redeems it once, for the client it was minted for, in the
//! browser that holds its verifier, and the login goes on as after the hosted form: second
//! factor, post-login actions, session, code.

use super::{AuthorizeOutcome, Transaction};
use crate::domain::{Client, ClientId, Password, UserId};
use crate::error::{ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::services::tenant::origins::origin_matches;
use crate::services::{Caller, Login};
use crate::store::LoginTicket;
use crate::time::Timestamp;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

/// A login ticket lives two minutes. The browser redeems it at once (auth0-js redirects to
/// `/authorize` as soon as `/co/authenticate` answers); Auth0's tickets also last minutes, and
/// a short life keeps a ticket that leaked through a log or a `Referer` worth little.
pub const LOGIN_TICKET_TTL_SECS: i64 = 120;

/// `credential_type` for a login on a named connection (`realm`).
pub const PASSWORD_REALM: &str = "http://auth0.com/oauth/grant-type/password-realm";

/// `POST /co/authenticate`'s body, parsed.
#[derive(Debug)]
pub struct CrossOriginLogin {
    pub client_id: String,
    pub username: String,
    pub password: Password,
    pub realm: Option<String>,
    pub credential_type: String,
}

/// What `/co/authenticate` answers: the ticket for `/authorize`, and the verifier that binds it
/// to this browser (kept by auth0-js under `co_id`, and set here as a cookie).
pub struct IssuedLoginTicket {
    pub login_ticket: SecretString,
    pub co_verifier: SecretString,
    pub co_id: String,
    pub max_age_secs: i64,
}

impl std::fmt::Debug for IssuedLoginTicket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedLoginTicket")
            .field("co_id", &self.co_id)
            .finish_non_exhaustive()
    }
}

impl Login {
    /// Whether `origin` may call `/co/authenticate` for `client_id`: the client exists, allows
    /// cross-origin authentication and lists the origin (`allowed_origins` or `web_origins`).
    /// The CORS answer and the login itself ask the same question.
    pub async fn cross_origin_allowed(&self, client_id: &str, origin: &str) -> ServiceResult<bool> {
        let Ok(id) = ClientId::parse(client_id) else {
            return Ok(false);
        };
        Ok(self
            .tenant
            .active_client(&id)
            .await?
            .is_some_and(|c| c.cross_origin_authentication && client_lists_origin(&c, origin)))
    }

    /// `POST /co/authenticate`. The origin and the client are checked before the password, so
    /// a refused caller never reaches the credential check.
    pub async fn cross_origin_authenticate(
        &self,
        req: CrossOriginLogin,
        origin: Option<&str>,
        caller: &Caller,
    ) -> ServiceResult<IssuedLoginTicket> {
        let client = match ClientId::parse(&req.client_id) {
            Ok(id) => self.tenant.active_client(&id).await?,
            Err(_) => None,
        }
        .ok_or_else(|| ServiceError::UnauthorizedClient("Unknown client.".into()))?;
        if !client.cross_origin_authentication {
            return Err(ServiceError::UnauthorizedClient(
                "Cross origin login not allowed.".into(),
            ));
        }
        if !origin.is_some_and(|o| client_lists_origin(&client, o)) {
            return Err(ServiceError::AccessDenied(
                "Origin is not allowed for this client.".into(),
            ));
        }
        let connection = match (req.credential_type.as_str(), req.realm.as_deref()) {
            (PASSWORD_REALM, Some(realm)) => realm.to_owned(),
            ("password", None) => self
                .tenant
                .active_tenant()
                .await?
                .default_directory
                .unwrap_or_else(|| crate::services::DEFAULT_CONNECTION.to_owned()),
            (PASSWORD_REALM, None) => {
                return Err(ServiceError::bad_request(
                    ErrorCode::InvalidRequest,
                    "Missing required parameter: realm",
                ));
            }
            _ => {
                return Err(ServiceError::bad_request(
                    ErrorCode::InvalidRequest,
                    "Unsupported credential_type",
                ));
            }
        };
        let enabled = self
            .tenant
            .find_connection(&connection)
            .await?
            .is_some_and(|c| c.is_database() && c.is_enabled_for(&client.client_id));
        if !enabled {
            return Err(ServiceError::bad_request(
                ErrorCode::InvalidRequest,
                "The connection does not exist or is not enabled for this client.",
            ));
        }
        let user = self
            .authenticate_user(
                &client,
                &connection,
                req.username.trim(),
                &req.password,
                "cross_origin",
                &caller.meta,
            )
            .await?;
        let login_ticket = crate::random::opaque_token()?;
        let co_verifier = crate::random::opaque_token()?;
        let co_id = crate::random::alnum(32)?;
        let now = Timestamp::now();
        self.store
            .insert_login_ticket(&LoginTicket {
                digest: crate::random::token_digest(login_ticket.expose_secret()),
                client_id: client.client_id.as_str().to_owned(),
                user_id: user.user_id.clone(),
                connection,
                verifier_digest: crate::random::token_digest(co_verifier.expose_secret()),
                auth_time: now,
                credential_epoch: user.credential_epoch,
                created_at: now,
                expires_at: now.plus_seconds(LOGIN_TICKET_TTL_SECS),
            })
            .await?;
        Ok(IssuedLoginTicket {
            login_ticket,
            co_verifier,
            co_id,
            max_age_secs: LOGIN_TICKET_TTL_SECS,
        })
    }

    /// `/authorize?login_ticket=…` once the request itself is valid (`tx`): the ticket is spent
    /// whatever the outcome; it must be this client's, unexpired, presented with its verifier,
    /// and the user's credentials unchanged since. Then the login continues exactly as after
    /// the hosted form's password.
    pub(in crate::services) async fn authorize_with_login_ticket(
        &self,
        ticket: &str,
        co_verifier: Option<&str>,
        client: &Client,
        mut tx: Transaction,
        caller: &Caller,
    ) -> ServiceResult<AuthorizeOutcome> {
        let refused = |tx: &Transaction| {
            Ok(AuthorizeOutcome::Respond(tx.error(
                ErrorCode::AccessDenied,
                "The login ticket is invalid or has expired. Log in again.",
            )))
        };
        let now = Timestamp::now();
        let Some(t) = self
            .store
            .take_login_ticket(&crate::random::token_digest(ticket), now)
            .await?
        else {
            return refused(&tx);
        };
        let verified = co_verifier.is_some_and(|v| {
            bool::from(
                crate::random::token_digest(v)
                    .as_bytes()
                    .ct_eq(t.verifier_digest.as_bytes()),
            )
        });
        if t.client_id != client.client_id.as_str() || !verified {
            return refused(&tx);
        }
        let user = self
            .directory
            .get_user(&UserId::from_trusted(t.user_id.as_str().to_owned()))
            .await?;
        if user.credential_epoch != t.credential_epoch || user.blocked {
            return refused(&tx);
        }
        tx.connection = t.connection;
        let step = self.after_password(tx, &user, t.auth_time, caller).await?;
        Ok(AuthorizeOutcome::Step(step))
    }
}

fn client_lists_origin(client: &Client, origin: &str) -> bool {
    client
        .allowed_origins
        .iter()
        .chain(&client.web_origins)
        .any(|p| origin_matches(p, origin))
}
