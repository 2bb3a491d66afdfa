//! `GET /oidc/logout`: OpenID Connect RP-Initiated Logout 1.0, next to Auth0's `/v2/logout`.
//! The request is checked before anything ends: an `id_token_hint` must be one of our ID tokens
//! (expired ones are accepted, as the specification allows) and agree with `client_id`; a
//! `post_logout_redirect_uri` needs the client and must be one of its allowed logout URLs.

use crate::domain::ClientId;
use crate::error::{ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::services::{Caller, Sessions};
use serde_json::Value;

/// The parameters of an RP-initiated logout (`logout_hint` and `ui_locales` are accepted and
/// not needed: the browser's session is the one that ends).
#[derive(Default)]
pub struct RpLogoutRequest {
    pub id_token_hint: Option<String>,
    pub client_id: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    /// The user confirmed on Latchkey's page (a form post with a CSRF token).
    pub confirmed: bool,
}

/// What an RP-initiated logout comes to.
#[derive(Debug, PartialEq, Eq)]
pub enum RpLogout {
    /// The session ended; send the browser here (`None`: Latchkey's own page).
    Done(Option<String>),
    /// Nothing proves the request comes from the application this session signed in to (no
    /// `id_token_hint` naming this session): the user confirms first. Nothing ended.
    Confirm,
}

fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::bad_request(ErrorCode::InvalidRequest, message)
}

impl Sessions {
    /// Ends the browser's session and says where to send it: the checked
    /// `post_logout_redirect_uri` with `state`, or Latchkey's own page. A live session ends
    /// only when the `id_token_hint` names it (its `sid`) or the user confirmed, as Auth0 asks
    /// for a confirmation: with the session cookie sent cross-site, any page could otherwise
    /// end it by loading the URL.
    pub async fn rp_initiated_logout(
        &self,
        session_token: Option<&str>,
        req: RpLogoutRequest,
        caller: &Caller,
    ) -> ServiceResult<RpLogout> {
        let (hinted, hinted_sid) = match req.id_token_hint.as_deref().filter(|h| !h.is_empty()) {
            Some(hint) => {
                let (client, sid) = self.client_of_id_token(hint)?;
                (Some(client), sid)
            }
            None => (None, None),
        };
        let client_id = match (req.client_id.filter(|c| !c.is_empty()), hinted) {
            (Some(given), Some(hinted)) if given != hinted => {
                return Err(invalid(
                    "The client_id does not match the audience of the id_token_hint",
                ));
            }
            (Some(given), _) => Some(given),
            (None, hinted) => hinted,
        };
        let target = match req.post_logout_redirect_uri.filter(|u| !u.is_empty()) {
            None => None,
            Some(uri) => {
                let client = match client_id.as_deref().map(ClientId::parse) {
                    Some(Ok(id)) => self.tenant.active_client(&id).await?,
                    _ => None,
                };
                // The application's Allowed Logout URLs, else the tenant's (as `/v2/logout`).
                let allowed = client
                    .as_ref()
                    .is_some_and(|c| c.allowed_logout_urls.contains(&uri))
                    || self
                        .tenant
                        .active_tenant()
                        .await?
                        .allowed_logout_urls
                        .contains(&uri);
                if !allowed {
                    return Err(invalid(format!(
                        "The post_logout_redirect_uri is not one of the application's or the tenant's Allowed Logout URLs: {uri}"
                    )));
                }
                let mut url = url::Url::parse(&uri)
                    .map_err(|_| invalid("The post_logout_redirect_uri is not a URL"))?;
                if let Some(state) = req.state.as_deref() {
                    url.query_pairs_mut().append_pair("state", state);
                }
                Some(url.to_string())
            }
        };
        if !req.confirmed {
            let session = match session_token {
                Some(token) => {
                    self.store
                        .find_session(&crate::random::token_digest(token))
                        .await?
                }
                None => None,
            };
            if let Some(session) = session
                && hinted_sid.as_deref() != Some(session.id.as_str())
            {
                return Ok(RpLogout::Confirm);
            }
        }
        self.end_browser_session(session_token, caller).await?;
        Ok(RpLogout::Done(target))
    }

    /// The client an ID token of ours was issued to (its `aud`) and the session it names
    /// (`sid`), whatever its expiry.
    fn client_of_id_token(&self, token: &str) -> ServiceResult<(String, Option<String>)> {
        let claims = self
            .keys
            .verify(token)
            .map_err(|_| invalid("The id_token_hint is not a valid ID token issued here"))?;
        if claims.get("iss").and_then(Value::as_str) != Some(self.config.issuer.as_str()) {
            return Err(invalid("The id_token_hint was issued by another issuer"));
        }
        let sid = claims.get("sid").and_then(Value::as_str).map(str::to_owned);
        let aud = match claims.get("aud") {
            Some(Value::String(aud)) => aud.clone(),
            Some(Value::Array(list)) if list.len() == 1 => list[0]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| invalid("The id_token_hint has no audience"))?,
            _ => return Err(invalid("The id_token_hint has no single audience")),
        };
        Ok((aud, sid))
    }
}
