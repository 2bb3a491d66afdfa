//! The official downloader's default output: one file per 5-hex-digit SHA-1 prefix
//! (`00000.txt` … `FFFFF.txt`), each of `SUFFIX:COUNT` lines. A lookup reads one file (about
//! 30 KiB for the full corpus) and scans it.

use super::{Sha1, split_line};
use crate::random::upper_hex;
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};

pub(super) struct PrefixDirectory {
    dir: PathBuf,
}

impl PrefixDirectory {
    pub(super) fn open(dir: &Path) -> anyhow::Result<Self> {
        let corpus = Self {
            dir: dir.to_path_buf(),
        };
        // The first and last prefixes must be there and well formed.
        for prefix in ["00000", "FFFFF"] {
            let path = corpus.file_for(prefix);
            let text = std::fs::read(&path).with_context(|| {
                format!(
                    "breached-password corpus {} has no prefix file {}",
                    dir.display(),
                    path.display()
                )
            })?;
            let bad = text
                .split(|&c| c == b'\n')
                .filter(|l| !l.is_empty())
                .any(|l| split_line(l).is_none_or(|hex| hex.len() != 35));
            if bad {
                bail!(
                    "breached-password corpus: {} is not a file of SUFFIX:COUNT lines",
                    path.display()
                );
            }
        }
        Ok(corpus)
    }

    fn file_for(&self, prefix: &str) -> PathBuf {
        self.dir.join(format!("{prefix}.txt"))
    }

    pub(super) fn contains(&self, hash: &Sha1) -> std::io::Result<bool> {
        let hex = upper_hex(hash);
        let (prefix, suffix) = hex.split_at(5);
        let text = match std::fs::read(self.file_for(prefix)) {
            Ok(t) => t,
            // The downloader writes every prefix; a missing one holds nothing.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        Ok(text
            .split(|&c| c == b'\n')
            .filter_map(split_line)
            .any(|s| s.eq_ignore_ascii_case(suffix.as_bytes())))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::sha1;
    use super::*;

    #[test]
    fn reads_the_prefix_file_of_the_hash() {
        let dir = std::env::temp_dir().join(format!("lk-prefix-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let hex = upper_hex(&sha1("hunter2"));
        std::fs::write(
            dir.join("00000.txt"),
            "0005AD76BD555C1D6D771DE417A4B87E4B4:10\r\n",
        )
        .unwrap();
        std::fs::write(dir.join("FFFFF.txt"), "").unwrap();
        std::fs::write(
            dir.join(format!("{}.txt", &hex[..5])),
            format!("{}:17\r\n", &hex[5..]),
        )
        .unwrap();
        let corpus = PrefixDirectory::open(&dir).unwrap();
        assert!(corpus.contains(&sha1("hunter2")).unwrap());
        assert!(!corpus.contains(&sha1("hunter3")).unwrap());
        std::fs::remove_file(dir.join("FFFFF.txt")).unwrap();
        assert!(PrefixDirectory::open(&dir).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
