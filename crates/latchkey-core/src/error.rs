//! What a service can answer besides success. The HTTP layer maps each variant to the dialect of
//! the surface that called (Authentication API, Management API, hosted pages); the variants say
//! what happened in domain terms, never how it is spelled on the wire.

use crate::domain::ParseError;
use crate::error_code::ErrorCode;
use crate::password::PolicyViolation;

pub type ServiceResult<T> = Result<T, ServiceError>;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A value from outside did not parse into a domain type.
    #[error("{0}")]
    Invalid(#[from] ParseError),
    /// A well-formed request the rules refuse; `code` is Auth0's `errorCode` (see `ErrorCode`).
    #[error("{message}")]
    BadRequest { code: ErrorCode, message: String },
    #[error("{message}")]
    NotFound { code: ErrorCode, message: String },
    #[error("{message}")]
    Conflict { code: ErrorCode, message: String },
    /// The new password fails the connection's policy.
    #[error("the password does not satisfy the connection's policy")]
    PasswordPolicy(PolicyViolation),
    /// Unknown user or wrong password: deliberately indistinguishable.
    #[error("wrong email or password")]
    WrongCredentials,
    #[error("user is blocked")]
    UserBlocked,
    #[error("{0}")]
    InvalidClient(String),
    #[error("{0}")]
    UnauthorizedClient(String),
    #[error("{0}")]
    AccessDenied(String),
    #[error("{0}")]
    InvalidGrant(String),
    #[error("{0}")]
    InvalidScope(String),
    /// The password was right, and the user must now pass a second factor: the token to send
    /// with the code (`mfa-otp` / `mfa-recovery-code` grants).
    #[error("Multifactor authentication required")]
    /// `enroll`: the user has no authenticator yet and must associate one (`/mfa/associate`).
    MfaRequired {
        mfa_token: secrecy::SecretString,
        enroll: bool,
    },
    /// Brute-force protection: this user is blocked from this IP.
    #[error(
        "Your account has been blocked after multiple consecutive login attempts. We've sent you an email with instructions on how to unblock it."
    )]
    TooManyAttempts,
    /// Breached-password detection refused a login whose password was right but is in the
    /// breached corpus; `user_notified`: a reset link is on its way to the user.
    #[error("{}", if *user_notified { PASSWORD_LEAKED_NOTIFIED } else { PASSWORD_LEAKED })]
    PasswordLeaked { user_notified: bool },
    /// Suspicious IP throttling: this address made too many failed logins or sign-ups.
    #[error(
        "We have detected suspicious login behavior and further attempts will be blocked. Please contact the administrator."
    )]
    SuspiciousIp,
    /// A rate limit refused the request.
    #[error("{0}")]
    TooManyRequests(String),
    /// The server is at capacity (the password hashing pool's queue is full): answered 503
    /// with `Retry-After`, fast, instead of queueing without bound.
    #[error("The server is busy. Try again in a moment.")]
    Overloaded { retry_after_secs: u64 },
    /// The store is unreachable (outage, disk full, locked): answered 503 with `Retry-After`,
    /// in the surface's dialect. The message is logged, never sent.
    #[error("service temporarily unavailable: {0}")]
    Unavailable(anyhow::Error),
    /// Our fault, not the caller's. The message is logged, never sent.
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

/// Errors that went through `anyhow` keep their meaning: a full hashing queue is
/// `Overloaded`, and a store outage anywhere in the chain is `Unavailable`.
impl From<anyhow::Error> for ServiceError {
    fn from(e: anyhow::Error) -> Self {
        if let Some(o) = e.downcast_ref::<crate::password::Overloaded>() {
            return Self::Overloaded {
                retry_after_secs: o.retry_after_secs,
            };
        }
        let unavailable = e.chain().any(|c| {
            matches!(
                c.downcast_ref::<crate::store::StoreError>(),
                Some(crate::store::StoreError::Unavailable(_))
            )
        });
        if unavailable {
            Self::Unavailable(e)
        } else {
            Self::Unexpected(e)
        }
    }
}

/// The login refusal when the user was mailed a reset link (Auth0's wording).
pub const PASSWORD_LEAKED_NOTIFIED: &str = "This login has been blocked because your password has been leaked in another website. We’ve sent you an email with instructions on how to unblock it.";
/// The login refusal when no mail went out.
pub const PASSWORD_LEAKED: &str = "This login has been blocked because your password has been leaked in another website. Reset your password to sign in again.";
/// A new password found in the corpus (sign-up, change, reset).
pub const NEW_PASSWORD_LEAKED: &str = "This password was found in a public data breach on another website. Choose a different password.";

impl ServiceError {
    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }
    pub fn not_found(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::NotFound {
            code,
            message: message.into(),
        }
    }
    pub fn conflict(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }
    /// Whether the store being unreachable caused this: worth retrying later.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
    pub fn user_not_found() -> Self {
        Self::not_found(ErrorCode::InexistentUser, "The user does not exist.")
    }
}

impl From<crate::store::StoreError> for ServiceError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Conflict(what) => {
                Self::conflict(ErrorCode::Conflict, format!("{what} already exists."))
            }
            crate::store::StoreError::Unavailable(e) => Self::Unavailable(e),
            crate::store::StoreError::Other(e) => Self::Unexpected(e),
        }
    }
}

impl From<crate::random::RandomError> for ServiceError {
    fn from(e: crate::random::RandomError) -> Self {
        Self::Unexpected(anyhow::Error::new(e))
    }
}
