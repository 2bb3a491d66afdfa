//! What the services need from mail templating; implemented by `latchkey-mail` (Liquid), so the
//! core does not carry the template engine's dependencies.

use crate::domain::{Email, UserId};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(pub String);

pub trait TemplateEngine: Send + Sync {
    /// Parses `source`; the error names what is wrong, for the administrator who saved it.
    fn check(&self, source: &str) -> Result<(), TemplateError>;
    fn render(&self, source: &str, variables: &Value) -> Result<String, TemplateError>;
}

/// A mail waiting in the outbox, as the outbox holds it: what happened, not the rendered message.
/// Links are minted at delivery, so the outbox never holds a usable token (only tickets' digests
/// are ever stored), and a template edited meanwhile is the one used.
#[derive(Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OutboxJob {
    /// `POST /dbconnections/change_password`: find the user, mint a ticket, mail the link. The
    /// lookup happens here, behind the outbox, so the request answers alike for every address.
    PasswordResetRequest {
        connection: String,
        email: Email,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ip: Option<String>,
        /// Flow v1: the argon2 hash of the password chosen in the request.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pending_hash: Option<String>,
    },
    /// Brute-force protection blocked the user from `ip`: a notice with a link that lifts
    /// that block (minted at delivery; none is sent if the block was lifted meanwhile).
    AccountBlocked {
        user_id: UserId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ip: Option<String>,
    },
    /// The notice a user gets after their password changed.
    PasswordChanged {
        user_id: UserId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
    },
    /// A console administrator's "Don't remember your password?": the lookup and the link
    /// happen at delivery, like `PasswordResetRequest`.
    AdminPasswordReset { email: Email },
    /// Breached-password detection met a breached password at `stage` (`login`, `signup`,
    /// `change_password`) for `user_id`: a notice to every console administrator.
    BreachedPasswordAdminNotice { stage: String, user_id: UserId },
    /// Suspicious IP throttling: `ip` went past its attempts at `stage` (`login`, `signup`):
    /// a notice to every console administrator.
    SuspiciousIpAdminNotice { stage: String, ip: String },
    /// The post-change-password actions for one change: run after the commit, at least once
    /// (a failed run is retried like a failed mail).
    PostChangePasswordActions {
        user_id: UserId,
        connection: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ip: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user_agent: Option<String>,
        /// When the password changed (epoch milliseconds).
        changed_at: i64,
    },
    /// OpenID Connect Back-Channel Logout: tell `client_id` that `session_id` of `user_id`
    /// ended (`initiator`: Auth0's name for why, e.g. `rp-logout`). The logout token is minted
    /// and signed at delivery, and the client's current URLs are the ones called.
    BackChannelLogout {
        client_id: String,
        user_id: UserId,
        session_id: String,
        initiator: String,
    },
    /// POST log entry `log_id` to log stream `stream_id` (signed; the stream's current sink
    /// and the entry as the store holds it are read at delivery).
    LogStreamDelivery { stream_id: String, log_id: String },
    /// Run (or resume, from its stored position) the bulk user import `job_id`.
    UsersImport { job_id: String },
    /// The `verify_email` mail to `user_id`: the ticket is minted at delivery. `job_id` is
    /// the `/api/v2/jobs/verification-email` job it settles, if it came from one.
    VerificationEmail {
        user_id: UserId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        job_id: Option<String>,
    },
    /// Run (or resume, from its stored cursor) the user export `job_id`.
    UsersExport { job_id: String },
    /// Bulk import `job_id` ended and asked for `send_completion_email`: its summary to every
    /// console administrator (the counts are read at delivery).
    UsersImportCompletion { job_id: String },
}

/// The outbox's lanes: each has its own worker slots, so mail to people never waits behind
/// deliveries to machines (a hung log-stream endpoint, a slow back-channel URL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Mail to people: reset links, the blocked-account and password-changed notices, the
    /// console's reset.
    People,
    /// Calls to other systems: log-stream deliveries, back-channel logout, post-change-password
    /// actions.
    Machines,
}

impl Lane {
    pub const ALL: [Lane; 2] = [Lane::People, Lane::Machines];

    /// The outbox row's `lane` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::People => "people",
            Self::Machines => "machines",
        }
    }
}

impl OutboxJob {
    /// The lane this job waits in.
    pub fn lane(&self) -> Lane {
        match self {
            Self::PasswordResetRequest { .. }
            | Self::AccountBlocked { .. }
            | Self::PasswordChanged { .. }
            | Self::AdminPasswordReset { .. }
            | Self::BreachedPasswordAdminNotice { .. }
            | Self::SuspiciousIpAdminNotice { .. }
            | Self::VerificationEmail { .. }
            | Self::UsersImportCompletion { .. } => Lane::People,
            Self::PostChangePasswordActions { .. }
            | Self::BackChannelLogout { .. }
            | Self::LogStreamDelivery { .. }
            | Self::UsersImport { .. }
            | Self::UsersExport { .. } => Lane::Machines,
        }
    }

    /// The job's kind, as its outbox row's `kind` tag spells it (and `/metrics` labels it).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::PasswordResetRequest { .. } => "password_reset_request",
            Self::AccountBlocked { .. } => "account_blocked",
            Self::PasswordChanged { .. } => "password_changed",
            Self::AdminPasswordReset { .. } => "admin_password_reset",
            Self::BreachedPasswordAdminNotice { .. } => "breached_password_admin_notice",
            Self::SuspiciousIpAdminNotice { .. } => "suspicious_ip_admin_notice",
            Self::PostChangePasswordActions { .. } => "post_change_password_actions",
            Self::BackChannelLogout { .. } => "back_channel_logout",
            Self::LogStreamDelivery { .. } => "log_stream_delivery",
            Self::UsersImport { .. } => "users_import",
            Self::VerificationEmail { .. } => "verification_email",
            Self::UsersExport { .. } => "users_export",
            Self::UsersImportCompletion { .. } => "users_import_completion",
        }
    }

    /// The log stream a job delivers to, kept in its own outbox column so that the stream's
    /// deliveries can be listed.
    pub fn log_stream(&self) -> Option<&str> {
        match self {
            Self::LogStreamDelivery { stream_id, .. } => Some(stream_id),
            _ => None,
        }
    }
}

/// Names the job and its addressee; never the flow-v1 password hash.
impl std::fmt::Debug for OutboxJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::PasswordResetRequest {
                connection, email, ..
            } => f
                .debug_struct("PasswordResetRequest")
                .field("connection", connection)
                .field("email", email)
                .finish_non_exhaustive(),
            Self::AccountBlocked { user_id, .. } => f
                .debug_struct("AccountBlocked")
                .field("user_id", user_id)
                .finish_non_exhaustive(),
            Self::PasswordChanged { user_id, .. } => f
                .debug_struct("PasswordChanged")
                .field("user_id", user_id)
                .finish_non_exhaustive(),
            Self::AdminPasswordReset { email } => f
                .debug_struct("AdminPasswordReset")
                .field("email", email)
                .finish(),
            Self::BreachedPasswordAdminNotice { stage, user_id } => f
                .debug_struct("BreachedPasswordAdminNotice")
                .field("stage", stage)
                .field("user_id", user_id)
                .finish(),
            Self::SuspiciousIpAdminNotice { stage, ip } => f
                .debug_struct("SuspiciousIpAdminNotice")
                .field("stage", stage)
                .field("ip", ip)
                .finish(),
            Self::PostChangePasswordActions { user_id, .. } => f
                .debug_struct("PostChangePasswordActions")
                .field("user_id", user_id)
                .finish_non_exhaustive(),
            Self::BackChannelLogout {
                client_id,
                user_id,
                session_id,
                initiator,
            } => f
                .debug_struct("BackChannelLogout")
                .field("client_id", client_id)
                .field("user_id", user_id)
                .field("session_id", session_id)
                .field("initiator", initiator)
                .finish(),
            Self::LogStreamDelivery { stream_id, log_id } => f
                .debug_struct("LogStreamDelivery")
                .field("stream_id", stream_id)
                .field("log_id", log_id)
                .finish(),
            Self::UsersImport { job_id } => f
                .debug_struct("UsersImport")
                .field("job_id", job_id)
                .finish(),
            Self::VerificationEmail {
                user_id, job_id, ..
            } => f
                .debug_struct("VerificationEmail")
                .field("user_id", user_id)
                .field("job_id", job_id)
                .finish_non_exhaustive(),
            Self::UsersExport { job_id } => f
                .debug_struct("UsersExport")
                .field("job_id", job_id)
                .finish(),
            Self::UsersImportCompletion { job_id } => f
                .debug_struct("UsersImportCompletion")
                .field("job_id", job_id)
                .finish(),
        }
    }
}

/// A rendered message. Transports add the plain-text part and the headers.
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    pub id: String,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub html: String,
}

/// An SMTP relay as the Management API configures it.
#[derive(Debug, Clone)]
pub struct SmtpRelay {
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<secrecy::SecretString>,
}

/// Where a message goes.
#[derive(Debug, Clone)]
pub enum MailRoute {
    /// `LATCHKEY_SMTP_URL`: `smtp://[user:pass@]host[:port][?tls=required]` or `smtps://…`.
    SmtpUrl(secrecy::SecretString),
    /// The provider set with `POST /api/v2/emails/provider`.
    Smtp(SmtpRelay),
    /// The development default: one `.eml` file per message in this directory.
    Directory(std::path::PathBuf),
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// Worth retrying: connection refused, timeouts, 4xx replies.
    #[error("temporary delivery failure: {0}")]
    Transient(String),
    /// Retrying cannot help: malformed address, 5xx replies.
    #[error("permanent delivery failure: {0}")]
    Permanent(String),
}

/// Delivers rendered messages; implemented by `latchkey-mail` (lettre), so the core does not
/// carry an SMTP client.
#[async_trait::async_trait]
pub trait MailTransport: Send + Sync {
    /// Returns a short description of where the message went, for the log.
    async fn send(&self, route: &MailRoute, mail: &OutgoingMail) -> Result<String, MailError>;
}

/// Escapes text for HTML (template variables that users control, hosted pages).
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Reverses `escape_html` (and `&nbsp;`): for reading text back out of HTML we wrote.
pub fn unescape_html(s: &str) -> String {
    s.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}
