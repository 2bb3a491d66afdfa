//! Login sessions: the live one behind a cookie, logout, `/userinfo`, and the Management
//! API's view and revocation of a user's sessions.

use crate::domain::{ClientId, Scope, UserId};
use crate::error::{ServiceError, ServiceResult};
use crate::services::{Caller, Sessions};
use crate::store::SessionRecord;
use crate::time::Timestamp;
use serde_json::{Value, json};

impl Sessions {
    /// The session behind a cookie, if it is live: unexpired, and issued under the user's
    /// current credential epoch (a password change ends every session).
    pub(in crate::services) async fn live_session(
        &self,
        token: Option<&str>,
    ) -> ServiceResult<Option<SessionRecord>> {
        let Some(token) = token.filter(|t| t.len() == 43) else {
            return Ok(None);
        };
        let Some(session) = self
            .store
            .find_session(&crate::random::token_digest(token))
            .await?
        else {
            return Ok(None);
        };
        let now = Timestamp::now();
        let user = self.store.get_user(&session.user_id).await?;
        let valid = session.expires_at > now
            && user.is_some_and(|u| !u.blocked && u.credential_epoch == session.credential_epoch);
        if !valid {
            self.store.delete_session(&session.id).await?;
            return Ok(None);
        }
        self.store.touch_session(&session.id, now).await?;
        Ok(Some(session))
    }

    /// `GET /v2/logout`: ends the session; returns where to send the browser, if `return_to`
    /// is one of the client's (or the tenant's) allowed logout URLs.
    pub async fn logout(
        &self,
        session_token: Option<&str>,
        client_id: Option<&str>,
        return_to: Option<&str>,
        caller: &Caller,
    ) -> ServiceResult<Option<String>> {
        self.end_browser_session(session_token, caller).await?;
        let Some(target) = return_to else {
            return Ok(None);
        };
        let client = match client_id.map(ClientId::parse) {
            Some(Ok(id)) => self.tenant.active_client(&id).await?,
            _ => None,
        };
        let allowed = match &client {
            Some(c) => c.allowed_logout_urls.iter().any(|u| u == target),
            None => false,
        } || self
            .tenant
            .active_tenant()
            .await?
            .allowed_logout_urls
            .iter()
            .any(|u| u == target);
        Ok(allowed.then(|| target.to_owned()))
    }

    /// Ends the session behind a cookie, if any: logged, and announced to clients with a
    /// back-channel logout URL (`/v2/logout`, `/oidc/logout`).
    pub(in crate::services) async fn end_browser_session(
        &self,
        session_token: Option<&str>,
        caller: &Caller,
    ) -> ServiceResult<()> {
        if let Some(token) = session_token
            && let Some(session) = self
                .store
                .find_session(&crate::random::token_digest(token))
                .await?
        {
            // Only the request that ended it announces it (OIDC Back-Channel Logout).
            if self.store.delete_session(&session.id).await? {
                self.announce_ended_sessions(
                    &session.user_id,
                    std::slice::from_ref(&session.id),
                    crate::domain::LogoutInitiator::RpLogout,
                )
                .await?;
            }
            self.audit.record(
                crate::audit::LogEntry::new(crate::audit::codes::SUCCESS_LOGOUT, &caller.meta)
                    .description("User successfully logged out")
                    .user(session.user_id.as_str(), ""),
            );
        }
        Ok(())
    }

    /// `GET /userinfo`: the claims the access token's scope allows.
    pub async fn userinfo(&self, access_token: &str) -> ServiceResult<Value> {
        let denied = || ServiceError::InvalidClient("Unauthorized".into());
        let claims = Value::Object(self.keys.verify(access_token).map_err(|_| denied())?);
        let audience_ok = match &claims["aud"] {
            Value::String(a) => *a == self.config.userinfo_audience(),
            Value::Array(list) => list
                .iter()
                .any(|a| a.as_str() == Some(&self.config.userinfo_audience())),
            _ => false,
        };
        let expired = claims["exp"]
            .as_i64()
            .is_none_or(|e| e <= Timestamp::now().seconds());
        if !audience_ok || expired || claims["iss"].as_str() != Some(&self.config.issuer) {
            return Err(denied());
        }
        let sub = claims["sub"].as_str().ok_or_else(denied)?;
        let user = self
            .store
            .get_user(&UserId::from_trusted(sub.to_owned()))
            .await?
            .ok_or_else(denied)?;
        let scope = Scope::parse(claims["scope"].as_str().unwrap_or_default());
        let mut out = json!({"sub": user.user_id});
        if let Value::Object(m) = &mut out {
            if scope.contains("profile") {
                m.insert("name".into(), json!(user.display_name()));
                m.insert("nickname".into(), json!(user.nickname()));
                m.insert("updated_at".into(), json!(user.updated_at.to_iso()));
                if let Some(p) = &user.profile.picture {
                    m.insert("picture".into(), json!(p));
                }
            }
            if scope.contains("email")
                && let Some(e) = &user.email
            {
                m.insert("email".into(), json!(e));
                m.insert("email_verified".into(), json!(user.email_verified));
            }
        }
        Ok(out)
    }

    /// `GET /api/v2/users/{id}/sessions`.
    pub async fn user_sessions(&self, user: &UserId) -> ServiceResult<Vec<SessionRecord>> {
        self.directory.get_user(user).await?;
        Ok(self.store.list_sessions(user).await?)
    }

    /// `DELETE /api/v2/users/{id}/sessions` (and the console's "end every session"): the
    /// live sessions' ends are announced to back-channel logout clients.
    pub async fn revoke_user_sessions(&self, user: &UserId, caller: &Caller) -> ServiceResult<u64> {
        let found = self.directory.get_user(user).await?;
        let ended = self.store.delete_sessions(user).await?;
        let now = Timestamp::now();
        let live: Vec<String> = ended
            .iter()
            .filter(|s| s.credential_epoch == found.credential_epoch && s.expires_at > now)
            .map(|s| s.id.clone())
            .collect();
        self.announce_ended_sessions(user, &live, crate::domain::LogoutInitiator::SessionRevoked)
            .await?;
        self.audit
            .record_some(caller.api_log("Delete all sessions of a user"));
        Ok(ended.len() as u64)
    }
}

impl SessionRecord {
    /// Auth0's session representation.
    pub fn to_auth0_json(&self) -> Value {
        json!({"id": self.id, "user_id": self.user_id,
               "created_at": self.created_at.to_iso(), "updated_at": self.last_seen_at.to_iso(),
               "authenticated_at": self.auth_time.to_iso(), "expires_at": self.expires_at.to_iso(),
               "last_interacted_at": self.last_seen_at.to_iso(),
               "authentication": {"methods": self.amr.iter().map(|m| json!({"name": m, "timestamp": self.auth_time.to_iso()})).collect::<Vec<_>>()},
               "device": {"last_ip": self.ip, "last_user_agent": self.user_agent}})
    }
}
