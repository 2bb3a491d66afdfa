//! Login overload: many concurrent password grants (more than the hashing pool can serve)
//! while a paced probe measures endpoints that hash nothing. Reports the logins served per
//! second and their p99, the share shed (503 + Retry-After; shed clients wait a second as the
//! header asks), the probes' p99 and the process's peak RSS (the server runs in this process).

use crate::load::{self, Requests, Stats};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Peak resident set size of this process (kB), from /proc/self/status `VmHWM`.
pub fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Resets the peak (Linux: `5` in clear_refs), so each level reports its own; best effort.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

pub struct Probes {
    pub discovery: Requests,
    pub client_credentials: Requests,
    pub change_password: Requests,
}

/// One level: `concurrency` login workers for `duration`, probes every 100 ms each.
pub async fn level(
    addr: SocketAddr,
    logins: &Requests,
    probes: &Probes,
    concurrency: usize,
    duration: Duration,
) -> Value {
    reset_peak_rss();
    let until = Instant::now() + duration;
    let every = Duration::from_millis(100);
    let probe_tasks = [
        ("discovery", probes.discovery.clone()),
        ("client_credentials", probes.client_credentials.clone()),
        ("change_password", probes.change_password.clone()),
    ]
    .map(|(name, r)| (name, tokio::spawn(load::probe(addr, r, every, until))));
    let mut served = Stats::default();
    let seconds = load::window_with(
        addr,
        logins,
        concurrency,
        duration,
        &mut served,
        Duration::from_secs(1),
    )
    .await
    .as_secs_f64();
    let attempts = served.ok() + served.shed + served.errors;
    let shed_share = served.shed as f64 / attempts.max(1) as f64;
    println!(
        "{:<36} {:>11.1} {:>9.2} {:>9.2} {:>7}   shed {:>5.1}% of {attempts}",
        format!("password grants, {concurrency} at once"),
        served.ok() as f64 / seconds,
        served.p50_ms(),
        served.p99_ms(),
        served.errors,
        shed_share * 100.0
    );
    let mut doc = json!({"concurrency": concurrency, "seconds": seconds,
        "logins": served.to_json(seconds), "shed": served.shed, "shed_share": shed_share});
    for (name, task) in probe_tasks {
        let stats = task.await.unwrap_or_default();
        println!(
            "{:<36} {:>11} {:>9.2} {:>9.2} {:>7}",
            format!("  probe: {name}"),
            stats.ok(),
            stats.p50_ms(),
            stats.p99_ms(),
            stats.errors + stats.shed
        );
        doc[name] = stats.to_json(seconds);
    }
    let peak = peak_rss_kb();
    println!(
        "  peak RSS (server + bench, this process) = {} MB",
        peak.map_or("?".to_owned(), |kb| format!("{:.1}", kb as f64 / 1024.0))
    );
    doc["peak_rss_kb"] = json!(peak);
    doc
}
