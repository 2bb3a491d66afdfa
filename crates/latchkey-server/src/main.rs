//! `latchkey`: serve, check a configuration, rotate signing keys.

use anyhow::Context;
use clap::{Parser, Subcommand};
use latchkey_server::Application;
use latchkey_server::config::{Settings, bootstrap_presets, redact_url};
use secrecy::ExposeSecret;
use std::path::PathBuf;

mod cli;

#[derive(Parser)]
#[command(
    name = "latchkey",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("LATCHKEY_GIT_COMMIT"), ")"),
    about = "A self-hosted identity server that speaks Auth0's APIs"
)]
struct Cli {
    /// TOML configuration file (see config/example.toml).
    #[arg(long, global = true, env = "LATCHKEY_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Configuration helpers.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Signing key management.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Copy the SQLite store to a new file while the server runs (a consistent, checked
    /// snapshot). PostgreSQL stores: use pg_dump.
    Backup {
        /// The data directory `serve` uses [default: ./latchkey-data].
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// The new file to write (it must not exist).
        out: PathBuf,
    },
    /// The development outbox (mail written to DATA/outbox/ when no SMTP is configured).
    Outbox {
        /// The data directory `serve` uses [default: ./latchkey-data].
        #[arg(long, global = true)]
        data_dir: Option<PathBuf>,
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// The breached-password corpus.
    Breach {
        #[command(subcommand)]
        command: BreachCommand,
    },
    /// Console administrators (not the tenant's users).
    Admin {
        /// The data directory `serve` uses [default: ./latchkey-data].
        #[arg(long, global = true)]
        data_dir: Option<PathBuf>,
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// The tenant's users in bulk.
    Users {
        /// The data directory `serve` uses [default: ./latchkey-data].
        #[arg(long, global = true)]
        data_dir: Option<PathBuf>,
        #[command(subcommand)]
        command: UsersCommand,
    },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Import a file in Auth0's bulk-import format (a JSON array of users, with password hashes)
    /// streamed through the same batches as POST /api/v2/jobs/users-imports, without its 500 KB
    /// limit, as a job row (GET /api/v2/jobs/{id}). Prints the summary; refused users go to
    /// FILE.errors.json. Safe to re-run: users already there are reported (or, with --upsert,
    /// updated).
    Import {
        file: PathBuf,
        /// The database connection's name.
        #[arg(long, default_value = "Username-Password-Authentication")]
        connection: String,
        /// Update users whose address exists in the connection instead of refusing them.
        #[arg(long)]
        upsert: bool,
    },
    /// Export users as POST /api/v2/jobs/users-exports does (or, with --with-secrets, in the
    /// bulk-import format with password hashes and TOTP keys, sealed to a passphrase).
    Export(cli::export::ExportArgs),
}

#[derive(Subcommand)]
enum OutboxCommand {
    /// Print the link in the newest mail to EMAIL (a reset, ticket or unblock link), decoded
    /// from the .eml; exits 1 if there is none yet.
    LastLink { email: String },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Add an administrator. The password is read from LATCHKEY_ADMIN_PASSWORD or, if unset,
    /// generated and printed once.
    Create { email: String },
    /// List administrators.
    List,
    /// Remove an administrator (never the last one).
    Delete { email: String },
    /// Set a new password (LATCHKEY_ADMIN_PASSWORD, or generated and printed) and end the
    /// administrator's console sessions.
    ResetPassword { email: String },
    /// Remove the administrator's authenticator app (a lost phone).
    ResetMfa { email: String },
}

#[derive(Subcommand)]
enum BreachCommand {
    /// Build the compact index (8 bytes a hash) from the Have I Been Pwned downloader's sorted
    /// single file of HASH:COUNT lines; point `passwords.breached_corpus` at the result.
    BuildIndex {
        /// The sorted HASH:COUNT file.
        file: PathBuf,
        /// Where to write the index [default: FILE with the extension .lkidx].
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Check a corpus (file, prefix directory or index) as the server would at start-up, and
    /// look passwords read from standard input (one a line) up in it.
    Check { corpus: PathBuf },
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long)]
    listen: Option<String>,
    /// Where the SQLite database, bootstrap.json and TLS files live [default: ./latchkey-data].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The URL clients use; the issuer is this plus `/`.
    #[arg(long)]
    public_url: Option<String>,
    /// Serve https with a generated certificate written to DATA_DIR/tls/cert.pem.
    #[arg(long)]
    tls_self_signed: bool,
    /// Start even if the data directory or the database is readable by other users.
    #[arg(long)]
    allow_insecure_permissions: bool,
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate the configuration (file + environment) and print the result.
    Check {
        /// The data directory `serve` would use [default: ./latchkey-data].
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Make a new signing key current; the old one stays published until revoked.
    Rotate {
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

fn load(cli_config: Option<&PathBuf>) -> anyhow::Result<(Settings, Vec<(String, String)>)> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    let (settings, warnings) = Settings::load(cli_config.map(PathBuf::as_path), &env)?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    Ok((settings, env))
}

fn init_tracing(settings: &Settings) -> anyhow::Result<()> {
    let rust_log = std::env::var("RUST_LOG").ok().filter(|v| !v.is_empty());
    latchkey_server::logging::init(
        &settings.log.level,
        &settings.log.format,
        rust_log.as_deref(),
    )
}

/// `DATABASE_URL` (or `database.url`) must parse and name a backend we speak.
fn check_database_url(url: &str) -> anyhow::Result<()> {
    let parsed = url::Url::parse(url)
        .map_err(|e| anyhow::anyhow!("DATABASE_URL {:?} is not a URL: {e}", redact_url(url)))?;
    match parsed.scheme() {
        "sqlite" => Ok(()),
        "postgres" | "postgresql" => {
            if parsed.host_str().is_none_or(str::is_empty) {
                anyhow::bail!("DATABASE_URL {:?} names no host", redact_url(url));
            }
            Ok(())
        }
        other => anyhow::bail!(
            "DATABASE_URL {:?}: unsupported scheme {other:?} (expected sqlite:// or postgres://)",
            redact_url(url)
        ),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Config { .. }) {
        // Whatever is created from here on (data directory, database, outbox, keys) is the
        // owner's alone, whatever the shell's umask.
        latchkey_server::private_files::restrict_umask();
    }
    match cli.command {
        Command::Serve(args) => serve(cli.config.as_ref(), args).await,
        Command::Config {
            command: ConfigCommand::Check { data_dir },
        } => {
            let (mut settings, _) = load(cli.config.as_ref())?;
            if let Some(d) = data_dir {
                settings.server.data_dir = d;
            }
            check_database_url(&settings.database_url())?;
            println!("configuration is valid");
            println!("  listen:     {}", settings.server.listen);
            println!("  data_dir:   {}", settings.server.data_dir.display());
            println!("  database:   {}", redact_url(&settings.database_url()));
            println!(
                "  tls:        {}",
                if settings.tls_enabled() { "on" } else { "off" }
            );
            println!(
                "  argon2id:   m={} KiB, t={}, p={}",
                settings.passwords.argon2_memory_kib,
                settings.passwords.argon2_iterations,
                settings.passwords.argon2_parallelism
            );
            Ok(())
        }
        Command::Breach { command } => breach(command),
        Command::Admin { data_dir, command } => {
            let (mut settings, env) = load(cli.config.as_ref())?;
            if let Some(d) = data_dir {
                settings.server.data_dir = d;
            }
            check_database_url(&settings.database_url())?;
            if settings.database.url.as_deref().is_none_or(str::is_empty) {
                // SQLite in the data directory: it must exist (serve made it) and be ours.
                if !settings.server.data_dir.is_dir() {
                    anyhow::bail!(
                        "no data directory at {}: run `latchkey serve` once first, or pass --data-dir",
                        settings.server.data_dir.display()
                    );
                }
                latchkey_server::private_files::check_writable(&settings.server.data_dir)?;
            }
            admin(&settings, &env, command).await
        }
        Command::Outbox {
            data_dir,
            command: OutboxCommand::LastLink { email },
        } => {
            let (mut settings, _) = load(cli.config.as_ref())?;
            if let Some(d) = data_dir {
                settings.server.data_dir = d;
            }
            let dir = settings.server.data_dir.join("outbox");
            let text = match latchkey_mail::outbox_reader::newest_text_to(&dir, &email) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(anyhow::anyhow!("{}: {e}", dir.display())),
            };
            match text
                .as_deref()
                .and_then(latchkey_mail::outbox_reader::first_link)
            {
                Some(link) => {
                    println!("{link}");
                    Ok(())
                }
                None => anyhow::bail!("no mail with a link to {email} in {}", dir.display()),
            }
        }
        Command::Users { data_dir, command } => {
            let (mut settings, _) = load(cli.config.as_ref())?;
            if let Some(d) = data_dir {
                settings.server.data_dir = d;
            }
            check_database_url(&settings.database_url())?;
            match command {
                UsersCommand::Export(args) => cli::export::run(&settings, args).await,
                import => users_command(&settings, import).await,
            }
        }
        Command::Backup { data_dir, out } => {
            let (mut settings, _) = load(cli.config.as_ref())?;
            if let Some(d) = data_dir {
                settings.server.data_dir = d;
            }
            check_database_url(&settings.database_url())?;
            let report = latchkey_store_sql::backup_sqlite(&settings.database_url(), &out).await?;
            println!(
                "backup written to {} ({} bytes, integrity check ok)",
                out.display(),
                report.bytes
            );
            println!(
                "restore: stop the server, then put it in place as <data dir>/latchkey.db (mode 0600)"
            );
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Rotate { data_dir },
        } => {
            let (mut settings, _) = load(cli.config.as_ref())?;
            if let Some(d) = data_dir {
                settings.server.data_dir = d;
            }
            let store =
                std::sync::Arc::new(latchkey_store_sql::connect(&settings.database_url()).await?);
            let keys = latchkey_core::keys::Keys::load(store).await?;
            let kid = keys.rotate().await?;
            println!("new current signing key: {kid}");
            Ok(())
        }
    }
}

/// `latchkey breach …`: works on files only, no configuration or store needed.
fn breach(command: BreachCommand) -> anyhow::Result<()> {
    use latchkey_core::password::breach::{BreachCorpus, build_index, sha1};
    use std::io::{BufRead, Write};
    match command {
        BreachCommand::BuildIndex { file, output } => {
            let output = output.unwrap_or_else(|| file.with_extension("lkidx"));
            let started = std::time::Instant::now();
            let mut stderr = std::io::stderr();
            let count = build_index(&file, &output, &mut |done, total| {
                let percent = (done * 100).checked_div(total).unwrap_or(100);
                let filled = usize::try_from(percent / 4).unwrap_or(25);
                let _ = write!(
                    stderr,
                    "\r[{}{}] {percent:>3}%  {} of {} MiB",
                    "#".repeat(filled),
                    " ".repeat(25 - filled.min(25)),
                    done >> 20,
                    total >> 20
                );
                let _ = stderr.flush();
            })?;
            eprintln!();
            println!(
                "indexed {count} hashes into {} in {:.1} s",
                output.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        BreachCommand::Check { corpus } => {
            let corpus = BreachCorpus::open(&corpus)?;
            println!("corpus is valid: {}", corpus.describe());
            for line in std::io::stdin().lock().lines() {
                let password = line?;
                let found = BreachCorpus::bundled_contains(&password)
                    || corpus.file_contains(&sha1(&password))?;
                println!("{}", if found { "breached" } else { "not found" });
            }
            Ok(())
        }
    }
}

/// The password for `admin create|reset-password`: from the environment, or a generated one
/// (printed once).
fn admin_password(env: &[(String, String)]) -> anyhow::Result<(secrecy::SecretString, bool)> {
    if let Some((_, v)) = env.iter().find(|(k, _)| k == "LATCHKEY_ADMIN_PASSWORD") {
        return Ok((secrecy::SecretString::from(v.clone()), false));
    }
    // Three kinds of characters guaranteed, 24 random ones besides.
    let generated = format!("Lk-{}7", latchkey_core::random::alnum(24)?);
    Ok((secrecy::SecretString::from(generated), true))
}

async fn users_command(settings: &Settings, command: UsersCommand) -> anyhow::Result<()> {
    let UsersCommand::Import {
        file,
        connection,
        upsert,
    } = command
    else {
        anyhow::bail!("not an import");
    };
    // A sealed export (`users export --with-secrets`) is opened with its passphrase.
    let reader = cli::export::open_users_file(&file)?;
    let services = latchkey_server::app::offline_services(settings).await?;
    let options = cli::import::ImportOptions { connection, upsert };
    cli::import::run(&services, &file, reader, &options).await
}

async fn admin(
    settings: &Settings,
    env: &[(String, String)],
    command: AdminCommand,
) -> anyhow::Result<()> {
    admin_command(settings, env, command).await.map_err(|e| {
        match e.downcast::<latchkey_core::ServiceError>() {
            // The policy's rules, not just "does not satisfy".
            Ok(latchkey_core::ServiceError::PasswordPolicy(v)) => anyhow::anyhow!(
                "{}. The password must meet these rules:\n{}",
                v.name.message(),
                v.policy_text
            ),
            Ok(other) => anyhow::anyhow!("{other}"),
            Err(e) => e,
        }
    })
}

async fn admin_command(
    settings: &Settings,
    env: &[(String, String)],
    command: AdminCommand,
) -> anyhow::Result<()> {
    let services = latchkey_server::app::offline_services(settings).await?;
    let password = |env| -> anyhow::Result<(latchkey_core::domain::Password, Option<String>)> {
        let (secret, generated) = admin_password(env)?;
        let shown = generated.then(|| secret.expose_secret().to_owned());
        let password = latchkey_core::domain::Password::parse(secret.expose_secret().to_owned())
            .map_err(|e| anyhow::anyhow!("LATCHKEY_ADMIN_PASSWORD {e}"))?;
        Ok((password, shown))
    };
    match command {
        AdminCommand::Create { email } => {
            let (pw, shown) = password(env)?;
            let admin = services.console.create_admin(&email, &pw).await?;
            println!(
                "administrator {} created ({})",
                admin.email.as_str(),
                admin.id
            );
            if let Some(p) = shown {
                println!("password (shown once): {p}");
            }
        }
        AdminCommand::List => {
            for a in services.console.list_admins().await? {
                println!(
                    "{}\t{}\tmfa={}\tlast_login={}",
                    a.email.as_str(),
                    a.id,
                    if a.totp_secret.is_some() { "on" } else { "off" },
                    a.last_login_at
                        .map_or_else(|| "never".to_owned(), |t| t.to_iso())
                );
            }
        }
        AdminCommand::Delete { email } => {
            services.console.delete_admin(&email).await?;
            println!("administrator {email} deleted");
        }
        AdminCommand::ResetPassword { email } => {
            let (pw, shown) = password(env)?;
            services.console.set_admin_password(&email, &pw).await?;
            println!("password of {email} changed; their console sessions ended");
            if let Some(p) = shown {
                println!("password (shown once): {p}");
            }
        }
        AdminCommand::ResetMfa { email } => {
            services.console.clear_admin_totp(&email).await?;
            println!("authenticator of {email} removed; they sign in with the password alone");
        }
    }
    Ok(())
}

async fn serve(config: Option<&PathBuf>, args: ServeArgs) -> anyhow::Result<()> {
    let (mut settings, env) = load(config)?;
    if let Some(l) = args.listen {
        settings.server.listen = l;
    }
    if let Some(d) = args.data_dir {
        settings.server.data_dir = d;
    }
    if let Some(u) = args.public_url {
        settings.server.public_url = Some(u);
    }
    if args.tls_self_signed {
        settings.server.tls_self_signed = true;
    }
    if args.allow_insecure_permissions {
        settings.server.allow_insecure_permissions = true;
    }
    if let (Some(c), Some(k)) = (args.tls_cert, args.tls_key) {
        settings.server.tls_cert = Some(c);
        settings.server.tls_key = Some(k);
    }
    check_database_url(&settings.database_url())?;
    init_tracing(&settings)?;
    let started = std::time::Instant::now();
    let app = Application::build(&settings, &bootstrap_presets(&env))
        .await
        .context("starting latchkey")?;
    if let Some(b) = app.bootstrap() {
        // Printed once, on the first start only; the same values are in bootstrap.json (0600).
        println!(
            "Latchkey is ready. These credentials are shown once; they are also in {}:",
            settings.server.data_dir.join("bootstrap.json").display()
        );
        println!("  issuer                 {}", b.issuer);
        println!("  connection             {}", b.connection);
        println!("  management audience    {}", b.management_audience);
        println!("  management client_id   {}", b.management_client_id);
        println!(
            "  management secret      {}",
            b.management_client_secret.expose_secret()
        );
        println!("  Default App client_id  {}", b.default_client_id);
        println!(
            "  Default App secret     {}",
            b.default_client_secret.expose_secret()
        );
        println!(
            "  admin                  {} / {}",
            b.admin_email,
            b.admin_password.expose_secret()
        );
        println!("  console                {}admin", b.issuer);
    }
    tracing::info!(
        address = %app.address(),
        issuer = app.issuer(),
        backend = app.services().backend(),
        startup_ms = started.elapsed().as_millis() as u64,
        "latchkey listening"
    );
    app.run_until_stopped(shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
