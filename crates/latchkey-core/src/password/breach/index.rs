//! Latchkey's compact index of a breached-password corpus: the first 8 bytes of each SHA-1,
//! sorted, behind a table of 65 536 buckets (by the first 2 bytes) held in memory. A lookup is
//! one table read and a binary search of its bucket by positioned reads (about 14 for a billion
//! hashes). Eight bytes of a hash tell passwords apart with a false-positive chance of n/2⁶⁴
//! (5·10⁻¹¹ for a billion), so the index is half the size of the text and needs no parsing.
//!
//! Layout (integers big-endian): `LKBREACH`, version u32 (1), reserved u32, count u64, then
//! 65 536 u64 bucket ends (entries before the end of each bucket), then `count` u64 entries.

use super::{Sha1, parse_hex, split_line};
use anyhow::{Context, bail};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

const MAGIC: &[u8; 8] = b"LKBREACH";
const VERSION: u32 = 1;
const BUCKETS: usize = 1 << 16;
const HEADER: u64 = 8 + 4 + 4 + 8 + (BUCKETS as u64) * 8;

/// Told how far a build has come: bytes of the input read, of its total.
pub type BuildProgress<'a> = &'a mut dyn FnMut(u64, u64);

pub(super) struct HashIndex {
    file: File,
    count: u64,
    bucket_ends: Vec<u64>,
}

fn key(hash: &Sha1) -> u64 {
    let mut k = [0u8; 8];
    k.copy_from_slice(&hash[..8]);
    u64::from_be_bytes(k)
}

fn bucket_of(key: u64) -> usize {
    (key >> 48) as usize
}

impl HashIndex {
    pub(super) fn is_index(path: &Path) -> anyhow::Result<bool> {
        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let mut magic = [0u8; 8];
        let n = file.read_at(&mut magic, 0)?;
        Ok(n == 8 && &magic == MAGIC)
    }

    pub(super) fn open(path: &Path) -> anyhow::Result<Self> {
        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let len = file.metadata()?.len();
        let damaged = || format!("breached-password index {} is damaged", path.display());
        if len < HEADER {
            bail!(damaged());
        }
        let mut head = vec![0u8; usize::try_from(HEADER)?];
        file.read_exact_at(&mut head, 0).with_context(damaged)?;
        let u32_at =
            |i: usize| u32::from_be_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
        let u64_at = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&head[i..i + 8]);
            u64::from_be_bytes(b)
        };
        if u32_at(8) != VERSION {
            bail!(
                "breached-password index {} has version {}; rebuild it with `latchkey breach build-index`",
                path.display(),
                u32_at(8)
            );
        }
        let count = u64_at(16);
        let bucket_ends: Vec<u64> = (0..BUCKETS).map(|b| u64_at(24 + b * 8)).collect();
        let ordered = bucket_ends.windows(2).all(|w| w[0] <= w[1]);
        if !ordered || bucket_ends.last() != Some(&count) || len != HEADER + count * 8 {
            bail!(damaged());
        }
        Ok(Self {
            file,
            count,
            bucket_ends,
        })
    }

    pub(super) fn count(&self) -> u64 {
        self.count
    }

    fn entry(&self, i: u64) -> std::io::Result<u64> {
        let mut b = [0u8; 8];
        self.file.read_exact_at(&mut b, HEADER + i * 8)?;
        Ok(u64::from_be_bytes(b))
    }

    pub(super) fn contains(&self, hash: &Sha1) -> std::io::Result<bool> {
        let target = key(hash);
        let b = bucket_of(target);
        let mut lo = if b == 0 { 0 } else { self.bucket_ends[b - 1] };
        let mut hi = self.bucket_ends[b];
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.entry(mid)?.cmp(&target) {
                std::cmp::Ordering::Equal => return Ok(true),
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
            }
        }
        Ok(false)
    }
}

/// Writes an index from sorted 8-byte keys (the first 8 bytes of each SHA-1, big-endian):
/// `push` each in order, then `finish`. Written beside `output` first and renamed when complete,
/// so a stopped build leaves no index.
pub struct IndexWriter {
    out: BufWriter<File>,
    partial: std::path::PathBuf,
    output: std::path::PathBuf,
    bucket_counts: Vec<u64>,
    count: u64,
    last: Option<u64>,
}

impl IndexWriter {
    pub fn create(output: &Path) -> anyhow::Result<Self> {
        let partial = output.with_extension("partial");
        let mut out = BufWriter::with_capacity(
            1 << 20,
            File::create(&partial).with_context(|| format!("creating {}", partial.display()))?,
        );
        out.write_all(&vec![0u8; usize::try_from(HEADER)?])?;
        Ok(Self {
            out,
            partial,
            output: output.to_path_buf(),
            bucket_counts: vec![0u64; BUCKETS],
            count: 0,
            last: None,
        })
    }

    /// Adds `key`; a repeat is skipped, a smaller key than the last is an error.
    pub fn push(&mut self, key: u64) -> anyhow::Result<()> {
        match self.last {
            Some(prev) if prev > key => bail!("the keys are not sorted"),
            Some(prev) if prev == key => return Ok(()),
            _ => {}
        }
        self.last = Some(key);
        self.out.write_all(&key.to_be_bytes())?;
        self.bucket_counts[bucket_of(key)] += 1;
        self.count += 1;
        Ok(())
    }

    /// Writes the header and moves the index into place; returns the number of hashes.
    pub fn finish(self) -> anyhow::Result<u64> {
        let mut head = Vec::with_capacity(usize::try_from(HEADER)?);
        head.extend_from_slice(MAGIC);
        head.extend_from_slice(&VERSION.to_be_bytes());
        head.extend_from_slice(&0u32.to_be_bytes());
        head.extend_from_slice(&self.count.to_be_bytes());
        let mut end = 0u64;
        for c in &self.bucket_counts {
            end += c;
            head.extend_from_slice(&end.to_be_bytes());
        }
        let mut file = self.out.into_inner().map_err(|e| e.into_error())?;
        file.seek(SeekFrom::Start(0))?;
        file.write_all(&head)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&self.partial, &self.output)
            .with_context(|| format!("moving the index to {}", self.output.display()))?;
        Ok(self.count)
    }
}

/// The 8-byte key the index keeps of a hash.
pub fn index_key(hash: &Sha1) -> u64 {
    key(hash)
}

/// Builds the index at `output` from the sorted `HASH:COUNT` file at `input`, reporting progress.
/// Returns the number of hashes indexed.
pub fn build_index(
    input: &Path,
    output: &Path,
    progress: BuildProgress<'_>,
) -> anyhow::Result<u64> {
    let source = File::open(input).with_context(|| format!("opening {}", input.display()))?;
    let total = source.metadata()?.len();
    let mut reader = BufReader::with_capacity(1 << 20, source);
    let mut writer = IndexWriter::create(output)?;
    let (mut read, mut line_no) = (0u64, 0u64);
    let mut line = Vec::with_capacity(128);
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        read += n as u64;
        line_no += 1;
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        if text.is_empty() || text == b"\r" {
            continue;
        }
        let hash = split_line(text).and_then(parse_hex).with_context(|| {
            format!("{} line {line_no}: not a HASH:COUNT line", input.display())
        })?;
        writer.push(key(&hash)).with_context(|| {
            format!("{} line {line_no}: the file is not sorted", input.display())
        })?;
        if line_no % 1_000_000 == 0 {
            progress(read, total);
        }
    }
    progress(read, total);
    writer.finish()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::sha1;
    use super::*;
    use crate::random::upper_hex;

    #[test]
    fn builds_and_finds() {
        let base = std::env::temp_dir().join(format!("lk-index-{}", std::process::id()));
        let text = base.with_extension("txt");
        let idx = base.with_extension("idx");
        let mut hashes: Vec<Sha1> = (0..2000).map(|i| sha1(&format!("pw{i}"))).collect();
        hashes.sort();
        let body: String = hashes
            .iter()
            .map(|h| format!("{}:3\r\n", upper_hex(h)))
            .collect();
        std::fs::write(&text, body).unwrap();
        let mut calls = 0;
        let n = build_index(&text, &idx, &mut |_, _| calls += 1).unwrap();
        assert_eq!(n, 2000);
        assert!(calls > 0);
        assert!(HashIndex::is_index(&idx).unwrap());
        let index = HashIndex::open(&idx).unwrap();
        assert!(hashes.iter().all(|h| index.contains(h).unwrap()));
        assert!(!(2000..2500).any(|i| index.contains(&sha1(&format!("pw{i}"))).unwrap()));
        // A truncated index is refused.
        let bytes = std::fs::read(&idx).unwrap();
        std::fs::write(&idx, &bytes[..bytes.len() - 3]).unwrap();
        assert!(HashIndex::open(&idx).is_err());
        std::fs::write(&text, "ZZZ:1\n").unwrap();
        assert!(build_index(&text, &idx, &mut |_, _| {}).is_err());
        let _ = std::fs::remove_file(&text);
        let _ = std::fs::remove_file(&idx);
    }
}
