//! The regression guard: each figure of this run next to the one kept in the repository
//! (`bench-baseline.json`, the last release's run), so that a drop shows up the day it lands.
//! Ratios to a physical limit are compared in percentage points (they carry the machine's
//! speed out); absolute rates and latencies only make sense on the machine that wrote the
//! baseline, and are compared in percent.

use serde_json::Value;

/// How a figure is judged.
#[derive(Clone, Copy)]
enum Kind {
    /// A ratio to a limit measured in the same run: higher is better, compared in points.
    Ratio,
    /// Operations per second: higher is better.
    Rate,
    /// A latency (or a peak memory): lower is better.
    Latency,
    /// A multiple of a peer measured in the same run: higher is better, compared in percent
    /// on any machine.
    Multiple,
}

/// A drop beyond this many points (ratios) or percent (the rest) is flagged. Alternating
/// windows keep a ratio's run-to-run noise to a few points on a shared 2-core machine.
const RATIO_POINTS: f64 = 5.0;
const RELATIVE_PERCENT: f64 = 15.0;

/// The figures the guard follows: a label and where the figure is in the run's document.
fn tracked(doc: &Value) -> Vec<(String, String, Kind)> {
    let mut out: Vec<(String, String, Kind)> = [
        ("logins / raw argon2id", "/login_ratio", Kind::Ratio),
        (
            "cc tokens / raw RS256",
            "/client_credentials_ratio",
            Kind::Ratio,
        ),
        (
            "cc tokens p99 ms",
            "/client_credentials/p99_ms",
            Kind::Latency,
        ),
        (
            "hosted logins / raw argon2id",
            "/hosted_login_ratio",
            Kind::Ratio,
        ),
        (
            "logins, breach detection / raw",
            "/login_breach_detection_ratio",
            Kind::Ratio,
        ),
        (
            "cc tokens, × node-oidc-provider",
            "/oidc_provider/ratio",
            Kind::Multiple,
        ),
        (
            "breach index lookups/s",
            "/breached_password_index/lookups_per_sec",
            Kind::Rate,
        ),
        ("import users/s", "/import/users_per_sec", Kind::Rate),
        ("import peak RSS KiB", "/import/peak_rss_kib", Kind::Latency),
        (
            "first logins / raw bcrypt",
            "/import/first_login_ratio",
            Kind::Ratio,
        ),
    ]
    .into_iter()
    .map(|(l, p, k)| (l.to_owned(), p.to_owned(), k))
    .collect();
    for (i, run) in doc["change_password"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let users = run["users"].as_u64().unwrap_or(0);
        let at = format!("/change_password/{i}");
        for (label, path, kind) in [
            ("req/s", "/intake/per_sec", Kind::Rate),
            ("p99 ms", "/intake/p99_ms", Kind::Latency),
            (
                "req/s, delivering",
                "/intake_while_delivering/per_sec",
                Kind::Rate,
            ),
            (
                "p99 ms, delivering",
                "/intake_while_delivering/p99_ms",
                Kind::Latency,
            ),
            ("mails/s", "/mails_per_sec", Kind::Rate),
        ] {
            out.push((
                format!("change_password {users} users {label}"),
                format!("{at}{path}"),
                kind,
            ));
        }
    }
    out
}

/// The change_password runs are matched by user count, not position.
fn in_baseline<'a>(baseline: &'a Value, doc: &Value, pointer: &str) -> Option<&'a Value> {
    if let Some(rest) = pointer.strip_prefix("/change_password/") {
        let (index, tail) = rest.split_once('/')?;
        let users = doc["change_password"][index.parse::<usize>().ok()?]["users"].as_u64()?;
        let run = baseline["change_password"]
            .as_array()?
            .iter()
            .find(|r| r["users"].as_u64() == Some(users))?;
        return run.pointer(&format!("/{tail}"));
    }
    baseline.pointer(pointer)
}

/// Prints the guard's table; answers how many figures regressed.
pub fn report(doc: &Value, baseline: &Value, source: &str) -> usize {
    let same_backend = baseline["backend"] == doc["backend"];
    let same_cores = baseline["cores"] == doc["cores"];
    println!();
    println!(
        "regression guard against {source} ({}{}):",
        baseline["label"].as_str().unwrap_or("baseline"),
        if same_backend && same_cores {
            String::new()
        } else {
            format!(
                "; it ran on backend {} with {} cores, so only ratios compare",
                baseline["backend"], baseline["cores"]
            )
        }
    );
    println!(
        "{:<44} {:>10} {:>10} {:>9}",
        "figure", "this run", "baseline", "change"
    );
    let mut regressions = 0;
    for (label, pointer, kind) in tracked(doc) {
        let (Some(now), Some(then)) = (
            doc.pointer(&pointer).and_then(Value::as_f64),
            in_baseline(baseline, doc, &pointer).and_then(Value::as_f64),
        ) else {
            continue;
        };
        // Absolute figures only compare on the machine and backend that wrote the baseline.
        let comparable =
            matches!(kind, Kind::Ratio | Kind::Multiple) || (same_backend && same_cores);
        if !comparable {
            continue;
        }
        let (shown_now, shown_then, change, worse) = match kind {
            Kind::Ratio => {
                let points = (now - then) * 100.0;
                (
                    format!("{:.1}%", now * 100.0),
                    format!("{:.1}%", then * 100.0),
                    format!("{points:+.1} pt"),
                    points < -RATIO_POINTS,
                )
            }
            Kind::Rate | Kind::Latency | Kind::Multiple => {
                let percent = if then > 0.0 {
                    (now - then) / then * 100.0
                } else {
                    0.0
                };
                let worse = match kind {
                    Kind::Latency => percent > RELATIVE_PERCENT,
                    _ => percent < -RELATIVE_PERCENT,
                };
                (
                    format!("{now:.1}"),
                    format!("{then:.1}"),
                    format!("{percent:+.0}%"),
                    worse,
                )
            }
        };
        regressions += usize::from(worse);
        println!(
            "{label:<44} {shown_now:>10} {shown_then:>10} {change:>9}{}",
            if worse { "  REGRESSION" } else { "" }
        );
    }
    if regressions > 0 {
        println!(
            "{regressions} figure(s) worse than the baseline by more than {RATIO_POINTS} points (ratios) or {RELATIVE_PERCENT}% (rates, latencies)"
        );
    }
    regressions
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn drops_are_flagged_and_runs_matched_by_users() {
        let baseline = json!({"backend": "sqlite", "cores": 2, "client_credentials_ratio": 0.828,
            "login_ratio": 0.949,
            "change_password": [{"users": 1000000, "intake": {"per_sec": 3000.0}},
                                {"users": 1000, "intake": {"per_sec": 7000.0}}]});
        let doc = json!({"backend": "sqlite", "cores": 2, "client_credentials_ratio": 0.723,
            "login_ratio": 0.95,
            "change_password": [{"users": 1000, "intake": {"per_sec": 6900.0}},
                                {"users": 1000000, "intake": {"per_sec": 2000.0}}]});
        // 82.8% → 72.3% and 3,000 → 2,000 req/s at 1M users; 1k users within noise.
        assert_eq!(report(&doc, &baseline, "test"), 2);
        assert_eq!(report(&baseline, &baseline, "test"), 0);
    }
}
