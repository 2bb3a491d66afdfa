//! `cargo run --release -p latchkey-bench`: throughput of the real server on loopback, each
//! number next to the physical limit it is bounded by, measured in the same run on the same
//! machine: raw argon2id hashes/s (logins) and raw RS256 signatures/s (client-credentials
//! tokens); then `change_password` requests/s and p99 at growing user counts, and the mails/s
//! the outbox delivers to a loopback SMTP server; and an Action's execution time (cold and warm)
//! with its share of a hosted login's latency. Not a test: it asserts nothing, it reports.
//!
//! Limit and server are measured in alternating windows (limit, server, limit, server, …) and
//! compared as totals, so drift in the machine's speed during the run (shared virtual CPUs,
//! thermal limits) affects both sides alike instead of skewing the ratio.

mod actions;
mod baseline;
mod breach;
mod import;
mod load;
mod overload;
mod peer;
mod raw;
mod reset;

use anyhow::Context;
use clap::Parser;
use latchkey_core::keys::RawSigner;
use latchkey_server::{Application, Settings};
use load::Stats;
use serde_json::{Value, json};
use std::time::Duration;

#[derive(Parser)]
#[command(about = "Latchkey benchmarks against the physical limits measured in the same run")]
struct Args {
    /// Seconds per measurement window.
    #[arg(long, default_value_t = 2)]
    seconds: u64,
    /// Alternating limit/server window pairs per scenario (after one warm-up pair).
    #[arg(long, default_value_t = 4)]
    rounds: u32,
    /// Concurrent client connections for the HTTP scenarios.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Run against PostgreSQL at this URL instead of a fresh SQLite file.
    #[arg(long, env = "LATCHKEY_BENCH_DATABASE_URL")]
    database_url: Option<String>,
    /// User counts for the change_password scenario (users are added between runs).
    #[arg(long, value_delimiter = ',', default_value = "1000,1000000")]
    reset_users: Vec<u64>,
    /// Scenarios to run: logins, hosted, tokens, reset, actions, overload; and, not by default,
    /// oidc-provider (client-credentials tokens side by side with node-oidc-provider, after
    /// `npm ci --prefix crates/latchkey-bench/peers/oidc-provider`),
    /// breach (an index of --breach-hashes generated hashes: lookups/s, memory),
    /// logins-breach (password-grant logins with breached-password detection on, against that
    /// index: the ratio to raw argon2id, to compare with `logins`) and import (the release
    /// `latchkey users import` of --import-users bcrypt users into this run's store: users/s,
    /// peak RSS; then first logins of imported users against raw bcrypt verifications).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "logins,hosted,tokens,reset,actions,overload"
    )]
    scenarios: Vec<String>,
    /// Overload scenario: concurrent password grants per level.
    #[arg(long, value_delimiter = ',', default_value = "64,256")]
    overload_levels: Vec<usize>,
    /// Overload scenario: seconds per level.
    #[arg(long, default_value_t = 15)]
    overload_seconds: u64,
    /// Breach scenario: hashes in the generated index (100M: an 800 MB file in the temp dir).
    #[arg(long, default_value_t = 100_000_000)]
    breach_hashes: u64,
    /// Import scenario: users in the generated file (about 250 bytes each).
    #[arg(long, default_value_t = 1_000_000)]
    import_users: u64,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    /// The figures to compare this run with (the regression guard): the last release's run,
    /// kept in the repository.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../bench-baseline.json"))]
    baseline: std::path::PathBuf,
    /// Replace the baseline with this run, labelled (e.g. "v0.4.0, 2-core CI box"): for a
    /// release, on the machine the figures should be compared on.
    #[arg(long)]
    write_baseline: Option<String>,
}

/// A scenario's totals: the limit's operations and the server's answers over equal time.
struct Comparison {
    raw_per_sec: f64,
    server_per_sec: f64,
    server: Stats,
    server_seconds: f64,
}

impl Comparison {
    fn ratio(&self) -> f64 {
        self.server_per_sec / self.raw_per_sec
    }
}

/// Alternates `raw` windows with HTTP windows of `body` against `url`.
async fn compare(
    args: &Args,
    addr: std::net::SocketAddr,
    request: load::Requests,
    raw: impl Fn(Duration) -> anyhow::Result<u64> + Send + Sync + Clone + 'static,
) -> anyhow::Result<Comparison> {
    let window = Duration::from_secs(args.seconds.max(1));
    let run_raw = |d: Duration| {
        let raw = raw.clone();
        async move { tokio::task::spawn_blocking(move || raw(d)).await? }
    };
    // Warm-up pair, discarded.
    run_raw(Duration::from_secs(1)).await?;
    load::window(
        addr,
        &request,
        args.concurrency,
        Duration::from_secs(1),
        &mut Stats::default(),
    )
    .await;

    let (mut raw_ops, mut raw_secs, mut server_secs) = (0u64, 0f64, 0f64);
    let mut server = Stats::default();
    for _ in 0..args.rounds.max(1) {
        let started = std::time::Instant::now();
        raw_ops += run_raw(window).await?;
        raw_secs += started.elapsed().as_secs_f64();
        server_secs += load::window(addr, &request, args.concurrency, window, &mut server)
            .await
            .as_secs_f64();
    }
    Ok(Comparison {
        raw_per_sec: raw_ops as f64 / raw_secs,
        server_per_sec: server.ok() as f64 / server_secs,
        server,
        server_seconds: server_secs,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    let data_dir = std::env::temp_dir().join(format!("latchkey-bench-{}", std::process::id()));
    let mut env = vec![(
        "LATCHKEY_SERVER__LISTEN".to_owned(),
        "127.0.0.1:0".to_owned(),
    )];
    if let Some(url) = &args.database_url {
        env.push(("DATABASE_URL".to_owned(), url.clone()));
    }
    // Settings from this environment (`LATCHKEY_MAIL__CONCURRENCY=32`…) apply to the servers
    // measured, so an operator can measure their own configuration; the bench's own choices
    // below (listen address, SMTP sink, rate-limit budgets) still win.
    env.extend(std::env::vars().filter(|(k, _)| {
        k.starts_with("LATCHKEY_") && k.contains("__") && k != "LATCHKEY_SERVER__LISTEN"
    }));
    let (mut settings, _) = Settings::load(None, &env)?;
    settings.server.data_dir = data_dir.clone();
    // change_password: mail to a loopback SMTP server; budgets far above the load, so the
    // limiter's work is measured but never refuses.
    let sink = reset::CountingSink::start().await?;
    settings.mail.smtp_url = Some(format!("smtp://{}", sink.addr).into());
    settings.rate_limits.change_password_per_minute = 100_000_000;
    settings.rate_limits.change_password_burst = 100_000_000;
    settings.rate_limits.change_password_ip_per_minute = 100_000_000;
    settings.rate_limits.change_password_ip_burst = 100_000_000;
    let database_url = settings.database_url();
    // This node only queues mail: it measures intake alone. The reset scenario starts a single
    // node that serves and delivers when it wants delivery measured.
    settings.mail.deliver = false;
    let argon2 = settings.argon2();
    let wants_breach = args
        .scenarios
        .iter()
        .any(|s| s == "breach" || s == "logins-breach");
    let index_path = data_dir.with_extension("lkidx");
    let mut breach_doc = Value::Null;
    if wants_breach {
        let (present, took) = breach::generate(&index_path, args.breach_hashes)?;
        let bytes = std::fs::metadata(&index_path)?.len();
        let report = breach::lookups(
            &index_path,
            &present,
            Duration::from_secs(args.seconds.max(1) * 2),
        )?;
        println!(
            "breached-password index: {} hashes, {} MiB on disk, built in {:.1}s",
            args.breach_hashes,
            bytes >> 20,
            took.as_secs_f64()
        );
        println!(
            "  lookups (one thread, half present) {:>11.0}/s, {} found of {}; RSS {} KiB before opening, {} KiB after",
            report.per_sec,
            report.found,
            report.lookups,
            report.rss_before_kib,
            report.rss_after_kib
        );
        breach_doc = json!({"hashes": args.breach_hashes, "bytes": bytes,
            "build_seconds": took.as_secs_f64(), "lookups_per_sec": report.per_sec,
            "rss_before_kib": report.rss_before_kib, "rss_after_kib": report.rss_after_kib});
        settings.passwords.breached_corpus = Some(index_path.clone());
    }
    let app = Application::build(&settings, &Default::default()).await?;
    let addr = app.address();
    let base = format!("http://{addr}");
    let backend = app.services().backend();
    let bootstrap: Value =
        serde_json::from_str(&std::fs::read_to_string(data_dir.join("bootstrap.json"))?)?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let services = app.services().clone();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));

    println!(
        "latchkey bench: {cores} cores, backend {backend}, {} connections, {} rounds of {}s limit + {}s server per scenario",
        args.concurrency, args.rounds, args.seconds, args.seconds
    );
    println!(
        "argon2id m={} KiB t={} p={} (the server's configured costs), RS256 with 2048-bit keys\n",
        argon2.memory_kib, argon2.iterations, argon2.parallelism
    );

    // Setup calls go through reqwest; the measured load uses the lean client in `load`.
    let client = reqwest::Client::new();
    let token_url = format!("{base}/oauth/token");
    let cc_body = json!({"grant_type": "client_credentials",
        "client_id": bootstrap["management_api"]["client_id"], "client_secret": bootstrap["management_api"]["client_secret"],
        "audience": format!("{base}/api/v2/")});
    let mgmt: Value = client
        .post(&token_url)
        .json(&cc_body)
        .send()
        .await?
        .json()
        .await?;
    let mgmt_token = mgmt["access_token"]
        .as_str()
        .context("management token")?
        .to_owned();
    let (email, password) = ("bench@example.com", "Bench-Passw0rd!");
    let created = client
        .post(format!("{base}/api/v2/users"))
        .bearer_auth(&mgmt_token)
        .json(&json!({"connection": "Username-Password-Authentication", "email": email, "password": password}))
        .send()
        .await?;
    anyhow::ensure!(
        created.status().as_u16() == 201,
        "creating the bench user: {}",
        created.status()
    );
    let login_body = json!({"grant_type": "password", "username": email, "password": password, "scope": "openid",
        "client_id": bootstrap["default_client"]["client_id"], "client_secret": bootstrap["default_client"]["client_secret"]});

    let wants = |name: &str| args.scenarios.iter().any(|s| s == name);
    let mut doc = json!({
        "cores": cores, "backend": backend, "window_seconds": args.seconds, "rounds": args.rounds,
        "concurrency": args.concurrency,
        "argon2": {"memory_kib": argon2.memory_kib, "iterations": argon2.iterations, "parallelism": argon2.parallelism},
    });
    println!(
        "{:<36} {:>11} {:>9} {:>9} {:>7}",
        "measurement", "per second", "p50 ms", "p99 ms", "errors"
    );
    let row = |name: &str, per_sec: f64, stats: &Stats| {
        println!(
            "{name:<36} {per_sec:>11.1} {:>9.2} {:>9.2} {:>7}",
            stats.p50_ms(),
            stats.p99_ms(),
            stats.errors
        );
    };
    if wants("logins") {
        let logins = compare(
            &args,
            addr,
            load::json_post(addr, "/oauth/token", &login_body),
            move |d| raw::argon2_hashes(argon2, cores, d),
        )
        .await?;
        println!(
            "{:<36} {:>11.1}",
            "raw argon2id hashes (all cores)", logins.raw_per_sec
        );
        row(
            "password-grant logins (HTTP)",
            logins.server_per_sec,
            &logins.server,
        );
        println!(
            "  logins / raw argon2id       = {:>5.1}%  (target ≥ 90%)",
            logins.ratio() * 100.0
        );
        doc["raw_argon2id_per_sec"] = json!(logins.raw_per_sec);
        doc["logins"] = logins.server.to_json(logins.server_seconds);
        doc["login_ratio"] = json!(logins.ratio());
    }
    if wants_breach {
        doc["breached_password_index"] = breach_doc.clone();
    }
    if wants("logins-breach") {
        // Detection on with every shield: each successful login looks its password up.
        let on = client
            .patch(format!("{base}/api/v2/attack-protection/breached-password-detection"))
            .bearer_auth(&mgmt_token)
            .json(&json!({"enabled": true, "shields": ["block", "user_notification", "admin_notification"]}))
            .send()
            .await?;
        anyhow::ensure!(
            on.status().is_success(),
            "enabling detection: {}",
            on.status()
        );
        let logins = compare(
            &args,
            addr,
            load::json_post(addr, "/oauth/token", &login_body),
            move |d| raw::argon2_hashes(argon2, cores, d),
        )
        .await?;
        row(
            "logins, breach detection on (HTTP)",
            logins.server_per_sec,
            &logins.server,
        );
        println!(
            "  logins with detection / raw argon2id = {:>5.1}%  (compare with logins)",
            logins.ratio() * 100.0
        );
        doc["logins_breach_detection"] = logins.server.to_json(logins.server_seconds);
        doc["login_breach_detection_ratio"] = json!(logins.ratio());
    }
    if wants("hosted") {
        // The hosted login form: one browser's page (cookie, CSRF token, sealed request),
        // submitted again and again with the right password; each answer is a 303 with a code.
        let request = hosted_login_request(&client, &base, &bootstrap, email, password).await?;
        let hosted = compare(&args, addr, request, move |d| {
            raw::argon2_hashes(argon2, cores, d)
        })
        .await?;
        println!(
            "{:<36} {:>11.1}",
            "raw argon2id hashes (all cores)", hosted.raw_per_sec
        );
        row(
            "hosted login form (HTTP)",
            hosted.server_per_sec,
            &hosted.server,
        );
        println!(
            "  hosted logins / raw argon2id = {:>5.1}%",
            hosted.ratio() * 100.0
        );
        doc["hosted_logins"] = hosted.server.to_json(hosted.server_seconds);
        doc["hosted_login_ratio"] = json!(hosted.ratio());
    }
    if wants("tokens") {
        let signer = std::sync::Arc::new(RawSigner::new()?);
        let tokens = compare(
            &args,
            addr,
            load::json_post(addr, "/oauth/token", &cc_body),
            move |d| raw::rs256_signatures(&signer, cores, d),
        )
        .await?;
        println!(
            "{:<36} {:>11.1}",
            "raw RS256 signatures (all cores)", tokens.raw_per_sec
        );
        row(
            "client-credentials tokens (HTTP)",
            tokens.server_per_sec,
            &tokens.server,
        );
        println!(
            "  cc tokens / raw RS256       = {:>5.1}%  (target ≥ 85%)",
            tokens.ratio() * 100.0
        );
        doc["raw_rs256_per_sec"] = json!(tokens.raw_per_sec);
        doc["client_credentials"] = tokens.server.to_json(tokens.server_seconds);
        doc["client_credentials_ratio"] = json!(tokens.ratio());
    }
    if wants("oidc-provider") {
        // Side by side: the same load generator, alternating windows against Latchkey's
        // client-credentials grant and node-oidc-provider's (one worker per core).
        let peer = peer::OidcProvider::start()?;
        let ours = load::json_post(addr, "/oauth/token", &cc_body);
        let theirs = peer.token_request();
        let window = Duration::from_secs(args.seconds.max(1));
        let warm = Duration::from_secs(1);
        load::window(addr, &ours, args.concurrency, warm, &mut Stats::default()).await;
        load::window(
            peer.addr,
            &theirs,
            args.concurrency,
            warm,
            &mut Stats::default(),
        )
        .await;
        let (mut latchkey, mut node) = (Stats::default(), Stats::default());
        let (mut latchkey_secs, mut node_secs) = (0f64, 0f64);
        for _ in 0..args.rounds.max(1) {
            node_secs += load::window(peer.addr, &theirs, args.concurrency, window, &mut node)
                .await
                .as_secs_f64();
            latchkey_secs += load::window(addr, &ours, args.concurrency, window, &mut latchkey)
                .await
                .as_secs_f64();
        }
        drop(peer);
        // The most any server could reach against this peer: every core signing and nothing
        // else, measured in the same run.
        let signer = std::sync::Arc::new(RawSigner::new()?);
        let started = std::time::Instant::now();
        let signed =
            tokio::task::spawn_blocking(move || raw::rs256_signatures(&signer, cores, window))
                .await??;
        let raw_per_sec = signed as f64 / started.elapsed().as_secs_f64();
        let (ours_per_sec, theirs_per_sec) = (
            latchkey.ok() as f64 / latchkey_secs,
            node.ok() as f64 / node_secs,
        );
        row("client-credentials tokens (HTTP)", ours_per_sec, &latchkey);
        row("node-oidc-provider, same grant", theirs_per_sec, &node);
        println!(
            "  latchkey / node-oidc-provider = {:>5.2}×  (target ≥ 3×; raw RS256 / node-oidc-provider = {:.2}×, the ceiling)",
            ours_per_sec / theirs_per_sec,
            raw_per_sec / theirs_per_sec
        );
        doc["oidc_provider"] = json!({
            "latchkey": latchkey.to_json(latchkey_secs),
            "node_oidc_provider": node.to_json(node_secs),
            "ratio": ours_per_sec / theirs_per_sec,
            "raw_rs256_per_sec": raw_per_sec,
            "ceiling": raw_per_sec / theirs_per_sec,
        });
    }
    if wants("reset") {
        let mut runs = Vec::new();
        let mut seeded = 0;
        let mut users = args.reset_users.clone();
        users.sort_unstable();
        for n in users {
            let took = reset::seed_users(&database_url, seeded, n).await?;
            if n > seeded {
                println!(
                    "  (seeded users {seeded}..{n} in {:.1}s)",
                    took.as_secs_f64()
                );
            }
            seeded = seeded.max(n);
            let bodies = reset::bodies(&bootstrap["default_client"]["client_id"], n);
            let requests = load::json_posts(addr, "/dbconnections/change_password", &bodies);
            let plan = reset::LoadPlan {
                concurrency: args.concurrency,
                windows: args.rounds,
                window: Duration::from_secs(args.seconds.max(1)),
            };
            // Intake alone (the main server does not deliver); then a single node that serves
            // and delivers (the default install) drains that queue, takes the same load while
            // it delivers, and drains again.
            let (alone, alone_secs) = reset::intake(addr, &requests, &plan).await;
            let node = reset::SingleNode::start(&settings).await?;
            let (mails, mail_secs) = reset::drain(&services, &sink).await?;
            let node_requests =
                load::json_posts(node.addr, "/dbconnections/change_password", &bodies);
            let (busy, busy_secs) = reset::intake(node.addr, &node_requests, &plan).await;
            let (busy_mails, busy_mail_secs) = reset::drain(&services, &sink).await?;
            node.stop().await?;
            row(
                &format!("change_password, {n} users"),
                alone.ok() as f64 / alone_secs,
                &alone,
            );
            row(
                "  … while mail is delivered",
                busy.ok() as f64 / busy_secs,
                &busy,
            );
            println!(
                "{:<36} {:>11.1}   ({mails} mails in {mail_secs:.1}s; {busy_mails} more in {:.1}s while serving)",
                "  mails delivered to SMTP /s",
                mails as f64 / mail_secs,
                busy_secs + busy_mail_secs
            );
            let run = json!({"users": n,
                "intake": alone.to_json(alone_secs),
                "intake_while_delivering": busy.to_json(busy_secs),
                "mails_delivered": mails, "mails_per_sec": mails as f64 / mail_secs});
            runs.push(run);
        }
        println!(
            "  change_password target: ≥ 5,000 requests/s, p99 < 20 ms, flat from 1k to 1M users"
        );
        doc["change_password"] = Value::Array(runs);
    }

    if wants("actions") {
        let (cold, warm) =
            tokio::task::spawn_blocking(|| actions::sandbox_samples(50, 1000)).await??;
        let p = actions::percentile;
        for (name, samples) in [("cold", &cold), ("warm", &warm)] {
            println!(
                "{:<36} {:>7} runs {:>9.2} {:>9.2}",
                format!("action in the sandbox, {name}"),
                samples.len(),
                p(samples, 0.5),
                p(samples, 0.99)
            );
        }
        // The hosted login, one request at a time, in alternating windows without and with
        // the action bound (so the machine's drift affects both alike).
        let login_request =
            hosted_login_request(&client, &base, &bootstrap, email, password).await?;
        let window = Duration::from_secs(args.seconds.max(1));
        let action = actions::deploy(&client, &base, &mgmt_token).await?;
        let (mut without, mut with) = (Stats::default(), Stats::default());
        load::window(
            addr,
            &login_request,
            1,
            Duration::from_secs(1),
            &mut Stats::default(),
        )
        .await;
        for _ in 0..args.rounds.max(1) {
            actions::bind(&client, &base, &mgmt_token, None).await?;
            load::window(addr, &login_request, 1, window, &mut without).await;
            actions::bind(&client, &base, &mgmt_token, Some(&action)).await?;
            load::window(addr, &login_request, 1, window, &mut with).await;
        }
        let window = window * args.rounds.max(1);
        row(
            "hosted login, no action (1 at a time)",
            without.ok() as f64 / window.as_secs_f64(),
            &without,
        );
        row(
            "hosted login, post-login action",
            with.ok() as f64 / window.as_secs_f64(),
            &with,
        );
        let share = (with.p50_ms() - without.p50_ms()) / with.p50_ms();
        println!(
            "  the action's share of a login (p50) = {:>5.1}%  (warm sandbox run alone: {:.2} ms of {:.2} ms)",
            share * 100.0,
            p(&warm, 0.5),
            with.p50_ms()
        );
        doc["actions"] = json!({
            "cold_ms": {"p50": p(&cold, 0.5), "p99": p(&cold, 0.99), "runs": cold.len()},
            "warm_ms": {"p50": p(&warm, 0.5), "p99": p(&warm, 0.99), "runs": warm.len()},
            "hosted_login_without": without.to_json(window.as_secs_f64()),
            "hosted_login_with": with.to_json(window.as_secs_f64()),
            "share_of_login_p50": share,
        });
    }

    if wants("overload") {
        let probes = overload::Probes {
            discovery: load::get(addr, "/.well-known/openid-configuration"),
            client_credentials: load::json_post(addr, "/oauth/token", &cc_body),
            change_password: load::json_post(
                addr,
                "/dbconnections/change_password",
                &json!({"client_id": bootstrap["default_client"]["client_id"], "email": email,
                    "connection": "Username-Password-Authentication"}),
            ),
        };
        let logins = load::json_post(addr, "/oauth/token", &login_body);
        println!(
            "overload: hashing queue depth {}, max wait {} ms; probes every 100 ms",
            settings.passwords.hashing_queue_depth, settings.passwords.hashing_queue_max_wait_ms
        );
        let mut levels = Vec::new();
        for &n in &args.overload_levels {
            let duration = Duration::from_secs(args.overload_seconds.max(1));
            levels.push(overload::level(addr, &logins, &probes, n, duration).await);
        }
        doc["overload"] = Value::Array(levels);
    }

    if wants("import") {
        doc["import"] = import_scenario(
            &args,
            addr,
            &bootstrap,
            &data_dir,
            args.database_url.clone(),
            cores,
        )
        .await?;
    }

    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&doc)?)?;
    }
    match std::fs::read_to_string(&args.baseline) {
        Ok(text) => {
            let kept: Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", args.baseline.display()))?;
            baseline::report(&doc, &kept, &args.baseline.display().to_string());
        }
        Err(e) => println!(
            "\nno baseline to compare with ({}: {e})",
            args.baseline.display()
        ),
    }
    if let Some(label) = &args.write_baseline {
        doc["label"] = json!(label);
        std::fs::write(&args.baseline, serde_json::to_string_pretty(&doc)? + "\n")?;
        println!("baseline written to {}", args.baseline.display());
    }
    let _ = stop.send(());
    server.await??;
    let _ = std::fs::remove_dir_all(&data_dir);
    let _ = std::fs::remove_file(&index_path);
    Ok(())
}

/// The import scenario: the file, the CLI's run, then first logins of imported users against
/// raw bcrypt verifications in alternating windows (each window logs in users not yet seen).
async fn import_scenario(
    args: &Args,
    addr: std::net::SocketAddr,
    bootstrap: &Value,
    data_dir: &std::path::Path,
    database_url: Option<String>,
    cores: usize,
) -> anyhow::Result<Value> {
    let n = args.import_users.max(1);
    let creds = import::Credentials::new(4)?;
    let tag = format!(
        "{}x{}",
        std::process::id(),
        latchkey_core::time::Timestamp::now().millis()
    );
    let file = data_dir.with_extension("import.json");
    let started = std::time::Instant::now();
    let bytes = import::write_file(&file, &tag, n, &creds)?;
    println!(
        "import file: {n} users with cost-10 bcrypt hashes, {} MiB, written in {:.1}s",
        bytes >> 20,
        started.elapsed().as_secs_f64()
    );
    let binary = import::latchkey_binary()?;
    let (cli_file, cli_dir) = (file.clone(), data_dir.to_owned());
    let run = tokio::task::spawn_blocking(move || {
        import::run_cli(&binary, &cli_file, &cli_dir, database_url.as_deref())
    })
    .await??;
    let _ = std::fs::remove_file(&file);
    let per_sec = n as f64 / run.seconds;
    println!(
        "{:<36} {:>11.1}   ({n} users in {:.1}s, peak RSS {} MiB)",
        "users import (CLI, bcrypt users)",
        per_sec,
        run.seconds,
        run.peak_rss_kib >> 10
    );
    println!("  {}", run.summary);
    println!("  import target: ≥ 20,000 users/s on SQLite on 2 cores, memory flat");

    // First logins: each window takes users no window has logged in yet.
    let windows = u64::from(args.rounds.max(1)) + 1;
    let per_window = (n / windows).min(50_000);
    let window = Duration::from_secs(args.seconds.max(1));
    let (password, hash) = creds.pairs[0].clone();
    let run_raw = |d: Duration| {
        let (password, hash) = (password.clone(), hash.clone());
        async move {
            tokio::task::spawn_blocking(move || {
                import::bcrypt_verifications(password, hash, cores, d)
            })
            .await?
        }
    };
    let logins = |k: u64| {
        load::json_posts(
            addr,
            "/oauth/token",
            &import::login_bodies(
                bootstrap,
                &tag,
                &creds,
                k * per_window,
                (k + 1) * per_window,
            ),
        )
    };
    run_raw(Duration::from_secs(1)).await?;
    let mut warm = Stats::default();
    load::window(
        addr,
        &logins(0),
        args.concurrency,
        Duration::from_secs(1),
        &mut warm,
    )
    .await;
    let (mut raw_ops, mut raw_secs, mut server_secs) = (0u64, 0f64, 0f64);
    let mut server = Stats::default();
    for k in 1..windows {
        let t = std::time::Instant::now();
        raw_ops += run_raw(window).await?;
        raw_secs += t.elapsed().as_secs_f64();
        let before = server.ok();
        server_secs += load::window(addr, &logins(k), args.concurrency, window, &mut server)
            .await
            .as_secs_f64();
        if server.ok() - before >= per_window {
            println!("  (window {k} ran out of fresh users: raise --import-users)");
        }
    }
    let raw_per_sec = raw_ops as f64 / raw_secs;
    let login_per_sec = server.ok() as f64 / server_secs;
    println!(
        "{:<36} {:>11.1}",
        "raw bcrypt-10 verifications (all cores)", raw_per_sec
    );
    println!(
        "{:<36} {login_per_sec:>11.1} {:>9.2} {:>9.2} {:>7}",
        "first logins, imported bcrypt users",
        server.p50_ms(),
        server.p99_ms(),
        server.errors
    );
    println!(
        "  first logins / raw bcrypt    = {:>5.1}%  (each also re-hashes with argon2id)",
        login_per_sec / raw_per_sec * 100.0
    );
    Ok(json!({
        "users": n, "file_bytes": bytes, "seconds": run.seconds, "users_per_sec": per_sec,
        "peak_rss_kib": run.peak_rss_kib, "summary": run.summary,
        "raw_bcrypt_per_sec": raw_per_sec,
        "first_logins": server.to_json(server_secs),
        "first_login_ratio": login_per_sec / raw_per_sec,
    }))
}

/// One browser's login page (cookie, CSRF token, sealed request), as a form post to submit
/// again and again with the right password: each answer is a 303 with a code.
async fn hosted_login_request(
    client: &reqwest::Client,
    base: &str,
    bootstrap: &Value,
    email: &str,
    password: &str,
) -> anyhow::Result<load::Requests> {
    let addr: std::net::SocketAddr = base.trim_start_matches("http://").parse()?;
    let authorize = format!(
        "{base}/authorize?response_type=code&client_id={}&redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcallback&scope=openid&state=bench",
        bootstrap["default_client"]["client_id"]
            .as_str()
            .unwrap_or_default()
    );
    let page = client.get(&authorize).send().await?;
    let cookie = page
        .headers()
        .get("set-cookie")
        .and_then(|c| c.to_str().ok())
        .and_then(|c| c.split(';').next())
        .map(str::to_owned)
        .context("the login page set no CSRF cookie")?;
    let html = page.text().await?;
    let field = |name: &str| -> anyhow::Result<String> {
        let marker = format!(r#"name="{name}" value=""#);
        let at = html.find(&marker).context("login form field")? + marker.len();
        let end = html[at..].find('"').context("login form field")?;
        Ok(html[at..at + end].replace("&amp;", "&"))
    };
    let body = serde_urlencoded::to_string([
        ("_csrf", field("_csrf")?),
        ("state", field("state")?),
        ("username", email.to_owned()),
        ("password", password.to_owned()),
    ])?;
    Ok(load::form_post(
        addr,
        "/u/login",
        &body,
        &[("Cookie", &cookie)],
    ))
}
