//! A bounded closed-loop load generator on loopback: `concurrency` workers send pre-built
//! requests back to back for a fixed time, each cycling through the request list.

use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the server did across every window of one scenario.
#[derive(Default)]
pub struct Stats {
    latencies: Vec<Duration>,
    pub errors: u64,
    /// Answers `503` (the server shed the request), counted apart from errors.
    pub shed: u64,
}

impl Stats {
    pub fn ok(&self) -> u64 {
        self.latencies.len() as u64
    }
    fn percentile_ms(&self, q: f64) -> f64 {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        match sorted.len() {
            0 => 0.0,
            n => sorted[(((n - 1) as f64) * q).round() as usize].as_secs_f64() * 1000.0,
        }
    }
    pub fn p50_ms(&self) -> f64 {
        self.percentile_ms(0.50)
    }
    pub fn p99_ms(&self) -> f64 {
        self.percentile_ms(0.99)
    }
    pub fn to_json(&self, seconds: f64) -> Value {
        json!({"per_sec": self.ok() as f64 / seconds, "ok": self.ok(), "errors": self.errors,
               "p50_ms": self.p50_ms(), "p99_ms": self.p99_ms()})
    }
}

/// Pre-built HTTP requests; worker `i` sends `i`, `i + concurrency`, … round the list.
pub type Requests = Arc<Vec<Vec<u8>>>;

/// One keep-alive connection sending pre-built requests back to back. A full-featured client
/// (reqwest) spends CPU the server then lacks on a 2-core machine; this one writes bytes and
/// reads `Content-Length` bodies, which is all the benchmark needs.
async fn worker(
    addr: SocketAddr,
    requests: Requests,
    first: usize,
    step: usize,
    until: Instant,
    pause_after_shed: Duration,
) -> (Vec<Duration>, u64, u64) {
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut shed = 0;
    let mut buf = vec![0u8; 64 * 1024];
    let mut next = first;
    'connect: while Instant::now() < until {
        let Ok(mut stream) = TcpStream::connect(addr).await else {
            errors += 1;
            continue;
        };
        let _ = stream.set_nodelay(true);
        while Instant::now() < until {
            let Some(request) = requests.get(next % requests.len().max(1)) else {
                break 'connect;
            };
            next += step;
            let t0 = Instant::now();
            if stream.write_all(request).await.is_err() {
                errors += 1;
                continue 'connect;
            }
            match read_response(&mut stream, &mut buf).await {
                // 3xx counts: the hosted login answers a good password with a redirect.
                Some(status) if (200..400).contains(&status) => latencies.push(t0.elapsed()),
                Some(503) => {
                    shed += 1;
                    // A polite client honours Retry-After instead of hammering.
                    if !pause_after_shed.is_zero() {
                        tokio::time::sleep(pause_after_shed).await;
                    }
                }
                Some(_) => errors += 1,
                None => {
                    errors += 1;
                    continue 'connect;
                }
            }
        }
        break;
    }
    (latencies, errors, shed)
}

/// Reads one response; returns its status, or `None` if the connection broke.
async fn read_response(stream: &mut TcpStream, buf: &mut [u8]) -> Option<u16> {
    let mut filled = 0;
    loop {
        let n = stream.read(&mut buf[filled..]).await.ok()?;
        if n == 0 {
            return None;
        }
        filled += n;
        let head = &buf[..filled];
        let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
            if filled == buf.len() {
                return None;
            }
            continue;
        };
        let text = std::str::from_utf8(&head[..end]).ok()?;
        let status: u16 = text.get(9..12)?.parse().ok()?;
        let length: usize = text
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        let total = end + 4 + length;
        if total > buf.len() {
            return None;
        }
        while filled < total {
            let n = stream.read(&mut buf[filled..]).await.ok()?;
            if n == 0 {
                return None;
            }
            filled += n;
        }
        return Some(status);
    }
}

/// `POST path` with a JSON body, as bytes ready to write.
pub fn json_post(addr: SocketAddr, path: &str, body: &Value) -> Requests {
    json_posts(addr, path, std::slice::from_ref(body))
}

/// `POST path` with a form body and extra headers (a cookie), as bytes ready to write.
pub fn form_post(addr: SocketAddr, path: &str, body: &str, headers: &[(&str, &str)]) -> Requests {
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    Arc::new(vec![[head.into_bytes(), body.as_bytes().to_vec()].concat()])
}

/// One `POST path` per body.
pub fn json_posts(addr: SocketAddr, path: &str, bodies: &[Value]) -> Requests {
    Arc::new(
        bodies
            .iter()
            .map(|body| {
                let body = body.to_string();
                let head = format!(
                    "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                );
                [head.into_bytes(), body.into_bytes()].concat()
            })
            .collect(),
    )
}

/// One window of load; adds what it saw to `stats`. Returns the window's wall time.
pub async fn window(
    addr: SocketAddr,
    requests: &Requests,
    concurrency: usize,
    duration: Duration,
    stats: &mut Stats,
) -> Duration {
    window_with(addr, requests, concurrency, duration, stats, Duration::ZERO).await
}

/// `window`, where a worker answered `503` waits `pause_after_shed` before its next request.
pub async fn window_with(
    addr: SocketAddr,
    requests: &Requests,
    concurrency: usize,
    duration: Duration,
    stats: &mut Stats,
    pause_after_shed: Duration,
) -> Duration {
    let start = Instant::now();
    let until = start + duration;
    let tasks: Vec<_> = (0..concurrency)
        .map(|i| {
            tokio::spawn(worker(
                addr,
                requests.clone(),
                i,
                concurrency.max(1),
                until,
                pause_after_shed,
            ))
        })
        .collect();
    for t in tasks {
        if let Ok((l, e, shed)) = t.await {
            stats.latencies.extend(l);
            stats.errors += e;
            stats.shed += shed;
        }
    }
    start.elapsed()
}

/// `GET path`, as bytes ready to write.
pub fn get(addr: SocketAddr, path: &str) -> Requests {
    Arc::new(vec![
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").into_bytes(),
    ])
}

/// A paced probe: one request every `every` on its own connection until `until`, each
/// latency recorded (an open loop, so it measures what a light user meets under load).
pub async fn probe(addr: SocketAddr, requests: Requests, every: Duration, until: Instant) -> Stats {
    let mut stats = Stats::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut stream: Option<TcpStream> = None;
    let mut next = 0usize;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while Instant::now() < until {
        tick.tick().await;
        let Some(request) = requests.get(next % requests.len().max(1)) else {
            break;
        };
        next += 1;
        let t0 = Instant::now();
        if stream.is_none() {
            stream = TcpStream::connect(addr).await.ok();
            if let Some(s) = &stream {
                let _ = s.set_nodelay(true);
            }
        }
        let Some(s) = stream.as_mut() else {
            stats.errors += 1;
            continue;
        };
        if s.write_all(request).await.is_err() {
            stats.errors += 1;
            stream = None;
            continue;
        }
        match read_response(s, &mut buf).await {
            Some(status) if (200..400).contains(&status) => stats.latencies.push(t0.elapsed()),
            Some(503) => stats.shed += 1,
            Some(_) => stats.errors += 1,
            None => {
                stats.errors += 1;
                stream = None;
            }
        }
    }
    stats
}
