//! Files sealed to a passphrase: the CLI's export with secrets (`latchkey users export
//! --with-secrets`), read back by `latchkey users import`. Streaming in both directions, so
//! neither side holds the whole file.
//!
//! Format, version 1 (all integers big-endian):
//!
//! ```text
//! header  = "LKSEAL" (6 bytes) | version = 1 (1 byte)
//!         | argon2id m_cost KiB (u32) | t_cost (u32) | p_cost (u32)
//!         | salt (16 bytes) | nonce prefix (7 bytes)
//!         | key check (16 bytes: the AES-256-GCM tag of an empty message under nonce
//!           prefix | 0xFFFFFFFF | 0x02, with the 42 bytes before it as associated data)
//! frame*  = last (1 byte: 0 or 1) | length (u32) | ciphertext and tag (length bytes)
//! ```
//!
//! The key is argon2id(passphrase, salt, m_cost, t_cost, p_cost) → 32 bytes. Frame `i`
//! seals at most 64 KiB of the plaintext with AES-256-GCM under the nonce
//! `prefix | i (u32) | last`, with the header's first 42 bytes as associated data: frames
//! cannot be reordered, dropped, moved between files or have their header changed, a file
//! cut short lacks the frame marked last (an error, not a shorter file), and bytes after
//! that frame are refused. A wrong passphrase fails the key check before any frame is read.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use secrecy::{ExposeSecret, SecretString};
use std::io::{self, Read, Write};

pub const MAGIC: &[u8; 6] = b"LKSEAL";
const VERSION: u8 = 1;
const SALT_LEN: usize = 16;
const PREFIX_LEN: usize = 7;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 6 + 1 + 12 + SALT_LEN + PREFIX_LEN;
const FRAME: usize = 64 * 1024;
/// The key derivation's cost when writing: 64 MiB, 3 passes.
const M_COST: u32 = 64 * 1024;
const T_COST: u32 = 3;
const P_COST: u32 = 1;
/// What a reader accepts, so a crafted header cannot ask for unbounded memory or time.
const MAX_M_COST: u32 = 1024 * 1024;
const MAX_T_COST: u32 = 16;
const MAX_P_COST: u32 = 8;

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_owned())
}

fn derive_key(
    passphrase: &SecretString,
    salt: &[u8],
    m: u32,
    t: u32,
    p: u32,
) -> io::Result<LessSafeKey> {
    let params = argon2::Params::new(m, t, p, Some(32))
        .map_err(|e| invalid(&format!("sealed file: key parameters: {e}")))?;
    let kdf = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut key = [0u8; 32];
    kdf.hash_password_into(passphrase.expose_secret().as_bytes(), salt, &mut key)
        .map_err(|e| invalid(&format!("sealed file: key derivation: {e}")))?;
    let unbound = UnboundKey::new(&AES_256_GCM, &key).map_err(|_| invalid("sealed file: key"))?;
    Ok(LessSafeKey::new(unbound))
}

fn nonce(prefix: &[u8], counter: u32, flag: u8) -> Nonce {
    let mut n = [0u8; NONCE_LEN];
    n[..PREFIX_LEN].copy_from_slice(prefix);
    n[PREFIX_LEN..PREFIX_LEN + 4].copy_from_slice(&counter.to_be_bytes());
    n[NONCE_LEN - 1] = flag;
    Nonce::assume_unique_for_key(n)
}

fn key_check(key: &LessSafeKey, header: &[u8]) -> io::Result<Vec<u8>> {
    let mut tag = Vec::new();
    key.seal_in_place_append_tag(
        nonce(&header[HEADER_LEN - PREFIX_LEN..HEADER_LEN], u32::MAX, 2),
        Aad::from(header),
        &mut tag,
    )
    .map_err(|_| invalid("sealed file: sealing failed"))?;
    Ok(tag)
}

/// Whether `start` (a file's first bytes) opens a sealed file.
pub fn is_sealed(start: &[u8]) -> bool {
    start.starts_with(MAGIC)
}

/// Writes a sealed file to `out`; call `finish` to write the last frame.
pub struct SealedWriter<W: Write> {
    out: W,
    key: LessSafeKey,
    header: Vec<u8>,
    buffer: Vec<u8>,
    counter: u32,
}

impl<W: Write> SealedWriter<W> {
    /// Derives the key (about a second of work, on purpose) and writes the header.
    pub fn new(mut out: W, passphrase: &SecretString) -> io::Result<Self> {
        let mut salt = [0u8; SALT_LEN];
        let mut prefix = [0u8; PREFIX_LEN];
        crate::random::fill(&mut salt).map_err(|e| io::Error::other(e.to_string()))?;
        crate::random::fill(&mut prefix).map_err(|e| io::Error::other(e.to_string()))?;
        let mut header = Vec::with_capacity(HEADER_LEN + TAG_LEN);
        header.extend_from_slice(MAGIC);
        header.push(VERSION);
        for n in [M_COST, T_COST, P_COST] {
            header.extend_from_slice(&n.to_be_bytes());
        }
        header.extend_from_slice(&salt);
        header.extend_from_slice(&prefix);
        let key = derive_key(passphrase, &salt, M_COST, T_COST, P_COST)?;
        let check = key_check(&key, &header)?;
        out.write_all(&header)?;
        out.write_all(&check)?;
        Ok(Self {
            out,
            key,
            header,
            buffer: Vec::with_capacity(FRAME),
            counter: 0,
        })
    }

    fn frame(&mut self, last: bool) -> io::Result<()> {
        let mut data = std::mem::take(&mut self.buffer);
        let prefix = &self.header[HEADER_LEN - PREFIX_LEN..HEADER_LEN];
        self.key
            .seal_in_place_append_tag(
                nonce(prefix, self.counter, u8::from(last)),
                Aad::from(&self.header[..]),
                &mut data,
            )
            .map_err(|_| invalid("sealed file: sealing failed"))?;
        self.counter = self
            .counter
            .checked_add(1)
            .filter(|c| *c < u32::MAX)
            .ok_or_else(|| invalid("sealed file: too large"))?;
        self.out.write_all(&[u8::from(last)])?;
        let len = u32::try_from(data.len()).map_err(|_| invalid("sealed file: frame"))?;
        self.out.write_all(&len.to_be_bytes())?;
        self.out.write_all(&data)?;
        self.buffer = Vec::with_capacity(FRAME);
        Ok(())
    }

    /// Seals what is buffered as the last frame and flushes; answers the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.frame(true)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for SealedWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = FRAME - self.buffer.len();
        let n = buf.len().min(room);
        self.buffer.extend_from_slice(&buf[..n]);
        if self.buffer.len() == FRAME {
            self.frame(false)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Reads a sealed file: the plaintext, frame by frame; an error for a wrong passphrase, a
/// changed byte, a missing or extra frame.
pub struct SealedReader<R: Read> {
    input: R,
    key: LessSafeKey,
    header: Vec<u8>,
    plain: Vec<u8>,
    offset: usize,
    counter: u32,
    done: bool,
}

impl<R: Read> SealedReader<R> {
    /// Reads the header and checks the passphrase.
    pub fn new(mut input: R, passphrase: &SecretString) -> io::Result<Self> {
        let mut header = vec![0u8; HEADER_LEN];
        input
            .read_exact(&mut header)
            .map_err(|_| invalid("not a sealed Latchkey export (too short)"))?;
        if !is_sealed(&header) {
            return Err(invalid("not a sealed Latchkey export"));
        }
        if header[6] != VERSION {
            return Err(invalid(&format!(
                "sealed export version {} is not supported by this Latchkey",
                header[6]
            )));
        }
        let n = |i: usize| {
            let mut b = [0u8; 4];
            b.copy_from_slice(&header[7 + 4 * i..11 + 4 * i]);
            u32::from_be_bytes(b)
        };
        let (m, t, p) = (n(0), n(1), n(2));
        if m > MAX_M_COST || t > MAX_T_COST || p > MAX_P_COST {
            return Err(invalid("sealed export: key parameters out of range"));
        }
        let key = derive_key(passphrase, &header[19..19 + SALT_LEN], m, t, p)?;
        let mut check = [0u8; TAG_LEN];
        input
            .read_exact(&mut check)
            .map_err(|_| invalid("sealed export is truncated"))?;
        let expected = key_check(&key, &header)?;
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&expected[..], &check[..])) {
            return Err(invalid(
                "wrong passphrase for this sealed export (or its header was changed)",
            ));
        }
        Ok(Self {
            input,
            key,
            header,
            plain: Vec::new(),
            offset: 0,
            counter: 0,
            done: false,
        })
    }

    fn next_frame(&mut self) -> io::Result<()> {
        let tampered = || invalid("sealed export was truncated or tampered with");
        let mut head = [0u8; 5];
        self.input.read_exact(&mut head).map_err(|_| tampered())?;
        let last = match head[0] {
            0 => false,
            1 => true,
            _ => return Err(tampered()),
        };
        let mut len = [0u8; 4];
        len.copy_from_slice(&head[1..]);
        let len = usize::try_from(u32::from_be_bytes(len)).map_err(|_| tampered())?;
        if !(TAG_LEN..=FRAME + TAG_LEN).contains(&len) {
            return Err(tampered());
        }
        let mut data = vec![0u8; len];
        self.input.read_exact(&mut data).map_err(|_| tampered())?;
        let prefix = &self.header[HEADER_LEN - PREFIX_LEN..HEADER_LEN];
        let plain_len = self
            .key
            .open_in_place(
                nonce(prefix, self.counter, u8::from(last)),
                Aad::from(&self.header[..]),
                &mut data,
            )
            .map_err(|_| tampered())?
            .len();
        data.truncate(plain_len);
        self.counter = self.counter.checked_add(1).ok_or_else(tampered)?;
        if last {
            let mut extra = [0u8; 1];
            if self.input.read(&mut extra)? != 0 {
                return Err(invalid("sealed export has bytes after its last frame"));
            }
            self.done = true;
        }
        self.plain = data;
        self.offset = 0;
        Ok(())
    }
}

impl<R: Read> Read for SealedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.offset == self.plain.len() {
            if self.done {
                return Ok(0);
            }
            self.next_frame()?;
        }
        let n = buf.len().min(self.plain.len() - self.offset);
        buf[..n].copy_from_slice(&self.plain[self.offset..self.offset + n]);
        self.offset += n;
        Ok(n)
    }
}

/// Opens the sealed export at `path`: its plaintext as a reader.
pub fn open_sealed_export(
    path: &std::path::Path,
    passphrase: &SecretString,
) -> io::Result<impl Read + use<>> {
    let file = std::fs::File::open(path)?;
    SealedReader::new(io::BufReader::new(file), passphrase)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn seal(plain: &[u8], pass: &str) -> Vec<u8> {
        let mut w = SealedWriter::new(Vec::new(), &SecretString::from(pass)).unwrap();
        w.write_all(plain).unwrap();
        w.finish().unwrap()
    }

    fn open(sealed: &[u8], pass: &str) -> io::Result<Vec<u8>> {
        let mut r = SealedReader::new(sealed, &SecretString::from(pass))?;
        let mut out = Vec::new();
        r.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn round_trip_and_every_damage_is_refused() {
        let plain: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let sealed = seal(&plain, "correct horse");
        assert_eq!(open(&sealed, "correct horse").unwrap(), plain);
        assert_eq!(open(&seal(b"", "p"), "p").unwrap(), b"");
        let wrong = open(&sealed, "wrong").unwrap_err().to_string();
        assert!(wrong.contains("wrong passphrase"), "{wrong}");
        let mut flipped = sealed.clone();
        let at = flipped.len() / 2;
        flipped[at] ^= 1;
        assert!(open(&flipped, "correct horse").is_err());
        // Cut at a frame boundary: the frames left are intact, the last one is missing.
        let first_frame_end = HEADER_LEN + TAG_LEN + 5 + FRAME + TAG_LEN;
        let cut = open(&sealed[..first_frame_end], "correct horse")
            .unwrap_err()
            .to_string();
        assert!(cut.contains("truncated"), "{cut}");
        let mut extra = sealed.clone();
        extra.push(0);
        assert!(open(&extra, "correct horse").is_err());
    }
}
