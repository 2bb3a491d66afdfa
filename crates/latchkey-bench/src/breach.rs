//! The breached-password index at scale: an index of `n` generated hashes (written straight as
//! sorted 8-byte keys, as `latchkey breach build-index` would from the text), then lookups per
//! second on one thread (half present, half absent) and the process's resident memory before
//! opening it and after the lookups.

use latchkey_core::password::breach::{BreachCorpus, IndexWriter, index_key};
use std::path::Path;
use std::time::{Duration, Instant};

/// xorshift64*: enough spread for synthetic hashes, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Resident memory of this process, in KiB (Linux `/proc/self/status`).
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Writes an index of `n` sorted random keys; returns one key in every 4096 (present ones).
pub fn generate(path: &Path, n: u64) -> anyhow::Result<(Vec<u64>, Duration)> {
    let started = Instant::now();
    let mut writer = IndexWriter::create(path)?;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let step = u64::MAX / n.max(1);
    let mut key = 0u64;
    let mut sample = Vec::new();
    for i in 0..n {
        // Gaps uniform in [1, 2·step): n keys spread over the whole range, sorted by design.
        key = key.saturating_add(1 + rng.next() % (2 * step).max(1));
        writer.push(key)?;
        if i % 4096 == 0 {
            sample.push(key);
        }
    }
    writer.finish()?;
    Ok((sample, started.elapsed()))
}

pub struct LookupReport {
    pub per_sec: f64,
    pub rss_before_kib: u64,
    pub rss_after_kib: u64,
    pub found: u64,
    pub lookups: u64,
}

/// Lookups for `duration` on this thread, alternating a present key and a random one.
pub fn lookups(path: &Path, present: &[u64], duration: Duration) -> anyhow::Result<LookupReport> {
    let rss_before_kib = rss_kib();
    let corpus = BreachCorpus::open(path)?;
    let mut rng = Rng(42);
    let (mut lookups, mut found) = (0u64, 0u64);
    let started = Instant::now();
    while started.elapsed() < duration {
        for _ in 0..1000 {
            let key = if lookups % 2 == 0 && !present.is_empty() {
                present[usize::try_from(rng.next() % present.len() as u64)?]
            } else {
                rng.next()
            };
            let mut hash = [0u8; 20];
            hash[..8].copy_from_slice(&key.to_be_bytes());
            debug_assert_eq!(index_key(&hash), key);
            if corpus.file_contains(&hash)? {
                found += 1;
            }
            lookups += 1;
        }
    }
    Ok(LookupReport {
        per_sec: lookups as f64 / started.elapsed().as_secs_f64(),
        rss_before_kib,
        rss_after_kib: rss_kib(),
        found,
        lookups,
    })
}
