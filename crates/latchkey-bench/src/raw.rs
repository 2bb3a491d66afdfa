//! The physical limits: the same primitives the server uses, with nothing around them, on every
//! core at once.

use latchkey_core::keys::RawSigner;
use latchkey_core::password::{Argon2Settings, raw_hash_for_benchmark};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Runs `work` on `threads` threads for `duration`; returns how many operations completed.
pub(crate) fn saturate(
    threads: usize,
    duration: Duration,
    work: impl Fn() -> anyhow::Result<()> + Sync,
) -> anyhow::Result<u64> {
    let done = AtomicU64::new(0);
    let end = Instant::now() + duration;
    let results: Vec<anyhow::Result<()>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| -> anyhow::Result<()> {
                    while Instant::now() < end {
                        work()?;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("benchmark thread panicked")))
            })
            .collect()
    });
    results.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
    Ok(done.load(Ordering::Relaxed))
}

pub fn argon2_hashes(
    settings: Argon2Settings,
    threads: usize,
    duration: Duration,
) -> anyhow::Result<u64> {
    saturate(threads, duration, || {
        raw_hash_for_benchmark(settings, "Bench-Passw0rd!")
    })
}

/// The size of a typical header.payload of a Management API token.
const TOKEN_INPUT: [u8; 1100] = [b'x'; 1100];

pub fn rs256_signatures(
    signer: &RawSigner,
    threads: usize,
    duration: Duration,
) -> anyhow::Result<u64> {
    saturate(threads, duration, || signer.sign(&TOKEN_INPUT).map(drop))
}
