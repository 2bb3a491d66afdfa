//! One async lock per key (a user id), so that writes to one user on this node happen one
//! after the other, in the order they arrived (tokio's mutex is fair). Entries live only while
//! someone holds or waits for them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use tokio::sync::OwnedMutexGuard;

#[derive(Default)]
pub(crate) struct KeyedLocks {
    locks: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
}

/// A held turn; `waited` says whether another holder went first (what it read may be stale).
pub(crate) struct Turn {
    _guard: OwnedMutexGuard<()>,
    pub(crate) waited: bool,
}

impl KeyedLocks {
    pub(crate) async fn lock(&self, key: &str) -> Turn {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
            if locks.len() >= 1024 {
                locks.retain(|_, l| l.strong_count() > 0);
            }
            match locks.get(key).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    locks.insert(key.to_owned(), Arc::downgrade(&lock));
                    lock
                }
            }
        };
        match lock.clone().try_lock_owned() {
            Ok(guard) => Turn {
                _guard: guard,
                waited: false,
            },
            Err(_) => Turn {
                _guard: lock.lock_owned().await,
                waited: true,
            },
        }
    }

    #[cfg(test)]
    fn entries(&self) -> usize {
        self.locks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .filter(|l| l.strong_count() > 0)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn one_key_one_holder_at_a_time_in_arrival_order() {
        let locks = Arc::new(KeyedLocks::default());
        let order = Arc::new(Mutex::new(Vec::new()));
        let first = locks.lock("u").await;
        assert!(!first.waited);
        let mut tasks = Vec::new();
        for i in 0..5 {
            let (locks, order) = (locks.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let turn = locks.lock("u").await;
                order.lock().unwrap_or_else(PoisonError::into_inner).push(i);
                assert!(turn.waited);
            }));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Another key is not held up.
        assert!(!locks.lock("v").await.waited);
        drop(first);
        for t in tasks {
            assert!(t.await.is_ok());
        }
        assert_eq!(
            *order.lock().unwrap_or_else(PoisonError::into_inner),
            vec![0, 1, 2, 3, 4]
        );
        assert_eq!(locks.entries(), 0, "no entry outlives its holders");
    }
}
