//! TOTP (RFC 6238): six digits, 30-second steps, HMAC-SHA1 — what every authenticator app
//! speaks. A code is accepted for the current step and one step either side (clock skew).

use aws_lc_rs::hmac;
use subtle::ConstantTimeEq;

pub const STEP_SECS: i64 = 30;

/// Decodes RFC 4648 base32 (case-insensitive, spaces and padding ignored).
pub fn decode_base32(s: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u64, 0u32);
    for c in s.bytes().filter(|c| !matches!(c, b' ' | b'=' | b'-')) {
        let value = ALPHABET.iter().position(|a| *a == c.to_ascii_uppercase())?;
        buffer = (buffer << 5) | value as u64;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Encodes RFC 4648 base32 without padding (how authenticator apps take keys).
pub fn encode_base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u64, 0u32);
    for b in bytes {
        buffer = (buffer << 8) | u64::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// The code for time step `step` (HOTP with the step as counter).
pub fn code_at(key: &[u8], step: i64) -> u32 {
    let tag = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key),
        &step.to_be_bytes(),
    );
    let mac = tag.as_ref();
    let offset = usize::from(mac.last().copied().unwrap_or(0) & 0x0f);
    let part = mac.get(offset..offset + 4).unwrap_or(&[0, 0, 0, 0]);
    let value = u32::from_be_bytes([part[0] & 0x7f, part[1], part[2], part[3]]);
    value % 1_000_000
}

/// The time step `code` matches within ±1 step of `now_secs`, if any. Compared in constant time.
pub fn matching_step(key: &[u8], code: &str, now_secs: i64) -> Option<i64> {
    let code = code.trim().replace(' ', "");
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = now_secs.div_euclid(STEP_SECS);
    [now - 1, now, now + 1].into_iter().find(|step| {
        format!("{:06}", code_at(key, *step))
            .as_bytes()
            .ct_eq(code.as_bytes())
            .into()
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rfc6238_vectors_and_skew() {
        // RFC 6238 appendix B, SHA-1 key "12345678901234567890", truncated to six digits.
        let key = b"12345678901234567890";
        assert_eq!(code_at(key, 59 / 30), 287_082);
        assert_eq!(code_at(key, 1_111_111_109 / 30), 81_804);
        assert_eq!(code_at(key, 1_234_567_890 / 30), 5_924);
        assert_eq!(matching_step(key, "287082", 59), Some(1));
        assert_eq!(matching_step(key, "287082", 59 + 30), Some(1));
        assert_eq!(matching_step(key, "287082", 59 + 90), None);
        assert_eq!(matching_step(key, "28708", 59), None);
        assert_eq!(
            decode_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap(),
            key.to_vec()
        );
        assert!(decode_base32("not base32!").is_none());
        assert_eq!(encode_base32(key), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    }
}
