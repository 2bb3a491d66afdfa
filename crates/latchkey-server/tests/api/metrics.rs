//! `/metrics`: Prometheus' text format, checked by the real `promtool check metrics`; the
//! reset funnel moving through a real reset (mail over SMTP to a loopback sink); who may read
//! it (nobody by default, the allowed addresses, or the separate metrics listener).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::{TestApp, free_port, spawn_app, spawn_app_with};
use crate::reset::{CONNECTION, open_page, request_reset, submit};
use crate::smtp_sink::SmtpSink;
use std::io::Write;
use std::time::Duration;

async fn scrape(app: &TestApp, url: &str) -> (u16, String, String) {
    let res = app.http.get(url).send().await.unwrap();
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, res.text().await.unwrap())
}

/// The value of the sample whose name and labels are exactly `series`, or 0.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

fn funnel(text: &str, stage: &str) -> f64 {
    sample(
        text,
        &format!("latchkey_password_reset_total{{connection=\"{CONNECTION}\",stage=\"{stage}\"}}"),
    )
}

/// `promtool check metrics` (Debian's prometheus package, installed by scripts/test): the text
/// parses, and its lint finds nothing.
fn promtool_check(text: &str) {
    let promtool = std::env::var("LATCHKEY_PROMTOOL").unwrap_or_else(|_| "promtool".to_owned());
    let mut child = std::process::Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{promtool} not found ({e}): run scripts/test, which installs Debian's prometheus package")
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool: {report}\n{text}"
    );
}

#[tokio::test]
async fn metrics_pass_promtool_and_the_reset_funnel_moves() {
    let sink = SmtpSink::start().await;
    let smtp = sink.url();
    let app = spawn_app_with(move |s| {
        s.mail.smtp_url = Some(smtp.into());
        s.metrics.allow_from = vec!["127.0.0.1/32".into(), "::1/128".into()];
    })
    .await;
    let metrics_url = app.url("/metrics");
    app.create_user("funnel@example.com", "Old-Password-1")
        .await;

    let (status, content_type, before) = scrape(&app, &metrics_url).await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    assert_eq!(funnel(&before, "requested"), 0.0);

    // A wrong password (a failed-login log entry), then the reset journey.
    let wrong = app
        .login("funnel@example.com", "Wrong-Password-9", "openid")
        .await;
    assert_eq!(wrong.status(), 403);
    assert_eq!(
        request_reset(&app, "funnel@example.com").await.status(),
        200
    );
    let mails = sink.wait_for(1, Duration::from_secs(10)).await;
    let ticket = mails[0].ticket();
    let visit = open_page(&app, &ticket).await;
    assert_eq!(visit.status, 200);
    let done = submit(&app, &visit, &ticket, "New-Password-2", "New-Password-2").await;
    assert_eq!(done.status(), 200);
    // The used link, opened again.
    assert_ne!(open_page(&app, &ticket).await.status, 200);

    // Delivery is recorded after SMTP accepted the mail: wait for the settle.
    let mut after = String::new();
    for _ in 0..50 {
        after = scrape(&app, &metrics_url).await.2;
        if funnel(&after, "delivered") >= 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (stage, n) in [
        ("requested", 1.0),
        ("delivered", 1.0),
        ("opened", 1.0),
        ("completed", 1.0),
        ("expired", 1.0),
    ] {
        assert_eq!(funnel(&after, stage), n, "stage {stage}:\n{after}");
    }
    assert!(
        sample(
            &after,
            "latchkey_outbox_deliveries_total{kind=\"password_reset_request\",outcome=\"delivered\"}"
        ) >= 1.0,
        "{after}"
    );
    assert!(sample(&after, "latchkey_log_events_total{type=\"fp\"}") >= 1.0);
    assert!(sample(&after, "latchkey_log_events_total{type=\"scp\"}") >= 1.0);
    assert!(
        sample(
            &after,
            "latchkey_http_requests_total{method=\"POST\",route=\"/dbconnections/change_password\",status=\"200\"}"
        ) >= 1.0,
        "{after}"
    );
    assert!(
        after.contains(
            "latchkey_http_request_duration_seconds_bucket{method=\"GET\",route=\"/lo/reset\",le=\"+Inf\"}"
        ),
        "{after}"
    );
    // Hashes ran (the user's creation, the login, the new password), each waited in the queue.
    assert!(sample(&after, "latchkey_password_hashing_wait_seconds_count") >= 3.0);
    assert!(after.contains("latchkey_password_hashing_queue_depth 0"));
    // Paths are templates: no ticket, no user id leaks into a label.
    assert!(!after.contains(&ticket));
    promtool_check(&after);

    // An unknown method is folded into `other`; an unmatched path into `unmatched`.
    let _ = app
        .http
        .request(
            reqwest::Method::from_bytes(b"BREW").unwrap(),
            app.url("/no/such/path"),
        )
        .send()
        .await
        .unwrap();
    let text = scrape(&app, &metrics_url).await.2;
    assert!(
        sample(
            &text,
            "latchkey_http_requests_total{method=\"other\",route=\"unmatched\",status=\"404\"}"
        ) >= 1.0,
        "{text}"
    );
    promtool_check(&text);
}

#[tokio::test]
async fn metrics_are_not_served_by_default_nor_to_other_addresses() {
    let app = spawn_app().await;
    let (status, _, body) = scrape(&app, &app.url("/metrics")).await;
    assert_eq!(status, 404, "{body}");
    assert!(!body.contains("latchkey_"));

    // Allowed only to 10.0.0.0/8: this loopback client is not in it.
    let app = spawn_app_with(|s| s.metrics.allow_from = vec!["10.0.0.0/8".into()]).await;
    let (status, _, body) = scrape(&app, &app.url("/metrics")).await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn metrics_on_their_own_listener_and_bad_settings_stop_the_start() {
    let port = free_port();
    let app = spawn_app_with(move |s| s.metrics.listen = Some(format!("127.0.0.1:{port}"))).await;
    let (status, _, text) = scrape(&app, &format!("http://127.0.0.1:{port}/metrics")).await;
    assert_eq!(status, 200);
    promtool_check(&text);
    prometheus_scrapes(&app, port).await;
    // Only /metrics there; and the main listener does not serve it.
    assert_eq!(
        scrape(&app, &format!("http://127.0.0.1:{port}/health"))
            .await
            .0,
        404
    );
    assert_eq!(scrape(&app, &app.url("/metrics")).await.0, 404);

    for (key, value, says) in [
        (
            "LATCHKEY_METRICS__ALLOW_FROM",
            "10.0.0.0/33",
            "metrics.allow_from",
        ),
        ("LATCHKEY_METRICS__LISTEN", "nowhere", "metrics.listen"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_latchkey"))
            .args(["config", "check"])
            .env(key, value)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{key}={value} was accepted");
        assert!(stderr.contains(says), "{stderr}");
    }
}

/// A real Prometheus (Debian's package, installed by scripts/test) scraping the metrics
/// listener every second: the target is up and a latchkey series is stored.
async fn prometheus_scrapes(app: &TestApp, metrics_port: u16) {
    let dir = crate::helpers::temp_dir();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: latchkey\n    \
             static_configs:\n      - targets: ['127.0.0.1:{metrics_port}']\n"
        ),
    )
    .unwrap();
    let web = free_port();
    let bin = std::env::var("LATCHKEY_PROMETHEUS").unwrap_or_else(|_| "prometheus".to_owned());
    let _prometheus = tokio::process::Command::new(&bin)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{web}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{bin} not found ({e}): run scripts/test"));
    let query = |q: &'static str| {
        let url = format!(
            "http://127.0.0.1:{web}/api/v1/query?query={}",
            url::form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
        );
        let http = app.http.clone();
        async move {
            let res = http.get(url).send().await.ok()?;
            let body: serde_json::Value = res.json().await.ok()?;
            body["data"]["result"][0]["value"][1]
                .as_str()
                .map(str::to_owned)
        }
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let up = query("up{job=\"latchkey\"}").await;
        let series = query("latchkey_password_hashing_queue_depth").await;
        if up.as_deref() == Some("1") && series.is_some() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "Prometheus did not scrape latchkey within 30 s (up = {up:?}); its log: {}",
            std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
