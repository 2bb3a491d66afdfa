//! Password hashes brought by a bulk import (Auth0's `custom_password_hash`): parsed once into
//! a typed `ImportedHash`, stored in the user's `password_hash` column, verified on the hashing
//! pool at login and replaced by argon2id on the first success.
//!
//! bcrypt and argon2 values are stored as given (the hasher already recognises them); every
//! other algorithm is stored as `$lk-import$` followed by this type's JSON, with its bytes in
//! hex, so verification never has to re-read the administrator's encodings.

use crate::domain::PasswordHash;
use crate::random::lower_hex as hex;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use subtle::ConstantTimeEq;

/// The stored prefix of hashes that only an import produces.
const STORED_PREFIX: &str = "$lk-import$";

/// The digests Auth0 lets a `custom_password_hash` name (ripemd160 and whirlpool are refused:
/// nothing here computes them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HashDigest {
    Md4,
    Md5,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

impl HashDigest {
    fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "md4" => Self::Md4,
            "md5" => Self::Md5,
            "sha1" => Self::Sha1,
            "sha224" => Self::Sha224,
            "sha256" => Self::Sha256,
            "sha384" => Self::Sha384,
            "sha512" => Self::Sha512,
            "ripemd160" | "whirlpool" => {
                return Err(format!("the {s} digest is not supported by Latchkey"));
            }
            other => return Err(format!("unknown digest {other}")),
        })
    }

    fn block_len(self) -> usize {
        match self {
            Self::Sha384 | Self::Sha512 => 128,
            _ => 64,
        }
    }

    /// The digest of the concatenation of `parts`.
    fn hash(self, parts: &[&[u8]]) -> Vec<u8> {
        use md4::Digest as _;
        let aws = |alg: &'static aws_lc_rs::digest::Algorithm| {
            let mut ctx = aws_lc_rs::digest::Context::new(alg);
            for p in parts {
                ctx.update(p);
            }
            ctx.finish().as_ref().to_vec()
        };
        match self {
            Self::Md4 => {
                let mut h = md4::Md4::new();
                for p in parts {
                    h.update(p);
                }
                h.finalize().to_vec()
            }
            Self::Md5 => {
                let mut h = md5::Md5::new();
                for p in parts {
                    h.update(p);
                }
                h.finalize().to_vec()
            }
            Self::Sha1 => aws(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY),
            Self::Sha224 => aws(&aws_lc_rs::digest::SHA224),
            Self::Sha256 => aws(&aws_lc_rs::digest::SHA256),
            Self::Sha384 => aws(&aws_lc_rs::digest::SHA384),
            Self::Sha512 => aws(&aws_lc_rs::digest::SHA512),
        }
    }

    /// HMAC (RFC 2104) over any of these digests, md4 and md5 included.
    fn hmac(self, key: &[u8], message: &[u8]) -> Vec<u8> {
        let block = self.block_len();
        let mut k = if key.len() > block {
            self.hash(&[key])
        } else {
            key.to_vec()
        };
        k.resize(block, 0);
        let inner_pad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
        let outer_pad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
        let inner = self.hash(&[&inner_pad, message]);
        self.hash(&[&outer_pad, &inner])
    }

    /// PBKDF2 (RFC 8018) with HMAC over this digest; aws-lc-rs' when it has the digest.
    fn pbkdf2_matches(
        self,
        iterations: u32,
        salt: &[u8],
        password: &[u8],
        expected: &[u8],
    ) -> bool {
        use aws_lc_rs::pbkdf2;
        let Some(rounds) = std::num::NonZeroU32::new(iterations) else {
            return false;
        };
        let alg = match self {
            Self::Sha1 => Some(pbkdf2::PBKDF2_HMAC_SHA1),
            Self::Sha256 => Some(pbkdf2::PBKDF2_HMAC_SHA256),
            Self::Sha384 => Some(pbkdf2::PBKDF2_HMAC_SHA384),
            Self::Sha512 => Some(pbkdf2::PBKDF2_HMAC_SHA512),
            _ => None,
        };
        if let Some(alg) = alg {
            return pbkdf2::verify(alg, rounds, salt, password, expected).is_ok();
        }
        let mut out = Vec::with_capacity(expected.len());
        let mut block_index: u32 = 1;
        while out.len() < expected.len() {
            let mut first = salt.to_vec();
            first.extend_from_slice(&block_index.to_be_bytes());
            let mut u = self.hmac(password, &first);
            let mut t = u.clone();
            for _ in 1..iterations {
                u = self.hmac(password, &u);
                t.iter_mut().zip(&u).for_each(|(a, b)| *a ^= b);
            }
            out.extend_from_slice(&t);
            block_index = block_index.saturating_add(1);
        }
        out.truncate(expected.len());
        bool::from(out.as_slice().ct_eq(expected))
    }
}

/// Where the salt goes around the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SaltPosition {
    Prefix,
    Suffix,
}

/// How the password's characters became the bytes that were hashed (Node's buffer encodings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PasswordEncoding {
    #[default]
    Utf8,
    /// `ascii`, `latin1` and `binary`: each character's low byte.
    Latin1,
    /// `utf16le` and `ucs2`.
    Utf16le,
}

impl PasswordEncoding {
    fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "utf8" | "utf-8" => Self::Utf8,
            "ascii" | "latin1" | "binary" => Self::Latin1,
            "utf16le" | "ucs2" => Self::Utf16le,
            other => return Err(format!("unknown password encoding {other}")),
        })
    }

    fn bytes(self, password: &str) -> Vec<u8> {
        match self {
            Self::Utf8 => password.as_bytes().to_vec(),
            Self::Latin1 => password
                .encode_utf16()
                .map(|u| u.to_le_bytes()[0])
                .collect(),
            Self::Utf16le => password.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        }
    }
}

/// A salt and where it goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Salt {
    #[serde(with = "hex_bytes")]
    pub value: Vec<u8>,
    pub position: SaltPosition,
}

/// A password hash made by another system, as an import brings it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "algorithm", rename_all = "lowercase")]
pub enum ImportedHash {
    /// `$2a$`/`$2b$`/`$2y$`, stored as given.
    Bcrypt { value: String },
    /// A PHC string (`$argon2id$…`, `$argon2i$…`, `$argon2d$…`), stored as given.
    Argon2 { value: String },
    /// `$pbkdf2-<digest>$i=<iterations>,l=<length>$<salt>$<hash>` (PHC, B64).
    Pbkdf2 {
        digest: HashDigest,
        iterations: u32,
        #[serde(with = "hex_bytes")]
        salt: Vec<u8>,
        #[serde(with = "hex_bytes")]
        hash: Vec<u8>,
    },
    /// One round of md4, md5, sha1, sha256 or sha512 over the password and an optional salt.
    Digest {
        digest: HashDigest,
        #[serde(with = "hex_bytes")]
        hash: Vec<u8>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        salt: Option<Salt>,
        #[serde(default)]
        password_encoding: PasswordEncoding,
    },
    /// HMAC with the administrator's key over the (salted) password.
    Hmac {
        digest: HashDigest,
        #[serde(with = "hex_bytes")]
        key: Vec<u8>,
        #[serde(with = "hex_bytes")]
        hash: Vec<u8>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        salt: Option<Salt>,
        #[serde(default)]
        password_encoding: PasswordEncoding,
    },
    /// RFC 2307 (`{SHA}`, `{SSHA}`, `{MD5}`, `{SMD5}`, `{SSHA256}`, `{SSHA512}`, …): the digest
    /// of password then salt, followed by the salt, in base64.
    Ldap {
        digest: HashDigest,
        #[serde(with = "hex_bytes")]
        hash: Vec<u8>,
        #[serde(with = "hex_bytes")]
        salt: Vec<u8>,
    },
}

impl std::fmt::Debug for ImportedHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ImportedHash([REDACTED])")
    }
}

/// Decodes a value in one of Auth0's encodings (`base64`, `hex`, `utf8`).
fn decode(value: &str, encoding: &str) -> Result<Vec<u8>, String> {
    match encoding {
        "utf8" | "utf-8" => Ok(value.as_bytes().to_vec()),
        "hex" => hex_bytes::decode(value).ok_or_else(|| "is not valid hex".to_owned()),
        "base64" => base64::engine::general_purpose::STANDARD
            .decode(value)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(value))
            .map_err(|_| "is not valid base64".to_owned()),
        other => Err(format!("unknown encoding {other}")),
    }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

impl ImportedHash {
    /// Reads Auth0's `custom_password_hash` object. The error says what is wrong, for the
    /// import's error report.
    pub fn from_auth0(v: &Value) -> Result<Self, String> {
        let algorithm = str_at(v, &["algorithm"]).ok_or("algorithm is required")?;
        let value = str_at(v, &["hash", "value"]).ok_or("hash.value is required")?;
        let encoding = str_at(v, &["hash", "encoding"]);
        let password_encoding = match str_at(v, &["password", "encoding"]) {
            Some(e) => PasswordEncoding::parse(e)?,
            None => PasswordEncoding::Utf8,
        };
        let salt = match v.get("salt").filter(|s| !s.is_null()) {
            None => None,
            Some(s) => {
                let raw = str_at(s, &["value"]).ok_or("salt.value is required")?;
                let value = decode(raw, str_at(s, &["encoding"]).unwrap_or("utf8"))
                    .map_err(|e| format!("salt.value {e}"))?;
                let position = match str_at(s, &["position"]).unwrap_or("prefix") {
                    "prefix" => SaltPosition::Prefix,
                    "suffix" => SaltPosition::Suffix,
                    other => return Err(format!("unknown salt.position {other}")),
                };
                Some(Salt { value, position })
            }
        };
        let hash_bytes = |default: &str| {
            decode(value, encoding.unwrap_or(default)).map_err(|e| format!("hash.value {e}"))
        };
        let parsed = match algorithm {
            "bcrypt" => Self::Bcrypt {
                value: value.to_owned(),
            },
            "argon2" => Self::Argon2 {
                value: value.to_owned(),
            },
            "pbkdf2" => Self::parse_pbkdf2(value)?,
            "ldap" => Self::parse_ldap(value)?,
            "md4" | "md5" | "sha1" | "sha256" | "sha512" => Self::Digest {
                digest: HashDigest::parse(algorithm)?,
                hash: hash_bytes("hex")?,
                salt,
                password_encoding,
            },
            "hmac" => {
                let digest = HashDigest::parse(
                    str_at(v, &["hash", "digest"]).ok_or("hash.digest is required for hmac")?,
                )?;
                let key = str_at(v, &["hash", "key", "value"])
                    .ok_or("hash.key.value is required for hmac")?;
                let key = decode(
                    key,
                    str_at(v, &["hash", "key", "encoding"]).unwrap_or("utf8"),
                )
                .map_err(|e| format!("hash.key.value {e}"))?;
                Self::Hmac {
                    digest,
                    key,
                    hash: hash_bytes("hex")?,
                    salt,
                    password_encoding,
                }
            }
            other => return Err(format!("unknown algorithm {other}")),
        };
        parsed.check()?;
        Ok(parsed)
    }

    /// Refuses values the verifier could never match (a malformed bcrypt or PHC string).
    fn check(&self) -> Result<(), String> {
        match self {
            Self::Bcrypt { value } => {
                let ok = ["$2a$", "$2b$", "$2y$"]
                    .iter()
                    .any(|p| value.starts_with(p))
                    && value.parse::<bcrypt::HashParts>().is_ok();
                ok.then_some(())
                    .ok_or_else(|| "hash.value is not a bcrypt hash".into())
            }
            Self::Argon2 { value } => {
                let ok = argon2::password_hash::phc::PasswordHash::new(value)
                    .ok()
                    .is_some_and(|p| p.algorithm.as_str().starts_with("argon2"));
                ok.then_some(())
                    .ok_or_else(|| "hash.value is not an argon2 PHC string".into())
            }
            Self::Digest { hash, .. } | Self::Hmac { hash, .. } | Self::Ldap { hash, .. }
                if hash.is_empty() =>
            {
                Err("hash.value is empty".into())
            }
            _ => Ok(()),
        }
    }

    fn parse_pbkdf2(value: &str) -> Result<Self, String> {
        let bad = || "hash.value must be $pbkdf2-<digest>$i=<iterations>,l=<length>$<salt>$<hash>";
        let mut parts = value.split('$');
        let (Some(""), Some(id), Some(params), Some(salt), Some(hash), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(bad().into());
        };
        let digest = HashDigest::parse(id.strip_prefix("pbkdf2-").ok_or_else(bad)?)?;
        let mut iterations = None;
        for kv in params.split(',') {
            match kv.split_once('=') {
                Some(("i", n)) => iterations = n.parse::<u32>().ok(),
                Some(("l", _)) => {}
                _ => return Err(bad().into()),
            }
        }
        let iterations = iterations.filter(|n| *n > 0).ok_or_else(bad)?;
        // PHC's B64 is standard base64 without padding; some writers pad anyway.
        let b64 = |s: &str| {
            base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(s.trim_end_matches('='))
                .map_err(|_| bad().to_owned())
        };
        let (salt, hash) = (b64(salt)?, b64(hash)?);
        if hash.is_empty() {
            return Err(bad().into());
        }
        Ok(Self::Pbkdf2 {
            digest,
            iterations,
            salt,
            hash,
        })
    }

    fn parse_ldap(value: &str) -> Result<Self, String> {
        let bad = || "hash.value must be an RFC 2307 value such as {SSHA}base64".to_owned();
        let rest = value.strip_prefix('{').ok_or_else(bad)?;
        let (scheme, encoded) = rest.split_once('}').ok_or_else(bad)?;
        let scheme = scheme.to_ascii_uppercase();
        let (digest, salted) = match scheme.as_str() {
            "MD5" => (HashDigest::Md5, false),
            "SMD5" => (HashDigest::Md5, true),
            "SHA" | "SHA1" => (HashDigest::Sha1, false),
            "SSHA" | "SSHA1" => (HashDigest::Sha1, true),
            "SHA256" => (HashDigest::Sha256, false),
            "SSHA256" => (HashDigest::Sha256, true),
            "SHA384" => (HashDigest::Sha384, false),
            "SSHA384" => (HashDigest::Sha384, true),
            "SHA512" => (HashDigest::Sha512, false),
            "SSHA512" => (HashDigest::Sha512, true),
            other => return Err(format!("the LDAP scheme {{{other}}} is not supported")),
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| bad())?;
        let len = digest.hash(&[b""]).len();
        if bytes.len() < len || (!salted && bytes.len() != len) {
            return Err(bad());
        }
        let (hash, salt) = bytes.split_at(len);
        Ok(Self::Ldap {
            digest,
            hash: hash.to_vec(),
            salt: salt.to_vec(),
        })
    }

    /// The value for the user's `password_hash` column.
    pub fn to_stored(&self) -> PasswordHash {
        match self {
            Self::Bcrypt { value } | Self::Argon2 { value } => PasswordHash::new(value.clone()),
            other => PasswordHash::new(format!(
                "{STORED_PREFIX}{}",
                serde_json::to_string(other).unwrap_or_default()
            )),
        }
    }

    /// An imported hash stored by `to_stored` (bcrypt and argon2 are not: the hasher reads
    /// them directly).
    pub fn from_stored(stored: &str) -> Option<Self> {
        serde_json::from_str(stored.strip_prefix(STORED_PREFIX)?).ok()
    }

    /// Whether `password` is the one this hash was made from. Runs on the hashing pool.
    pub fn matches(&self, password: &str) -> bool {
        let salted = |salt: &Option<Salt>, encoding: PasswordEncoding| {
            let pw = encoding.bytes(password);
            match salt {
                None => pw,
                Some(Salt {
                    value,
                    position: SaltPosition::Prefix,
                }) => [value.as_slice(), &pw].concat(),
                Some(Salt {
                    value,
                    position: SaltPosition::Suffix,
                }) => [pw.as_slice(), value].concat(),
            }
        };
        match self {
            Self::Bcrypt { value } => bcrypt::verify(password, value).unwrap_or(false),
            Self::Argon2 { value } => {
                use argon2::PasswordVerifier as _;
                argon2::Argon2::default()
                    .verify_password(password.as_bytes(), value.as_str())
                    .is_ok()
            }
            Self::Pbkdf2 {
                digest,
                iterations,
                salt,
                hash,
            } => digest.pbkdf2_matches(*iterations, salt, password.as_bytes(), hash),
            Self::Digest {
                digest,
                hash,
                salt,
                password_encoding,
            } => {
                let computed = digest.hash(&[&salted(salt, *password_encoding)]);
                bool::from(computed.as_slice().ct_eq(hash))
            }
            Self::Hmac {
                digest,
                key,
                hash,
                salt,
                password_encoding,
            } => {
                let computed = digest.hmac(key, &salted(salt, *password_encoding));
                bool::from(computed.as_slice().ct_eq(hash))
            }
            Self::Ldap { digest, hash, salt } => {
                let computed = digest.hash(&[password.as_bytes(), salt]);
                bool::from(computed.as_slice().ct_eq(hash))
            }
        }
    }
}

/// A serde-named value's name (`sha256`, `prefix`, `utf16le`).
fn serde_name<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

impl ImportedHash {
    /// Auth0's `custom_password_hash` object for this hash: what `from_auth0` reads back to
    /// the same value (the CLI's export with secrets writes it).
    pub fn to_auth0(&self) -> Value {
        let salt_json = |salt: &Option<Salt>| {
            salt.as_ref().map(|s| {
                serde_json::json!({"value": hex(&s.value), "encoding": "hex",
                                   "position": serde_name(&s.position)})
            })
        };
        let mut v = match self {
            Self::Bcrypt { value } => {
                serde_json::json!({"algorithm": "bcrypt", "hash": {"value": value}})
            }
            Self::Argon2 { value } => {
                serde_json::json!({"algorithm": "argon2", "hash": {"value": value}})
            }
            Self::Pbkdf2 {
                digest,
                iterations,
                salt,
                hash,
            } => {
                let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD_NO_PAD.encode(b);
                let name = serde_name(digest);
                let value = format!(
                    "$pbkdf2-{}$i={iterations},l={}${}${}",
                    name.as_str().unwrap_or_default(),
                    hash.len(),
                    b64(salt),
                    b64(hash)
                );
                serde_json::json!({"algorithm": "pbkdf2", "hash": {"value": value}})
            }
            Self::Digest {
                digest,
                hash,
                salt,
                password_encoding,
            } => serde_json::json!({
                "algorithm": serde_name(digest),
                "hash": {"value": hex(hash), "encoding": "hex"},
                "salt": salt_json(salt),
                "password": {"encoding": serde_name(password_encoding)},
            }),
            Self::Hmac {
                digest,
                key,
                hash,
                salt,
                password_encoding,
            } => serde_json::json!({
                "algorithm": "hmac",
                "hash": {"value": hex(hash), "encoding": "hex", "digest": serde_name(digest),
                         "key": {"value": hex(key), "encoding": "hex"}},
                "salt": salt_json(salt),
                "password": {"encoding": serde_name(password_encoding)},
            }),
            Self::Ldap { digest, hash, salt } => {
                let base = match digest {
                    HashDigest::Md5 => "MD5",
                    HashDigest::Sha1 => "SHA",
                    HashDigest::Sha256 => "SHA256",
                    HashDigest::Sha384 => "SHA384",
                    HashDigest::Sha512 => "SHA512",
                    // parse_ldap makes no other digest.
                    HashDigest::Md4 | HashDigest::Sha224 => "SHA",
                };
                let scheme = if salt.is_empty() {
                    base.to_owned()
                } else {
                    format!("S{base}")
                };
                let mut bytes = hash.clone();
                bytes.extend_from_slice(salt);
                let value = format!(
                    "{{{scheme}}}{}",
                    base64::engine::general_purpose::STANDARD.encode(bytes)
                );
                serde_json::json!({"algorithm": "ldap", "hash": {"value": value}})
            }
        };
        if let Some(m) = v.as_object_mut() {
            m.retain(|_, value| !value.is_null());
        }
        v
    }
}

/// Bytes as lower-case hex in the stored JSON.
mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::random::lower_hex(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        decode(&s).ok_or_else(|| serde::de::Error::custom("invalid hex"))
    }

    pub fn decode(s: &str) -> Option<Vec<u8>> {
        if !s.len().is_multiple_of(2) {
            return None;
        }
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn to_auth0_reads_back_to_the_same_hash() {
        for v in [
            json!({"algorithm": "md5", "hash": {"value": "5f4dcc3b5aa765d61d8327deb882cf99", "encoding": "hex"}}),
            json!({"algorithm": "sha256", "hash": {"value": "abcd", "encoding": "hex"},
                   "salt": {"value": "pepper", "position": "suffix"},
                   "password": {"encoding": "utf16le"}}),
            json!({"algorithm": "hmac", "hash": {"value": "q83v", "encoding": "base64",
                   "digest": "sha1", "key": {"value": "secret"}}, "salt": {"value": "s"}}),
            json!({"algorithm": "pbkdf2", "hash": {"value": "$pbkdf2-sha512$i=1000,l=4$c2FsdA$q83vEg"}}),
            json!({"algorithm": "ldap", "hash": {"value": "{SSHA}qUqP5cyxm6YcTAhz05Hph5gvu9NzYWx0"}}),
            json!({"algorithm": "ldap", "hash": {"value": "{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M="}}),
        ] {
            let parsed = ImportedHash::from_auth0(&v).unwrap();
            let again = ImportedHash::from_auth0(&parsed.to_auth0()).unwrap();
            assert!(parsed == again, "{v}");
        }
    }

    fn round_trip(v: Value) -> ImportedHash {
        let parsed = ImportedHash::from_auth0(&v).unwrap();
        let stored = parsed.to_stored();
        match &parsed {
            ImportedHash::Bcrypt { .. } | ImportedHash::Argon2 { .. } => parsed,
            _ => ImportedHash::from_stored(stored.as_str()).unwrap(),
        }
    }

    #[test]
    fn salted_digests_verify_with_prefix_and_suffix() {
        let pw = "Legacy-Pass1";
        for (alg, digest) in [
            ("md4", HashDigest::Md4),
            ("md5", HashDigest::Md5),
            ("sha1", HashDigest::Sha1),
            ("sha256", HashDigest::Sha256),
            ("sha512", HashDigest::Sha512),
        ] {
            let h = digest.hash(&[b"salty", pw.as_bytes()]);
            let parsed = round_trip(json!({
                "algorithm": alg,
                "hash": {"value": hex(&h), "encoding": "hex"},
                "salt": {"value": "salty", "position": "prefix"}
            }));
            assert!(parsed.matches(pw), "{alg}");
            assert!(!parsed.matches("other"), "{alg}");
            let h = digest.hash(&[pw.as_bytes(), b"salty"]);
            let b64 = base64::engine::general_purpose::STANDARD.encode(&h);
            let parsed = round_trip(json!({
                "algorithm": alg,
                "hash": {"value": b64, "encoding": "base64"},
                "salt": {"value": "salty", "position": "suffix"}
            }));
            assert!(parsed.matches(pw), "{alg} suffix");
        }
    }

    #[test]
    fn hmac_matches_known_answer() {
        // RFC 4231 test case 2.
        let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        let parsed = round_trip(json!({
            "algorithm": "hmac",
            "hash": {"value": expected, "encoding": "hex", "digest": "sha256",
                     "key": {"value": "Jefe", "encoding": "utf8"}}
        }));
        assert!(parsed.matches("what do ya want for nothing?"));
        // RFC 2202 (HMAC-MD5) test case 2.
        let parsed = round_trip(json!({
            "algorithm": "hmac",
            "hash": {"value": "750c783e6ab0b503eaa86e310a5db738", "digest": "md5",
                     "key": {"value": "4a656665", "encoding": "hex"}}
        }));
        assert!(parsed.matches("what do ya want for nothing?"));
    }

    #[test]
    fn pbkdf2_phc_strings_verify() {
        // RFC 6070 case 2 (sha1, 2 iterations), written as PHC.
        let salt = base64::engine::general_purpose::STANDARD_NO_PAD.encode(b"salt");
        let dk = hex_bytes::decode("ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957").unwrap();
        let hash = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&dk);
        let parsed = round_trip(json!({"algorithm": "pbkdf2",
            "hash": {"value": format!("$pbkdf2-sha1$i=2,l=20${salt}${hash}")}}));
        assert!(parsed.matches("password"));
        assert!(!parsed.matches("passwore"));
        // The hand-written PBKDF2 agrees with aws-lc-rs.
        assert!(HashDigest::Md5.pbkdf2_matches(3, b"s", b"p", &{
            let mut out = vec![];
            let mut u = HashDigest::Md5.hmac(b"p", b"s\0\0\0\x01");
            let mut t = u.clone();
            for _ in 1..3 {
                u = HashDigest::Md5.hmac(b"p", &u);
                t.iter_mut().zip(&u).for_each(|(a, b)| *a ^= b);
            }
            out.extend_from_slice(&t);
            out
        }));
    }

    #[test]
    fn ldap_values_verify() {
        let h = HashDigest::Sha1.hash(&[b"secret", b"NaCl"]);
        let value = format!(
            "{{SSHA}}{}",
            base64::engine::general_purpose::STANDARD.encode([h.as_slice(), b"NaCl"].concat())
        );
        let parsed = round_trip(json!({"algorithm": "ldap", "hash": {"value": value}}));
        assert!(parsed.matches("secret"));
        assert!(!parsed.matches("Secret"));
    }

    #[test]
    fn bcrypt_and_argon2_are_stored_as_given_and_bad_values_refused() {
        let b = bcrypt::hash("pw", 4).unwrap();
        let parsed = round_trip(json!({"algorithm": "bcrypt", "hash": {"value": b}}));
        assert_eq!(parsed.to_stored().as_str(), b);
        assert!(parsed.matches("pw"));
        for bad in [
            json!({"algorithm": "bcrypt", "hash": {"value": "nope"}}),
            json!({"algorithm": "argon2", "hash": {"value": "$2b$nope"}}),
            json!({"algorithm": "sha256", "hash": {"value": "zz", "encoding": "hex"}}),
            json!({"algorithm": "hmac", "hash": {"value": "00", "digest": "whirlpool", "key": {"value": "k"}}}),
            json!({"algorithm": "scrypt", "hash": {"value": "00"}}),
            json!({"algorithm": "pbkdf2", "hash": {"value": "$pbkdf2-sha256$x$y"}}),
        ] {
            assert!(ImportedHash::from_auth0(&bad).is_err(), "{bad}");
        }
    }
}
