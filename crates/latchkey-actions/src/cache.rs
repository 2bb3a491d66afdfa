//! `api.cache`: a small per-action key/value store kept in process memory.
//!
//! Auth0 describes its Actions cache as best-effort and ephemeral ("items may not be available in
//! later transactions"), so an in-process map is a faithful implementation: it is lost on restart
//! and not shared between server instances. An action sees a snapshot of its live entries when
//! it starts; its `set`/`delete` calls are applied when it ends, in call order.

use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Entries kept per action; inserting past it evicts the entry that expires soonest.
pub const MAX_ENTRIES_PER_ACTION: usize = 20;
/// Longest lifetime an entry may have (the JS side clamps too).
pub const MAX_TTL_MS: u64 = 24 * 60 * 60 * 1000;
/// Key and value sizes the prelude allows; checked again here (defence in depth).
pub const MAX_KEY_BYTES: usize = 256;
pub const MAX_VALUE_BYTES: usize = 2048;
/// Actions whose caches are kept (deleted actions' entries would otherwise live until they
/// expire): past it, expired entries go everywhere, then the action whose entries expire
/// soonest. With the per-action bound: at most ~4.5 MB of cached values.
pub const MAX_ACTIONS: usize = 1000;

/// One `api.cache.set`/`api.cache.delete`, as recorded by the action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheOp {
    Set {
        key: String,
        value: String,
        expires_at_ms: u64,
    },
    Delete {
        key: String,
    },
}

#[derive(Debug, Clone)]
struct Entry {
    value: String,
    expires_at_ms: u64,
}

/// All actions' caches, keyed by action id.
#[derive(Debug, Default)]
pub struct ActionCache {
    actions: Mutex<HashMap<String, HashMap<String, Entry>>>,
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl ActionCache {
    /// The action's live entries as `{key: {value, expires_at}}`, for the prelude.
    pub fn snapshot(&self, action_id: &str, now_ms: u64) -> Value {
        let mut actions = self.actions.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Map::new();
        if let Some(entries) = actions.get_mut(action_id) {
            entries.retain(|_, e| e.expires_at_ms > now_ms);
            for (key, entry) in entries.iter() {
                out.insert(
                    key.clone(),
                    json!({ "value": entry.value, "expires_at": entry.expires_at_ms }),
                );
            }
            if entries.is_empty() {
                actions.remove(action_id);
            }
        }
        Value::Object(out)
    }

    /// Applies an execution's writes, in order.
    pub fn apply(&self, action_id: &str, ops: Vec<CacheOp>, now_ms: u64) {
        if ops.is_empty() {
            return;
        }
        let mut actions = self.actions.lock().unwrap_or_else(|p| p.into_inner());
        if !actions.contains_key(action_id) && actions.len() >= MAX_ACTIONS {
            for entries in actions.values_mut() {
                entries.retain(|_, e| e.expires_at_ms > now_ms);
            }
            actions.retain(|_, entries| !entries.is_empty());
            if actions.len() >= MAX_ACTIONS {
                let soonest = actions
                    .iter()
                    .min_by_key(|(_, entries)| entries.values().map(|e| e.expires_at_ms).max())
                    .map(|(id, _)| id.clone());
                if let Some(id) = soonest {
                    actions.remove(&id);
                }
            }
        }
        let entries = actions.entry(action_id.to_owned()).or_default();
        entries.retain(|_, e| e.expires_at_ms > now_ms);
        for op in ops {
            match op {
                CacheOp::Delete { key } => {
                    entries.remove(&key);
                }
                CacheOp::Set {
                    key,
                    value,
                    expires_at_ms,
                } => {
                    let expires_at_ms = expires_at_ms.min(now_ms.saturating_add(MAX_TTL_MS));
                    if expires_at_ms <= now_ms
                        || key.len() > MAX_KEY_BYTES
                        || value.len() > MAX_VALUE_BYTES
                    {
                        continue;
                    }
                    if !entries.contains_key(&key) && entries.len() >= MAX_ENTRIES_PER_ACTION {
                        let soonest = entries
                            .iter()
                            .min_by_key(|(_, e)| e.expires_at_ms)
                            .map(|(k, _)| k.clone());
                        if let Some(soonest) = soonest {
                            entries.remove(&soonest);
                        }
                    }
                    entries.insert(
                        key,
                        Entry {
                            value,
                            expires_at_ms,
                        },
                    );
                }
            }
        }
        if entries.is_empty() {
            actions.remove(action_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(key: &str, expires_at_ms: u64) -> CacheOp {
        CacheOp::Set {
            key: key.into(),
            value: "v".into(),
            expires_at_ms,
        }
    }

    #[test]
    fn evicts_the_soonest_expiring_entry() {
        let cache = ActionCache::default();
        let now = 1_000;
        let ops = (0..MAX_ENTRIES_PER_ACTION as u64)
            .map(|i| set(&format!("k{i}"), now + 10_000 + i))
            .collect();
        cache.apply("a", ops, now);
        cache.apply("a", vec![set("new", now + 50_000)], now);
        let snap = cache.snapshot("a", now);
        let Value::Object(map) = snap else {
            unreachable!()
        };
        assert_eq!(map.len(), MAX_ENTRIES_PER_ACTION);
        assert!(!map.contains_key("k0"));
        assert!(map.contains_key("new"));
    }

    #[test]
    fn the_number_of_actions_and_the_size_of_values_are_bounded() {
        let cache = ActionCache::default();
        let now = 1_000;
        for i in 0..(MAX_ACTIONS as u64 * 3) {
            cache.apply(&format!("act{i}"), vec![set("k", now + 10_000 + i)], now);
        }
        let held = cache.actions.lock().map_or(0, |a| a.len());
        assert!(held <= MAX_ACTIONS, "{held}");
        // The newest action's entry is there; an oversized value or key is not kept.
        let last = format!("act{}", MAX_ACTIONS as u64 * 3 - 1);
        assert_ne!(cache.snapshot(&last, now), json!({}));
        let big = CacheOp::Set {
            key: "big".into(),
            value: "x".repeat(MAX_VALUE_BYTES + 1),
            expires_at_ms: now + 10_000,
        };
        let long_key = set(&"k".repeat(MAX_KEY_BYTES + 1), now + 10_000);
        cache.apply("sizes", vec![big, long_key], now);
        assert_eq!(cache.snapshot("sizes", now), json!({}));
    }

    #[test]
    fn expired_entries_are_not_returned_and_delete_works() {
        let cache = ActionCache::default();
        cache.apply("a", vec![set("x", 2_000), set("y", 9_000)], 1_000);
        cache.apply("a", vec![CacheOp::Delete { key: "y".into() }], 1_500);
        assert_eq!(cache.snapshot("a", 2_500), json!({}));
        assert_eq!(cache.snapshot("b", 0), json!({}));
    }
}
