use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

/// A space-separated OAuth scope string, kept as an ordered set of distinct tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope(Vec<String>);

impl Scope {
    pub fn parse(s: &str) -> Self {
        let mut items = Vec::new();
        for_each_unique::<RandomState>(s.split_ascii_whitespace(), |w| items.push(w.to_owned()));
        Self(items)
    }
    /// The scope of `items`, each of which may hold several space-separated values.
    pub fn from_items<I: IntoIterator<Item = S>, S: AsRef<str>>(items: I) -> Self {
        let items: Vec<S> = items.into_iter().collect();
        let mut out = Vec::with_capacity(items.len());
        for_each_unique::<RandomState>(
            items
                .iter()
                .flat_map(|i| i.as_ref().split_ascii_whitespace()),
            |w| out.push(w.to_owned()),
        );
        Self(out)
    }
    /// `Scope::from_items(words).to_string()` without a `String` per word: a token's scope
    /// straight from a grant's list (every client-credentials token builds one). Only for
    /// lists an administrator configured: it hashes with FNV, not a keyed hash.
    pub fn join_unique<'a>(words: impl Iterator<Item = &'a str>) -> String {
        let mut out = String::with_capacity(256);
        for_each_unique::<BuildHasherDefault<Fnv1a>>(
            words.flat_map(str::split_ascii_whitespace),
            |w| {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(w);
            },
        );
        out
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
        self.intersect_with(|s| allowed.contains(s))
    }
    /// The tokens of `self` that `keep` accepts, in `self`'s order.
    pub fn intersect_with(&self, keep: impl Fn(&str) -> bool) -> Scope {
        Scope(self.0.iter().filter(|s| keep(s)).cloned().collect())
    }
}

/// Calls `f` with each word the first time it appears, in order. A handful of words are
/// compared directly; a grant's hundred-odd Management API scopes go through a set hashed by
/// `H` (a keyed hash wherever the words come from a request).
fn for_each_unique<'a, H: BuildHasher + Default>(
    words: impl Iterator<Item = &'a str>,
    mut f: impl FnMut(&'a str),
) {
    let mut few: Vec<&str> = Vec::new();
    let mut many: Option<HashSet<&str, H>> = None;
    for w in words {
        let fresh = match &mut many {
            Some(set) => set.insert(w),
            None if few.len() < 16 => {
                let fresh = !few.contains(&w);
                if fresh {
                    few.push(w);
                }
                fresh
            }
            None => {
                let mut set = HashSet::with_capacity_and_hasher(256, H::default());
                set.extend(few.drain(..));
                let fresh = set.insert(w);
                many = Some(set);
                fresh
            }
        };
        if fresh {
            f(w);
        }
    }
}

/// FNV-1a: a few instructions a byte, for configured lists only (see `join_unique`).
#[derive(Default)]
struct Fnv1a(u64);

impl Hasher for Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
    fn finish(&self) -> u64 {
        self.0
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

    #[test]
    fn long_lists_are_deduplicated_in_order_like_short_ones() {
        let words: Vec<String> = (0..40).map(|i| format!("s{}", i % 25)).collect();
        let want: Vec<String> = (0..25).map(|i| format!("s{i}")).collect();
        assert_eq!(Scope::from_items(&words).items(), want.as_slice());
        assert_eq!(
            Scope::join_unique(words.iter().map(String::as_str)),
            want.join(" ")
        );
        assert_eq!(
            Scope::from_items(["a b", "b c", " a "]).to_string(),
            "a b c"
        );
        assert_eq!(Scope::join_unique(["a b", "b c"].into_iter()), "a b c");
    }
}
