use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

/// A space-separated OAuth scope string, kept as an ordered set of distinct tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope(Vec<String>);

impl Scope {
    pub fn parse(s: &str) -> Self {
        let mut seen = BTreeSet::new();
        let items = s
            .split_ascii_whitespace()
            .filter(|t| seen.insert((*t).to_owned()))
            .map(str::to_owned)
            .collect();
        Self(items)
    }
    pub fn from_items<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Self {
        let joined: Vec<String> = items.into_iter().map(Into::into).collect();
        Self::parse(&joined.join(" "))
    }
    pub fn contains(&self, item: &str) -> bool {
        self.0.iter().any(|s| s == item)
    }
    pub fn items(&self) -> &[String] {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The tokens of `self` that `allowed` also holds, in `self`'s order.
    pub fn intersect(&self, allowed: &Scope) -> Scope {
        Scope(
            self.0
                .iter()
                .filter(|s| allowed.contains(s))
                .cloned()
                .collect(),
        )
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_deduplicated_and_keep_order() {
        let s = Scope::parse("  openid profile openid  email ");
        assert_eq!(s.to_string(), "openid profile email");
        let allowed = Scope::parse("email openid");
        assert_eq!(s.intersect(&allowed).to_string(), "openid email");
        assert!(Scope::parse("").is_empty());
    }
}
