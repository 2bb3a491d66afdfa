//! RS256 signing keys, JWKS, and compact JWS signing/verification on aws-lc-rs. Parsed keys are
//! cached in memory: signing a token is one RSA operation plus base64, nothing else.

use crate::store::{KeyStore, SigningKeyRecord};
use crate::time::Timestamp;
use anyhow::{Context, anyhow};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    KeyPair as _, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

struct SigningKey {
    kid: String,
    pair: RsaKeyPair,
    /// The base64url header of an access or ID token signed with this key, encoded once: it
    /// is the same for every token.
    jwt_header: String,
}

struct KeyRing {
    current: Option<Arc<SigningKey>>,
    verifiers: HashMap<String, ParsedPublicKey>,
    jwks: Value,
}

/// Why a presented JWT was not accepted. Deliberately coarse: callers answer "Invalid token".
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("malformed token")]
    Malformed,
    #[error("unsupported algorithm")]
    Algorithm,
    #[error("unknown signing key")]
    UnknownKey,
    #[error("invalid signature")]
    Signature,
}

pub struct Keys {
    store: Arc<dyn KeyStore>,
    ring: RwLock<Arc<KeyRing>>,
    last_reload: std::sync::Mutex<std::time::Instant>,
}

impl Keys {
    pub async fn load(store: Arc<dyn KeyStore>) -> anyhow::Result<Self> {
        let ring = build_ring(&store.list_signing_keys().await?)?;
        Ok(Self {
            store,
            ring: RwLock::new(Arc::new(ring)),
            last_reload: std::sync::Mutex::new(std::time::Instant::now()),
        })
    }

    /// A fresh 2048-bit RSA key, ready to store.
    pub fn generate() -> anyhow::Result<SigningKeyRecord> {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| anyhow!("RSA key generation failed"))?;
        let der = pair
            .as_der()
            .map_err(|_| anyhow!("PKCS#8 encoding failed"))?;
        let (n, e) = components(&pair);
        Ok(SigningKeyRecord {
            kid: thumbprint(&n, &e),
            private_pkcs8: SecretString::from(STANDARD.encode(der.as_ref())),
            created_at: Timestamp::now(),
            current: true,
            revoked: false,
        })
    }

    /// Re-reads the keys from the store (after a rotation on this or another node).
    pub async fn reload(&self) -> anyhow::Result<()> {
        let ring = build_ring(&self.store.list_signing_keys().await?)?;
        if let Ok(mut at) = self.last_reload.lock() {
            *at = std::time::Instant::now();
        }
        if let Ok(mut guard) = self.ring.write() {
            *guard = Arc::new(ring);
        }
        Ok(())
    }

    /// Reloads unless that happened less than `min_interval` ago; returns whether it did.
    /// Called when a token names a key this node has not seen (rotated on another node).
    pub async fn reload_if_older_than(
        &self,
        min_interval: std::time::Duration,
    ) -> anyhow::Result<bool> {
        let stale = self
            .last_reload
            .lock()
            .map_or(true, |at| at.elapsed() >= min_interval);
        if stale {
            self.reload().await?;
        }
        Ok(stale)
    }

    /// Makes a new key current; the previous one stays in the JWKS so live tokens still verify.
    pub async fn rotate(&self) -> anyhow::Result<String> {
        let record = Self::generate()?;
        self.store.rotate_in_signing_key(&record).await?;
        self.reload().await?;
        Ok(record.kid)
    }

    pub async fn revoke(&self, kid: &str) -> anyhow::Result<bool> {
        let done = self.store.revoke_signing_key(kid).await?;
        self.reload().await?;
        Ok(done)
    }

    fn ring(&self) -> Arc<KeyRing> {
        match self.ring.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn jwks(&self) -> Value {
        self.ring().jwks.clone()
    }

    /// Signs `claims` as a compact RS256 JWS with the current key.
    pub fn sign<C: serde::Serialize>(&self, claims: &C) -> anyhow::Result<String> {
        self.sign_typed("JWT", claims)
    }

    /// `sign` with an explicit `typ` header (RFC 8725 §3.11), e.g. `logout+jwt` for OIDC
    /// Back-Channel Logout tokens, so they cannot be mistaken for ID tokens.
    pub fn sign_typed<C: serde::Serialize>(&self, typ: &str, claims: &C) -> anyhow::Result<String> {
        let ring = self.ring();
        let key = ring.current.as_ref().context("no current signing key")?;
        let mut payload = Vec::with_capacity(1024);
        serde_json::to_writer(&mut payload, claims)?;
        let header = if typ == "JWT" {
            std::borrow::Cow::Borrowed(key.jwt_header.as_str())
        } else {
            std::borrow::Cow::Owned(encoded_header(typ, &key.kid)?)
        };
        let modulus_len = key.pair.public_modulus_len();
        // The whole token's length, so it is written without growing (a Management API
        // token's scope makes it several KiB).
        let encoded_len = |n: usize| (n * 4).div_ceil(3);
        let mut out = String::with_capacity(
            header.len() + 1 + encoded_len(payload.len()) + 1 + encoded_len(modulus_len),
        );
        out.push_str(&header);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut out);
        let mut sig = vec![0u8; modulus_len];
        key.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                out.as_bytes(),
                &mut sig,
            )
            .map_err(|_| anyhow!("RSA signing failed"))?;
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(&sig, &mut out);
        Ok(out)
    }

    /// Checks the signature of a compact JWS against our keys and returns its claims. Claim
    /// checks (issuer, audience, expiry) belong to the caller, which knows what it expects.
    pub fn verify(&self, token: &str) -> Result<Map<String, Value>, JwtError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed);
        };
        let header: Map<String, Value> = decode_json(h)?;
        if header.get("alg").and_then(Value::as_str) != Some("RS256") {
            return Err(JwtError::Algorithm);
        }
        let kid = header
            .get("kid")
            .and_then(Value::as_str)
            .ok_or(JwtError::UnknownKey)?;
        let ring = self.ring();
        let key = ring.verifiers.get(kid).ok_or(JwtError::UnknownKey)?;
        let sig = URL_SAFE_NO_PAD.decode(s).map_err(|_| JwtError::Malformed)?;
        let signed_len = h.len() + 1 + p.len();
        key.verify_sig(&token.as_bytes()[..signed_len], &sig)
            .map_err(|_| JwtError::Signature)?;
        decode_json(p)
    }
}

fn decode_json(part: &str) -> Result<Map<String, Value>, JwtError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)
}

fn components(pair: &RsaKeyPair) -> (String, String) {
    let public = pair.public_key();
    let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
    let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
    (n, e)
}

/// A compact JWS header for `typ` and `kid`, base64url-encoded.
fn encoded_header(typ: &str, kid: &str) -> anyhow::Result<String> {
    let header = json!({"alg": "RS256", "typ": typ, "kid": kid});
    Ok(URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?))
}

/// RFC 7638 JWK thumbprint: a stable, collision-free `kid`.
fn thumbprint(n: &str, e: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

fn build_ring(records: &[SigningKeyRecord]) -> anyhow::Result<KeyRing> {
    let mut current = None;
    let mut verifiers = HashMap::new();
    let mut jwks = Vec::new();
    for r in records.iter().filter(|r| !r.revoked) {
        let der = STANDARD
            .decode(r.private_pkcs8.expose_secret())
            .context("signing key is not base64")?;
        let pair =
            RsaKeyPair::from_pkcs8(&der).map_err(|e| anyhow!("signing key rejected: {e}"))?;
        let public_der = pair
            .public_key()
            .as_der()
            .map_err(|_| anyhow!("public key encoding failed"))?;
        let parsed = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public_der.as_ref())
            .map_err(|_| anyhow!("public key parsing failed"))?;
        let (n, e) = components(&pair);
        jwks.push(
            json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": r.kid, "n": n, "e": e}),
        );
        verifiers.insert(r.kid.clone(), parsed);
        if r.current {
            current = Some(Arc::new(SigningKey {
                kid: r.kid.clone(),
                pair,
                jwt_header: encoded_header("JWT", &r.kid)?,
            }));
        }
    }
    Ok(KeyRing {
        current,
        verifiers,
        jwks: json!({ "keys": jwks }),
    })
}

/// Raw RS256 signing of a typical claims set, for the benchmark's physical limit.
pub struct RawSigner(RsaKeyPair);

impl RawSigner {
    pub fn new() -> anyhow::Result<Self> {
        RsaKeyPair::generate(KeySize::Rsa2048)
            .map(Self)
            .map_err(|_| anyhow!("RSA key generation failed"))
    }
    pub fn sign(&self, msg: &[u8]) -> anyhow::Result<usize> {
        let mut sig = vec![0u8; self.0.public_modulus_len()];
        self.0
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), msg, &mut sig)
            .map_err(|_| anyhow!("RSA signing failed"))?;
        Ok(sig.len())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::StoreResult;
    use async_trait::async_trait;
    use std::sync::Mutex;

    #[derive(Default)]
    struct MemKeys(Mutex<Vec<SigningKeyRecord>>);

    #[async_trait]
    impl KeyStore for MemKeys {
        async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
            Ok(self.0.lock().unwrap().clone())
        }
        async fn rotate_in_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<()> {
            let mut keys = self.0.lock().unwrap();
            for k in keys.iter_mut() {
                k.current = false;
            }
            keys.push(key.clone());
            Ok(())
        }
        async fn revoke_signing_key(&self, kid: &str) -> StoreResult<bool> {
            let mut keys = self.0.lock().unwrap();
            let found = keys.iter_mut().find(|k| k.kid == kid);
            Ok(found.map(|k| k.revoked = true).is_some())
        }
    }

    #[tokio::test]
    async fn tokens_verify_across_rotation_until_their_key_is_revoked() {
        let store = Arc::new(MemKeys::default());
        store
            .rotate_in_signing_key(&Keys::generate().unwrap())
            .await
            .unwrap();
        let keys = Keys::load(store.clone()).await.unwrap();
        let first_kid = keys.jwks()["keys"][0]["kid"].as_str().unwrap().to_owned();
        let token = keys.sign(&json!({"sub": "auth0|1"})).unwrap();
        assert_eq!(keys.verify(&token).unwrap()["sub"], "auth0|1");

        let second_kid = keys.rotate().await.unwrap();
        assert_ne!(first_kid, second_kid);
        assert_eq!(keys.jwks()["keys"].as_array().unwrap().len(), 2);
        assert!(
            keys.verify(&token).is_ok(),
            "old tokens stay valid after rotation"
        );

        keys.revoke(&first_kid).await.unwrap();
        assert_eq!(keys.verify(&token), Err(JwtError::UnknownKey));
    }

    #[tokio::test]
    async fn tampered_or_foreign_tokens_are_refused() {
        let store = Arc::new(MemKeys::default());
        store
            .rotate_in_signing_key(&Keys::generate().unwrap())
            .await
            .unwrap();
        let keys = Keys::load(store).await.unwrap();
        let token = keys.sign(&json!({"scope": "read:users"})).unwrap();
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(br#"{"scope":"delete:users"}"#);
        parts[1] = &forged;
        assert_eq!(keys.verify(&parts.join(".")), Err(JwtError::Signature));
        let none_alg = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
            parts[1]
        );
        assert_eq!(keys.verify(&none_alg), Err(JwtError::Algorithm));
        assert_eq!(keys.verify("a.b"), Err(JwtError::Malformed));
    }
}
