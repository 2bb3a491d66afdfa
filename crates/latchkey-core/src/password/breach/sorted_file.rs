//! One sorted file of `HASH:COUNT` lines: a binary search over byte offsets, each step one
//! positioned read of a line (about 2·log₂ n reads; 60 for a billion hashes, from the page cache).

use super::{Sha1, parse_hex, split_line};
use anyhow::{Context, bail};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Longer than any line (40 hex digits, a colon, a count, CR LF).
const MAX_LINE: usize = 96;
/// Lines checked for form and order when the file is opened.
const SAMPLES: u64 = 64;

pub(super) struct SortedHashFile {
    file: File,
    len: u64,
}

impl SortedHashFile {
    pub(super) fn open(path: &Path) -> anyhow::Result<Self> {
        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let len = file.metadata()?.len();
        if len == 0 {
            bail!("breached-password corpus {} is empty", path.display());
        }
        let corpus = Self { file, len };
        // A sample of lines, in order: the file's form and sorting are checked once, here.
        let mut previous: Option<Sha1> = None;
        for i in 0..=SAMPLES {
            let at = corpus.line_start_at_or_after((len - 1) * i / SAMPLES)?;
            let Some(at) = at.filter(|&a| a < len) else {
                continue;
            };
            let (hash, _) = corpus.line_at(at)?.with_context(|| {
                format!(
                    "breached-password corpus {} is not a file of HASH:COUNT lines (byte {at})",
                    path.display()
                )
            })?;
            if previous.is_some_and(|p| p > hash) {
                bail!(
                    "breached-password corpus {} is not sorted (byte {at}); download it with the \
                     official downloader's single-file mode or point to its prefix directory",
                    path.display()
                );
            }
            previous = Some(hash);
        }
        Ok(corpus)
    }

    pub(super) fn len(&self) -> u64 {
        self.len
    }

    /// The offset of the first line starting at or after `p` (`None`: the file's end).
    fn line_start_at_or_after(&self, p: u64) -> std::io::Result<Option<u64>> {
        if p == 0 {
            return Ok(Some(0));
        }
        let mut buf = [0u8; MAX_LINE];
        let n = self.file.read_at(&mut buf, p - 1)?;
        match buf[..n].iter().position(|&c| c == b'\n') {
            Some(i) => Ok(Some(p + i as u64)),
            None if n < MAX_LINE => Ok(None),
            None => Err(corrupt(p)),
        }
    }

    /// The hash of the line starting at `at`, and the offset of the next line.
    fn line_at(&self, at: u64) -> std::io::Result<Option<(Sha1, u64)>> {
        let mut buf = [0u8; MAX_LINE];
        let n = self.file.read_at(&mut buf, at)?;
        let end = buf[..n].iter().position(|&c| c == b'\n').unwrap_or(n);
        let hash = split_line(&buf[..end]).and_then(parse_hex);
        Ok(hash.map(|h| (h, at + end as u64 + 1)))
    }

    pub(super) fn contains(&self, target: &Sha1) -> std::io::Result<bool> {
        // Invariant: `lo` is a line start; every line starting in [lo, hi) may be the target.
        let (mut lo, mut hi) = (0u64, self.len);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let start = match self.line_start_at_or_after(mid)? {
                Some(s) if s < hi => s,
                _ => {
                    hi = mid;
                    continue;
                }
            };
            let Some((hash, next)) = self.line_at(start)? else {
                return Err(corrupt(start));
            };
            match hash.cmp(target) {
                std::cmp::Ordering::Equal => return Ok(true),
                std::cmp::Ordering::Less => lo = next,
                std::cmp::Ordering::Greater => hi = mid,
            }
        }
        Ok(false)
    }
}

fn corrupt(at: u64) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("breached-password corpus: no HASH:COUNT line at byte {at}"),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::sha1;
    use super::*;
    use crate::random::upper_hex;
    use std::io::Write;

    #[test]
    fn finds_every_hash_and_nothing_else() {
        let dir = std::env::temp_dir().join(format!("lk-sorted-{}", std::process::id()));
        let mut hashes: Vec<Sha1> = (0..500).map(|i| sha1(&format!("pw{i}"))).collect();
        hashes.sort();
        let mut f = File::create(&dir).unwrap();
        for (i, h) in hashes.iter().enumerate() {
            write!(f, "{}:{}\r\n", upper_hex(h), i * 7 + 1).unwrap();
        }
        drop(f);
        let corpus = SortedHashFile::open(&dir).unwrap();
        for h in &hashes {
            assert!(corpus.contains(h).unwrap());
        }
        for i in 500..700 {
            assert!(!corpus.contains(&sha1(&format!("pw{i}"))).unwrap());
        }
        std::fs::write(&dir, "not a corpus\n").unwrap();
        assert!(SortedHashFile::open(&dir).is_err());
        let _ = std::fs::remove_file(&dir);
    }
}
