//! Brute-force blocks seen from outside: the Management API's `user-blocks`, and the unblock
//! link in the `blocked_account` mail. Counting failures and blocking live in `authenticate.rs`
//! (`authenticate_user`), where the password is checked.

use crate::domain::{User, UserId};
use crate::error::{ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::services::{Caller, Login};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// What the mailed unblock link carries, sealed with a tenant key: nothing is stored. It names
/// the block it lifts by its start time, so it works once: lifting deletes that block, and a
/// later block of the same pair starts at another time.
#[derive(Serialize, Deserialize)]
struct UnblockLink {
    user_id: String,
    ip: String,
    blocked_at: i64,
}

const UNBLOCK_PURPOSE: &str = "unblock";

/// What an unblock link shows (a GET never lifts anything: mail scanners open links).
pub enum UnblockLinkState {
    /// The block still stands: `ip` is where the failed attempts came from.
    Blocked { email: Option<String>, ip: String },
    /// Expired, forged, already used, or lifted another way (reset, administrator).
    Unusable,
}

impl Login {
    /// `GET /api/v2/user-blocks/{id}`: the addresses brute-force protection blocks the user from.
    pub async fn user_blocks(&self, user_id: &UserId) -> ServiceResult<Value> {
        let user = self.directory.get_user(user_id).await?;
        let blocks = self.store.login_blocks(&user.user_id).await?;
        let identifier = user
            .email
            .as_ref()
            .map(|e| e.as_str().to_owned())
            .or_else(|| user.username.clone());
        Ok(json!({"blocked_for": blocks.iter().map(|b| json!({
            "identifier": identifier, "ip": b.ip, "connection": user.connection,
            "blocked_at": b.blocked_at.to_iso(),
        })).collect::<Vec<_>>()}))
    }

    /// `DELETE /api/v2/user-blocks/{id}`: lifts every brute-force block of the user.
    pub async fn unblock_user(&self, user_id: &UserId, caller: &Caller) -> ServiceResult<()> {
        let user = self.directory.get_user(user_id).await?;
        self.store.clear_login_failures(&user.user_id).await?;
        self.audit.record_some(
            caller
                .api_log("Unblock a user blocked by brute-force protection")
                .map(|l| l.user(user.user_id.as_str(), &user.display_name())),
        );
        Ok(())
    }

    /// The link for the `blocked_account` mail, or `None` when the block was lifted meanwhile
    /// (no mail is needed then).
    pub(crate) async fn unblock_link(
        &self,
        user: &User,
        ip: &str,
        lifetime_secs: i64,
    ) -> ServiceResult<Option<String>> {
        let blocks = self.store.login_blocks(&user.user_id).await?;
        let Some(block) = blocks.iter().find(|b| b.ip == ip) else {
            return Ok(None);
        };
        let link = UnblockLink {
            user_id: user.user_id.as_str().to_owned(),
            ip: ip.to_owned(),
            blocked_at: block.blocked_at.millis(),
        };
        let expires = Timestamp::now().seconds() + lifetime_secs.max(60);
        let token = self
            .tenant_keys
            .seal_value(UNBLOCK_PURPOSE, &link, expires)?;
        Ok(Some(format!(
            "{}lo/unblock?ticket={token}",
            self.config.issuer
        )))
    }

    /// What the unblock page shows for `token`.
    pub async fn open_unblock_link(&self, token: &str) -> ServiceResult<UnblockLinkState> {
        let Some((link, user)) = self.live_unblock_link(token).await? else {
            return Ok(UnblockLinkState::Unusable);
        };
        Ok(UnblockLinkState::Blocked {
            email: user.email.map(|e| e.as_str().to_owned()),
            ip: link.ip,
        })
    }

    /// The user confirmed on the unblock page: lifts the block the link names, once.
    pub async fn unblock_with_link(&self, token: &str, caller: &Caller) -> ServiceResult<()> {
        let unusable = || {
            ServiceError::bad_request(
                ErrorCode::InvalidTicket,
                "This link can no longer be used. The block was already lifted, or the link expired.",
            )
        };
        let (link, user) = self.live_unblock_link(token).await?.ok_or_else(unusable)?;
        let lifted = self
            .store
            .lift_login_block(
                &user.user_id,
                &link.ip,
                Timestamp::from_millis(link.blocked_at),
            )
            .await?;
        if !lifted {
            return Err(unusable());
        }
        self.audit.record(
            crate::audit::LogEntry::new(crate::audit::codes::USER_BLOCK_RELEASED, &caller.meta)
                .description("Unblocked from the link in the blocked-account mail")
                .user(user.user_id.as_str(), &user.display_name())
                .connection(&user.connection)
                .detail("blocked_ip", Value::String(link.ip.clone())),
        );
        Ok(())
    }

    async fn live_unblock_link(&self, token: &str) -> ServiceResult<Option<(UnblockLink, User)>> {
        let Ok(link) = self
            .tenant_keys
            .unseal_value::<UnblockLink>(UNBLOCK_PURPOSE, token)
        else {
            return Ok(None);
        };
        let Some(user) = self
            .store
            .get_user(&UserId::from_trusted(link.user_id.clone()))
            .await?
        else {
            return Ok(None);
        };
        let blocks = self.store.login_blocks(&user.user_id).await?;
        let current = blocks
            .iter()
            .any(|b| b.ip == link.ip && b.blocked_at.millis() == link.blocked_at);
        Ok(current.then_some((link, user)))
    }
}
