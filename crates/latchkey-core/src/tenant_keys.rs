//! The tenant's own MAC keys, created once in the store and shared by every node: CSRF tokens on
//! hosted forms, and the keyed hashes that name rate-limit buckets (so a bucket key reveals no
//! address, and Redis never holds one). Also the AES-256-GCM key that seals Action secrets and
//! custom-database configuration at rest, and state that passes through third parties' pages.

use crate::store::SecretStore;
use aws_lc_rs::{aead, hmac};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub struct TenantKeys {
    csrf: hmac::Key,
    buckets: hmac::Key,
    secrets: aead::LessSafeKey,
}

impl TenantKeys {
    pub async fn load(store: &dyn SecretStore) -> anyhow::Result<Self> {
        let mut keys = Vec::new();
        for name in ["csrf", "rate_buckets", "action_secrets"] {
            let mut candidate = [0u8; 32];
            crate::random::fill(&mut candidate)?;
            let stored = store
                .tenant_secret(name, &URL_SAFE_NO_PAD.encode(candidate))
                .await?;
            keys.push(URL_SAFE_NO_PAD.decode(stored.as_bytes())?);
        }
        let mut take = || keys.pop().ok_or_else(|| anyhow::anyhow!("missing key"));
        let secrets = aead::LessSafeKey::new(
            aead::UnboundKey::new(&aead::AES_256_GCM, &take()?)
                .map_err(|_| anyhow::anyhow!("bad action secrets key"))?,
        );
        let buckets = hmac::Key::new(hmac::HMAC_SHA256, &take()?);
        let csrf = hmac::Key::new(hmac::HMAC_SHA256, &take()?);
        Ok(Self {
            csrf,
            buckets,
            secrets,
        })
    }

    /// A bucket name for these parts (e.g. a normalised email and an IP).
    pub fn bucket(&self, kind: &str, parts: &[&str]) -> String {
        let mut ctx = hmac::Context::with_key(&self.buckets);
        for p in parts {
            ctx.update(p.as_bytes());
            ctx.update(&[0]);
        }
        let tag = ctx.sign();
        format!(
            "{kind}:{}",
            URL_SAFE_NO_PAD.encode(tag.as_ref().get(..18).unwrap_or_default())
        )
    }

    /// The form token for a browser holding cookie `nonce`, valid for one form (`purpose`, e.g.
    /// a ticket digest): a signed double-submit token.
    pub fn csrf_token(&self, nonce: &str, purpose: &str) -> String {
        let tag = hmac::sign(&self.csrf, format!("{nonce}\0{purpose}").as_bytes());
        URL_SAFE_NO_PAD.encode(tag.as_ref())
    }

    /// A proof, valid until `expires_epoch_secs`, that the holder did `what` (e.g. passed the
    /// second factor for one reset ticket): `expiry.tag`.
    pub fn proof(&self, what: &str, expires_epoch_secs: i64) -> String {
        let tag = hmac::sign(
            &self.csrf,
            format!("proof\0{what}\0{expires_epoch_secs}").as_bytes(),
        );
        format!(
            "{expires_epoch_secs}.{}",
            URL_SAFE_NO_PAD.encode(tag.as_ref())
        )
    }

    pub fn proof_valid(&self, what: &str, proof: &str, now_epoch_secs: i64) -> bool {
        let Some((expiry, tag)) = proof.split_once('.') else {
            return false;
        };
        let (Ok(expiry), Ok(tag)) = (
            expiry.parse::<i64>(),
            URL_SAFE_NO_PAD.decode(tag.as_bytes()),
        ) else {
            return false;
        };
        expiry > now_epoch_secs
            && hmac::verify(
                &self.csrf,
                format!("proof\0{what}\0{expiry}").as_bytes(),
                &tag,
            )
            .is_ok()
    }

    pub fn csrf_valid(&self, nonce: &str, purpose: &str, token: &str) -> bool {
        let Ok(tag) = URL_SAFE_NO_PAD.decode(token.as_bytes()) else {
            return false;
        };
        !nonce.is_empty()
            && hmac::verify(&self.csrf, format!("{nonce}\0{purpose}").as_bytes(), &tag).is_ok()
    }

    /// Seals a secret for storage: `nonce.ciphertext` (base64url), bound to `label` (the
    /// action id and secret name), so a sealed value cannot be moved to another secret.
    pub fn seal_secret(&self, label: &str, value: &str) -> anyhow::Result<String> {
        let mut nonce = [0u8; aead::NONCE_LEN];
        crate::random::fill(&mut nonce)?;
        let mut buf = value.as_bytes().to_vec();
        self.secrets
            .seal_in_place_append_tag(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(label.as_bytes()),
                &mut buf,
            )
            .map_err(|_| anyhow::anyhow!("sealing failed"))?;
        Ok(format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(nonce),
            URL_SAFE_NO_PAD.encode(buf)
        ))
    }

    /// The clear value of `seal_secret`'s output, if it was sealed under this key and label.
    pub fn open_secret(&self, label: &str, sealed: &str) -> Option<secrecy::SecretString> {
        let (nonce, body) = sealed.split_once('.')?;
        let nonce: [u8; aead::NONCE_LEN] = URL_SAFE_NO_PAD.decode(nonce).ok()?.try_into().ok()?;
        let mut buf = URL_SAFE_NO_PAD.decode(body).ok()?;
        let clear = self
            .secrets
            .open_in_place(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(label.as_bytes()),
                &mut buf,
            )
            .ok()?;
        String::from_utf8(clear.to_vec())
            .ok()
            .map(secrecy::SecretString::from)
    }
}
