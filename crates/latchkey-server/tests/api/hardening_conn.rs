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

/// A TCP proxy between the server and PostgreSQL that an outage can be switched on in: while
/// down it drops new connections at once and cuts the ones it carries.
pub(crate) struct DbProxy {
    pub(crate) port: u16,
    down: tokio::sync::watch::Sender<bool>,
}

impl DbProxy {
    pub(crate) async fn start(upstream: &'static str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (down, _) = tokio::sync::watch::channel(false);
        let watch = down.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                let mut cut = watch.subscribe();
                if *cut.borrow() {
                    drop(client);
                    continue;
                }
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.wait_for(|d| *d) => {}
                    }
                });
            }
        });
        Self { port, down }
    }
    pub(crate) fn set_down(&self, down: bool) {
        self.down.send_replace(down);
    }
}

async fn client_credentials(app: &TestApp) -> reqwest::Response {
    let (id, secret) = app.mgmt_client();
    app.token(
        serde_json::json!({"grant_type": "client_credentials", "client_id": id,
        "client_secret": secret, "audience": format!("{}api/v2/", app.issuer())}),
    )
    .await
}

/// PostgreSQL unreachable for 8 s: token requests are answered 503 with `Retry-After` (never
/// 500), succeed again after recovery without a restart, and every token issued has its log
/// entry.
#[tokio::test]
async fn a_database_outage_answers_503_and_loses_no_log_entry() {
    if !backend_is_postgres() {
        return;
    }
    let direct = fresh_postgres().await;
    let proxy = DbProxy::start("127.0.0.1:5432").await;
    let via_proxy = direct.replace("127.0.0.1:5432", &format!("127.0.0.1:{}", proxy.port));
    let app = start_with(temp_dir(), Some(via_proxy), None, |s| {
        s.server.config_cache_secs = 1;
    })
    .await;
    let admin_token = app.mgmt_token().await;
    app.create_user("outage@example.com", "Correct-Horse-1")
        .await;
    let mut issued = 2;
    assert_eq!(client_credentials(&app).await.status(), 200);
    issued += 1;

    proxy.set_down(true);
    let outage = Instant::now();
    let mut statuses = Vec::new();
    while outage.elapsed() < Duration::from_secs(8) {
        let res = client_credentials(&app).await;
        let status = res.status().as_u16();
        if status == 200 {
            issued += 1;
        } else {
            assert_eq!(status, 503, "{:?}", res.text().await);
            assert!(res.headers().get("retry-after").is_some(), "no Retry-After");
            let body: serde_json::Value = res.json().await.unwrap();
            assert_eq!(body["error"], "temporarily_unavailable", "{body}");
        }
        statuses.push(status);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        statuses.contains(&503),
        "no 503 during the outage: {statuses:?}"
    );
    // The Management API says it in its own shape.
    let (status, body) = app
        .api_with(&admin_token, reqwest::Method::GET, "/users", None)
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["statusCode"], 503);
    assert_eq!(body["error"], "Service Unavailable");
    assert_eq!(body["errorCode"], "temporarily_unavailable");
    // So do `/dbconnections` and the password grant.
    let res = app
        .http
        .post(app.url("/dbconnections/signup"))
        .json(
            &serde_json::json!({"client_id": app.app_client().0, "email": "new@example.com",
            "password": "Correct-Horse-1", "connection": "Username-Password-Authentication"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.headers().get("retry-after").is_some());
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "temporarily_unavailable", "{body}");
    assert_eq!(body["statusCode"], 503, "{body}");
    let res = app
        .login("outage@example.com", "Correct-Horse-1", "openid")
        .await;
    assert_eq!(res.status(), 503);
    // And the hosted pages.
    let res = app
        .http
        .get(app.url(&format!(
            "/authorize?client_id={}&response_type=code&redirect_uri=http://localhost/cb",
            app.app_client().0
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.headers().get("retry-after").is_some());

    proxy.set_down(false);
    let back = Instant::now();
    loop {
        let res = client_credentials(&app).await;
        if res.status() == 200 {
            issued += 1;
            break;
        }
        assert_eq!(res.status(), 503);
        assert!(back.elapsed() < Duration::from_secs(15), "no recovery");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Logins (store and hashing pool) work again without a restart.
    let res = app
        .login("outage@example.com", "Correct-Horse-1", "openid")
        .await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    // Every token issued, before, during and after the outage, has its entry.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, logs) = app
            .api(
                reqwest::Method::GET,
                "/logs?q=type:seccft&per_page=100",
                None,
            )
            .await;
        assert_eq!(status, 200, "{logs}");
        // Every token issued before this call; the call itself earns one more.
        let logged = logs.as_array().unwrap().len();
        if logged >= issued {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{logged} seccft entries for {issued} tokens issued ({statuses:?})"
        );
        issued += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// SQLite's file locked by another process (a backup holding an exclusive lock): a write is
/// answered 503 with `Retry-After` after the busy timeout, and succeeds once the lock is gone.
#[tokio::test]
async fn a_locked_sqlite_file_answers_503() {
    if backend_is_postgres() {
        return;
    }
    use sqlx::Connection;
    let app = spawn_app().await;
    let token = app.mgmt_token().await;
    let path = app.data_dir.join("latchkey.db");
    let mut backup = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::raw_sql("BEGIN EXCLUSIVE")
        .execute(&mut backup)
        .await
        .unwrap();
    let create = serde_json::json!({"name": "during the backup"});
    let res = app
        .http
        .post(app.url("/api/v2/clients"))
        .bearer_auth(&token)
        .json(&create)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.headers().get("retry-after").is_some());
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["errorCode"], "temporarily_unavailable", "{body}");
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut backup)
        .await
        .unwrap();
    let (status, body) = app
        .api_with(&token, reqwest::Method::POST, "/clients", Some(create))
        .await;
    assert_eq!(status, 201, "{body}");
}
