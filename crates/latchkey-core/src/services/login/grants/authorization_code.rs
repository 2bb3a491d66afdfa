//! `authorization_code`: the code from `/authorize`, with PKCE and the callback it was sent to.

use super::{LoginContext, TokenResponse, code_refresh_family};
use crate::audit::{LogEntry, RequestMeta, codes};
use crate::domain::{Client, Scope};
use crate::error::{ServiceError, ServiceResult};
use crate::random;
use crate::services::Login;
use crate::time::Timestamp;
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};

impl Login {
    /// `authorization_code`: the single-use code from `/authorize`, for the client and redirect
    /// URI it was issued to, with the PKCE verifier when a challenge was sent.
    pub(in crate::services) async fn authorization_code_grant(
        &self,
        client: &Client,
        code: &SecretString,
        redirect_uri: Option<&str>,
        verifier: Option<&SecretString>,
        meta: &RequestMeta,
    ) -> ServiceResult<TokenResponse> {
        let invalid = || ServiceError::InvalidGrant("Invalid authorization code".into());
        let now = Timestamp::now();
        let digest = random::token_digest(code.expose_secret());
        let Some(record) = self.store.use_code(&digest, now).await? else {
            // A code used twice: whoever holds it, what its first exchange issued must not
            // outlive it (RFC 6749 §4.1.2).
            let revoked = self
                .store
                .revoke_refresh_family(&code_refresh_family(&digest))
                .await?;
            if revoked > 0 {
                tracing::warn!(client_id = %client.client_id, "authorization code presented again; its refresh tokens revoked");
            }
            return Err(invalid());
        };
        if record.client_id != client.client_id.as_str() {
            return Err(invalid());
        }
        // RFC 6749 §4.1.3: required, and identical, when the authorization request had it.
        let redirect_ok = match (redirect_uri, record.redirect_uri.as_str()) {
            (None, "") => true,
            (None, _) => false,
            (Some(r), "") => client.callbacks.iter().any(|c| c == r),
            (Some(r), expected) => r == expected,
        };
        if !redirect_ok {
            return Err(ServiceError::InvalidGrant(
                "The redirect_uri does not match the one of the authorization request".into(),
            ));
        }
        if let Some(challenge) = &record.code_challenge {
            let ok = verifier.is_some_and(|v| {
                use sha2::Digest as _;
                let digest = sha2::Sha256::digest(v.expose_secret().as_bytes());
                let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
                subtle::ConstantTimeEq::ct_eq(computed.as_bytes(), challenge.as_bytes()).into()
            });
            if !ok {
                return Err(ServiceError::InvalidGrant(
                    "Failed to verify code verifier".into(),
                ));
            }
        }
        let user = self
            .store
            .get_user(&record.user_id)
            .await?
            .ok_or_else(invalid)?;
        // A password change since the login ends what the login started.
        if user.blocked || user.credential_epoch != record.credential_epoch {
            return Err(invalid());
        }
        let scope = Scope::parse(&record.scope);
        let login = LoginContext {
            nonce: record.nonce.clone(),
            auth_time: Some(record.auth_time),
            amr: record.amr.clone(),
            sid: record.session_id.clone(),
            custom_claims: record.custom_claims.clone(),
            refresh_family: Some(code_refresh_family(&digest)),
            front_channel: None,
        };
        let response = self
            .login_tokens(
                client,
                &user,
                &scope,
                record.audience.as_deref(),
                "authorization_code",
                &login,
            )
            .await?;
        self.audit.record(
            LogEntry::new(codes::SUCCESS_EXCHANGE_AUTHORIZATION_CODE, meta)
                .description("Authorization Code for Access Token")
                .client(client.client_id.as_str(), &client.name)
                .user(user.user_id.as_str(), &user.display_name()),
        );
        Ok(response)
    }
}
