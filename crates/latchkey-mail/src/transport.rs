//! `MailTransport` over lettre: SMTP (a URL, or the Management API provider) and the development
//! directory. The SMTP client is kept and reused (its connection pool) while the route stays the
//! same, and rebuilt when an administrator changes the provider.

use crate::html_to_text;
use async_trait::async_trait;
use latchkey_core::mail::{MailError, MailRoute, MailTransport, OutgoingMail, SmtpRelay};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

type Smtp = AsyncSmtpTransport<Tokio1Executor>;

#[derive(Default)]
pub struct LettreTransport {
    /// The client for the last route used, and that route's identity.
    smtp: Mutex<Option<(String, Smtp)>>,
}

impl LettreTransport {
    pub fn new() -> Self {
        Self::default()
    }

    fn client(&self, route: &MailRoute) -> Result<Smtp, MailError> {
        let key = match route {
            MailRoute::SmtpUrl(u) => format!("url\0{}", u.expose_secret()),
            MailRoute::Smtp(r) => format!(
                "relay\0{}\0{}\0{}\0{}",
                r.host,
                r.port,
                r.user.as_deref().unwrap_or_default(),
                r.password
                    .as_ref()
                    .map(|p| p.expose_secret())
                    .unwrap_or_default()
            ),
            MailRoute::Directory(_) => String::new(),
        };
        let mut slot = match self.smtp.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some((k, client)) = slot.as_ref()
            && *k == key
        {
            return Ok(client.clone());
        }
        let client = match route {
            MailRoute::SmtpUrl(u) => Smtp::from_url(u.expose_secret())
                // The URL holds the password: name the problem, never the URL.
                .map_err(|_| {
                    MailError::Permanent("LATCHKEY_SMTP_URL is not a valid SMTP URL".into())
                })?
                .timeout(Some(Duration::from_secs(20)))
                .build(),
            MailRoute::Smtp(relay) => relay_client(relay)?,
            MailRoute::Directory(_) => {
                return Err(MailError::Permanent("not an SMTP route".into()));
            }
        };
        *slot = Some((key, client.clone()));
        Ok(client)
    }
}

/// TLS by port, as relays expect it: 465 is TLS from the first byte; any other port must offer
/// STARTTLS, except on loopback (a local relay or a test sink), where it is used if offered.
fn relay_client(relay: &SmtpRelay) -> Result<Smtp, MailError> {
    let params = || {
        TlsParameters::new(relay.host.clone())
            .map_err(|e| MailError::Permanent(format!("TLS parameters for {}: {e}", relay.host)))
    };
    let loopback = relay.host == "localhost"
        || relay
            .host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    let tls = match relay.port {
        465 => Tls::Wrapper(params()?),
        _ if loopback => Tls::Opportunistic(params()?),
        _ => Tls::Required(params()?),
    };
    let mut builder = Smtp::builder_dangerous(relay.host.clone())
        .port(relay.port)
        .tls(tls)
        .timeout(Some(Duration::from_secs(20)));
    if let (Some(user), Some(pass)) = (&relay.user, &relay.password) {
        builder = builder.credentials(Credentials::new(
            user.clone(),
            pass.expose_secret().to_owned(),
        ));
    }
    Ok(builder.build())
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
    // Written aside, then renamed: a reader never sees half a message.
    tokio::fs::write(&partial, bytes).await.map_err(io)?;
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
                let client = self.client(route)?;
                match client.send(message).await {
                    Ok(_) => Ok("smtp".to_owned()),
                    Err(e) if e.is_permanent() => Err(MailError::Permanent(e.to_string())),
                    Err(e) => Err(MailError::Transient(e.to_string())),
                }
            }
        }
    }
}
