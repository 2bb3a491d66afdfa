use crate::domain::{Password, PasswordHash};
use anyhow::{Context, anyhow};
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::Semaphore;

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

/// Hashes and verifies on tokio's blocking pool, never more than `concurrency` at once, so
/// memory stays at `concurrency × memory_kib` however many logins arrive together.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// A hash of a random password with the configured costs: unknown users are "verified"
    /// against it so that their answer takes as long as a known user's.
    decoy: Arc<str>,
}

impl PasswordHasher {
    pub fn new(settings: Argon2Settings, concurrency: usize) -> anyhow::Result<Self> {
        let params = settings.params()?;
        let decoy_password = crate::random::alnum(24).context("decoy password")?;
        let decoy = hash_blocking(&params, &decoy_password).context("decoy hash")?;
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            decoy: Arc::from(decoy.as_str()),
        })
    }

    pub async fn hash(&self, password: &Password) -> anyhow::Result<PasswordHash> {
        let params = self.params.clone();
        let secret = SecretString::from(password.expose());
        self.run(move || hash_blocking(&params, secret.expose_secret()))
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
        self.run(move || Ok(verify_blocking(&params, secret.expose_secret(), &stored)))
            .await
    }

    /// Spends the same work as a real verification, for a user that does not exist.
    pub async fn verify_decoy(&self, password: &Password) -> anyhow::Result<()> {
        let decoy = PasswordHash::new(self.decoy.to_string());
        self.verify(password, &decoy).await.map(|_| ())
    }

    /// Whether `password` matches any of `hashes` (password history), in one blocking task.
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
        self.run(move || {
            Ok(stored
                .iter()
                .any(|h| verify_blocking(&params, secret.expose_secret(), h).matches))
        })
        .await
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .context("hashing pool closed")?;
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let _entered = span.enter();
            work()
        })
        .await
        .context("hashing task failed")?
    }
}

fn hash_blocking(params: &Params, password: &str) -> anyhow::Result<PasswordHash> {
    let mut salt = [0u8; 16];
    crate::random::fill(&mut salt)?;
    let hasher = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let phc = hasher
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map_err(|e| anyhow!("argon2 hashing failed: {e}"))?;
    Ok(PasswordHash::new(phc.to_string()))
}

fn verify_blocking(params: &Params, password: &str, stored: &str) -> Verification {
    if stored.starts_with("$2a$") || stored.starts_with("$2b$") || stored.starts_with("$2y$") {
        let matches = bcrypt::verify(password, stored).unwrap_or(false);
        return Verification {
            matches,
            needs_rehash: true,
        };
    }
    if stored.starts_with("$argon2") {
        // Verification uses the costs written in the stored string.
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), stored)
            .is_ok();
        let wanted = format!(
            "m={},t={},p={}",
            params.m_cost(),
            params.t_cost(),
            params.p_cost()
        );
        let needs_rehash = !stored.starts_with("$argon2id$") || !stored.contains(&wanted);
        return Verification {
            matches,
            needs_rehash,
        };
    }
    Verification {
        matches: false,
        needs_rehash: false,
    }
}

/// Raw argon2id hashing, for the benchmark's physical limit.
pub fn raw_hash_for_benchmark(settings: Argon2Settings, password: &str) -> anyhow::Result<()> {
    hash_blocking(&settings.params()?, password).map(|_| ())
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
}
