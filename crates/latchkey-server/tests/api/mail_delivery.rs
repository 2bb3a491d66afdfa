//! Mail delivery: the outbox survives an SMTP outage and a `kill -9`, the development transport
//! writes `.eml` files, the Management API provider is used, and the rate limits on
//! `change_password` answer with Auth0's headers — per node, or shared through Redis.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::{TestApp, free_port, launch_binary, spawn_app_with, start_with, temp_dir};
use crate::reset::{CONNECTION, request_reset};
use crate::smtp_sink::{SmtpSink, decode_quoted_printable};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn mail_waits_out_an_smtp_outage() {
    let port = free_port();
    let app = spawn_app_with(move |s| {
        s.mail.smtp_url = Some(format!("smtp://127.0.0.1:{port}").into());
        s.mail.retry_base_secs = 1;
    })
    .await;
    app.create_user("patient@example.com", "Old-Password-1")
        .await;
    assert_eq!(
        request_reset(&app, "patient@example.com").await.status(),
        200
    );
    // The relay is down: the first attempts fail and are retried with backoff.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let sink = SmtpSink::start_on(format!("127.0.0.1:{port}").parse().unwrap()).await;
    let mails = sink.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(mails[0].to, vec!["patient@example.com".to_owned()]);
}

async fn mgmt_token(base: &str, bootstrap: &Value) -> String {
    let m = &bootstrap["management_api"];
    let res: Value = reqwest::Client::new()
        .post(format!("{base}/oauth/token"))
        .json(
            &json!({"grant_type": "client_credentials", "client_id": m["client_id"],
                      "client_secret": m["client_secret"], "audience": format!("{base}/api/v2/")}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    res["access_token"].as_str().unwrap().to_owned()
}

/// A mail server that accepts connections and never says a word, holding each one open.
struct SilentSmtp {
    port: u16,
    held: std::sync::Arc<tokio::sync::Mutex<Vec<tokio::net::TcpStream>>>,
    _accepting: crate::browser::AbortOnDrop,
}

impl SilentSmtp {
    async fn start() -> Self {
        let hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = hole.local_addr().unwrap().port();
        let held = std::sync::Arc::new(tokio::sync::Mutex::new(Vec::new()));
        let keep = held.clone();
        let accepting = crate::browser::AbortOnDrop(tokio::spawn(async move {
            while let Ok((stream, _)) = hole.accept().await {
                keep.lock().await.push(stream);
            }
        }));
        Self {
            port,
            held,
            _accepting: accepting,
        }
    }
    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }
    /// Whether a delivery has connected.
    async fn was_reached(&self) -> bool {
        !self.held.lock().await.is_empty()
    }
}

/// The real binary on a fresh data dir (and database) with `env`, holding one user `email`
/// whose password reset has just been requested: the mail is in the outbox.
async fn binary_with_a_requested_reset(
    env: &[(&str, &str)],
    emails: &[&str],
) -> (
    crate::helpers::Server,
    std::path::PathBuf,
    u16,
    Option<String>,
) {
    let database_url = if crate::helpers::backend_is_postgres() {
        Some(crate::helpers::fresh_postgres().await)
    } else {
        None
    };
    let (data_dir, port) = (temp_dir(), free_port());
    let server = launch_binary(data_dir.clone(), port, database_url.clone(), false, env).await;
    let base = server.base();
    let bootstrap = server.bootstrap();
    let http = reqwest::Client::new();
    let token = mgmt_token(&base, &bootstrap).await;
    for email in emails {
        let created = http
            .post(format!("{base}/api/v2/users"))
            .bearer_auth(&token)
            .json(
                &json!({"connection": CONNECTION, "email": email, "password": "Old-Password-1",
                          "verify_email": false}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        let res = http
            .post(format!("{base}/dbconnections/change_password"))
            .json(&json!({"client_id": bootstrap["default_client"]["client_id"], "email": email, "connection": CONNECTION}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    (server, data_dir, port, database_url)
}

#[tokio::test]
async fn a_server_killed_before_delivery_still_delivers_once_after_restart() {
    let smtp_port = free_port();
    let smtp_url = format!("smtp://127.0.0.1:{smtp_port}");
    let env = [
        ("LATCHKEY_SMTP_URL", smtp_url.as_str()),
        ("LATCHKEY_MAIL__RETRY_BASE_SECS", "1"),
        ("LATCHKEY_MAIL__LEASE_SECS", "2"),
    ];
    let (server, data_dir, port, database_url) =
        binary_with_a_requested_reset(&env, &["durable@example.com"]).await;
    let http = reqwest::Client::new();
    // kill -9 right after the answer: the mail is only in the outbox.
    server.kill().await;

    let sink = SmtpSink::start_on(format!("127.0.0.1:{smtp_port}").parse().unwrap()).await;
    let restarted = launch_binary(data_dir, port, database_url, false, &env).await;
    let mails = sink.wait_for(1, Duration::from_secs(30)).await;
    assert_eq!(mails[0].to, vec!["durable@example.com".to_owned()]);
    // Exactly once: nothing else arrives after the lease and retry windows pass.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(sink.mails().len(), 1);
    // And the link in it works on the restarted server.
    let ticket = mails[0].ticket();
    let page = http
        .get(format!("{}/lo/reset?ticket={ticket}", restarted.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
}

#[tokio::test]
async fn without_smtp_mail_is_written_to_the_outbox_directory() {
    let app = spawn_app_with(|_| {}).await;
    let (status, _) = app
        .api(
            Method::POST,
            "/users",
            Some(json!({"connection": CONNECTION, "email": "dev@example.com", "password": "Old-Password-1",
                        "name": "<script>alert(1)</script>", "verify_email": false})),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(request_reset(&app, "dev@example.com").await.status(), 200);
    let dir = app.data_dir.join("outbox");
    let mut eml = None;
    for _ in 0..200 {
        eml = std::fs::read_dir(&dir).ok().and_then(|mut d| {
            // Only a finished message: it is written aside as `.….eml.part`, then renamed.
            d.find_map(|e| {
                e.ok()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            })
        });
        if eml.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let eml = eml.expect("an .eml file");
    // It holds a live reset link: readable by the server's user only.
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&eml).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let raw = std::fs::read_to_string(eml).unwrap();
    assert!(raw.contains("To: dev@example.com"));
    assert!(raw.contains("multipart/alternative"));
    assert!(raw.contains("Content-Type: text/plain") && raw.contains("Content-Type: text/html"));
    let decoded = decode_quoted_printable(&raw);
    assert!(decoded.contains(&format!("{}lo/reset?ticket=", app.issuer())));
    // The user's name is HTML-escaped in the HTML part (and plain in the text part).
    let mail = crate::smtp_sink::ReceivedMail {
        from: String::new(),
        to: Vec::new(),
        data: raw,
    };
    let html = mail.part("text/html").unwrap();
    assert!(
        html.contains("Hello &lt;script&gt;alert(1)&lt;/script&gt;,"),
        "{html}"
    );
    assert!(!html.contains("<script>"));
    assert!(
        mail.part("text/plain")
            .unwrap()
            .contains("Hello <script>alert(1)</script>,")
    );
}

#[tokio::test]
async fn the_management_api_provider_delivers_and_templates_apply() {
    let sink = SmtpSink::start().await;
    let app = spawn_app_with(|_| {}).await;
    let (status, body) = app
        .api(
            Method::POST,
            "/emails/provider",
            Some(json!({"name": "smtp", "enabled": true, "default_from_address": "no-reply@shop.example",
                        "credentials": {"smtp_host": "127.0.0.1", "smtp_port": sink.addr.port()}})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app
        .api(
            Method::POST,
            "/email-templates",
            Some(json!({"template": "reset_email", "enabled": true, "syntax": "liquid", "from": "Support <help@shop.example>",
                        "subject": "Reset for {{ user.email }}",
                        "body": "<p>Hi {{ user.name }} from {{ application.name }}: <a href=\"{{ url }}\">reset</a></p>",
                        "urlLifetimeInSeconds": 600})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    app.create_user("shopper@example.com", "Old-Password-1")
        .await;
    request_reset(&app, "shopper@example.com").await;
    let mail = &sink.wait_for(1, Duration::from_secs(10)).await[0];
    assert_eq!(
        mail.header("Subject").unwrap(),
        "Reset for shopper@example.com"
    );
    assert_eq!(mail.header("From").unwrap(), "Support <help@shop.example>");
    assert!(mail.part("text/html").unwrap().contains("from Default App"));
    assert!(mail.part("text/plain").unwrap().contains("reset ("));
}

fn rate_headers(res: &reqwest::Response) -> (u32, u32, u64) {
    let h = |n: &str| res.headers()[n].to_str().unwrap().parse::<u64>().unwrap();
    (
        h("x-ratelimit-limit") as u32,
        h("x-ratelimit-remaining") as u32,
        h("x-ratelimit-reset"),
    )
}

async fn assert_budget(app: &TestApp, email: &str, expect_remaining: &[u32]) {
    for expected in expect_remaining {
        let res = request_reset(app, email).await;
        assert_eq!(res.status(), 200);
        let (limit, remaining, _) = rate_headers(&res);
        assert_eq!((limit, remaining), (10, *expected));
    }
}

#[tokio::test]
async fn change_password_is_limited_per_address_and_ip_with_auth0_headers() {
    let app = spawn_app_with(|_| {}).await;
    app.create_user("limited@example.com", "Old-Password-1")
        .await;
    for email in ["limited@example.com", "Unknown@Example.com"] {
        assert_budget(&app, email, &[9, 8, 7, 6, 5, 4, 3, 2, 1, 0]).await;
        let res = request_reset(&app, email).await;
        assert_eq!(res.status(), 429);
        let (limit, remaining, reset) = rate_headers(&res);
        assert_eq!((limit, remaining), (10, 0));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(
            reset > now + 500 && reset <= now + 601,
            "reset={reset} now={now}"
        );
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "too_many_requests");
        assert_eq!(body["code"], "too_many_requests");
    }
    // The bucket is the normalised address: another spelling shares it.
    assert_eq!(
        request_reset(&app, "unknown@example.com").await.status(),
        429
    );
    // Other addresses keep their own budget.
    assert_eq!(request_reset(&app, "other@example.com").await.status(), 200);
}

#[tokio::test]
async fn nodes_share_one_budget_through_redis() {
    let redis = |s: &mut latchkey_server::Settings| {
        s.rate_limits.redis_url = Some("redis://127.0.0.1:6379".to_owned().into());
    };
    let first = spawn_app_with(redis).await;
    // A second node on the same store (same tenant, same bucket keys).
    let second = start_with(
        first.data_dir.clone(),
        first.database_url.clone(),
        None,
        redis,
    )
    .await;
    assert_budget(&first, "shared@example.com", &[9, 8, 7, 6, 5]).await;
    assert_budget(&second, "shared@example.com", &[4, 3, 2, 1, 0]).await;
    assert_eq!(
        request_reset(&first, "shared@example.com").await.status(),
        429
    );
    assert_eq!(
        request_reset(&second, "shared@example.com").await.status(),
        429
    );
}

#[tokio::test]
async fn two_nodes_share_the_outbox_and_each_mail_goes_out_once() {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let configure = move |s: &mut latchkey_server::Settings| {
        s.mail.smtp_url = Some(url.clone().into());
        s.mail.concurrency = 2;
        s.rate_limits.enabled = false;
    };
    let first = spawn_app_with(configure.clone()).await;
    let second = start_with(
        first.data_dir.clone(),
        first.database_url.clone(),
        None,
        configure,
    )
    .await;
    for i in 0..12 {
        first
            .create_user(&format!("node{i}@example.com"), "Old-Password-1")
            .await;
    }
    // Requests land on both nodes; both workers lease from the one queue.
    for i in 0..12 {
        let node = if i % 2 == 0 { &first } else { &second };
        assert_eq!(
            request_reset(node, &format!("node{i}@example.com"))
                .await
                .status(),
            200
        );
    }
    sink.wait_for(12, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut recipients: Vec<String> = sink.mails().iter().map(|m| m.to[0].clone()).collect();
    recipients.sort();
    let mut unique = recipients.clone();
    unique.dedup();
    assert_eq!(recipients.len(), 12, "{recipients:?}");
    assert_eq!(unique.len(), 12, "a mail went out twice: {recipients:?}");
}

/// A stop (SIGTERM) while a delivery hangs on a mail server that never answers: the process
/// exits within its grace, and the delivery it held goes back to the queue at once, so the
/// next start delivers it in seconds instead of after the lease (here 10 minutes). So does the
/// mail the lane had leased ahead and was holding for its one slot.
#[tokio::test]
async fn a_stop_hands_a_hung_delivery_back_and_the_next_start_sends_it_at_once() {
    let silent = SilentSmtp::start().await;
    let smtp_url = silent.url();
    let env = [
        ("LATCHKEY_SMTP_URL", smtp_url.as_str()),
        ("LATCHKEY_MAIL__LEASE_SECS", "600"),
        ("LATCHKEY_MAIL__CONCURRENCY", "1"),
    ];
    let (server, data_dir, port, database_url) =
        binary_with_a_requested_reset(&env, &["handed@example.com", "waiting@example.com"]).await;
    // The delivery is under way: the worker has connected to the silent server.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !silent.was_reached().await {
        assert!(std::time::Instant::now() < deadline, "no SMTP connection");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let stopped_at = std::time::Instant::now();
    let log = server.terminate_and_read_log().await;
    let took = stopped_at.elapsed();
    assert!(
        took < Duration::from_secs(9),
        "the stop took {took:?}\n{log}"
    );
    assert!(log.contains("handed back to the queue"), "{log}");

    let sink = SmtpSink::start().await;
    let sink_url = sink.url();
    let env = [("LATCHKEY_SMTP_URL", sink_url.as_str())];
    let _restarted = launch_binary(data_dir, port, database_url, false, &env).await;
    let mails = sink.wait_for(2, Duration::from_secs(10)).await;
    let mut to: Vec<String> = mails.iter().map(|m| m.to[0].clone()).collect();
    to.sort();
    assert_eq!(to, ["handed@example.com", "waiting@example.com"]);
}

/// No pending row ever sits on an expired lease, which would let a second node send it while
/// this one still means to. A mail leased ahead waits in its lane for a slot; if every slot
/// hangs for half a lease it goes back to the queue (and is leased again). A delivery in a
/// slot is cut off before its lease runs out and retried later. Here the one slot hangs on a
/// silent mail server far longer than the 4 s lease; both rows are watched, since which of
/// the two the lane starts first is the store's choice.
#[tokio::test]
async fn neither_a_hung_delivery_nor_the_mail_behind_it_sits_on_an_expired_lease() {
    use sqlx::Row;
    let silent = SilentSmtp::start().await;
    let smtp_url = silent.url();
    let env = [
        ("LATCHKEY_SMTP_URL", smtp_url.as_str()),
        ("LATCHKEY_MAIL__LEASE_SECS", "4"),
        ("LATCHKEY_MAIL__CONCURRENCY", "1"),
    ];
    let (_server, data_dir, _port, database_url) =
        binary_with_a_requested_reset(&env, &["hung@example.com", "queued@example.com"]).await;
    sqlx::any::install_default_drivers();
    let url = database_url.unwrap_or_else(|| latchkey_store_sql::sqlite_url(&data_dir));
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let started = std::time::Instant::now();
    let (mut leased, mut expired) = (0, Vec::new());
    // Two leases and more: without the hand-back and the cut-off a lease runs out after 4 s and
    // stays out. A second's slack past the end covers a loaded machine's settlement and poll.
    while started.elapsed() < Duration::from_secs(9) {
        let now = latchkey_core::time::Timestamp::now().millis();
        let rows = sqlx::query("SELECT job, status, locked_until FROM mail_outbox")
            .fetch_all(&pool)
            .await
            .unwrap();
        for row in rows {
            let job: String = row.get("job");
            let status: String = row.get("status");
            let locked_until: i64 = row.get("locked_until");
            if status != "pending" {
                continue;
            }
            let who = if job.contains("queued@example.com") {
                "queued"
            } else {
                "hung"
            };
            if locked_until > now {
                leased += 1;
            } else if locked_until > 0 && locked_until + 1000 < now {
                expired.push(format!(
                    "{:?}: {who}'s lease ended {} ms ago",
                    started.elapsed(),
                    now - locked_until
                ));
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    pool.close().await;
    assert!(
        silent.was_reached().await,
        "the first mail never reached the silent server"
    );
    assert!(leased > 0, "no mail was ever seen leased");
    assert!(expired.is_empty(), "{expired:#?}");
}
