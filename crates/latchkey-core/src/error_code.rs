//! Every error code Latchkey sends, written once: its spelling on the wire (as Auth0 spells it),
//! the HTTP status it is usually answered with, and the surfaces that send it. Services and
//! handlers name codes by `ErrorCode` value and match on values, never on strings.
//!
//! The status is the one the code's main surface answers with. A dialect may answer a few codes
//! with another status where Auth0 does: `/dbconnections` answers conflicts with 400, the
//! Management API answers an unknown connection on `POST /users` with 400, `/dbconnections`
//! sends `unauthorized` with 403, an action's Management call reports `access_denied` with 401
//! for bad client credentials.

use std::fmt;

/// Where a code is seen. `Pages` codes stay inside the server: the hosted pages and the console
/// turn them into HTML, never into a JSON body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Surface {
    /// Management API v2: `errorCode`.
    Management,
    /// Authentication API: `/oauth/*`, `/mfa/*` (`error`) and `/dbconnections/*` (`code`).
    Authentication,
    /// `/authorize`: the `error` parameter of the redirect to the callback.
    Authorize,
    /// Hosted pages and the console only.
    Pages,
}

macro_rules! make_error_codes {
    ($($(#[$doc:meta])* $variant:ident = $code:literal, $status:literal, [$($surface:ident),+];)+) => {
        /// An Auth0 error code. See the module documentation.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)+
        }

        impl ErrorCode {
            /// Every code, in table order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)+];

            /// The code as it appears on the wire.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)+
                }
            }

            /// The HTTP status the code is usually answered with.
            pub const fn status(self) -> u16 {
                match self {
                    $(ErrorCode::$variant => $status,)+
                }
            }

            /// The surfaces that send this code.
            pub const fn surfaces(self) -> &'static [Surface] {
                match self {
                    $(ErrorCode::$variant => &[$(Surface::$surface,)+],)+
                }
            }
        }
    };
}

make_error_codes! {
    // Shared by several surfaces.
    InvalidBody = "invalid_body", 400, [Management, Authentication];
    InvalidRequest = "invalid_request", 400, [Authentication, Authorize];
    AccessDenied = "access_denied", 403, [Management, Authentication, Authorize];
    TooManyRequests = "too_many_requests", 429, [Management, Authentication];
    TooManyAttempts = "too_many_attempts", 429, [Management, Authentication];
    MfaRequired = "mfa_required", 403, [Management, Authentication];
    NotFound = "not_found", 404, [Management, Authentication];
    /// The store is unreachable, or the hashing pool is at capacity: 503 with `Retry-After`
    /// (OAuth's `temporarily_unavailable`, RFC 6749 §4.1.2.1), on every surface.
    TemporarilyUnavailable = "temporarily_unavailable", 503, [Management, Authentication, Authorize];
    InexistentUser = "inexistent_user", 404, [Management];
    InexistentConnection = "inexistent_connection", 404, [Management];
    OperationNotSupported = "operation_not_supported", 400, [Management, Authentication];

    // Management API.
    InvalidQueryString = "invalid_query_string", 400, [Management];
    InsufficientScope = "insufficient_scope", 403, [Management];
    InexistentClient = "inexistent_client", 404, [Management];
    InexistentClientGrant = "inexistent_client_grant", 404, [Management];
    InexistentEmailProvider = "inexistent_email_provider", 404, [Management];
    InexistentEmailTemplate = "inexistent_email_template", 404, [Management];
    InexistentFactor = "inexistent_factor", 404, [Management];
    InexistentLog = "inexistent_log", 404, [Management];
    InexistentLogStream = "inexistent_log_stream", 404, [Management];
    InexistentSigningKey = "inexistent_signing_key", 404, [Management];
    InexistentResourceServer = "inexistent_resource_server", 404, [Management];
    InexistentJob = "inexistent_job", 404, [Management];
    /// A bulk import's file over Auth0's 500 KB.
    PayloadTooLarge = "payload_too_large", 413, [Management];
    /// An Auth0 feature Latchkey does not offer, on a plan-gated route (auth0-deploy-cli skips it).
    FeatureNotEnabled = "feature_not_enabled", 403, [Management];
    /// A store-level uniqueness conflict, or a concurrent change to retry.
    Conflict = "conflict", 409, [Management, Authentication];
    AlreadyExists = "already_exists", 409, [Management];
    /// Auth0's code for a user that already exists (`POST /users`).
    Auth0IdpError = "auth0_idp_error", 409, [Management];
    ClientGrantConflict = "client_grant_conflict", 409, [Management];
    ConnectionConflict = "connection_conflict", 409, [Management];
    EmailProviderConflict = "email_provider_conflict", 409, [Management];
    EmailTemplateConflict = "email_template_conflict", 409, [Management];
    InvalidEmail = "invalid_email", 400, [Management];
    MailNotSent = "mail_not_sent", 400, [Management];
    UnsupportedFactor = "unsupported_factor", 400, [Management];
    /// A custom database's `change_password` script refused the password.
    PasswordChangeFailed = "password_change_failed", 400, [Management, Authentication];

    // Authentication API: `/oauth/*`, `/mfa/*`.
    InvalidGrant = "invalid_grant", 403, [Authentication];
    InvalidClient = "invalid_client", 401, [Authentication];
    UnauthorizedClient = "unauthorized_client", 403, [Authentication, Authorize];
    InvalidScope = "invalid_scope", 403, [Authentication];
    UnsupportedGrantType = "unsupported_grant_type", 400, [Authentication];
    Unauthorized = "unauthorized", 401, [Authentication];
    UnsupportedChallengeType = "unsupported_challenge_type", 400, [Authentication];
    UnsupportedAuthenticatorType = "unsupported_authenticator_type", 400, [Authentication];
    /// `/oauth/*`'s 500.
    ServerError = "server_error", 500, [Authentication];

    // Authentication API: `/dbconnections/*`.
    InvalidPassword = "invalid_password", 400, [Authentication];
    /// Breached-password detection: the password is in the breached corpus (a login is
    /// answered 403, a new password 400).
    PasswordLeaked = "password_leaked", 400, [Management, Authentication];
    InvalidSignup = "invalid_signup", 400, [Authentication];
    UserExists = "user_exists", 400, [Authentication];
    InvalidConnection = "invalid_connection", 400, [Authentication];
    OperationNotAllowed = "operation_not_allowed", 400, [Authentication];
    /// `/dbconnections/*`'s 500.
    InternalError = "internal_error", 500, [Authentication];

    // `/authorize` (sent in the redirect, so the status is the redirect's).
    UnsupportedResponseType = "unsupported_response_type", 302, [Authorize];
    LoginRequired = "login_required", 302, [Authorize];
    InteractionRequired = "interaction_required", 302, [Authorize];

    // Hosted pages and the console.
    InvalidOtp = "invalid_otp", 400, [Pages];
    InvalidTicket = "invalid_ticket", 400, [Pages];
    InvalidTransaction = "invalid_transaction", 400, [Pages];
    InvalidCredentials = "invalid_credentials", 400, [Pages];
    InexistentAdmin = "inexistent_admin", 404, [Pages];
    LastAdmin = "last_admin", 400, [Pages];
    AlreadyEnrolled = "already_enrolled", 400, [Pages];
    NoEmail = "no_email", 400, [Pages];
    NotConfirmed = "not_confirmed", 400, [Pages];
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// Auth0 spells error codes in snake_case (`invalid_body`) and a few rule codes in
    /// lowerCamelCase (`lengthAtLeast`): lowercase ASCII start, letters, digits, single
    /// underscores between words.
    fn spelled_like_auth0(code: &str) -> bool {
        let snake = code.split('_').all(|w| {
            !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        });
        let camel = !code.contains('_')
            && code.chars().all(|c| c.is_ascii_alphanumeric())
            && !code
                .chars()
                .zip(code.chars().skip(1))
                .any(|(a, b)| a.is_ascii_uppercase() && b.is_ascii_uppercase());
        code.starts_with(|c: char| c.is_ascii_lowercase()) && (snake || camel)
    }

    #[test]
    fn every_code_is_unique_and_spelled_as_auth0_spells_it() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "{s} appears twice in the table");
            assert!(
                spelled_like_auth0(s),
                "{s} is not snake_case or lowerCamelCase"
            );
            assert_eq!(code.to_string(), s);
            assert_eq!(serde_json::to_string(code).ok(), Some(format!("\"{s}\"")));
        }
        assert_eq!(seen.len(), ErrorCode::ALL.len());
    }

    #[test]
    fn statuses_are_client_or_server_errors_or_the_authorize_redirect() {
        for code in ErrorCode::ALL {
            let status = code.status();
            let redirect = code.surfaces() == [Surface::Authorize];
            assert!(
                (400..600).contains(&status) || (redirect && status == 302),
                "{code}: {status}"
            );
        }
    }

    #[test]
    fn the_spelling_check_refuses_what_auth0_never_sends() {
        for bad in [
            "InvalidBody",
            "invalid__body",
            "invalid-body",
            "_invalid",
            "invalid_",
            "INVALID",
        ] {
            assert!(!spelled_like_auth0(bad), "{bad}");
        }
        for good in ["invalid_body", "lengthAtLeast", "auth0_idp_error"] {
            assert!(spelled_like_auth0(good), "{good}");
        }
    }
}
