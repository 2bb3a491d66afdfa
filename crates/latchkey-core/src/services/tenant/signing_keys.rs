use crate::error::{ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::services::{Caller, TenantConfig};
use crate::store::SigningKeyRecord;

impl TenantConfig {
    pub async fn list_signing_keys(&self) -> ServiceResult<Vec<SigningKeyRecord>> {
        Ok(self.store.list_signing_keys().await?)
    }

    /// Makes a fresh key current. Tokens signed with the previous key keep verifying until it
    /// is revoked. Returns the new key id.
    pub async fn rotate_signing_key(&self, caller: &Caller) -> ServiceResult<String> {
        let kid = self.keys.rotate().await?;
        self.audit.record_some(
            caller
                .api_log("Rotate the signing key")
                .map(|log| log.detail("kid", serde_json::Value::String(kid.clone()))),
        );
        Ok(kid)
    }

    /// Withdraws a previous key from the JWKS: every token it signed stops verifying. The
    /// current key cannot be revoked (rotate first).
    pub async fn revoke_signing_key(
        &self,
        kid: &str,
        caller: &Caller,
    ) -> ServiceResult<SigningKeyRecord> {
        let key = self
            .list_signing_keys()
            .await?
            .into_iter()
            .find(|k| k.kid == kid)
            .ok_or_else(|| {
                ServiceError::not_found(
                    ErrorCode::InexistentSigningKey,
                    "The signing key does not exist.",
                )
            })?;
        if key.current {
            return Err(ServiceError::bad_request(
                ErrorCode::InvalidBody,
                "The current signing key cannot be revoked; rotate first.",
            ));
        }
        self.keys.revoke(kid).await?;
        self.audit.record_some(
            caller
                .api_log("Revoke a signing key")
                .map(|log| log.detail("kid", serde_json::Value::String(kid.to_owned()))),
        );
        Ok(SigningKeyRecord {
            revoked: true,
            ..key
        })
    }
}
