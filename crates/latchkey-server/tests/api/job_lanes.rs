//! The outbox's lanes, reproduced from outside: a log stream whose endpoint accepts and never
//! answers, flooded by unauthenticated failed logins, must not delay mail to people; a dead
//! stream's backlog is bounded (the oldest dropped and counted) while a healthy stream still
//! gets its deliveries.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::{TestApp, spawn_app_with, unique};
use crate::loopback_http;
use crate::reset::request_reset;
use crate::smtp_sink::SmtpSink;
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

const PASSWORD: &str = "Correct-Horse-Battery-1";

/// A loopback endpoint that accepts every connection, reads what comes and never answers.
async fn hung_endpoint() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while matches!(socket.read(&mut buf).await, Ok(n) if n > 0) {}
                // Held open until the peer gives up.
                std::future::pending::<()>().await;
            });
        }
    });
    url
}

async fn create_stream(app: &TestApp, name: &str, url: &str) -> String {
    let (status, created) = app
        .api(
            Method::POST,
            "/log-streams",
            Some(json!({
                "name": name,
                "type": "http",
                "sink": {"httpEndpoint": url},
                "filters": [{"type": "category", "name": "auth.login.fail"}],
            })),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    created["id"].as_str().unwrap().to_owned()
}

/// `n` password grants with a wrong password (for addresses nobody has, so no account gets
/// blocked), 16 at a time: what an unauthenticated attacker can send.
async fn failed_logins(app: &TestApp, n: usize) -> Duration {
    let started = Instant::now();
    let mut done = 0;
    while done < n {
        let batch = (n - done).min(16);
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..batch {
            let http = app.http.clone();
            let url = app.url("/oauth/token");
            let (client_id, client_secret) = app.app_client();
            let email = format!("{}@example.com", unique("nobody"));
            set.spawn(async move {
                http.post(url)
                    .json(&json!({
                        "grant_type": "password",
                        "client_id": client_id,
                        "client_secret": client_secret,
                        "username": email,
                        "password": "Not-The-Password-9",
                        "scope": "openid",
                    }))
                    .send()
                    .await
                    .unwrap()
                    .status()
            });
        }
        while let Some(status) = set.join_next().await {
            assert_eq!(status.unwrap(), 403);
        }
        done += batch;
    }
    started.elapsed()
}

/// `hung_streams` log streams that never answer, 200 failed logins, then a reset: the mail must
/// reach the SMTP sink within five seconds.
async fn reset_mail_under_attack(hung_streams: usize) {
    let sink = SmtpSink::start().await;
    let smtp = sink.url();
    let app = spawn_app_with(move |s| {
        s.mail.smtp_url = Some(smtp.into());
        s.rate_limits.enabled = false;
        s.log_streams.allow_loopback = true;
    })
    .await;
    let email = format!("{}@example.com", unique("person"));
    app.create_user(&email, PASSWORD).await;
    for i in 0..hung_streams {
        let hung = hung_endpoint().await;
        create_stream(&app, &format!("hung collector {i}"), &hung).await;
    }

    let attack = failed_logins(&app, 200).await;
    let started = Instant::now();
    assert_eq!(request_reset(&app, &email).await.status(), 200);
    // LANES_DEADLINE_SECS lets a run measure how long the mail really takes.
    let deadline = Duration::from_secs(
        std::env::var("LANES_DEADLINE_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(5),
    );
    loop {
        if sink
            .mails()
            .iter()
            .any(|m| m.to.iter().any(|t| t == &email))
        {
            break;
        }
        assert!(
            started.elapsed() < deadline,
            "no reset mail within {deadline:?} after 200 failed logins ({attack:?} of attack) \
             with {hung_streams} hung log stream(s)"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "reset mail after {:?} (attack took {attack:?})",
        started.elapsed()
    );
}

#[tokio::test]
async fn lanes_a_hung_log_stream_does_not_delay_a_reset_mail() {
    reset_mail_under_attack(1).await;
}

#[tokio::test]
async fn lanes_two_hung_log_streams_do_not_delay_a_reset_mail() {
    reset_mail_under_attack(2).await;
}

async fn deliveries(app: &TestApp, id: &str) -> Value {
    let (status, list) = app
        .api(Method::GET, &format!("/log-streams/{id}/deliveries"), None)
        .await;
    assert_eq!(status, 200, "{list}");
    list
}

#[tokio::test]
async fn lanes_a_dead_streams_backlog_is_bounded_and_a_healthy_stream_still_delivers() {
    let app = spawn_app_with(|s| {
        s.rate_limits.enabled = false;
        s.log_streams.allow_loopback = true;
        s.log_streams.max_pending = 20;
    })
    .await;
    let hung = hung_endpoint().await;
    let dead = create_stream(&app, "dead collector", &hung).await;
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    let healthy_base = loopback_http::serve(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
        loopback_http::empty(200)
    })
    .await;
    let healthy = create_stream(&app, "healthy collector", &format!("{healthy_base}/events")).await;

    // Waves of failures the healthy stream keeps up with, while the dead one piles up.
    let (waves, per_wave) = (6, 15);
    for wave in 1..=waves {
        failed_logins(&app, per_wave).await;
        let started = Instant::now();
        while received.load(Ordering::SeqCst) < wave * per_wave {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the healthy stream got {} of {}",
                received.load(Ordering::SeqCst),
                wave * per_wave
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let logins = waves * per_wave;
    let list = deliveries(&app, &healthy).await;
    assert_eq!(list["dropped"], 0, "{list}");

    // The dead stream holds at most 20 pending deliveries; the rest were dropped and counted.
    let mut list = Value::Null;
    for _ in 0..100 {
        list = deliveries(&app, &dead).await;
        if list["pending"].as_u64().is_some_and(|p| p <= 20)
            && list["dropped"].as_u64() >= Some((logins as u64) - 20 - 8)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let pending = list["pending"].as_u64().unwrap();
    let dropped = list["dropped"].as_u64().unwrap();
    assert!(pending <= 20, "{list}");
    assert!(dropped >= (logins as u64) - 20 - 8, "{list}");
    let shown = list["deliveries"].as_array().unwrap();
    assert!(shown.len() <= 20 + 8, "{list}");

    // More failures move the dead stream's count. Entries keep arriving between two trims
    // (every 500 ms), so the bound holds once the trim after the last of them has run.
    failed_logins(&app, 30).await;
    let mut later = Value::Null;
    for _ in 0..100 {
        later = deliveries(&app, &dead).await;
        if later["dropped"].as_u64() > Some(dropped)
            && later["pending"].as_u64().is_some_and(|p| p <= 20)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(later["dropped"].as_u64() > Some(dropped), "{later}");
    assert!(later["pending"].as_u64().unwrap() <= 20, "{later}");
}
