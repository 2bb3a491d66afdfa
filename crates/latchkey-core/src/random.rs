//! Random identifiers and opaque tokens from the OS CSPRNG (aws-lc-rs `SystemRandom`).

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::SecretString;
use sha2::{Digest, Sha256};

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Fills `buf` from the operating system's CSPRNG. The OS generator failing is not recoverable
/// and never happens on a working Linux host, so we abort the request by bubbling an error.
pub fn fill(buf: &mut [u8]) -> Result<(), RandomError> {
    SystemRandom::new().fill(buf).map_err(|_| RandomError)
}

#[derive(Debug, thiserror::Error)]
#[error("the operating system's random number generator failed")]
pub struct RandomError;

/// A random (version 4) UUID, the id format of Auth0's actions, versions and bindings.
pub fn uuid_v4() -> Result<String, RandomError> {
    let mut b = [0u8; 16];
    fill(&mut b)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = lower_hex(&b);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// `n` lowercase hex characters, e.g. the 24 hex digits of an `auth0|…` user id.
pub fn hex(n: usize) -> Result<String, RandomError> {
    let mut bytes = vec![0u8; n.div_ceil(2)];
    fill(&mut bytes)?;
    let mut s = lower_hex(&bytes);
    s.truncate(n);
    Ok(s)
}

/// `bytes` as lowercase hex (digests, signatures, random ids).
pub fn lower_hex(bytes: &[u8]) -> String {
    hex_in(bytes, b"0123456789abcdef")
}

/// `bytes` as upper-case hex, as breached-password corpus files spell hashes.
pub fn upper_hex(bytes: &[u8]) -> String {
    hex_in(bytes, b"0123456789ABCDEF")
}

/// Every log entry's id takes one, so this writes into one buffer rather than format each
/// byte into a string of its own.
fn hex_in(bytes: &[u8], digits: &[u8; 16]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(digits[usize::from(b >> 4)]));
        out.push(char::from(digits[usize::from(b & 0x0f)]));
    }
    out
}

/// `n` characters from `[A-Za-z0-9]`, unbiased (rejection sampling).
pub fn alnum(n: usize) -> Result<String, RandomError> {
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 64];
    while out.len() < n {
        fill(&mut buf)?;
        for b in buf {
            // 248 = 62 * 4: values at or above it would bias the first characters.
            if b < 248 && out.len() < n {
                out.push(char::from(ALNUM[usize::from(b % 62)]));
            }
        }
    }
    Ok(out)
}

/// `n` characters a person can read back and type without confusion: upper-case letters and
/// digits without 0/O, 1/I/L and U (30 symbols, ~4.9 bits each). For codes shown to users.
pub fn readable_code(n: usize) -> Result<String, RandomError> {
    const SYMBOLS: &[u8; 30] = b"ABCDEFGHJKMNPQRSTVWXYZ23456789";
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 64];
    while out.len() < n {
        fill(&mut buf)?;
        for b in buf {
            // 240 = 30 * 8: values at or above it would bias the first symbols.
            if b < 240 && out.len() < n {
                out.push(char::from(SYMBOLS[usize::from(b % 30)]));
            }
        }
    }
    Ok(out)
}

/// An opaque bearer token (refresh token, reset ticket…): 256 bits from the CSPRNG, URL-safe.
/// Only its SHA-256 digest is ever stored.
pub fn opaque_token() -> Result<SecretString, RandomError> {
    let mut bytes = [0u8; 32];
    fill(&mut bytes)?;
    Ok(SecretString::from(URL_SAFE_NO_PAD.encode(bytes)))
}

/// The at-rest form of an opaque token: hex SHA-256.
pub fn token_digest(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    lower_hex(&digest)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn identifiers_have_the_requested_shape() {
        let h = hex(24).unwrap();
        assert_eq!(h.len(), 24);
        assert!(h.chars().all(|c| c.is_ascii_hexdigit()));
        let a = alnum(16).unwrap();
        assert_eq!(a.len(), 16);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(alnum(32).unwrap(), alnum(32).unwrap());
    }

    #[test]
    fn opaque_tokens_carry_256_bits_and_hash_stably() {
        let t = opaque_token().unwrap();
        assert_eq!(t.expose_secret().len(), 43);
        assert_eq!(
            token_digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(lower_hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(upper_hex(&[0x00, 0x0f, 0xa5, 0xff]), "000FA5FF");
        assert_eq!(hex(7).unwrap().len(), 7);
        assert_eq!(token_digest("abc"), token_digest("abc"));
    }
}
