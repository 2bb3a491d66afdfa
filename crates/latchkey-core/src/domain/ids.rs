use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a value from outside could not become a domain type. `field` names the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {reason}")]
pub struct ParseError {
    pub field: &'static str,
    pub reason: String,
}

impl ParseError {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

macro_rules! string_id {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
            /// For values read back from our own store, which were parsed when written.
            pub fn from_trusted(s: String) -> Self {
                Self(s)
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(
    /// `provider|id`, e.g. `auth0|65f0c0ffee0123456789abcd`.
    UserId
);
string_id!(
    /// A client (application) id: 32 alphanumerics when we mint it; imported ids are kept.
    ClientId
);
string_id!(
    /// `con_` followed by 16 alphanumerics.
    ConnectionId
);

impl UserId {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = s.trim();
        if s.is_empty() || s.len() > 255 {
            return Err(ParseError::new("user_id", "must be 1 to 255 characters"));
        }
        if s.chars().any(char::is_control) {
            return Err(ParseError::new("user_id", "contains control characters"));
        }
        Ok(Self(s.to_owned()))
    }
    /// A fresh database-connection user id: `auth0|` + 24 hex digits laid out as Auth0's own
    /// (Mongo ObjectIds): the creation time in seconds (8 digits), then 64 random bits. Ids
    /// made one after another sort together, so a new user's primary-key entry lands at the
    /// end of the index instead of on a random page: at a million users, a bulk import or a
    /// burst of sign-ups writes a few index pages per batch rather than one per user. The
    /// time is no secret: `created_at` is in every user's profile.
    pub fn new_database() -> Result<Self, crate::random::RandomError> {
        let seconds = crate::time::Timestamp::now().seconds();
        let prefix = u32::try_from(seconds.max(0)).unwrap_or(u32::MAX);
        Ok(Self(format!(
            "auth0|{prefix:08x}{}",
            crate::random::hex(16)?
        )))
    }
    /// The part after the provider: the identity's `user_id` and signup's `_id`.
    pub fn bare(&self) -> &str {
        self.0.split_once('|').map_or(self.0.as_str(), |(_, id)| id)
    }
    pub fn provider(&self) -> &str {
        self.0.split_once('|').map_or("auth0", |(p, _)| p)
    }
}

impl ClientId {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        if s.is_empty() || s.len() > 128 || !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ParseError::new("client_id", "is not a valid client id"));
        }
        Ok(Self(s.to_owned()))
    }
    pub fn generate() -> Result<Self, crate::random::RandomError> {
        Ok(Self(crate::random::alnum(32)?))
    }
}

impl ConnectionId {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let ok = s.len() == 20
            && s.starts_with("con_")
            && s.bytes().skip(4).all(|b| b.is_ascii_alphanumeric());
        if !ok {
            return Err(ParseError::new(
                "connection_id",
                "must match the pattern ^con_[A-Za-z0-9]{16}$",
            ));
        }
        Ok(Self(s.to_owned()))
    }
    pub fn generate() -> Result<Self, crate::random::RandomError> {
        Ok(Self(format!("con_{}", crate::random::alnum(16)?)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn user_ids_split_into_provider_and_bare_id() {
        let id = UserId::new_database().unwrap();
        assert_eq!(id.provider(), "auth0");
        assert_eq!(id.bare().len(), 24);
        assert!(id.bare().bytes().all(|b| b.is_ascii_hexdigit()));
        // Time first: an id made later sorts after (the seconds prefix is non-decreasing).
        let later = UserId::new_database().unwrap();
        assert!(later.bare()[..8] >= id.bare()[..8]);
        assert!(UserId::parse("").is_err());
        assert!(UserId::parse("auth0|\u{0}").is_err());
        assert_eq!(
            UserId::parse("google-oauth2|1").unwrap().provider(),
            "google-oauth2"
        );
    }

    #[test]
    fn connection_ids_follow_auth0s_pattern() {
        assert!(ConnectionId::parse(ConnectionId::generate().unwrap().as_str()).is_ok());
        assert!(ConnectionId::parse("con_short").is_err());
        assert!(ConnectionId::parse("con_0123456789abcde!").is_err());
    }
}
