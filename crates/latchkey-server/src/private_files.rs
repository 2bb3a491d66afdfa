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
            .with_context(|| format!("creating the data directory {}", data_dir.display()));
    }
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
