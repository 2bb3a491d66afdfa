//! Storage traits, one per aggregate. The SQL backends implement all of them; services only see
//! these traits. Operations that must be atomic across aggregates (a password change revokes
//! tokens and writes its audit entry) are single methods, so a backend runs them in one
//! transaction and no service ever holds a transaction open across an await of its own.

use crate::audit::LogEntry;
use crate::domain::{
    Client, ClientGrant, ClientId, Connection, ConnectionId, Email, EmailProvider, EmailTemplate,
    EmailTemplateName, PasswordHash, ResourceServer, TenantSettings, User, UserId,
};
use crate::mail::OutboxJob;
use crate::time::Timestamp;
use async_trait::async_trait;
use secrecy::SecretString;

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key is taken; the payload names what ("The user", "A connection with that name").
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// The database cannot be reached or cannot take writes right now (connection refused or
    /// cut, pool exhausted, disk full, file locked): the same request may succeed later.
    #[error("the store is unavailable: {0}")]
    Unavailable(anyhow::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// `GET /api/v2/users` filters. `email`/`user_id` are exact matches (Lucene `field:"value"`).
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    pub connection: Option<String>,
    pub email: Option<String>,
    pub user_id: Option<String>,
    /// Case-insensitive substring over email, username and name.
    pub text: Option<String>,
    pub blocked: Option<bool>,
    pub sort: Option<UserSort>,
    pub page: u32,
    pub per_page: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserSortField {
    CreatedAt,
    UpdatedAt,
    Email,
    LastLogin,
    LoginsCount,
}

#[derive(Debug, Clone, Copy)]
pub struct UserSort {
    pub field: UserSortField,
    pub ascending: bool,
}

/// Everything a password change writes, applied atomically: the new hash and history, the
/// credential epoch bump (which voids every session, refresh token and ticket issued before),
/// deletion of the user's refresh tokens, and the audit entry.
#[derive(Debug)]
pub struct PasswordChange {
    pub user_id: UserId,
    /// The epoch the service read; the change is refused (`EpochMoved`) if it moved meanwhile.
    pub expected_epoch: i64,
    pub new_hash: PasswordHash,
    pub history: Vec<PasswordHash>,
    pub at: Timestamp,
    pub mark_email_verified: bool,
    pub log: LogEntry,
    /// The ticket that authorised the change (digest): consumed in the same transaction, and the
    /// change is refused if another request consumed it first.
    pub ticket_digest: Option<String>,
    /// Outbox jobs queued in the same transaction: the user's notice mail, the
    /// post-change-password actions, the back-channel logout announcements.
    pub outbox: Vec<QueuedMail>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordChangeOutcome {
    Applied,
    /// The user's credential epoch moved (another change won); re-read and retry.
    EpochMoved,
    /// The ticket was used, expired or voided meanwhile.
    TicketUnusable,
    /// A live session the change's announcements do not cover appeared meanwhile (see
    /// `apply_password_change_announcing`); re-read and retry.
    SessionsChanged,
}

/// A successful login's bookkeeping: counters, and the re-hashed password when an imported
/// (bcrypt) or outdated hash was upgraded.
#[derive(Debug)]
pub struct LoginRecord {
    pub user_id: UserId,
    pub at: Timestamp,
    pub ip: Option<String>,
    pub upgraded_hash: Option<PasswordHash>,
    /// Earlier failures from this IP to forget (most logins have none: no write then).
    pub clear_failures: bool,
}

#[async_trait]
pub trait UserStore: Send + Sync {
    async fn insert_user(&self, user: &User, log: Option<&LogEntry>) -> StoreResult<()>;
    async fn get_user(&self, id: &UserId) -> StoreResult<Option<User>>;
    async fn find_user_by_email(
        &self,
        connection: &str,
        email: &Email,
    ) -> StoreResult<Option<User>>;
    async fn find_user_by_username(
        &self,
        connection: &str,
        username: &str,
    ) -> StoreResult<Option<User>>;
    /// Every user with this email, across connections (`GET /users-by-email`).
    async fn users_by_email(&self, email: &str) -> StoreResult<Vec<User>>;
    async fn list_users(&self, query: &UserQuery) -> StoreResult<(Vec<User>, u64)>;
    /// Replaces the profile fields of an existing user (not the password: see
    /// `apply_password_change`). Returns false when the user is gone.
    async fn update_user(&self, user: &User, log: Option<&LogEntry>) -> StoreResult<bool>;
    async fn delete_user(&self, id: &UserId, log: Option<&LogEntry>) -> StoreResult<bool>;
    async fn record_login(&self, login: &LoginRecord) -> StoreResult<()>;
    async fn apply_password_change(
        &self,
        change: &PasswordChange,
    ) -> StoreResult<PasswordChangeOutcome> {
        self.apply_password_change_announcing(change, None).await
    }
    /// `apply_password_change` whose `outbox` announces the end of the live sessions (unexpired,
    /// of `expected_epoch`) in `announced_sessions` to back-channel logout clients: the change
    /// is refused (`SessionsChanged`) if it would end a live session not in that list (a login
    /// that raced it), so no ended session goes unannounced. `None`: no check.
    async fn apply_password_change_announcing(
        &self,
        change: &PasswordChange,
        announced_sessions: Option<&[String]>,
    ) -> StoreResult<PasswordChangeOutcome>;
}

#[async_trait]
pub trait ClientStore: Send + Sync {
    async fn insert_client(&self, client: &Client) -> StoreResult<()>;
    async fn get_client(&self, id: &ClientId) -> StoreResult<Option<Client>>;
    async fn list_clients(&self) -> StoreResult<Vec<Client>>;
    async fn update_client(&self, client: &Client) -> StoreResult<bool>;
    /// Deletes the client with its grants and refresh tokens.
    async fn delete_client(&self, id: &ClientId) -> StoreResult<bool>;

    async fn insert_client_grant(&self, grant: &ClientGrant) -> StoreResult<()>;
    async fn list_client_grants(&self) -> StoreResult<Vec<ClientGrant>>;
    async fn get_client_grant(&self, id: &str) -> StoreResult<Option<ClientGrant>>;
    async fn find_client_grant(
        &self,
        client: &ClientId,
        audience: &str,
    ) -> StoreResult<Option<ClientGrant>>;
    async fn update_client_grant(&self, grant: &ClientGrant) -> StoreResult<bool>;
    async fn delete_client_grant(&self, id: &str) -> StoreResult<bool>;
}

#[async_trait]
pub trait ConnectionStore: Send + Sync {
    async fn insert_connection(&self, connection: &Connection) -> StoreResult<()>;
    async fn get_connection(&self, id: &ConnectionId) -> StoreResult<Option<Connection>>;
    async fn find_connection_by_name(&self, name: &str) -> StoreResult<Option<Connection>>;
    async fn list_connections(&self) -> StoreResult<Vec<Connection>>;
    async fn update_connection(&self, connection: &Connection) -> StoreResult<bool>;
    /// Deletes the connection and every user in it.
    async fn delete_connection(&self, id: &ConnectionId) -> StoreResult<bool>;
}

#[async_trait]
pub trait TenantStore: Send + Sync {
    async fn get_tenant(&self) -> StoreResult<Option<TenantSettings>>;
    async fn put_tenant(&self, settings: &TenantSettings) -> StoreResult<()>;
    /// A settings document Auth0 keeps apart from the tenant settings (`prompts`,
    /// `attack_protection.*`), as its service wrote it.
    async fn get_tenant_document(&self, name: &str) -> StoreResult<Option<serde_json::Value>>;
    async fn put_tenant_document(&self, name: &str, doc: &serde_json::Value) -> StoreResult<()>;
}

/// Stored resource servers (the Management API is not stored).
#[async_trait]
pub trait ResourceServerStore: Send + Sync {
    /// `Conflict` when the identifier is taken.
    async fn insert_resource_server(&self, rs: &ResourceServer) -> StoreResult<()>;
    async fn get_resource_server(&self, id: &str) -> StoreResult<Option<ResourceServer>>;
    async fn find_resource_server(&self, identifier: &str) -> StoreResult<Option<ResourceServer>>;
    async fn list_resource_servers(&self) -> StoreResult<Vec<ResourceServer>>;
    /// `Conflict` when the new identifier is taken; false when there is no such id.
    async fn update_resource_server(&self, rs: &ResourceServer) -> StoreResult<bool>;
    async fn delete_resource_server(&self, id: &str) -> StoreResult<bool>;
}

/// A refresh token at rest: only the digest of the token is kept.
#[derive(Debug, Clone)]
pub struct RefreshTokenRecord {
    pub id: String,
    pub digest: String,
    /// Tokens rotated from one login share a family; reuse of a rotated token revokes it.
    pub family: String,
    pub user_id: UserId,
    pub client_id: ClientId,
    pub audience: Option<String>,
    pub scope: String,
    pub credential_epoch: i64,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub rotated: bool,
}

#[derive(Debug)]
pub enum RefreshUse {
    /// The token was live and is now marked rotated (or left live when the client does not rotate).
    Accepted(Box<RefreshTokenRecord>),
    /// It had already been rotated: the whole family was revoked.
    Reused,
    Unknown,
}

#[async_trait]
pub trait RefreshTokenStore: Send + Sync {
    async fn insert_refresh_token(&self, token: &RefreshTokenRecord) -> StoreResult<()>;
    /// Atomically marks a live token as used. Exactly one concurrent caller gets `Accepted`.
    async fn use_refresh_token(
        &self,
        digest: &str,
        rotate: bool,
        at: Timestamp,
    ) -> StoreResult<RefreshUse>;
    async fn list_refresh_tokens(&self, user: &UserId) -> StoreResult<Vec<RefreshTokenRecord>>;
    async fn revoke_refresh_tokens(
        &self,
        user: &UserId,
        client: Option<&ClientId>,
    ) -> StoreResult<u64>;
    async fn revoke_refresh_token_by_digest(
        &self,
        digest: &str,
        client: &ClientId,
    ) -> StoreResult<bool>;
    /// Deletes every token of a family; how many there were.
    async fn revoke_refresh_family(&self, family: &str) -> StoreResult<u64>;
}

/// A signing key at rest. The private half is PKCS#8 DER, base64.
#[derive(Debug, Clone)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub private_pkcs8: SecretString,
    pub created_at: Timestamp,
    pub current: bool,
    pub revoked: bool,
}

#[async_trait]
pub trait KeyStore: Send + Sync {
    async fn list_signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>>;
    /// Inserts `key` as current and demotes the previous current key, atomically.
    async fn rotate_in_signing_key(&self, key: &SigningKeyRecord) -> StoreResult<()>;
    async fn revoke_signing_key(&self, kid: &str) -> StoreResult<bool>;
}

#[derive(Debug, Clone, Default)]
pub struct LogQuery {
    pub user_id: Option<String>,
    pub type_code: Option<String>,
    /// Entries at or after this instant.
    pub since: Option<Timestamp>,
    /// Entries before this instant.
    pub until: Option<Timestamp>,
    pub page: u32,
    pub per_page: u32,
}

#[async_trait]
pub trait LogStore: Send + Sync {
    async fn append_logs(&self, entries: &[LogEntry]) -> StoreResult<()>;
    /// Entries newest first, in their Management API representation.
    async fn list_logs(&self, query: &LogQuery) -> StoreResult<(Vec<serde_json::Value>, u64)>;
    /// One entry by its `log_id`, in its Management API representation.
    async fn get_log(&self, log_id: &str) -> StoreResult<Option<serde_json::Value>>;
}

#[async_trait]
pub trait EmailTemplateStore: Send + Sync {
    async fn get_email_template(
        &self,
        name: EmailTemplateName,
    ) -> StoreResult<Option<EmailTemplate>>;
    /// Inserts a template that does not exist yet (`Conflict` otherwise).
    async fn insert_email_template(&self, template: &EmailTemplate) -> StoreResult<()>;
    /// Inserts or replaces.
    async fn put_email_template(&self, template: &EmailTemplate) -> StoreResult<()>;
}

#[async_trait]
pub trait EmailProviderStore: Send + Sync {
    async fn get_email_provider(&self) -> StoreResult<Option<EmailProvider>>;
    /// Inserts the provider unless one is configured (`Conflict` then).
    async fn insert_email_provider(&self, provider: &EmailProvider) -> StoreResult<()>;
    async fn update_email_provider(&self, provider: &EmailProvider) -> StoreResult<bool>;
    async fn delete_email_provider(&self) -> StoreResult<bool>;
}

/// What a password ticket lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketKind {
    /// Choose a new password (the mailed reset link, Management API tickets).
    Reset,
    /// Flow v1: confirm the password chosen when the mail was requested.
    ConfirmPending,
}

impl TicketKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reset => "reset",
            Self::ConfirmPending => "confirm_pending",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "reset" => Some(Self::Reset),
            "confirm_pending" => Some(Self::ConfirmPending),
            _ => None,
        }
    }
}

/// A password ticket at rest: only the token's SHA-256 digest is kept.
#[derive(Debug, Clone)]
pub struct PasswordTicket {
    pub id: String,
    pub digest: String,
    pub user_id: UserId,
    /// The user's credential epoch at issue; any password change moves it and voids the ticket.
    pub credential_epoch: i64,
    pub kind: TicketKind,
    pub client_id: Option<String>,
    pub result_url: Option<String>,
    pub include_email: bool,
    pub mark_email_verified: bool,
    pub pending_hash: Option<PasswordHash>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
}

#[async_trait]
pub trait TicketStore: Send + Sync {
    /// Stores each ticket (with its log entry) in order, in one transaction, deleting its
    /// user's unused older ones: only the latest link works.
    async fn insert_tickets(
        &self,
        tickets: &[(PasswordTicket, Option<LogEntry>)],
    ) -> StoreResult<()>;
    async fn find_ticket(&self, digest: &str) -> StoreResult<Option<PasswordTicket>>;
    /// Stores an email-verification ticket (older ones stay usable until used or expired).
    async fn insert_verification_ticket(
        &self,
        ticket: &VerificationTicket,
        log: Option<&LogEntry>,
    ) -> StoreResult<()>;
    async fn find_verification_ticket(
        &self,
        digest: &str,
    ) -> StoreResult<Option<VerificationTicket>>;
    /// Consumes ticket `digest` and marks its user's address verified, with `log`, in one
    /// transaction. `false` (nothing written) when the ticket was used meanwhile, has expired
    /// at `at`, or its user's address is no longer the one it was issued for: of concurrent
    /// redemptions exactly one succeeds.
    async fn redeem_verification_ticket(
        &self,
        digest: &str,
        at: Timestamp,
        log: &LogEntry,
    ) -> StoreResult<bool>;
}

/// An email-verification ticket at rest: only the token's SHA-256 digest is kept.
#[derive(Debug, Clone)]
pub struct VerificationTicket {
    pub id: String,
    pub digest: String,
    pub user_id: UserId,
    /// The address it verifies (the user's when issued).
    pub email: String,
    pub client_id: Option<String>,
    pub result_url: Option<String>,
    pub include_email: bool,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
}

/// A mail to queue: the outbox row's id, and what to send.
#[derive(Debug, Clone)]
pub struct QueuedMail {
    pub id: String,
    pub job: OutboxJob,
    pub at: Timestamp,
}

/// One delivery of a log stream, as the outbox row records it.
#[derive(Debug, Clone)]
pub struct StreamDelivery {
    pub log_id: String,
    /// The outbox status: `pending`, `sent`, `dropped` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A log stream's queue: pending deliveries, and those dropped because the stream held more
/// than `log_streams.max_pending` (its endpoint down or hanging).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamBacklog {
    pub pending: u64,
    pub dropped: u64,
}

/// Log streams (`/api/v2/log-streams`), and the log writes that queue their deliveries.
#[async_trait]
pub trait LogStreamStore: Send + Sync {
    async fn insert_log_stream(&self, stream: &crate::domain::LogStream) -> StoreResult<()>;
    async fn get_log_stream(&self, id: &str) -> StoreResult<Option<crate::domain::LogStream>>;
    async fn list_log_streams(&self) -> StoreResult<Vec<crate::domain::LogStream>>;
    async fn update_log_stream(&self, stream: &crate::domain::LogStream) -> StoreResult<bool>;
    /// Deletes the stream; its pending deliveries are dropped when the worker reaches them.
    async fn delete_log_stream(&self, id: &str) -> StoreResult<bool>;
    /// `append_logs`, with `outbox` (the entries' stream deliveries) queued in the same
    /// transaction: an entry written is an entry delivered.
    async fn append_logs_queuing(
        &self,
        entries: &[LogEntry],
        outbox: &[QueuedMail],
    ) -> StoreResult<()>;
    /// How many deliveries the stream has pending, and how many were dropped over its bound.
    async fn stream_backlog(&self, stream_id: &str) -> StoreResult<StreamBacklog>;
    /// The stream's most recent deliveries, newest first.
    async fn list_stream_deliveries(
        &self,
        stream_id: &str,
        limit: u32,
    ) -> StoreResult<Vec<StreamDelivery>>;
}

/// A queued mail a worker holds the lease of.
#[derive(Debug, Clone)]
pub struct LeasedMail {
    pub id: String,
    /// `Err` says why this version cannot read the row.
    pub job: Result<OutboxJob, String>,
    /// Including this one.
    pub attempts: i64,
}

#[derive(Debug, Clone)]
pub enum MailDisposition {
    Sent,
    /// Nothing to send (unknown address, user gone): done, with the reason.
    Dropped(String),
    Retry {
        at: Timestamp,
        error: String,
    },
    Failed(String),
    /// Not attempted (its destination is parked): back to pending until `at`, the lease's
    /// attempt not counted and the last error kept.
    Postpone {
        at: Timestamp,
    },
}

#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Appends mails in one transaction (the request intake batches many requests into one).
    async fn enqueue_mail(&self, mails: &[QueuedMail]) -> StoreResult<()>;
    /// Leases up to `limit` due jobs of `lane` until `lease_until`. Concurrent workers (other
    /// nodes on PostgreSQL) never get the same row while its lease runs.
    async fn lease_mail(
        &self,
        lane: crate::mail::Lane,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<LeasedMail>>;
    /// Records how each leased job ended (id, disposition), all in one transaction, and
    /// releases their leases.
    async fn settle_mails(
        &self,
        settled: &[(String, MailDisposition)],
        at: Timestamp,
    ) -> StoreResult<()>;
    /// Moves the pending deliveries of log stream `stream_id` that nobody holds to `until` at
    /// the earliest (the stream's endpoint is failing: its jobs wait, not the queue's slots);
    /// returns how many moved.
    async fn park_stream_deliveries(
        &self,
        stream_id: &str,
        until: Timestamp,
        now: Timestamp,
    ) -> StoreResult<u64>;
    /// Deletes the oldest pending deliveries (not held by a worker) of every log stream holding
    /// more than `max_pending`, adding them to the stream's dropped count; returns (stream,
    /// dropped) for each stream trimmed.
    async fn trim_stream_backlogs(
        &self,
        max_pending: u64,
        now: Timestamp,
    ) -> StoreResult<Vec<(String, u64)>>;
    /// Deletes settled mails older than `before`; returns how many.
    async fn prune_mail(&self, before: Timestamp) -> StoreResult<u64>;
    /// Counts of rows by status (for readiness and the dashboard).
    async fn mail_counts(&self) -> StoreResult<Vec<(String, u64)>>;
    /// Per lane: pending rows and the oldest one's creation time (for `/metrics`).
    async fn pending_by_lane(&self) -> StoreResult<Vec<(String, u64, Timestamp)>>;
}

#[async_trait]
pub trait SecretStore: Send + Sync {
    /// The tenant's secret called `name`, created from `candidate` if it does not exist yet.
    /// Every node gets the same value.
    async fn tenant_secret(&self, name: &str, candidate: &str) -> StoreResult<String>;
}

/// A second factor of a user's.
#[derive(Clone)]
pub struct Authenticator {
    pub id: String,
    pub user_id: UserId,
    /// `totp` (the only kind so far).
    pub kind: String,
    pub name: Option<String>,
    /// The TOTP key, base32 as authenticator apps take it.
    pub secret: SecretString,
    pub confirmed: bool,
    pub created_at: Timestamp,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

#[async_trait]
pub trait AuthenticatorStore: Send + Sync {
    async fn insert_authenticator(
        &self,
        authenticator: &Authenticator,
        log: Option<&LogEntry>,
    ) -> StoreResult<()>;
    async fn list_authenticators(&self, user: &UserId) -> StoreResult<Vec<Authenticator>>;
    /// Deletes every second factor of the user; returns how many.
    async fn delete_authenticators(
        &self,
        user: &UserId,
        log: Option<&LogEntry>,
    ) -> StoreResult<u64>;
    /// Deletes authenticator `old_id` and inserts `new` in one transaction, unless `old_id` is
    /// already gone (false: someone else used it first). How a used recovery code is replaced.
    async fn replace_authenticator(&self, old_id: &str, new: &Authenticator) -> StoreResult<bool>;
    /// Confirms the pending (associated, not yet proven) key `totp_id` and the user's pending
    /// recovery code, and deletes any other pending key, in one transaction; false when the key
    /// was no longer pending (someone confirmed or replaced it first).
    async fn confirm_pending_totp(&self, user: &UserId, totp_id: &str) -> StoreResult<bool>;
    /// Deletes the user's pending authenticators (a new association replaces them).
    async fn delete_unconfirmed_authenticators(&self, user: &UserId) -> StoreResult<u64>;
    /// Records that a code of time step `step` was used, unless that step or a later one
    /// already was: false means a replay.
    async fn use_totp_step(&self, id: &str, step: i64) -> StoreResult<bool>;
}

/// A hosted-login session at rest: the cookie's token is kept only as its digest.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub id: String,
    pub digest: String,
    pub user_id: UserId,
    pub credential_epoch: i64,
    pub auth_time: Timestamp,
    /// Authentication methods used (`pwd`, `mfa`).
    pub amr: Vec<String>,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub expires_at: Timestamp,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// An authorization code at rest (digest only); single use, short-lived.
#[derive(Debug, Clone)]
pub struct AuthorizationCode {
    pub digest: String,
    pub client_id: String,
    pub user_id: UserId,
    pub session_id: Option<String>,
    pub redirect_uri: String,
    pub scope: String,
    pub audience: Option<String>,
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: Option<String>,
    pub auth_time: Timestamp,
    pub amr: Vec<String>,
    pub credential_epoch: i64,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// Claims post-login actions added to the tokens.
    pub custom_claims: crate::actions::CustomClaims,
}

/// A login ticket from `/co/authenticate` at rest (digests only): the password was checked
/// for `user_id` on `connection`; `/authorize?login_ticket=` redeems it once, for `client_id`,
/// in the browser that holds the verifier.
#[derive(Debug, Clone)]
pub struct LoginTicket {
    pub digest: String,
    pub client_id: String,
    pub user_id: UserId,
    pub connection: String,
    /// SHA-256 of the `co_verifier` handed to the browser with the ticket.
    pub verifier_digest: String,
    pub auth_time: Timestamp,
    pub credential_epoch: i64,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn insert_session(&self, session: &SessionRecord) -> StoreResult<()>;
    async fn find_session(&self, digest: &str) -> StoreResult<Option<SessionRecord>>;
    async fn touch_session(&self, id: &str, at: Timestamp) -> StoreResult<()>;
    async fn delete_session(&self, id: &str) -> StoreResult<bool>;
    async fn list_sessions(&self, user: &UserId) -> StoreResult<Vec<SessionRecord>>;
    /// Deletes every session of the user; returns the deleted ones.
    async fn delete_sessions(&self, user: &UserId) -> StoreResult<Vec<SessionRecord>>;
    async fn insert_code(&self, code: &AuthorizationCode) -> StoreResult<()>;
    /// Marks the code used and returns it, if it was unused and unexpired: exactly one of
    /// concurrent exchanges gets it.
    async fn use_code(&self, digest: &str, at: Timestamp)
    -> StoreResult<Option<AuthorizationCode>>;
    async fn insert_login_ticket(&self, ticket: &LoginTicket) -> StoreResult<()>;
    /// Deletes the ticket and returns it, if it was unexpired: exactly one of concurrent
    /// redemptions gets it.
    async fn take_login_ticket(
        &self,
        digest: &str,
        at: Timestamp,
    ) -> StoreResult<Option<LoginTicket>>;
}

/// What a failed login did to the (user, IP) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureCount {
    pub failures: i64,
    /// This failure reached the threshold: the pair is blocked from now on.
    pub newly_blocked: bool,
}

/// A blocked (user, IP) pair.
#[derive(Debug, Clone)]
pub struct LoginBlock {
    pub ip: String,
    pub blocked_at: Timestamp,
}

#[async_trait]
pub trait LoginGuardStore: Send + Sync {
    /// Consecutive failures recorded for the pair, and whether it is blocked.
    async fn login_failures(&self, user: &UserId, ip: &str) -> StoreResult<Option<(i64, bool)>>;
    /// Counts one more consecutive failure; blocks the pair at `threshold`.
    async fn record_login_failure(
        &self,
        user: &UserId,
        ip: &str,
        at: Timestamp,
        threshold: i64,
    ) -> StoreResult<FailureCount>;
    async fn login_blocks(&self, user: &UserId) -> StoreResult<Vec<LoginBlock>>;
    /// Lifts every block and forgets every count for the user.
    async fn clear_login_failures(&self, user: &UserId) -> StoreResult<u64>;
    /// Lifts the pair's block if it is the one that began at `blocked_at` (false: it was
    /// lifted meanwhile, or a newer block replaced it).
    async fn lift_login_block(
        &self,
        user: &UserId,
        ip: &str,
        blocked_at: Timestamp,
    ) -> StoreResult<bool>;
}

/// A console administrator: separate from the tenant's end users.
#[derive(Debug, Clone)]
pub struct Admin {
    pub id: String,
    pub email: Email,
    pub password_hash: PasswordHash,
    pub created_at: Timestamp,
    /// Moves with every password change: sessions and reset tickets of an older epoch are dead.
    pub credential_epoch: i64,
    /// Base32 TOTP key, when the administrator enrolled an authenticator app.
    pub totp_secret: Option<SecretString>,
    pub last_login_at: Option<Timestamp>,
}

/// A console session at rest: the cookie's token is kept only as its digest.
#[derive(Debug, Clone)]
pub struct AdminSessionRecord {
    pub id: String,
    pub digest: String,
    pub admin_id: String,
    pub credential_epoch: i64,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub expires_at: Timestamp,
}

/// An administrator's password-reset link at rest (digest only).
#[derive(Debug, Clone)]
pub struct AdminTicket {
    pub digest: String,
    pub admin_id: String,
    pub credential_epoch: i64,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
}

#[async_trait]
pub trait AdminStore: Send + Sync {
    async fn insert_admin(&self, admin: &Admin) -> StoreResult<()>;
    async fn list_admins(&self) -> StoreResult<Vec<Admin>>;
    async fn get_admin(&self, id: &str) -> StoreResult<Option<Admin>>;
    async fn get_admin_by_email(&self, email: &Email) -> StoreResult<Option<Admin>>;
    async fn delete_admin(&self, id: &str) -> StoreResult<bool>;
    /// Stores a new hash, moves the epoch and ends every session of the administrator, in one
    /// transaction that also consumes `ticket_digest` when given (false: the ticket was used or
    /// voided meanwhile, and nothing changed).
    async fn set_admin_password(
        &self,
        id: &str,
        hash: &PasswordHash,
        ticket_digest: Option<&str>,
    ) -> StoreResult<bool>;
    /// Sets or (None) clears the administrator's TOTP key.
    async fn set_admin_totp(&self, id: &str, secret: Option<&SecretString>) -> StoreResult<()>;
    /// Records a used TOTP step unless it or a later one was used: false is a replay.
    async fn use_admin_totp_step(&self, id: &str, step: i64) -> StoreResult<bool>;
    async fn record_admin_login(&self, id: &str, at: Timestamp) -> StoreResult<()>;
    async fn insert_admin_session(&self, session: &AdminSessionRecord) -> StoreResult<()>;
    async fn find_admin_session(&self, digest: &str) -> StoreResult<Option<AdminSessionRecord>>;
    async fn touch_admin_session(&self, digest: &str, at: Timestamp) -> StoreResult<()>;
    async fn delete_admin_session(&self, digest: &str) -> StoreResult<()>;
    /// Stores the ticket and deletes the administrator's unused older ones (latest only).
    async fn insert_admin_ticket(&self, ticket: &AdminTicket) -> StoreResult<()>;
    async fn find_admin_ticket(&self, digest: &str) -> StoreResult<Option<AdminTicket>>;
}

/// Actions, their deployed versions, trigger bindings and execution records.
#[async_trait]
pub trait ActionStore: Send + Sync {
    async fn insert_action(&self, action: &crate::domain::Action) -> StoreResult<()>;
    async fn get_action(&self, id: &str) -> StoreResult<Option<crate::domain::Action>>;
    async fn find_action_by_name(&self, name: &str) -> StoreResult<Option<crate::domain::Action>>;
    async fn list_actions(&self) -> StoreResult<Vec<crate::domain::Action>>;
    /// Returns false when the action is gone.
    async fn update_action(&self, action: &crate::domain::Action) -> StoreResult<bool>;
    /// Deletes the action, its versions and its bindings.
    async fn delete_action(&self, id: &str) -> StoreResult<bool>;
    /// Stores a new version and points the action at it, in one transaction.
    async fn deploy_action(
        &self,
        action: &crate::domain::Action,
        version: &crate::domain::ActionVersion,
    ) -> StoreResult<()>;
    async fn list_action_versions(
        &self,
        action_id: &str,
    ) -> StoreResult<Vec<crate::domain::ActionVersion>>;
    async fn get_action_version(
        &self,
        id: &str,
    ) -> StoreResult<Option<crate::domain::ActionVersion>>;
    /// A trigger's bindings, in execution order.
    async fn list_bindings(
        &self,
        trigger: crate::actions::Trigger,
    ) -> StoreResult<Vec<crate::domain::ActionBinding>>;
    /// Replaces a trigger's bindings with `bindings`, in this order.
    async fn replace_bindings(
        &self,
        trigger: crate::actions::Trigger,
        bindings: &[crate::domain::ActionBinding],
    ) -> StoreResult<()>;
    /// Inserts or replaces an execution record.
    async fn put_execution(&self, record: &crate::domain::ActionExecutionRecord)
    -> StoreResult<()>;
    async fn get_execution(
        &self,
        id: &str,
    ) -> StoreResult<Option<crate::domain::ActionExecutionRecord>>;
    /// Deletes execution records older than `before`.
    async fn prune_executions(&self, before: Timestamp) -> StoreResult<u64>;
}

/// What a first start writes, all in one transaction.
#[derive(Debug)]
pub struct BootstrapData {
    pub tenant: TenantSettings,
    pub connection: Connection,
    pub clients: Vec<Client>,
    pub grants: Vec<ClientGrant>,
    pub admin: Admin,
    pub key: SigningKeyRecord,
}

/// What a Management API job does (`type` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    UsersImport,
    /// `POST /api/v2/jobs/verification-email`: one verification mail to `user_id`.
    VerificationEmail,
    UsersExport,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UsersImport => "users_import",
            Self::VerificationEmail => "verification_email",
            Self::UsersExport => "users_export",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "users_import" => Some(Self::UsersImport),
            "verification_email" => Some(Self::VerificationEmail),
            "users_export" => Some(Self::UsersExport),
            _ => None,
        }
    }
}

/// Where a job is (`status` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    Pending,
    Processing,
    Completed,
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Processing => "processing",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "processing" => Self::Processing,
            "completed" => Self::Completed,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

/// A Management API job and its counters (the uploaded file is read apart: `job_input`).
#[derive(Debug, Clone)]
pub struct JobRecord {
    pub id: String,
    pub kind: JobKind,
    pub status: JobStatus,
    pub connection_id: String,
    pub connection: String,
    /// A verification-email job's addressee.
    pub user_id: Option<UserId>,
    pub external_id: Option<String>,
    pub upsert: bool,
    pub send_completion_email: bool,
    /// Users in the file.
    pub total: u64,
    /// Users settled (imported or reported), in file order.
    pub position: u64,
    pub inserted: u64,
    pub updated: u64,
    pub failed: u64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One user an import could not bring: the user as the file gave it and Auth0's error list
/// (`[{code, message, path}]`).
#[derive(Debug, Clone)]
pub struct ImportFailure {
    pub user: serde_json::Value,
    pub errors: Vec<crate::domain::ImportError>,
}

/// A user read from an import's file, with the second factors it brings (confirmed TOTP keys,
/// written with a newly inserted user only) and the file's object, for the report.
#[derive(Debug)]
pub struct ImportedUser {
    pub user: User,
    pub authenticators: Vec<Authenticator>,
    pub original: serde_json::Value,
}

/// The next users of an import's file, in order: those that parsed (with the file's object,
/// for the report if the store refuses them) and those that did not. Together they are the
/// `settled` users after the job's position.
#[derive(Debug)]
pub struct ImportBatch {
    pub users: Vec<ImportedUser>,
    pub invalid: Vec<ImportFailure>,
    pub settled: u64,
    pub upsert: bool,
    pub at: Timestamp,
    /// The users in the file, when the batch knows better than the job (a streamed file's
    /// estimate from the bytes read, exact with its last batch); `None` leaves it.
    pub total: Option<u64>,
}

#[async_trait]
pub trait JobStore: Send + Sync {
    /// Stores a new job, its file and the outbox row that will run it, together. A streamed
    /// import (the CLI) has neither: its runner holds the file and writes the batches itself.
    async fn insert_job(
        &self,
        job: &JobRecord,
        input: Option<&str>,
        run: Option<&QueuedMail>,
    ) -> StoreResult<()>;
    async fn get_job(&self, id: &str) -> StoreResult<Option<JobRecord>>;
    /// The uploaded file, until the job ends.
    async fn job_input(&self, id: &str) -> StoreResult<Option<String>>;
    /// The users the job could not import, in file order.
    async fn job_errors(&self, id: &str) -> StoreResult<Vec<ImportFailure>>;
    /// Up to `limit` of them, from the `from`-th (0-based): for readers that keep memory flat.
    async fn job_errors_page(
        &self,
        id: &str,
        from: u64,
        limit: u64,
    ) -> StoreResult<Vec<ImportFailure>>;
    /// Writes one batch in one transaction: each user inserted (with `upsert`, the user with
    /// that address in the connection updated instead) or, if it collides with another, added
    /// to the failures as `DUPLICATED_USER`; the counters moved and the position advanced from
    /// `from`. `None` (nothing written) when the job is not at `from` any more: another run
    /// of it got there first.
    async fn import_batch(
        &self,
        job_id: &str,
        from: u64,
        batch: &ImportBatch,
    ) -> StoreResult<Option<JobRecord>>;
    /// Sets the job's status; a job that ended drops its file. A job ends once: ending an
    /// ended job changes nothing and answers `false`. `notice` (the completion mail) is queued
    /// in the same transaction, only by the call that ends the job.
    async fn set_job_status(
        &self,
        id: &str,
        status: JobStatus,
        at: Timestamp,
        notice: Option<&QueuedMail>,
    ) -> StoreResult<bool>;
}

/// A user export's file format (`format` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// Newline-delimited JSON: one object per user.
    Json,
    Csv,
}

impl ExportFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Csv => "csv",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "json" => Some(Self::Json),
            "csv" => Some(Self::Csv),
            _ => None,
        }
    }
}

/// One exported attribute: Auth0's `{name, export_as}` (`user_metadata.plan`,
/// `identities[0].connection`), the column (or key) being `export_as` when given.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExportField {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_as: Option<String>,
}

/// A user export beside its `jobs` row: what it writes, how far it got (`cursor`: the last
/// user id written; `chunks`: the gzip members stored so far) and, once done, until when its
/// file is kept.
#[derive(Debug, Clone)]
pub struct ExportRecord {
    pub job_id: String,
    pub format: ExportFormat,
    pub limit: Option<u64>,
    pub fields: Vec<ExportField>,
    pub cursor: String,
    pub chunks: u64,
    pub expires_at: Option<Timestamp>,
}

/// The next piece of an export's file: one complete gzip member holding `users` users, the
/// last of whom is `cursor`.
#[derive(Debug)]
pub struct ExportChunk {
    pub data: Vec<u8>,
    pub users: u64,
    pub cursor: String,
    pub at: Timestamp,
}

#[async_trait]
pub trait ExportStore: Send + Sync {
    /// Stores a new export job (its `jobs` row, its export row) and the outbox row that runs it.
    async fn insert_export(
        &self,
        job: &JobRecord,
        export: &ExportRecord,
        run: &QueuedMail,
    ) -> StoreResult<()>;
    async fn get_export(&self, job_id: &str) -> StoreResult<Option<ExportRecord>>;
    /// Up to `limit` users whose id sorts after `after`, in id order (of one connection, when
    /// given): the pages an export reads, never the whole table at once.
    async fn users_after(
        &self,
        connection: Option<&str>,
        after: &str,
        limit: u32,
    ) -> StoreResult<Vec<User>>;
    /// Appends `chunk` as piece number `seq`, moving the cursor and the job's counters with
    /// it, in one transaction; false (nothing written) when the export is not at `seq` any
    /// more: another run of it got there first.
    async fn append_export_chunk(
        &self,
        job_id: &str,
        seq: u64,
        chunk: &ExportChunk,
    ) -> StoreResult<bool>;
    /// Marks the export completed, its file kept until `expires_at`.
    async fn finish_export(
        &self,
        job_id: &str,
        expires_at: Timestamp,
        at: Timestamp,
    ) -> StoreResult<()>;
    /// Piece `seq` of the export's file.
    async fn export_chunk(&self, job_id: &str, seq: u64) -> StoreResult<Option<Vec<u8>>>;
    /// Deletes the exports (job, record, file) whose file expired before `now`.
    async fn prune_exports(&self, now: Timestamp) -> StoreResult<u64>;
}

#[async_trait]
pub trait Store:
    UserStore
    + ClientStore
    + ConnectionStore
    + TenantStore
    + RefreshTokenStore
    + KeyStore
    + LogStore
    + AdminStore
    + EmailTemplateStore
    + EmailProviderStore
    + TicketStore
    + OutboxStore
    + SecretStore
    + AuthenticatorStore
    + SessionStore
    + LoginGuardStore
    + ActionStore
    + LogStreamStore
    + ResourceServerStore
    + JobStore
    + ExportStore
{
    /// "sqlite" or "postgres".
    fn backend(&self) -> &'static str;
    /// Writes the first-start data unless the tenant exists. Returns whether it wrote.
    async fn bootstrap(&self, data: &BootstrapData) -> StoreResult<bool>;
    /// Cheap liveness probe for readiness checks.
    async fn ping(&self) -> StoreResult<()>;
}
