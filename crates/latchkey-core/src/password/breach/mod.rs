//! The breached-password corpus, offline: nothing derived from a password leaves the server.
//!
//! Always present, the bundled corpus: the ten thousand most common passwords (any case) and
//! every password starting with `AUTH0-TEST-` (the prefix Auth0 documents for trying the
//! feature, so a team's migration tests behave the same here). On top of it, optionally, a local
//! copy of the Have I Been Pwned corpus in one of three forms, told apart when it is opened:
//!
//! * one sorted file of `HASH:COUNT` lines (upper-case SHA-1), as the official downloader writes
//!   it in single-file mode: binary search over byte offsets (`sorted_file.rs`);
//! * a directory of prefix files (`00000.txt` … `FFFFF.txt`, `SUFFIX:COUNT` lines), as the
//!   downloader writes by default: one small file read per lookup (`prefix_dir.rs`);
//! * Latchkey's compact index, built once from the sorted file by `latchkey breach
//!   build-index`: 8 bytes a hash behind a 512 KiB bucket table (`index.rs`).
//!
//! Last, if configured, a Have I Been Pwned compatible range service (a self-hosted mirror,
//! k-anonymity: five hex digits of the hash leave the server), asked only when detection is on
//! and the local corpora do not know the password (`range.rs`).
//!
//! Every form is read with positioned reads, never loaded: the operating system's page cache
//! holds what is hot, so a billion hashes cost disk, not memory. A corpus that is missing or does
//! not look like one of the forms is refused when it is opened (a start-up error); a read that
//! fails later is logged and counted as "not breached" (an unreadable disk must not stop logins).

mod index;
mod prefix_dir;
mod range;
mod sorted_file;

pub use index::{BuildProgress, IndexWriter, build_index, index_key};
pub use range::{RangeFailure, RangeFetcher, RangeService};

use anyhow::Context;
use std::path::Path;
use std::sync::Arc;

/// The prefix of Auth0's documented test passwords.
pub const TEST_PASSWORD_PREFIX: &str = "AUTH0-TEST-";

/// A SHA-1 digest, as the corpus is keyed.
pub type Sha1 = [u8; 20];

pub fn sha1(password: &str) -> Sha1 {
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        password.as_bytes(),
    );
    let mut out = [0u8; 20];
    out.copy_from_slice(digest.as_ref());
    out
}

/// One of the on-disk forms.
enum Source {
    Sorted(sorted_file::SortedHashFile),
    Prefixes(prefix_dir::PrefixDirectory),
    Index(index::HashIndex),
}

impl Source {
    fn contains(&self, hash: &Sha1) -> std::io::Result<bool> {
        match self {
            Self::Sorted(f) => f.contains(hash),
            Self::Prefixes(d) => d.contains(hash),
            Self::Index(i) => i.contains(hash),
        }
    }
    fn describe(&self) -> String {
        match self {
            Self::Sorted(f) => format!("sorted hash file ({} bytes)", f.len()),
            Self::Prefixes(_) => "directory of prefix files".to_owned(),
            Self::Index(i) => format!("compact index ({} hashes)", i.count()),
        }
    }
}

/// Where breached passwords are looked up. Cheap to share (`Arc`).
pub struct BreachCorpus {
    file: Option<Source>,
    range: Option<RangeService>,
}

/// What the range service said of a password.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeAnswer {
    /// No range service is configured, or it does not list the password.
    NotListed,
    Listed,
    /// It did not answer, or answered wrongly, and is configured to fail closed.
    Unanswered,
}

impl BreachCorpus {
    /// The bundled corpus only.
    pub fn bundled() -> Self {
        Self {
            file: None,
            range: None,
        }
    }

    /// Adds a range service, asked after the local corpora.
    pub fn with_range(mut self, range: RangeService) -> Self {
        self.range = Some(range);
        self
    }

    pub fn has_range(&self) -> bool {
        self.range.is_some()
    }

    /// The bundled corpus and the local corpus at `path` (a sorted file, a prefix directory or a
    /// compact index), checked now so that a wrong path or a damaged file stops the start.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let meta = std::fs::metadata(path)
            .with_context(|| format!("breached-password corpus {}", path.display()))?;
        let source = if meta.is_dir() {
            Source::Prefixes(prefix_dir::PrefixDirectory::open(path)?)
        } else if index::HashIndex::is_index(path)? {
            Source::Index(index::HashIndex::open(path)?)
        } else {
            Source::Sorted(sorted_file::SortedHashFile::open(path)?)
        };
        Ok(Self {
            file: Some(source),
            range: None,
        })
    }

    /// What is loaded, for the start-up log.
    pub fn describe(&self) -> String {
        let mut text = match &self.file {
            None => "bundled corpus only".to_owned(),
            Some(s) => format!("bundled corpus and a {}", s.describe()),
        };
        if let Some(r) = &self.range {
            text.push_str(&format!(", then the range service {}", r.base()));
        }
        text
    }

    /// Asks the range service, if there is one. A failure is logged and counted; it is
    /// `Unanswered` only when the service is set to fail closed.
    pub async fn range_lookup(&self, password: &str) -> RangeAnswer {
        let Some(range) = &self.range else {
            return RangeAnswer::NotListed;
        };
        match range.contains(&sha1(password)).await {
            Ok(true) => RangeAnswer::Listed,
            Ok(false) => RangeAnswer::NotListed,
            Err(reason) => {
                crate::metrics::METRICS.breach_range_failure();
                tracing::warn!(service = %range.base(), %reason, fail = ?range.on_failure, "breached-password range service did not answer");
                match range.on_failure {
                    RangeFailure::Open => RangeAnswer::NotListed,
                    RangeFailure::Closed => RangeAnswer::Unanswered,
                }
            }
        }
    }

    /// Whether `password` is in the bundled corpus (no I/O).
    pub fn bundled_contains(password: &str) -> bool {
        password.starts_with(TEST_PASSWORD_PREFIX)
            || super::policy::is_common_password(&password.to_lowercase())
    }

    /// Whether `hash` is in the local corpus file; a read error is reported, not hidden.
    pub fn file_contains(&self, hash: &Sha1) -> std::io::Result<bool> {
        match &self.file {
            None => Ok(false),
            Some(s) => s.contains(hash),
        }
    }

    /// Whether `password` is in the bundled corpus or the local file. The file lookup runs on
    /// the blocking pool (it reads the disk); a failed read counts as "not breached", logged.
    pub async fn in_local_corpus(self: &Arc<Self>, password: &str) -> bool {
        if Self::bundled_contains(password) {
            return true;
        }
        if self.file.is_none() {
            return false;
        }
        let hash = sha1(password);
        let corpus = self.clone();
        match tokio::task::spawn_blocking(move || corpus.file_contains(&hash)).await {
            Ok(Ok(found)) => found,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "breached-password corpus unreadable; lookup skipped");
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "breached-password lookup did not finish");
                false
            }
        }
    }
}

/// Parses 40 hex digits (either case) into a hash.
pub(crate) fn parse_hex(s: &[u8]) -> Option<Sha1> {
    if s.len() != 40 {
        return None;
    }
    let mut out = [0u8; 20];
    for (i, pair) in s.chunks_exact(2).enumerate() {
        let hi = hex_digit(pair[0])?;
        let lo = hex_digit(pair[1])?;
        out[i] = (hi << 4) | lo;
    }
    Some(out)
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Splits a corpus line `HEX:COUNT` (trailing `\r` allowed) into its hex part, checking the count.
pub(crate) fn split_line(line: &[u8]) -> Option<&[u8]> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let colon = line.iter().position(|&c| c == b':')?;
    let (hex, count) = (&line[..colon], &line[colon + 1..]);
    (!count.is_empty() && count.iter().all(u8::is_ascii_digit)).then_some(hex)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::upper_hex;

    #[test]
    fn the_bundled_corpus_knows_the_worst_and_the_test_prefix() {
        assert!(BreachCorpus::bundled_contains("password"));
        assert!(BreachCorpus::bundled_contains("PASSWORD"));
        assert!(BreachCorpus::bundled_contains("AUTH0-TEST-anything"));
        assert!(!BreachCorpus::bundled_contains(
            "correct horse battery staple 42!"
        ));
        assert_eq!(
            upper_hex(&sha1("password")),
            "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8"
        );
        assert_eq!(parse_hex(upper_hex(&sha1("x")).as_bytes()), Some(sha1("x")));
        assert_eq!(split_line(b"ABC:12\r"), Some(&b"ABC"[..]));
        assert_eq!(split_line(b"ABC:"), None);
    }
}
