//! A tiny HTTP/1.1 server on a loopback port for the tests' stand-ins (webhook receivers,
//! back-channel endpoints, an external user store): one request per connection
//! (`Content-Length` bodies only), answered by a plain closure, `connection: close`.

#![allow(clippy::unwrap_used)]

use serde_json::Value;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One request as the server read it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The target's path, without the query.
    pub path: String,
    /// The raw query string (after `?`), empty if none.
    pub query: String,
    /// Header names as sent, values trimmed, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON, `Null` where it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The first query parameter named `name`, decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

/// What a handler answers: status, content type (empty: no header) and body.
pub type Answer = (u16, String, Vec<u8>);

/// Serves `handler` on a fresh loopback port until the test ends; returns the base URL
/// (`http://127.0.0.1:PORT`). Each connection is read and answered in its own task; one that
/// closes before a whole request arrived is dropped without calling the handler.
pub async fn serve(handler: impl Fn(Request) -> Answer + Send + Sync + 'static) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handler = Arc::new(handler);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let handler = handler.clone();
            tokio::spawn(async move {
                let mut socket = socket;
                let Some(request) = read_request(&mut socket).await else {
                    return;
                };
                let (status, content_type, body) = handler(request);
                let reason = axum::http::StatusCode::from_u16(status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("Unknown");
                let mut head = format!("HTTP/1.1 {status} {reason}\r\n");
                if !content_type.is_empty() {
                    head.push_str(&format!("content-type: {content_type}\r\n"));
                }
                head.push_str(&format!(
                    "content-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                ));
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&body).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    url
}

/// A JSON answer.
pub fn json(status: u16, body: &Value) -> Answer {
    (
        status,
        "application/json".into(),
        body.to_string().into_bytes(),
    )
}

/// An empty answer with no content type.
pub fn empty(status: u16) -> Answer {
    (status, String::new(), Vec::new())
}

/// Reads the head and a `Content-Length` body; `None` if the peer closes first.
async fn read_request(socket: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = socket.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let mut lines = head.lines();
        let request_line = lines.next().unwrap_or_default();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| {
                let (k, v) = l.split_once(':')?;
                Some((k.trim().to_owned(), v.trim().to_owned()))
            })
            .collect();
        let length = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(0);
        if buf.len() < end + 4 + length {
            continue;
        }
        let mut parts = request_line.split(' ');
        let method = parts.next().unwrap_or_default().to_owned();
        let target = parts.next().unwrap_or_default();
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        return Some(Request {
            method,
            path: path.to_owned(),
            query: query.to_owned(),
            headers,
            body: buf[end + 4..end + 4 + length].to_vec(),
        });
    }
}
