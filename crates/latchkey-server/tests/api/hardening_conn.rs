//! Attacks and outages reproduced from outside: slow and idle connections, a database that goes
//! away.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::helpers::*;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Waits until the server closes `stream` (EOF or reset), at most `limit`; how long it took.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout_at((start + limit).into(), stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

fn host_port(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_owned()
}

#[tokio::test]
async fn slowloris_partial_headers_are_cut_off_at_the_header_read_timeout() {
    let app = spawn_app_with(|s| {
        s.server.header_read_timeout_secs = 1;
        s.server.idle_timeout_secs = 30;
    })
    .await;
    // A request line and one header, then nothing: the classic slowloris.
    let mut slow = TcpStream::connect(host_port(&app)).await.unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-a: b")
        .await
        .unwrap();
    // A connection that never sends a byte.
    let mut silent = TcpStream::connect(host_port(&app)).await.unwrap();
    let took = closed_within(&mut slow, Duration::from_secs(6)).await;
    assert!(
        took.is_some(),
        "a connection with partial headers is still open after 6 s"
    );
    let took = closed_within(&mut silent, Duration::from_secs(3)).await;
    assert!(took.is_some(), "a silent connection is still open");
    // A slow body: headers on time, the body never completes.
    let app = spawn_app_with(|s| {
        s.server.body_read_timeout_secs = 1;
    })
    .await;
    let mut body = TcpStream::connect(host_port(&app)).await.unwrap();
    body.write_all(
        b"POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"grant_type\"",
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(6), body.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer);
    assert!(read.is_ok(), "a stalled body is still open after 6 s");
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed_after_the_idle_timeout() {
    let app = spawn_app_with(|s| {
        s.server.idle_timeout_secs = 1;
    })
    .await;
    let mut conn = TcpStream::connect(host_port(&app)).await.unwrap();
    conn.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = conn.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let took = closed_within(&mut conn, Duration::from_secs(5)).await;
    assert!(took.is_some(), "an idle keep-alive connection stayed open");
}

/// At the cap, the longest-idle connections are closed to make room: `/health` answers at once.
#[tokio::test]
async fn at_the_connection_cap_idle_connections_make_room() {
    let app = spawn_app_with(|s| {
        s.server.max_connections = 50;
        // Long enough that the timeouts do not explain the result.
        s.server.header_read_timeout_secs = 60;
        s.server.idle_timeout_secs = 60;
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..60 {
        idle.push(TcpStream::connect(host_port(&app)).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..5 {
        let started = Instant::now();
        let res = tokio::time::timeout(
            Duration::from_secs(3),
            reqwest::Client::new().get(app.url("/health")).send(),
        )
        .await;
        assert!(
            matches!(&res, Ok(Ok(r)) if r.status() == 200),
            "/health with 60 idle connections open: {res:?} after {:?}",
            started.elapsed()
        );
    }
    // Some of the idle ones were closed by the server.
    let mut closed = 0;
    for c in &mut idle {
        if closed_within(c, Duration::from_millis(20)).await.is_some() {
            closed += 1;
        }
    }
    assert!(closed >= 10, "only {closed} idle connections were closed");
}
