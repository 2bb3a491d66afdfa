//! `MailTransport` over lettre: SMTP (a URL, or the Management API provider) and the development
//! directory. SMTP connections are opened here with `TCP_NODELAY` and kept in a small pool while
//! the route stays the same: lettre writes a message and its `.` terminator separately, and with
//! Nagle's algorithm that terminator waits for the server's delayed ACK (40 ms per mail).

use crate::html_to_text;
use async_trait::async_trait;
use latchkey_core::mail::{MailError, MailRoute, MailTransport, OutgoingMail, SmtpRelay};
use lettre::Message;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use secrecy::{ExposeSecret, SecretString};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
const SEND_TIMEOUT: Duration = Duration::from_secs(60);
const MAX_IDLE: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tls {
    /// TLS from the first byte (port 465, `smtps://`).
    Implicit,
    StartTlsRequired,
    /// STARTTLS when offered (loopback relays, `?tls=opportunistic`).
    StartTlsOpportunistic,
    /// `?tls=none`: only for relays on a trusted network.
    None,
}

/// Where and how to reach an SMTP server.
struct Endpoint {
    host: String,
    port: u16,
    tls: Tls,
    credentials: Option<(String, SecretString)>,
}

impl Endpoint {
    /// Identifies the pool: connections are reused only for the same server and account.
    fn key(&self) -> String {
        let (user, pass) = self
            .credentials
            .as_ref()
            .map_or(("", ""), |(u, p)| (u.as_str(), p.expose_secret()));
        format!(
            "{}\0{}\0{:?}\0{user}\0{pass}",
            self.host, self.port, self.tls
        )
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// TLS by port, as relays expect it: 465 is TLS from the first byte; any other port must offer
/// STARTTLS, except on loopback (a local relay or a test sink), where it is used if offered.
fn default_tls(host: &str, port: u16) -> Tls {
    match port {
        465 => Tls::Implicit,
        _ if is_loopback(host) => Tls::StartTlsOpportunistic,
        _ => Tls::StartTlsRequired,
    }
}

fn endpoint(route: &MailRoute) -> Result<Endpoint, MailError> {
    match route {
        MailRoute::Smtp(relay) => Ok(relay_endpoint(relay)),
        MailRoute::SmtpUrl(url) => url_endpoint(url.expose_secret()),
        MailRoute::Directory(_) => Err(MailError::Permanent("not an SMTP route".into())),
    }
}

fn relay_endpoint(relay: &SmtpRelay) -> Endpoint {
    Endpoint {
        host: relay.host.clone(),
        port: relay.port,
        tls: default_tls(&relay.host, relay.port),
        credentials: relay.user.clone().zip(relay.password.clone()),
    }
}

/// `smtp://[user:pass@]host[:port][?tls=required|opportunistic|none]` or `smtps://…`.
fn url_endpoint(raw: &str) -> Result<Endpoint, MailError> {
    // The URL holds the password: errors name the problem, never the URL.
    let bad = |what: &str| MailError::Permanent(format!("LATCHKEY_SMTP_URL: {what}"));
    let url = url::Url::parse(raw).map_err(|_| bad("not a URL"))?;
    let host = url.host_str().ok_or_else(|| bad("no host"))?.to_owned();
    let implicit = match url.scheme() {
        "smtp" => false,
        "smtps" => true,
        _ => return Err(bad("the scheme must be smtp or smtps")),
    };
    let port = url.port().unwrap_or(if implicit { 465 } else { 587 });
    let tls = match url
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned())
    {
        _ if implicit => Tls::Implicit,
        None => default_tls(&host, port),
        Some(v) if v == "required" => Tls::StartTlsRequired,
        Some(v) if v == "opportunistic" => Tls::StartTlsOpportunistic,
        Some(v) if v == "none" => Tls::None,
        Some(_) => return Err(bad("tls must be required, opportunistic or none")),
    };
    let decode = |s: &str| {
        percent_decode(s).ok_or_else(|| bad("the user or password is not valid percent-encoding"))
    };
    let credentials = match (url.username(), url.password()) {
        ("", _) | (_, None) => None,
        (user, Some(pass)) => Some((decode(user)?, SecretString::from(decode(pass)?))),
    };
    Ok(Endpoint {
        host,
        port,
        tls,
        credentials,
    })
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn smtp_error(e: lettre::transport::smtp::Error) -> MailError {
    if e.is_permanent() {
        MailError::Permanent(e.to_string())
    } else {
        MailError::Transient(e.to_string())
    }
}

async fn open(ep: &Endpoint) -> Result<AsyncSmtpConnection, MailError> {
    let hello = ClientId::default();
    let params = || {
        TlsParameters::new(ep.host.clone())
            .map_err(|e| MailError::Permanent(format!("TLS parameters for {}: {e}", ep.host)))
    };
    let mut connection = if ep.tls == Tls::Implicit {
        AsyncSmtpConnection::connect_tokio1(
            (ep.host.as_str(), ep.port),
            Some(CONNECT_TIMEOUT),
            &hello,
            Some(params()?),
            None,
        )
        .await
        .map_err(smtp_error)?
    } else {
        let stream = tokio::time::timeout(
            CONNECT_TIMEOUT,
            tokio::net::TcpStream::connect((ep.host.as_str(), ep.port)),
        )
        .await
        .map_err(|_| {
            MailError::Transient(format!("connecting to {}:{} timed out", ep.host, ep.port))
        })?
        .map_err(|e| MailError::Transient(format!("connecting to {}:{}: {e}", ep.host, ep.port)))?;
        stream
            .set_nodelay(true)
            .map_err(|e| MailError::Transient(e.to_string()))?;
        let mut c = AsyncSmtpConnection::connect_with_transport(Box::new(stream), &hello)
            .await
            .map_err(smtp_error)?;
        match ep.tls {
            Tls::StartTlsRequired | Tls::StartTlsOpportunistic if c.can_starttls() => {
                c.starttls(params()?, &hello).await.map_err(smtp_error)?;
            }
            Tls::StartTlsRequired => {
                return Err(MailError::Transient(format!(
                    "{} does not offer STARTTLS, and TLS is required",
                    ep.host
                )));
            }
            _ => {}
        }
        c
    };
    if let Some((user, pass)) = &ep.credentials {
        connection
            .auth(
                &[Mechanism::Plain, Mechanism::Login],
                &Credentials::new(user.clone(), pass.expose_secret().to_owned()),
            )
            .await
            .map_err(smtp_error)?;
    }
    Ok(connection)
}

#[derive(Default)]
pub struct LettreTransport {
    /// Idle connections to the last route used, and that route's identity.
    idle: Mutex<(String, Vec<AsyncSmtpConnection>)>,
}

impl LettreTransport {
    pub fn new() -> Self {
        Self::default()
    }

    fn take_idle(&self, key: &str) -> Option<AsyncSmtpConnection> {
        let mut idle = match self.idle.lock() {
            Ok(i) => i,
            Err(poisoned) => poisoned.into_inner(),
        };
        if idle.0 != key {
            // The route changed (an administrator set another provider): old connections go.
            *idle = (key.to_owned(), Vec::new());
        }
        idle.1.pop()
    }

    fn put_idle(&self, key: &str, connection: AsyncSmtpConnection) {
        let mut idle = match self.idle.lock() {
            Ok(i) => i,
            Err(poisoned) => poisoned.into_inner(),
        };
        if idle.0 == key && idle.1.len() < MAX_IDLE {
            idle.1.push(connection);
        }
    }

    async fn send_smtp(&self, route: &MailRoute, message: &Message) -> Result<(), MailError> {
        let ep = endpoint(route)?;
        let key = ep.key();
        let bytes = message.formatted();
        // A pooled connection may have been closed by the server meanwhile: one retry on a
        // fresh connection before the outbox schedules a later attempt.
        let mut reused = self.take_idle(&key);
        loop {
            let was_reused = reused.is_some();
            let mut connection = match reused.take() {
                Some(c) if !c.has_broken() => c,
                _ => open(&ep).await?,
            };
            let sent =
                tokio::time::timeout(SEND_TIMEOUT, connection.send(message.envelope(), &bytes))
                    .await;
            match sent {
                Ok(Ok(_)) => {
                    self.put_idle(&key, connection);
                    return Ok(());
                }
                Ok(Err(e)) if e.is_permanent() => {
                    // The server refused this message; the connection itself is fine.
                    if !connection.has_broken() {
                        let _ = connection
                            .command(lettre::transport::smtp::commands::Rset)
                            .await;
                        self.put_idle(&key, connection);
                    }
                    return Err(MailError::Permanent(e.to_string()));
                }
                Ok(Err(e)) if !was_reused => return Err(MailError::Transient(e.to_string())),
                Err(_) if !was_reused => {
                    return Err(MailError::Transient(
                        "the SMTP server stopped answering".into(),
                    ));
                }
                _ => {}
            }
        }
    }
}

fn message(mail: &OutgoingMail) -> Result<Message, MailError> {
    let from: Mailbox = mail
        .from
        .parse()
        .map_err(|e| MailError::Permanent(format!("sender address: {e}")))?;
    let to: Mailbox = mail
        .to
        .parse()
        .map_err(|e| MailError::Permanent(format!("recipient address: {e}")))?;
    let domain = from.email.domain().to_owned();
    Message::builder()
        .from(from)
        .to(to)
        .subject(mail.subject.clone())
        .message_id(Some(format!("<{}@{domain}>", mail.id)))
        .multipart(MultiPart::alternative_plain_html(
            html_to_text(&mail.html),
            mail.html.clone(),
        ))
        .map_err(|e| MailError::Permanent(format!("building the message: {e}")))
}

async fn write_eml(dir: &Path, mail: &OutgoingMail, bytes: &[u8]) -> Result<String, MailError> {
    let io = |e: std::io::Error| MailError::Transient(format!("{}: {e}", dir.display()));
    tokio::fs::create_dir_all(dir).await.map_err(io)?;
    let stamp = latchkey_core::time::Timestamp::now().millis();
    let path = dir.join(format!("{stamp}-{}.eml", mail.id));
    let partial = dir.join(format!(".{stamp}-{}.eml.part", mail.id));
    // Written aside, then renamed: a reader never sees half a message. Owner-only, like
    // bootstrap.json: the file holds a live reset link.
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)
        .await
        .map_err(io)?;
    tokio::io::AsyncWriteExt::write_all(&mut file, bytes)
        .await
        .map_err(io)?;
    tokio::io::AsyncWriteExt::flush(&mut file)
        .await
        .map_err(io)?;
    tokio::fs::rename(&partial, &path).await.map_err(io)?;
    Ok(path.display().to_string())
}

#[async_trait]
impl MailTransport for LettreTransport {
    async fn send(&self, route: &MailRoute, mail: &OutgoingMail) -> Result<String, MailError> {
        let message = message(mail)?;
        match route {
            MailRoute::Directory(dir) => write_eml(dir, mail, &message.formatted()).await,
            MailRoute::SmtpUrl(_) | MailRoute::Smtp(_) => {
                self.send_smtp(route, &message).await?;
                Ok("smtp".to_owned())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn tls_of(url: &str) -> Tls {
        url_endpoint(url).map(|e| e.tls).unwrap()
    }

    #[test]
    fn smtp_urls_choose_tls_safely() {
        let e = url_endpoint("smtp://mailer%40shop:p%40ss@smtp.example.com:2525").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("smtp.example.com", 2525));
        let (user, pass) = e.credentials.unwrap();
        assert_eq!(
            (user.as_str(), pass.expose_secret()),
            ("mailer@shop", "p@ss")
        );
        assert_eq!(tls_of("smtp://smtp.example.com"), Tls::StartTlsRequired);
        assert_eq!(url_endpoint("smtp://smtp.example.com").unwrap().port, 587);
        assert_eq!(tls_of("smtps://smtp.example.com"), Tls::Implicit);
        assert_eq!(tls_of("smtp://127.0.0.1:2525"), Tls::StartTlsOpportunistic);
        assert_eq!(tls_of("smtp://relay.lan?tls=none"), Tls::None);
        assert!(url_endpoint("smtp://relay.lan?tls=maybe").is_err());
        assert!(url_endpoint("http://relay.lan").is_err());
        // Errors never repeat the URL (it holds the password).
        let Err(MailError::Permanent(msg)) = url_endpoint("ftp://u:secret@h") else {
            unreachable!()
        };
        assert!(!msg.contains("secret"));
    }
}
