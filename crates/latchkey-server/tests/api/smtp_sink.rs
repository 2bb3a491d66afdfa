//! A real SMTP server on loopback that keeps what it receives: the mail side of the journeys.
//! It speaks enough ESMTP for lettre (EHLO, MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP,
//! QUIT) over as many messages per connection as the client sends.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::Notify;

#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub from: String,
    pub to: Vec<String>,
    /// The message as transmitted (headers and MIME parts).
    pub data: String,
}

pub struct SmtpSink {
    pub addr: SocketAddr,
    mails: Arc<Mutex<Vec<ReceivedMail>>>,
    arrived: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1:0".parse().unwrap()).await
    }

    pub async fn start_on(addr: SocketAddr) -> Self {
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let arrived = Arc::new(Notify::new());
        let (m, a) = (mails.clone(), arrived.clone());
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (m, a) = (m.clone(), a.clone());
                tokio::spawn(async move {
                    let _ = session(socket, m, a).await;
                });
            }
        });
        Self {
            addr,
            mails,
            arrived,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    pub fn mails(&self) -> Vec<ReceivedMail> {
        self.mails.lock().unwrap().clone()
    }

    /// Waits until at least `n` mails arrived (panics after `timeout`).
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.arrived.notified();
            let mails = self.mails();
            if mails.len() >= n {
                return mails;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "expected {n} mails, got {}: {:?}",
                    self.mails().len(),
                    self.mails()
                );
            }
        }
    }

    /// Keeps writing every mail received into `dir` as `NNNN.eml` (each file appears whole),
    /// for scripts in other processes (the browser journeys) that read mail from files.
    pub fn mirror_to(&self, dir: &std::path::Path) -> tokio::task::JoinHandle<()> {
        std::fs::create_dir_all(dir).unwrap();
        let (mails, arrived, dir) = (self.mails.clone(), self.arrived.clone(), dir.to_owned());
        tokio::spawn(async move {
            let mut written = 0;
            loop {
                let notified = arrived.notified();
                let fresh: Vec<ReceivedMail> = mails.lock().unwrap()[written..].to_vec();
                for mail in fresh {
                    let tmp = dir.join(format!("{written:04}.tmp"));
                    std::fs::write(&tmp, &mail.data).unwrap();
                    std::fs::rename(&tmp, dir.join(format!("{written:04}.eml"))).unwrap();
                    written += 1;
                }
                let _ = tokio::time::timeout(Duration::from_millis(200), notified).await;
            }
        })
    }

    /// Stops listening (connections refused from now on).
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn session(
    socket: tokio::net::TcpStream,
    mails: Arc<Mutex<Vec<ReceivedMail>>>,
    arrived: Arc<Notify>,
) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 sink.test ESMTP ready\r\n").await?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            b"250 OK\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            from = command[10..].trim().trim_matches(['<', '>']).to_owned();
            to.clear();
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            to.push(command[8..].trim().trim_matches(['<', '>']).to_owned());
            b"250 OK\r\n"
        } else if upper == "DATA" {
            write
                .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                .await?;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            mails.lock().unwrap().push(ReceivedMail {
                from: from.clone(),
                to: to.clone(),
                data,
            });
            arrived.notify_waiters();
            b"250 OK queued\r\n"
        } else if upper == "RSET" {
            b"250 OK\r\n"
        } else if upper == "QUIT" {
            write.write_all(b"221 Bye\r\n").await?;
            return Ok(());
        } else {
            b"502 Command not implemented\r\n"
        };
        write.write_all(reply).await?;
    }
}

impl ReceivedMail {
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let mut value: Option<String> = None;
        for l in head.split("\r\n") {
            if let Some(v) = value.as_mut() {
                if l.starts_with([' ', '\t']) {
                    v.push_str(l.trim_start());
                    continue;
                }
                break;
            }
            if let Some((k, v)) = l.split_once(':')
                && k.eq_ignore_ascii_case(name)
            {
                value = Some(v.trim().to_owned());
            }
        }
        value
    }

    /// The decoded body of the part with this content type (`text/plain`, `text/html`).
    pub fn part(&self, content_type: &str) -> Option<String> {
        let start = self.data.find(&format!("Content-Type: {content_type}"))?;
        let rest = &self.data[start..];
        let body_start = rest.find("\r\n\r\n")? + 4;
        let headers = &rest[..body_start];
        let body = &rest[body_start..];
        let body = &body[..body.find("\r\n--").unwrap_or(body.len())];
        Some(if headers.contains("quoted-printable") {
            decode_quoted_printable(body)
        } else {
            body.to_owned()
        })
    }

    /// The reset link's token (43 URL-safe characters after `ticket=`).
    pub fn ticket(&self) -> String {
        let text = self.part("text/plain").expect("a text part");
        let at = text.find("ticket=").expect("a ticket link") + 7;
        text[at..at + 43].to_owned()
    }

    pub fn link(&self) -> String {
        let text = self.part("text/plain").expect("a text part");
        let at = text.find("http").expect("a link");
        let end = text[at..].find('#').expect("the link ends with #") + at + 1;
        text[at..end].to_owned()
    }
}

pub fn decode_quoted_printable(s: &str) -> String {
    let s = s.replace("=\r\n", "");
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len() + 1
            && let Some(h) = s.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(h, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
