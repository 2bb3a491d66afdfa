//! Auth0's report of the users a bulk import could not bring (`GET /api/v2/jobs/{id}/errors`):
//! each entry is the user as the file gave it and a list of `{code, message, path}`. The codes
//! are the schema validator's (upper case) and `DUPLICATED_USER`; they are a namespace of
//! their own, apart from the HTTP error codes in `error_code.rs`.

use serde::{Deserialize, Serialize};

/// A reason an imported user was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ImportErrorCode {
    /// The user collides with one already stored (same id, address or username).
    DuplicatedUser,
    /// A value of the wrong JSON type.
    InvalidType,
    /// A string that is not what its property must hold (address, hash, id).
    InvalidFormat,
    ObjectMissingRequiredProperty,
    ObjectAdditionalProperties,
    /// A value Latchkey understands but cannot use (an MFA factor it does not offer).
    UnsupportedValue,
}

/// One entry of a refused user's `errors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportError {
    pub code: ImportErrorCode,
    pub message: String,
    pub path: String,
}

impl ImportError {
    pub fn new(code: ImportErrorCode, message: impl Into<String>, path: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            path: path.into(),
        }
    }

    /// The user exists already (without `upsert`, or colliding on another key).
    pub fn duplicated_user(upsert: bool) -> Self {
        let message = if upsert {
            "The user already exists"
        } else {
            "The user already exist and upsert parameter is false"
        };
        Self::new(ImportErrorCode::DuplicatedUser, message, "")
    }
}
