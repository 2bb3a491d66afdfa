//! `GET /oidc/logout`: OpenID Connect RP-Initiated Logout 1.0, next to Auth0's `/v2/logout`.
//! The request is checked before anything ends: an `id_token_hint` must be one of our ID tokens
//! (expired ones are accepted, as the specification allows) and agree with `client_id`; a
//! `post_logout_redirect_uri` needs the client and must be one of its allowed logout URLs.

use crate::domain::ClientId;
use crate::error::{ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::services::{Caller, Services};
use serde_json::Value;

/// The parameters of an RP-initiated logout (`logout_hint` and `ui_locales` are accepted and
/// not needed: the browser's session is the one that ends).
#[derive(Debug, Default)]
pub struct RpLogoutRequest {
    pub id_token_hint: Option<String>,
    pub client_id: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
}

fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::bad_request(ErrorCode::InvalidRequest, message)
}

impl Services {
    /// Ends the browser's session and returns where to send it: the checked
    /// `post_logout_redirect_uri` with `state`, or `None` for Latchkey's own page.
    pub async fn rp_initiated_logout(
        &self,
        session_token: Option<&str>,
        req: RpLogoutRequest,
        caller: &Caller,
    ) -> ServiceResult<Option<String>> {
        let hinted = match req.id_token_hint.as_deref().filter(|h| !h.is_empty()) {
            Some(hint) => Some(self.client_of_id_token(hint)?),
            None => None,
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
                    Some(Ok(id)) => self.active_client(&id).await?,
                    _ => None,
                };
                let Some(client) = client else {
                    return Err(invalid(
                        "A post_logout_redirect_uri needs an id_token_hint or the client_id of an existing application",
                    ));
                };
                if !client.allowed_logout_urls.contains(&uri) {
                    return Err(invalid(format!(
                        "The post_logout_redirect_uri is not one of the application's Allowed Logout URLs: {uri}"
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
        self.end_browser_session(session_token, caller).await?;
        Ok(target)
    }

    /// The client an ID token of ours was issued to (its `aud`), whatever its expiry.
    fn client_of_id_token(&self, token: &str) -> ServiceResult<String> {
        let claims = self
            .keys
            .verify(token)
            .map_err(|_| invalid("The id_token_hint is not a valid ID token issued here"))?;
        if claims.get("iss").and_then(Value::as_str) != Some(self.config.issuer.as_str()) {
            return Err(invalid("The id_token_hint was issued by another issuer"));
        }
        match claims.get("aud") {
            Some(Value::String(aud)) => Ok(aud.clone()),
            Some(Value::Array(list)) if list.len() == 1 => list[0]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| invalid("The id_token_hint has no audience")),
            _ => Err(invalid("The id_token_hint has no single audience")),
        }
    }
}
