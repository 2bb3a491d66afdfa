//! `latchkey users export FILE`: the same export job as `POST /api/v2/jobs/users-exports`, run
//! here and its file written to FILE (gzip as stored when FILE ends in `.gz`, else plain
//! newline-delimited JSON or CSV). With `--with-secrets`: every user in Auth0's bulk-import
//! shape (a JSON array `latchkey users import` and `POST /jobs/users-imports` take) with their
//! password hashes and TOTP keys, sealed to a passphrase (`latchkey_core::sealed_export`).
//! Also the import's side: `open_users_file` opens a plain or a sealed file alike.

use anyhow::Context;
use latchkey_core::sealed_export::{SealedWriter, is_sealed, open_sealed_export};
use latchkey_core::store::{ExportField, ExportFormat};
use latchkey_server::config::Settings;
use secrecy::{ExposeSecret, SecretString};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

const PASSPHRASE_ENV: &str = "LATCHKEY_EXPORT_PASSPHRASE";

#[derive(clap::Args)]
pub struct ExportArgs {
    /// The file to write (its extension `.gz` keeps the export compressed).
    file: PathBuf,
    /// Only this database connection's users [default: every user].
    #[arg(long)]
    connection: Option<String>,
    /// json (newline-delimited) or csv.
    #[arg(long, default_value = "json")]
    format: String,
    /// Auth0 field names, comma-separated (e.g. user_id,email,user_metadata.plan)
    /// [default: Auth0's predefined set].
    #[arg(long, value_delimiter = ',')]
    fields: Vec<String>,
    /// Write Auth0's bulk-import format with password hashes and TOTP keys, encrypted to a
    /// passphrase (LATCHKEY_EXPORT_PASSPHRASE, else asked on the terminal).
    #[arg(long)]
    with_secrets: bool,
}

/// The passphrase from the environment, else asked without echo on a terminal (twice when
/// sealing); refused when there is neither.
fn passphrase(confirm: bool) -> anyhow::Result<SecretString> {
    if let Ok(p) = std::env::var(PASSPHRASE_ENV) {
        if p.is_empty() {
            anyhow::bail!("{PASSPHRASE_ENV} is empty");
        }
        return Ok(SecretString::from(p));
    }
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "a passphrase is needed: set {PASSPHRASE_ENV} or run on a terminal to be asked"
        );
    }
    let first = SecretString::from(rpassword::prompt_password("Export passphrase: ")?);
    if first.expose_secret().is_empty() {
        anyhow::bail!("the passphrase is empty");
    }
    if confirm {
        let again = SecretString::from(rpassword::prompt_password("Again: ")?);
        if again.expose_secret() != first.expose_secret() {
            anyhow::bail!("the passphrases differ");
        }
    }
    Ok(first)
}

/// Opens a users file for `latchkey users import`: a sealed export (recognised by its
/// header; the passphrase asked as the export asks it) yields its decrypted bytes, any other
/// file its own.
pub fn open_users_file(path: &Path) -> anyhow::Result<Box<dyn Read + Send>> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut start = [0u8; 6];
    let n = file.read(&mut start)?;
    if is_sealed(&start[..n]) {
        let passphrase = passphrase(false)?;
        return Ok(Box::new(open_sealed_export(path, &passphrase)?));
    }
    drop(file);
    Ok(Box::new(std::fs::File::open(path)?))
}

fn create(path: &Path) -> anyhow::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))
}

pub async fn run(settings: &Settings, args: ExportArgs) -> anyhow::Result<()> {
    let services = latchkey_server::app::offline_services(settings).await?;
    let migration = &services.migration;
    if args.with_secrets {
        if args.format != "json" || !args.fields.is_empty() {
            anyhow::bail!(
                "--with-secrets writes Auth0's bulk-import format: --format and --fields do not apply"
            );
        }
        let passphrase = passphrase(true)?;
        let mut out = SealedWriter::new(std::io::BufWriter::new(create(&args.file)?), &passphrase)?;
        out.write_all(b"[")?;
        let (mut after, mut count) = (String::new(), 0u64);
        loop {
            let page = migration
                .bulk_users_page(args.connection.as_deref(), &after, 500)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let Some((last, _)) = page.last() else { break };
            after = last.clone();
            for (_, user) in page {
                if count > 0 {
                    out.write_all(b",\n")?;
                }
                serde_json::to_writer(&mut out, &user.into_json())?;
                count += 1;
            }
        }
        out.write_all(b"]\n")?;
        out.finish()?;
        println!(
            "{count} users with their secrets written to {} (sealed; import with `latchkey users import`)",
            args.file.display()
        );
        return Ok(());
    }
    let format = ExportFormat::parse(&args.format)
        .ok_or_else(|| anyhow::anyhow!("--format must be json or csv"))?;
    let fields = (!args.fields.is_empty()).then(|| {
        args.fields
            .iter()
            .map(|name| ExportField {
                name: name.trim().to_owned(),
                export_as: None,
            })
            .collect()
    });
    let job = migration
        .export_now(args.connection.as_deref(), format, fields)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let gzipped = args
        .file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    let mut out = std::io::BufWriter::new(create(&args.file)?);
    let mut seq = 0;
    while let Some(piece) = migration
        .export_piece(&job.id, seq)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
    {
        if gzipped {
            out.write_all(&piece)?;
        } else {
            std::io::copy(&mut flate2::read::GzDecoder::new(&piece[..]), &mut out)?;
        }
        seq += 1;
    }
    out.flush()?;
    println!(
        "{}: {} users written to {}",
        job.id,
        job.total,
        args.file.display()
    );
    Ok(())
}
