//! Rate limits as Auth0 answers them: a bucket of `burst` requests refilled at one per
//! `interval`, reported in `X-RateLimit-Limit/-Remaining/-Reset`. The algorithm is GCRA (one
//! timestamp per key: the "theoretical arrival time"), so a bucket costs one number, in memory
//! here or in Redis (`latchkey-ratelimit`) when several nodes share one budget.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateRule {
    /// One request is earned back every `interval`.
    pub interval: Duration,
    /// Requests allowed at once.
    pub burst: u32,
}

impl RateRule {
    pub fn per_minute(per_minute: u32, burst: u32) -> Self {
        Self {
            interval: Duration::from_millis(60_000 / u64::from(per_minute.max(1))),
            burst: burst.max(1),
        }
    }
}

/// The answer for one request, and what the headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Epoch seconds at which the bucket is full again.
    pub reset_epoch_secs: u64,
}

impl RateDecision {
    /// What is reported when limits are off: a full bucket.
    pub fn unlimited(rule: RateRule) -> Self {
        Self {
            allowed: true,
            limit: rule.burst,
            remaining: rule.burst,
            reset_epoch_secs: now_millis().div_ceil(1000),
        }
    }
}

pub fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// GCRA on one key: given the stored arrival time (`tat`, epoch ms; 0 if none), the decision
/// and the arrival time to store. Shared by the memory and Redis backends (the Redis script is
/// the same arithmetic) so both answer identically.
pub fn gcra(tat: u64, now: u64, rule: RateRule) -> (RateDecision, u64) {
    let interval = interval_ms(rule);
    let window = interval * u64::from(rule.burst);
    let tat = tat.max(now);
    let new_tat = tat + interval;
    let allowed = new_tat <= now + window;
    let stored = if allowed { new_tat } else { tat };
    (decision(allowed, stored, now, rule), stored)
}

pub fn interval_ms(rule: RateRule) -> u64 {
    u64::try_from(rule.interval.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// The headers' numbers once the arrival time `stored` is known.
pub fn decision(allowed: bool, stored: u64, now: u64, rule: RateRule) -> RateDecision {
    let interval = interval_ms(rule);
    let window = interval * u64::from(rule.burst);
    let used = stored.saturating_sub(now);
    let remaining = (window.saturating_sub(used)) / interval;
    RateDecision {
        allowed,
        limit: rule.burst,
        remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
        reset_epoch_secs: stored.max(now).div_ceil(1000),
    }
}

/// Where buckets live.
#[async_trait::async_trait]
pub trait RateLimiter: Send + Sync {
    /// Takes one request from `key`'s bucket. Backends that can fail (Redis) fail open with a
    /// warning: an outage of the limiter must not take sign-in down.
    async fn check(&self, key: &str, rule: RateRule) -> RateDecision;

    /// Whether `key`'s bucket has a request left, without taking it (a guard that spends only
    /// on failures asks first). Fails open like `check`.
    async fn peek(&self, key: &str, rule: RateRule) -> bool;
}

/// Whether a bucket whose arrival time is `tat` would allow a request at `now` (the `gcra`
/// test without the step).
pub fn would_allow(tat: u64, now: u64, rule: RateRule) -> bool {
    let interval = interval_ms(rule);
    tat.max(now) + interval <= now + interval * u64::from(rule.burst)
}

/// In-process buckets: the single-node default. Memory is bounded: buckets that are full
/// again (their arrival time has passed) carry no information and are swept from each shard
/// at most every `SWEEP_EVERY_MS`; and a shard never holds more than its share of
/// `capacity` keys: when a new key finds it full after a sweep, the eighth of its buckets
/// closest to full again is dropped (those limit least; an attacker's flood of fresh keys
/// costs them their own least-used budgets, never unbounded memory).
pub struct MemoryRateLimiter {
    shards: Vec<Mutex<Shard>>,
    per_shard: usize,
}

#[derive(Default)]
struct Shard {
    buckets: HashMap<String, u64>,
    next_sweep_ms: u64,
}

const SHARDS: usize = 16;
const SWEEP_EVERY_MS: u64 = 10_000;
/// Default key capacity: ~100 bytes a key, so about 10 MB at most.
pub const DEFAULT_RATE_LIMIT_KEYS: usize = 100_000;

impl Default for MemoryRateLimiter {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_RATE_LIMIT_KEYS)
    }
}

impl MemoryRateLimiter {
    /// At most `capacity` buckets (rounded up to a multiple of the shard count).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }

    /// Buckets held now.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| match s.lock() {
                Ok(s) => s.buckets.len(),
                Err(p) => p.into_inner().buckets.len(),
            })
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard(&self, key: &str) -> Option<&Mutex<Shard>> {
        let h = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        self.shards
            .get(usize::try_from(h % self.shards.len() as u64).unwrap_or(0))
    }

    /// One decision at time `now` (epoch ms): the trait's `check` with the clock passed in.
    pub fn check_at(&self, key: &str, rule: RateRule, now: u64) -> RateDecision {
        let Some(shard) = self.shard(key) else {
            return RateDecision::unlimited(rule);
        };
        let mut shard = match shard.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        let Shard {
            buckets,
            next_sweep_ms,
        } = &mut *shard;
        if now >= *next_sweep_ms {
            buckets.retain(|_, tat| *tat > now);
            *next_sweep_ms = now + SWEEP_EVERY_MS;
        }
        let tat = match buckets.get(key) {
            Some(tat) => *tat,
            None => {
                if buckets.len() >= self.per_shard {
                    buckets.retain(|_, tat| *tat > now);
                }
                if buckets.len() >= self.per_shard {
                    evict_soonest(buckets, self.per_shard / 8 + 1);
                }
                0
            }
        };
        let (decision, stored) = gcra(tat, now, rule);
        buckets.insert(key.to_owned(), stored);
        decision
    }
}

/// Drops the `n` buckets that are closest to full again.
fn evict_soonest(buckets: &mut HashMap<String, u64>, n: usize) {
    let mut tats: Vec<u64> = buckets.values().copied().collect();
    let n = n.min(tats.len());
    if n == 0 {
        return;
    }
    let (_, cut, _) = tats.select_nth_unstable(n - 1);
    let cut = *cut;
    let mut dropped = 0;
    buckets.retain(|_, tat| {
        if dropped < n && *tat <= cut {
            dropped += 1;
            false
        } else {
            true
        }
    });
}

#[async_trait::async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn check(&self, key: &str, rule: RateRule) -> RateDecision {
        self.check_at(key, rule, now_millis())
    }

    async fn peek(&self, key: &str, rule: RateRule) -> bool {
        let Some(shard) = self.shard(key) else {
            return true;
        };
        let shard = match shard.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        let tat = shard.buckets.get(key).copied().unwrap_or(0);
        would_allow(tat, now_millis(), rule)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_per_interval() {
        let rule = RateRule::per_minute(1, 10);
        let now = 1_000_000_000;
        let mut tat = 0;
        for i in 0..10 {
            let (d, t) = gcra(tat, now, rule);
            assert!(d.allowed, "request {i}");
            assert_eq!(d.remaining, 9 - i);
            assert_eq!(d.limit, 10);
            tat = t;
        }
        let (d, _) = gcra(tat, now, rule);
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
        assert_eq!(d.reset_epoch_secs, (now + 600_000) / 1000);
        // One minute later one request is earned back.
        let (d, _) = gcra(tat, now + 60_000, rule);
        assert!(d.allowed);
        assert_eq!(d.remaining, 0);
    }

    #[test]
    fn buckets_full_again_are_swept() {
        let limiter = MemoryRateLimiter::with_capacity(1_000_000);
        let rule = RateRule::per_minute(60, 5);
        let now = 1_000_000_000;
        for i in 0..10_000 {
            limiter.check_at(&format!("k{i}"), rule, now);
        }
        assert_eq!(limiter.len(), 10_000);
        // A second later every bucket is full again; the next sweep forgets them all.
        let later = now + SWEEP_EVERY_MS + 1_000;
        limiter.check_at("fresh", rule, later);
        for i in 0..SHARDS * 4 {
            limiter.check_at(&format!("other{i}"), rule, later);
        }
        assert!(limiter.len() <= 1 + SHARDS * 4, "{}", limiter.len());
    }

    #[test]
    fn live_buckets_never_exceed_the_capacity_and_spent_ones_stay() {
        let limiter = MemoryRateLimiter::with_capacity(1_600);
        let rule = RateRule::per_minute(1, 10);
        let now = 1_000_000_000;
        for _ in 0..10 {
            assert!(limiter.check_at("victim", rule, now).allowed);
        }
        assert!(!limiter.check_at("victim", rule, now).allowed);
        // A flood of fresh keys, each one request: memory stays within the capacity…
        for i in 0..50_000 {
            limiter.check_at(&format!("attacker-{i}"), rule, now);
        }
        assert!(limiter.len() <= 1_600, "{}", limiter.len());
        // …and the spent bucket (the furthest from full) was not the one dropped.
        assert!(!limiter.check_at("victim", rule, now + 1).allowed);
    }

    #[tokio::test]
    async fn a_flood_of_fresh_keys_is_bounded_by_the_default_capacity() {
        // Seen before the fix: 300000 buckets held (none were full again, none dropped).
        let limiter = MemoryRateLimiter::default();
        let rule = RateRule::per_minute(1, 10);
        for i in 0..300_000 {
            limiter.check(&format!("attacker-{i}"), rule).await;
        }
        assert!(
            limiter.len() <= DEFAULT_RATE_LIMIT_KEYS,
            "{}",
            limiter.len()
        );
    }
}
