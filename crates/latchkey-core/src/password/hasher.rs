use crate::domain::{Password, PasswordHash};
use anyhow::{Context, anyhow};
use argon2::password_hash::phc::{self, Output, ParamsString, Salt};
use argon2::{ARGON2ID_IDENT, Algorithm, Argon2, Block, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// argon2id cost. The defaults are OWASP's (m = 19 MiB, t = 2, p = 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Argon2Settings {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for Argon2Settings {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl Argon2Settings {
    pub fn params(&self) -> anyhow::Result<Params> {
        Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| anyhow!("invalid argon2 parameters: {e}"))
    }
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    pub matches: bool,
    /// The hash is bcrypt (an Auth0 export) or argon2 with other costs: store a fresh one.
    pub needs_rehash: bool,
}

type Job = Box<dyn FnOnce(&mut Argon2Worker) + Send>;

/// The hashing pool is full: the request is refused at once instead of queueing behind work
/// it could not outwait. Carried through `anyhow` and turned into `ServiceError::Overloaded`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the password hashing pool is at capacity")]
pub struct Overloaded {
    /// When a retry may find room (the `Retry-After` header).
    pub retry_after_secs: u64,
}

/// How much work may wait for a hashing thread. Beyond `max_depth` jobs queued a new job is
/// refused on submission; a job that waited longer than `max_wait` when a thread picks it up
/// is refused instead of computed (its caller has waited too long already). Both bound the
/// latency of the logins that are served and the memory of those that wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    pub max_depth: usize,
    pub max_wait: std::time::Duration,
}

impl Default for QueueLimits {
    fn default() -> Self {
        Self {
            max_depth: 64,
            max_wait: std::time::Duration::from_millis(1000),
        }
    }
}

/// Hashes and verifies on a fixed pool of `concurrency` threads, each owning its argon2 memory.
/// Memory is therefore bounded at `concurrency × memory_kib` however many logins arrive
/// together, and no hash pays for allocating and zeroing its 19 MiB again (measured: the
/// allocation was 5% of a login's CPU, and moving between tokio's blocking threads cost more).
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    jobs: std::sync::mpsc::Sender<Job>,
    /// Jobs submitted and not yet started by a thread.
    waiting: Arc<std::sync::atomic::AtomicUsize>,
    limits: QueueLimits,
    /// A hash of a random password with the configured costs: unknown users are "verified"
    /// against it so that their answer takes as long as a known user's.
    decoy: Arc<str>,
}

impl PasswordHasher {
    pub fn new(settings: Argon2Settings, concurrency: usize) -> anyhow::Result<Self> {
        let params = settings.params()?;
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for i in 0..concurrency.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("latchkey-hash-{i}"))
                .spawn(move || {
                    let mut worker = Argon2Worker::default();
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = match queue.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => break,
                        };
                        match job {
                            Ok(job) => job(&mut worker),
                            // Every hasher handle is gone: the server stopped.
                            Err(_) => break,
                        }
                    }
                })
                .context("starting a hashing thread")?;
        }
        let decoy_password = crate::random::alnum(24).context("decoy password")?;
        let decoy = Argon2Worker::default()
            .hash(&params, &decoy_password)
            .context("decoy hash")?;
        Ok(Self {
            params,
            jobs,
            waiting: Arc::default(),
            limits: QueueLimits::default(),
            decoy: Arc::from(decoy.as_str()),
        })
    }

    /// The same pool with these queue limits.
    #[must_use]
    pub fn with_queue_limits(mut self, limits: QueueLimits) -> Self {
        self.limits = QueueLimits {
            max_depth: limits.max_depth.max(1),
            max_wait: limits.max_wait,
        };
        self
    }

    /// Jobs waiting for a thread now.
    pub fn queued(&self) -> usize {
        self.waiting.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn overloaded(&self) -> Overloaded {
        Overloaded {
            retry_after_secs: self.limits.max_wait.as_secs().max(1),
        }
    }

    pub async fn hash(&self, password: &Password) -> anyhow::Result<PasswordHash> {
        let params = self.params.clone();
        let secret = SecretString::from(password.expose());
        self.run(move |w| w.hash(&params, secret.expose_secret()))
            .await
    }

    pub async fn verify(
        &self,
        password: &Password,
        hash: &PasswordHash,
    ) -> anyhow::Result<Verification> {
        let params = self.params.clone();
        let secret = SecretString::from(password.expose());
        let stored = hash.as_str().to_owned();
        self.run(move |w| Ok(w.verify(&params, secret.expose_secret(), &stored)))
            .await
    }

    /// Spends the same work as a real verification, for a user that does not exist.
    pub async fn verify_decoy(&self, password: &Password) -> anyhow::Result<()> {
        let decoy = PasswordHash::new(self.decoy.to_string());
        self.verify(password, &decoy).await.map(|_| ())
    }

    /// Whether `password` matches any of `hashes` (password history), in one job.
    pub async fn matches_any(
        &self,
        password: &Password,
        hashes: &[PasswordHash],
    ) -> anyhow::Result<bool> {
        if hashes.is_empty() {
            return Ok(false);
        }
        let params = self.params.clone();
        let secret = SecretString::from(password.expose());
        let stored: Vec<String> = hashes.iter().map(|h| h.as_str().to_owned()).collect();
        self.run(move |w| {
            Ok(stored
                .iter()
                .any(|h| w.verify(&params, secret.expose_secret(), h).matches))
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Argon2Worker) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        use std::sync::atomic::Ordering;
        let overloaded = self.overloaded();
        // Reserve a place in the queue, or refuse at once.
        let max_depth = self.limits.max_depth;
        if self
            .waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max_depth).then_some(n + 1)
            })
            .is_err()
        {
            crate::metrics::METRICS.hashing_refused();
            return Err(overloaded.into());
        }
        let (done, result) = tokio::sync::oneshot::channel();
        let span = tracing::Span::current();
        let waiting = self.waiting.clone();
        let max_wait = self.limits.max_wait;
        let queued_at = std::time::Instant::now();
        let sent = self.jobs.send(Box::new(move |worker| {
            waiting.fetch_sub(1, Ordering::AcqRel);
            // Nobody waits for the answer any more, or waited too long: skip the work.
            if done.is_closed() {
                return;
            }
            let waited = queued_at.elapsed();
            if waited > max_wait {
                crate::metrics::METRICS.hashing_refused();
                let _ = done.send(Err(overloaded.into()));
                return;
            }
            crate::metrics::METRICS.hashing_waited(waited);
            let _entered = span.enter();
            let _ = done.send(work(worker));
        }));
        if sent.is_err() {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(anyhow!("the hashing pool has stopped"));
        }
        result.await.context("hashing job dropped")?
    }
}

/// One hashing thread's state: argon2 memory that is allocated once and reused.
#[derive(Default)]
struct Argon2Worker {
    memory: Vec<Block>,
}

impl Argon2Worker {
    fn blocks(&mut self, params: &Params) -> &mut [Block] {
        let n = params.block_count();
        if self.memory.len() < n {
            self.memory.resize(n, Block::default());
        }
        &mut self.memory[..n]
    }

    /// A fresh argon2id PHC string for `password`.
    fn hash(&mut self, params: &Params, password: &str) -> anyhow::Result<PasswordHash> {
        let mut salt = [0u8; 16];
        crate::random::fill(&mut salt)?;
        let mut out = [0u8; 32];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
            .hash_password_into_with_memory(
                password.as_bytes(),
                &salt,
                &mut out,
                self.blocks(params),
            )
            .map_err(|e| anyhow!("argon2 hashing failed: {e}"))?;
        let phc = phc::PasswordHash {
            algorithm: ARGON2ID_IDENT,
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(params)
                .map_err(|e| anyhow!("argon2 parameters: {e}"))?,
            salt: Some(Salt::new(&salt).map_err(|e| anyhow!("salt: {e}"))?),
            hash: Some(Output::new(&out).map_err(|e| anyhow!("output: {e}"))?),
        };
        Ok(PasswordHash::new(phc.to_string()))
    }

    fn verify(&mut self, params: &Params, password: &str, stored: &str) -> Verification {
        // Imported with another system's algorithm (`custom_password_hash`): always replaced.
        if let Some(imported) = super::ImportedHash::from_stored(stored) {
            return Verification {
                matches: imported.matches(password),
                needs_rehash: true,
            };
        }
        if stored.starts_with("$2a$") || stored.starts_with("$2b$") || stored.starts_with("$2y$") {
            let matches = bcrypt::verify(password, stored).unwrap_or(false);
            return Verification {
                matches,
                needs_rehash: true,
            };
        }
        let no = Verification {
            matches: false,
            needs_rehash: false,
        };
        let Ok(phc) = phc::PasswordHash::new(stored) else {
            return no;
        };
        let (Ok(algorithm), Ok(stored_params)) = (
            Algorithm::try_from(phc.algorithm.as_str()),
            Params::try_from(&phc),
        ) else {
            return no;
        };
        let version = phc
            .version
            .and_then(|v| Version::try_from(v).ok())
            .unwrap_or(Version::V0x13);
        let (Some(salt), Some(expected)) = (&phc.salt, &phc.hash) else {
            return no;
        };
        let mut out = vec![0u8; expected.len()];
        // Verification uses the costs written in the stored string.
        let computed = Argon2::new(algorithm, version, stored_params.clone())
            .hash_password_into_with_memory(
                password.as_bytes(),
                salt,
                &mut out,
                self.blocks(&stored_params),
            );
        let matches = computed.is_ok() && bool::from(out.as_slice().ct_eq(expected.as_bytes()));
        let needs_rehash = algorithm != Algorithm::Argon2id
            || stored_params.m_cost() != params.m_cost()
            || stored_params.t_cost() != params.t_cost()
            || stored_params.p_cost() != params.p_cost();
        Verification {
            matches,
            needs_rehash,
        }
    }
}

/// Raw argon2id hashing with the pool's own code, for the benchmark's physical limit.
pub fn raw_hash_for_benchmark(settings: Argon2Settings, password: &str) -> anyhow::Result<()> {
    thread_local!(static WORKER: std::cell::RefCell<Argon2Worker> = std::cell::RefCell::new(Argon2Worker::default()));
    let params = settings.params()?;
    WORKER.with_borrow_mut(|w| w.hash(&params, password).map(drop))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn cheap() -> PasswordHasher {
        PasswordHasher::new(
            Argon2Settings {
                memory_kib: 64,
                iterations: 1,
                parallelism: 1,
            },
            2,
        )
        .unwrap()
    }

    #[tokio::test]
    async fn argon2id_hashes_verify_and_are_phc_strings() {
        let h = cheap();
        let pw = Password::parse("correct horse".into()).unwrap();
        let hash = h.hash(&pw).await.unwrap();
        assert!(hash.as_str().starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        let v = h.verify(&pw, &hash).await.unwrap();
        assert!(v.matches && !v.needs_rehash);
        let wrong = Password::parse("wrong horse".into()).unwrap();
        assert!(!h.verify(&wrong, &hash).await.unwrap().matches);
    }

    #[tokio::test]
    async fn our_phc_strings_interoperate_with_the_reference_implementation() {
        use argon2::{PasswordHasher as _, PasswordVerifier as _};
        let h = cheap();
        let pw = Password::parse("interop-Pass1".into()).unwrap();
        let ours = h.hash(&pw).await.unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"interop-Pass1", ours.as_str())
                .is_ok()
        );
        assert!(
            Argon2::default()
                .verify_password(b"other", ours.as_str())
                .is_err()
        );
        // A hash made elsewhere (argon2i, other costs) verifies here and asks for an upgrade.
        let theirs = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x13,
            Params::new(128, 2, 1, None).unwrap(),
        )
        .hash_password_with_salt(b"interop-Pass1", b"0123456789abcdef")
        .unwrap()
        .to_string();
        let v = h.verify(&pw, &PasswordHash::new(theirs)).await.unwrap();
        assert!(v.matches && v.needs_rehash);
        let garbage = h
            .verify(&pw, &PasswordHash::new("$argon2id$nonsense".into()))
            .await
            .unwrap();
        assert!(!garbage.matches);
    }

    #[tokio::test]
    async fn bcrypt_imports_verify_and_ask_for_a_rehash() {
        let h = cheap();
        let imported = PasswordHash::new(bcrypt::hash("legacy-Pass1", 4).unwrap());
        let v = h
            .verify(&Password::parse("legacy-Pass1".into()).unwrap(), &imported)
            .await
            .unwrap();
        assert!(v.matches && v.needs_rehash);
    }

    #[tokio::test]
    async fn hashes_with_other_costs_ask_for_a_rehash() {
        let pw = Password::parse("pw".into()).unwrap();
        let old = cheap().hash(&pw).await.unwrap();
        let stronger = PasswordHasher::new(
            Argon2Settings {
                memory_kib: 128,
                iterations: 1,
                parallelism: 1,
            },
            1,
        )
        .unwrap();
        let v = stronger.verify(&pw, &old).await.unwrap();
        assert!(v.matches && v.needs_rehash);
    }

    /// `n` hashes submitted together; their results.
    async fn hash_together(
        hasher: &PasswordHasher,
        password: &Password,
        n: usize,
    ) -> Vec<anyhow::Result<PasswordHash>> {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..n {
            let h = hasher.clone();
            let p = Password::parse(password.expose().to_owned()).unwrap();
            set.spawn(async move { h.hash(&p).await });
        }
        set.join_all().await
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_and_frees_its_places() {
        let hasher = PasswordHasher::new(
            Argon2Settings {
                memory_kib: 16_384,
                iterations: 2,
                parallelism: 1,
            },
            1,
        )
        .unwrap()
        .with_queue_limits(QueueLimits {
            max_depth: 2,
            max_wait: std::time::Duration::from_secs(30),
        });
        let password = Password::parse("Correct-Horse-1".into()).unwrap();
        let results = hash_together(&hasher, &password, 12).await;
        let refused = results
            .iter()
            .filter(|r| {
                r.as_ref()
                    .err()
                    .and_then(|e| e.downcast_ref::<Overloaded>())
                    .is_some()
            })
            .count();
        assert!(refused >= 9, "{refused} refused");
        assert!(results.iter().any(Result::is_ok));
        assert_eq!(hasher.queued(), 0);
        // The places are free again.
        assert!(hasher.hash(&password).await.is_ok());
    }

    #[tokio::test]
    async fn a_job_that_waited_too_long_is_refused_not_computed() {
        let hasher = PasswordHasher::new(
            Argon2Settings {
                memory_kib: 16_384,
                iterations: 3,
                parallelism: 1,
            },
            1,
        )
        .unwrap()
        .with_queue_limits(QueueLimits {
            max_depth: 100,
            max_wait: std::time::Duration::from_millis(1),
        });
        let password = Password::parse("Correct-Horse-1".into()).unwrap();
        let results = hash_together(&hasher, &password, 6).await;
        assert!(
            results
                .iter()
                .any(|r| r.as_ref().is_err_and(|e| e.is::<Overloaded>()))
        );
    }
}
