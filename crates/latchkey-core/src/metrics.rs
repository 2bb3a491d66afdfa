//! This node's counters and histograms, written out in Prometheus' text exposition format
//! (version 0.0.4) for `/metrics`. One process-wide registry, as Prometheus clients keep:
//! the hashing pool, the job worker and the rate limiter record without being handed a
//! reference, and every series is per node (Prometheus sums a cluster).
//!
//! No dependency: a handful of mutex-guarded maps keyed by label values. Label values are
//! bounded by construction (route templates, job kinds, log type codes, connection names);
//! anything a client can choose (an HTTP method) is folded into a fixed set first.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// The registry every part of the process records into.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::default);

/// Upper bounds (seconds) for request and wait histograms: 1 ms to 10 s.
const LATENCY_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A step of a password reset, for the funnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetStage {
    /// A reset mail was queued (by the user's request or a Management API ticket mail).
    Requested,
    /// The mail left this node (SMTP accepted it).
    Delivered,
    /// The link was opened while it was still valid.
    Opened,
    /// The link was opened after it expired or was used.
    Expired,
    /// A new password was set through the link.
    Completed,
}

impl ResetStage {
    fn label(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Delivered => "delivered",
            Self::Opened => "opened",
            Self::Expired => "expired",
            Self::Completed => "completed",
        }
    }
}

/// What became of one job delivery attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered,
    /// Failed, will be tried again.
    Retried,
    /// Nothing to deliver (an unknown address, a user gone, a block lifted meanwhile).
    Dropped,
    /// Failed for good.
    Failed,
}

impl DeliveryOutcome {
    fn label(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Retried => "retried",
            Self::Dropped => "dropped",
            Self::Failed => "failed",
        }
    }
}

#[derive(Default)]
pub struct Metrics {
    /// Route template → its requests.
    http: Mutex<BTreeMap<String, RouteSeries>>,
    hashing_wait: Histogram,
    hashing_refused: AtomicU64,
    deliveries: Labelled<2>,
    rate_limited: Labelled<1>,
    log_events: Labelled<1>,
    action_executions: Labelled<2>,
    password_resets: Labelled<2>,
    breached_passwords: Labelled<2>,
    breach_range_failures: AtomicU64,
}

#[derive(Default, Clone)]
struct RouteSeries {
    /// (method, status) → count.
    responses: BTreeMap<(&'static str, u16), u64>,
    /// method → latency.
    latency: BTreeMap<&'static str, HistogramCounts>,
}

/// Counters told apart by `N` label values.
struct Labelled<const N: usize> {
    series: Mutex<BTreeMap<[String; N], u64>>,
}

impl<const N: usize> Default for Labelled<N> {
    fn default() -> Self {
        Self {
            series: Mutex::new(BTreeMap::new()),
        }
    }
}

impl<const N: usize> Labelled<N> {
    fn inc(&self, labels: [&str; N]) {
        let Ok(mut series) = self.series.lock() else {
            return;
        };
        // Look up by borrowed values first: allocate only for a new series.
        if let Some((_, n)) = series
            .iter_mut()
            .find(|(k, _)| k.iter().zip(labels.iter()).all(|(a, b)| a == b))
        {
            *n += 1;
        } else {
            series.insert(labels.map(str::to_owned), 1);
        }
    }

    fn snapshot(&self) -> Vec<([String; N], u64)> {
        self.series
            .lock()
            .map(|s| s.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default()
    }
}

#[derive(Default)]
struct Histogram {
    inner: Mutex<HistogramCounts>,
}

#[derive(Default, Clone)]
struct HistogramCounts {
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl HistogramCounts {
    fn observe(&mut self, seconds: f64) {
        for (bound, n) in LATENCY_BUCKETS.iter().zip(self.buckets.iter_mut()) {
            if seconds <= *bound {
                *n += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }
}

impl Histogram {
    fn observe(&self, elapsed: Duration) {
        if let Ok(mut h) = self.inner.lock() {
            h.observe(elapsed.as_secs_f64());
        }
    }
    fn snapshot(&self) -> HistogramCounts {
        self.inner.lock().map(|h| h.clone()).unwrap_or_default()
    }
}

/// The HTTP methods kept as label values; any other is counted as `other`.
fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

impl Metrics {
    /// One answered HTTP request. `route` is the matched route template (or `unmatched`).
    pub fn http_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let method = method_label(method);
        let Ok(mut routes) = self.http.lock() else {
            return;
        };
        let series = match routes.get_mut(route) {
            Some(series) => series,
            None => routes.entry(route.to_owned()).or_default(),
        };
        *series.responses.entry((method, status)).or_default() += 1;
        series
            .latency
            .entry(method)
            .or_default()
            .observe(elapsed.as_secs_f64());
    }

    /// How long a password hash waited for a hashing thread.
    pub fn hashing_waited(&self, wait: Duration) {
        self.hashing_wait.observe(wait);
    }

    /// A password hash refused because the pool's queue was full or the wait too long.
    pub fn hashing_refused(&self) {
        self.hashing_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// One delivery attempt of a queued job of `kind`.
    pub fn job_delivery(&self, kind: &str, outcome: DeliveryOutcome) {
        self.deliveries.inc([kind, outcome.label()]);
    }

    /// A request refused by the rate limit named `limit`.
    pub fn rate_limited(&self, limit: &str) {
        self.rate_limited.inc([limit]);
    }

    /// A tenant log entry of Auth0 type `code` (e.g. `fp`, `limit_wc`, `scp`).
    pub fn log_event(&self, code: &str) {
        self.log_events.inc([code]);
    }

    /// One run of the actions bound to `trigger`.
    pub fn action_execution(&self, trigger: &str, succeeded: bool) {
        self.action_executions
            .inc([trigger, if succeeded { "success" } else { "failure" }]);
    }

    /// A step of a password reset on `connection`.
    pub fn password_reset(&self, connection: &str, stage: ResetStage) {
        self.password_resets.inc([connection, stage.label()]);
    }

    /// A breached password met at `stage` (`login`, `signup`, `change_password`), refused or
    /// let through by the settings.
    pub fn breached_password(&self, stage: &str, blocked: bool) {
        self.breached_passwords
            .inc([stage, if blocked { "blocked" } else { "allowed" }]);
    }

    /// The breached-password range service did not answer, or answered wrongly.
    pub fn breach_range_failure(&self) {
        self.breach_range_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// The exposition text: these series, then `gauges` read at scrape time.
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::with_capacity(16 * 1024);
        self.render_http(&mut out);

        header(
            &mut out,
            "latchkey_password_hashing_queue_depth",
            "gauge",
            "Password hashes waiting for a hashing thread.",
        );
        let _ = writeln!(
            out,
            "latchkey_password_hashing_queue_depth {}",
            gauges.hashing_queue_depth
        );
        header(
            &mut out,
            "latchkey_password_hashing_wait_seconds",
            "histogram",
            "Time a password hash waited for a hashing thread.",
        );
        histogram(
            &mut out,
            "latchkey_password_hashing_wait_seconds",
            "",
            &self.hashing_wait.snapshot(),
        );
        header(
            &mut out,
            "latchkey_password_hashing_refused_total",
            "counter",
            "Password hashes refused at once (503) because the hashing pool was saturated.",
        );
        let _ = writeln!(
            out,
            "latchkey_password_hashing_refused_total {}",
            self.hashing_refused.load(Ordering::Relaxed)
        );

        header(
            &mut out,
            "latchkey_outbox_pending_jobs",
            "gauge",
            "Queued jobs not yet delivered, by lane (people = mail, machines = the rest).",
        );
        for lane in &gauges.outbox {
            let l = labels(&[("lane", &lane.lane)]);
            let _ = writeln!(out, "latchkey_outbox_pending_jobs{l} {}", lane.pending);
        }
        header(
            &mut out,
            "latchkey_outbox_oldest_pending_age_seconds",
            "gauge",
            "Age of the oldest queued job not yet delivered, by lane.",
        );
        for lane in &gauges.outbox {
            let l = labels(&[("lane", &lane.lane)]);
            let _ = writeln!(
                out,
                "latchkey_outbox_oldest_pending_age_seconds{l} {}",
                lane.oldest_age_seconds
            );
        }
        counters(
            &mut out,
            "latchkey_outbox_deliveries_total",
            "Delivery attempts of queued jobs, by job kind and outcome.",
            ["kind", "outcome"],
            &self.deliveries.snapshot(),
        );
        counters(
            &mut out,
            "latchkey_rate_limited_total",
            "Requests refused by a rate limit, by limit.",
            ["limit"],
            &self.rate_limited.snapshot(),
        );
        counters(
            &mut out,
            "latchkey_log_events_total",
            "Tenant log entries by Auth0 type code (fp = failed login, limit_wc = brute-force \
             block, scp = password changed, ...).",
            ["type"],
            &self.log_events.snapshot(),
        );
        counters(
            &mut out,
            "latchkey_action_executions_total",
            "Runs of a trigger's bound actions, by trigger and outcome.",
            ["trigger", "outcome"],
            &self.action_executions.snapshot(),
        );
        counters(
            &mut out,
            "latchkey_password_reset_total",
            "The password reset funnel per connection: requested, delivered, opened, expired \
             (link opened too late or twice), completed. Abandoned = opened - completed.",
            ["connection", "stage"],
            &self.password_resets.snapshot(),
        );
        counters(
            &mut out,
            "latchkey_breached_passwords_total",
            "Breached passwords met with detection on, by stage (login, signup, \
             change_password) and outcome (blocked, allowed).",
            ["stage", "outcome"],
            &self.breached_passwords.snapshot(),
        );
        header(
            &mut out,
            "latchkey_breach_range_failures_total",
            "counter",
            "Lookups the breached-password range service did not answer (or answered wrongly).",
        );
        let _ = writeln!(
            out,
            "latchkey_breach_range_failures_total {}",
            self.breach_range_failures.load(Ordering::Relaxed)
        );
        out
    }

    fn render_http(&self, out: &mut String) {
        // A copy, so that requests are not held up while the text is written.
        let routes: BTreeMap<String, RouteSeries> = self
            .http
            .lock()
            .map(|routes| routes.clone())
            .unwrap_or_default();
        header(
            out,
            "latchkey_http_requests_total",
            "counter",
            "HTTP requests answered, by method, route template and status.",
        );
        for (route, series) in &routes {
            for ((method, status), n) in &series.responses {
                let l = labels(&[
                    ("method", method),
                    ("route", route),
                    ("status", &status.to_string()),
                ]);
                let _ = writeln!(out, "latchkey_http_requests_total{l} {n}");
            }
        }
        header(
            out,
            "latchkey_http_request_duration_seconds",
            "histogram",
            "Time from the request's arrival to its answer, by method and route template.",
        );
        for (route, series) in &routes {
            for (method, h) in &series.latency {
                let l = label_pairs(&[("method", method), ("route", route)]);
                histogram(out, "latchkey_http_request_duration_seconds", &l, h);
            }
        }
    }
}

/// Values read when scraped, from the parts that hold them.
#[derive(Debug, Default, Clone)]
pub struct Gauges {
    pub hashing_queue_depth: usize,
    pub outbox: Vec<OutboxLane>,
}

/// The jobs of one outbox lane not yet delivered.
#[derive(Debug, Clone)]
pub struct OutboxLane {
    pub lane: String,
    pub pending: u64,
    pub oldest_age_seconds: u64,
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn counters<const N: usize>(
    out: &mut String,
    name: &str,
    help: &str,
    names: [&str; N],
    series: &[([String; N], u64)],
) {
    header(out, name, "counter", help);
    for (values, n) in series {
        let pairs: Vec<(&str, &str)> = names
            .iter()
            .copied()
            .zip(values.iter().map(String::as_str))
            .collect();
        let _ = writeln!(out, "{name}{} {n}", labels(&pairs));
    }
}

fn histogram(out: &mut String, name: &str, pairs: &str, h: &HistogramCounts) {
    let sep = if pairs.is_empty() { "" } else { "," };
    for (bound, n) in LATENCY_BUCKETS.iter().zip(h.buckets.iter()) {
        let _ = writeln!(out, "{name}_bucket{{{pairs}{sep}le=\"{bound}\"}} {n}");
    }
    let _ = writeln!(out, "{name}_bucket{{{pairs}{sep}le=\"+Inf\"}} {}", h.count);
    let braces = if pairs.is_empty() {
        String::new()
    } else {
        format!("{{{pairs}}}")
    };
    let _ = writeln!(out, "{name}_sum{braces} {}", h.sum);
    let _ = writeln!(out, "{name}_count{braces} {}", h.count);
}

/// `{a="x",b="y"}`, values escaped as the format requires.
fn labels(pairs: &[(&str, &str)]) -> String {
    format!("{{{}}}", label_pairs(pairs))
}

fn label_pairs(pairs: &[(&str, &str)]) -> String {
    let mut s = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{k}=\"");
        for c in v.chars() {
            match c {
                '\\' => s.push_str("\\\\"),
                '"' => s.push_str("\\\""),
                '\n' => s.push_str("\\n"),
                c => s.push(c),
            }
        }
        s.push('"');
    }
    s
}

/// A rate limiter that counts its refusals by the bucket's kind (the part of the bucket name
/// before its first `:`, e.g. `login-mfa`), around the configured backend.
pub struct CountedRateLimiter(pub Arc<dyn crate::ratelimit::RateLimiter>);

#[async_trait::async_trait]
impl crate::ratelimit::RateLimiter for CountedRateLimiter {
    async fn check(
        &self,
        key: &str,
        rule: crate::ratelimit::RateRule,
    ) -> crate::ratelimit::RateDecision {
        let decision = self.0.check(key, rule).await;
        if !decision.allowed {
            METRICS.rate_limited(key.split(':').next().unwrap_or("other"));
        }
        decision
    }

    async fn peek(&self, key: &str, rule: crate::ratelimit::RateRule) -> bool {
        self.0.peek(key, rule).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped_and_histograms_are_cumulative() {
        let m = Metrics::default();
        m.http_request("GET", "/a\"b", 200, Duration::from_millis(3));
        m.http_request("BREW", "/a\"b", 418, Duration::from_secs(20));
        m.password_reset("Username-Password-Authentication", ResetStage::Requested);
        let text = m.render(&Gauges::default());
        assert!(text.contains(
            "latchkey_http_requests_total{method=\"GET\",route=\"/a\\\"b\",status=\"200\"} 1"
        ));
        assert!(text.contains("method=\"other\""));
        assert!(text.contains(
            "latchkey_http_request_duration_seconds_bucket{method=\"GET\",route=\"/a\\\"b\",le=\"0.005\"} 1"
        ));
        assert!(text.contains(
            "latchkey_http_request_duration_seconds_bucket{method=\"other\",route=\"/a\\\"b\",le=\"10\"} 0"
        ));
        assert!(text.contains(
            "latchkey_http_request_duration_seconds_bucket{method=\"other\",route=\"/a\\\"b\",le=\"+Inf\"} 1"
        ));
        assert!(text.contains(
            "latchkey_password_reset_total{connection=\"Username-Password-Authentication\",stage=\"requested\"} 1"
        ));
    }
}
