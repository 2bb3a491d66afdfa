use super::ParseError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// An email address as Auth0 keeps it for database users: trimmed and lower-cased.
/// The check is deliberately structural (one `@`, a non-empty local part, a dotless-or-dotted
/// domain without spaces); deliverability is proven by the verification mail, not by a regex.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = s.trim().to_lowercase();
        if s.len() > 254 {
            return Err(ParseError::new("email", "is longer than 254 characters"));
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err(ParseError::new("email", "is not a valid email address"));
        };
        let valid = !local.is_empty()
            && local.len() <= 64
            && !domain.is_empty()
            && !domain.contains('@')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !s
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>');
        if !valid {
            return Err(ParseError::new("email", "is not a valid email address"));
        }
        Ok(Self(s))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn from_trusted(s: String) -> Self {
        Self(s)
    }
    pub fn local_part(&self) -> &str {
        self.0.split_once('@').map_or(self.0.as_str(), |(l, _)| l)
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        assert_eq!(
            Email::parse("  Jane.Doe@Example.COM ").unwrap().as_str(),
            "jane.doe@example.com"
        );
        assert_eq!(Email::parse("a@b").unwrap().local_part(), "a");
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in [
            "", "plain", "@x.com", "a@", "a@@b.c", "a b@c.d", "a@.com", "a@b.", "<a@b.c>",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert!(Email::parse(&format!("{}@x.com", "a".repeat(65))).is_err());
    }

    #[test]
    fn any_parsed_email_parses_again_to_itself() {
        // A small deterministic sweep standing in for a property test: normalisation is idempotent.
        let samples = [
            "A@B.C",
            "x.Y+z@Sub.Example.org",
            "\tq@w.e ",
            "ÜNI@código.pt",
        ];
        for s in samples {
            let once = Email::parse(s).unwrap();
            assert_eq!(Email::parse(once.as_str()).unwrap(), once);
        }
    }
}
