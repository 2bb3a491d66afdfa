//! The data directory holds the signing key, client secrets and (SQLite) the whole store: it is
//! the owner's alone. New files are created private whatever the caller's umask, and a start on
//! a directory or database that other users can read is refused unless the operator accepts it
//! (`server.allow_insecure_permissions`).

use anyhow::{Context, bail};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The SQLite files of a data directory (the database, its WAL and shared-memory files).
pub const DATABASE_FILES: [&str; 3] = ["latchkey.db", "latchkey.db-wal", "latchkey.db-shm"];

/// Files and directories this process creates are the owner's only (`umask 077`). Called at
/// the start of `serve` and of the CLI commands that open the store.
pub fn restrict_umask() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

fn mode(path: &Path) -> anyhow::Result<Option<u32>> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(Some(m.permissions().mode() & 0o7777)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading the permissions of {}", path.display())),
    }
}

fn database_paths(data_dir: &Path) -> Vec<PathBuf> {
    DATABASE_FILES.iter().map(|f| data_dir.join(f)).collect()
}

/// Refuses an existing data directory or SQLite file that group or others may use; creates a
/// missing data directory 0700.
pub fn prepare_data_dir(data_dir: &Path, allow_insecure: bool) -> anyhow::Result<()> {
    if mode(data_dir)?.is_none() {
        return std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(data_dir)
            .map_err(|e| io_error(e, "creating the data directory", data_dir));
    }
    check_writable(data_dir)?;
    if allow_insecure {
        return Ok(());
    }
    for path in std::iter::once(data_dir.to_owned()).chain(database_paths(data_dir)) {
        if let Some(m) = mode(&path)?
            && m & 0o077 != 0
        {
            bail!(
                "refusing to start: {} has mode {m:04o}, so other users of this machine can read it \
                 (it holds the signing key and client secrets). Run `chmod {} {}`, or start with \
                 --allow-insecure-permissions (LATCHKEY_SERVER__ALLOW_INSECURE_PERMISSIONS=true) \
                 to accept it",
                path.display(),
                if path == data_dir { "700" } else { "600" },
                path.display()
            );
        }
    }
    Ok(())
}

/// An I/O error on `path`, with "permission denied" spelled out for the operator.
fn io_error(e: std::io::Error, doing: &str, path: &Path) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        anyhow::anyhow!(
            "permission denied: {doing} {} (check its owner and mode, and the user latchkey runs as)",
            path.display()
        )
    } else {
        anyhow::Error::new(e).context(format!("{doing} {}", path.display()))
    }
}

/// Fails with "permission denied" and the path when this process cannot create files in the
/// existing directory `data_dir` (the database, bootstrap.json, the outbox live there).
pub fn check_writable(data_dir: &Path) -> anyhow::Result<()> {
    let probe = data_dir.join(format!(".latchkey-write-check-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&probe)
        .map_err(|e| io_error(e, "writing to the data directory", data_dir))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Makes the SQLite files the owner's only (they may have been created under a looser umask
/// than ours, e.g. by a library caller), unless the operator accepted looser permissions.
pub fn tighten_database_files(data_dir: &Path, allow_insecure: bool) -> anyhow::Result<()> {
    if allow_insecure {
        return Ok(());
    }
    for path in database_paths(data_dir) {
        if let Some(m) = mode(&path)?
            && m & 0o077 != 0
        {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("making {} private", path.display()))?;
        }
    }
    Ok(())
}
