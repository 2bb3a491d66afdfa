//! TLS: operator-provided PEM files, or a self-signed certificate for development written to
//! `DATA_DIR/tls/` so clients that only speak https (the node SDK) can be told to trust it.

use anyhow::Context;
use std::path::{Path, PathBuf};

/// Paths of the certificate and key to serve: existing self-signed files are reused.
pub fn self_signed(data_dir: &Path, host: &str) -> anyhow::Result<(PathBuf, PathBuf)> {
    let dir = data_dir.join("tls");
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    if cert_path.exists() && key_path.exists() {
        return Ok((cert_path, key_path));
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if !names.iter().any(|n| n == host) {
        names.push(host.to_owned());
    }
    let certified = rcgen::generate_simple_self_signed(names)
        .context("generating a self-signed certificate")?;
    std::fs::write(&cert_path, certified.cert.pem()).context("writing cert.pem")?;
    write_private(&key_path, certified.signing_key.serialize_pem().as_bytes())?;
    Ok((cert_path, key_path))
}

/// Writes a file readable by its owner only.
pub fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
