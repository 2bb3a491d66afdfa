//! State that travels through the browser: MAC'd (the login transaction) or encrypted
//! (what a post-login redirect carries to a third party).

use super::Transaction;
use crate::error::{ServiceError, ServiceResult};
use crate::error_code::ErrorCode;
use crate::tenant_keys::TenantKeys;
use crate::time::Timestamp;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::ExposeSecret;
use serde::Serialize;

/// Sealing is the tenant's MAC and encryption keys' job; every flow that hands state to the
/// browser reaches it through its `tenant_keys`.
impl TenantKeys {
    pub(in crate::services) fn seal(&self, tx: &Transaction) -> ServiceResult<String> {
        self.seal_value("authorize", tx, tx.expires)
    }

    pub(in crate::services) fn unseal(&self, sealed: &str) -> ServiceResult<Transaction> {
        self.unseal_value("authorize", sealed)
    }

    /// `value` as `base64(json).proof`, MAC'd for `purpose` until `expires` (epoch seconds):
    /// state that travels through a form instead of the database.
    pub(crate) fn seal_value<T: Serialize>(
        &self,
        purpose: &str,
        value: &T,
        expires: i64,
    ) -> ServiceResult<String> {
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).map_err(anyhow::Error::from)?);
        let proof = self.proof(&format!("{purpose}\0{body}"), expires);
        Ok(format!("{body}.{proof}"))
    }

    /// Like `seal_value`, but encrypted (AES-256-GCM): for state that passes through a third
    /// party's page (a post-login action's redirect target), which must learn nothing from it.
    pub(in crate::services) fn seal_private<T: Serialize>(
        &self,
        purpose: &str,
        value: &T,
        expires: i64,
    ) -> ServiceResult<String> {
        let body = serde_json::to_string(&(expires, value)).map_err(anyhow::Error::from)?;
        Ok(self.seal_secret(purpose, &body)?)
    }

    pub(in crate::services) fn unseal_private<T: serde::de::DeserializeOwned>(
        &self,
        purpose: &str,
        sealed: &str,
    ) -> ServiceResult<T> {
        let expired = || {
            ServiceError::bad_request(
                ErrorCode::InvalidTransaction,
                "This login can no longer continue. Go back to the application and log in again.",
            )
        };
        let clear = self.open_secret(purpose, sealed).ok_or_else(expired)?;
        let (expires, value): (i64, T) =
            serde_json::from_str(clear.expose_secret()).map_err(|_| expired())?;
        if expires <= Timestamp::now().seconds() {
            return Err(expired());
        }
        Ok(value)
    }

    pub(crate) fn unseal_value<T: serde::de::DeserializeOwned>(
        &self,
        purpose: &str,
        sealed: &str,
    ) -> ServiceResult<T> {
        let expired = || {
            ServiceError::bad_request(
                ErrorCode::InvalidTransaction,
                "This login page expired. Go back to the application and try again.",
            )
        };
        let (body, proof) = sealed.split_once('.').ok_or_else(expired)?;
        if !self.proof_valid(
            &format!("{purpose}\0{body}"),
            proof,
            Timestamp::now().seconds(),
        ) {
            return Err(expired());
        }
        let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| expired())?;
        serde_json::from_slice(&bytes).map_err(|_| expired())
    }
}
