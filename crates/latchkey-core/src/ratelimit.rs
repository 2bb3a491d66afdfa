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
}

/// In-process buckets: the single-node default.
pub struct MemoryRateLimiter {
    shards: Vec<Mutex<HashMap<String, u64>>>,
}

impl Default for MemoryRateLimiter {
    fn default() -> Self {
        Self {
            shards: (0..16).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }
}

impl MemoryRateLimiter {
    fn shard(&self, key: &str) -> Option<&Mutex<HashMap<String, u64>>> {
        let h = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        self.shards
            .get(usize::try_from(h % self.shards.len() as u64).unwrap_or(0))
    }
}

#[async_trait::async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn check(&self, key: &str, rule: RateRule) -> RateDecision {
        let now = now_millis();
        let Some(shard) = self.shard(key) else {
            return RateDecision::unlimited(rule);
        };
        let mut map = match shard.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        // Keys whose bucket is full again carry no information: drop them so memory stays
        // bounded by the keys active within one window.
        if map.len() > 50_000 {
            map.retain(|_, tat| *tat > now);
        }
        let tat = map.get(key).copied().unwrap_or(0);
        let (decision, stored) = gcra(tat, now, rule);
        map.insert(key.to_owned(), stored);
        decision
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
}
