//! Rate-limit buckets in Redis, so every node behind a load balancer spends one budget. The
//! arithmetic is core's GCRA, run atomically in a script on Redis' own clock (nodes' clocks may
//! differ); a bucket is one key holding one number, expiring when the bucket is full again.

use async_trait::async_trait;
use latchkey_core::ratelimit::{
    RateDecision, RateLimiter, RateRule, decision, interval_ms, would_allow,
};
use redis::aio::ConnectionManager;
use std::sync::atomic::{AtomicU64, Ordering};

const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local window = interval * tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + interval
if new_tat <= now + window then
  redis.call('SET', KEYS[1], new_tat, 'PX', new_tat - now)
  return {1, new_tat, now}
end
return {0, tat, now}
";

pub struct RedisRateLimiter {
    connection: ConnectionManager,
    script: redis::Script,
    prefix: String,
    /// When the last outage warning was logged (epoch ms), so an outage logs once a minute.
    last_warning: AtomicU64,
}

impl RedisRateLimiter {
    /// Connects to `url` (`redis://host:port/db`); keys are `prefix` + bucket name.
    pub async fn connect(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)
            .map_err(|_| anyhow::anyhow!("REDIS_URL is not a valid Redis URL"))?;
        let connection = ConnectionManager::new(client).await?;
        Ok(Self {
            connection,
            script: redis::Script::new(GCRA),
            prefix: prefix.to_owned(),
            last_warning: AtomicU64::new(0),
        })
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn peek(&self, key: &str, rule: RateRule) -> bool {
        let mut connection = self.connection.clone();
        // Redis' clock, as the script's: nodes' clocks may differ.
        let result: redis::RedisResult<(Option<u64>, (u64, u64))> = redis::pipe()
            .cmd("GET")
            .arg(format!("{}{key}", self.prefix))
            .cmd("TIME")
            .query_async(&mut connection)
            .await;
        match result {
            Ok((tat, (secs, micros))) => {
                would_allow(tat.unwrap_or(0), secs * 1000 + micros / 1000, rule)
            }
            Err(e) => {
                tracing::debug!(error = %e, "Redis rate limiter unavailable; peek allows");
                true
            }
        }
    }

    async fn check(&self, key: &str, rule: RateRule) -> RateDecision {
        let mut connection = self.connection.clone();
        let result: redis::RedisResult<(i64, u64, u64)> = self
            .script
            .key(format!("{}{key}", self.prefix))
            .arg(interval_ms(rule))
            .arg(rule.burst)
            .invoke_async(&mut connection)
            .await;
        match result {
            Ok((allowed, stored, now)) => decision(allowed == 1, stored, now, rule),
            Err(e) => {
                // Fail open: an outage of the limiter must not take password reset down.
                let now = latchkey_core::ratelimit::now_millis();
                let last = self.last_warning.load(Ordering::Relaxed);
                if now.saturating_sub(last) > 60_000 {
                    self.last_warning.store(now, Ordering::Relaxed);
                    tracing::warn!(error = %e, "Redis rate limiter unavailable; requests are not limited");
                }
                RateDecision::unlimited(rule)
            }
        }
    }
}
