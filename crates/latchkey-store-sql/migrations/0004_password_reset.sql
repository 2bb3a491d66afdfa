-- Password reset: tickets (mailed links and Management API tickets), the mail outbox, and the
-- tenant's own keys (CSRF tokens, keyed hashes for rate-limit buckets).
CREATE TABLE password_tickets (
    id TEXT PRIMARY KEY,
    -- hex SHA-256 of the token; the token itself is never stored
    digest TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    -- the user's credential epoch when issued: any password change voids the ticket
    credential_epoch BIGINT NOT NULL,
    kind TEXT NOT NULL,
    client_id TEXT,
    result_url TEXT,
    include_email BIGINT NOT NULL,
    mark_email_verified BIGINT NOT NULL,
    -- flow v1: the argon2 hash of the password chosen in the request, applied on confirmation
    pending_hash TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX password_tickets_user ON password_tickets (user_id);
CREATE TABLE mail_outbox (
    id TEXT PRIMARY KEY,
    -- what to send, as JSON (never a token or a password: links are minted at delivery)
    job TEXT NOT NULL,
    -- pending | sent | dropped | failed
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    -- a worker's lease: while in the future, other workers leave the row alone
    locked_until BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX mail_outbox_due ON mail_outbox (status, next_attempt_at);
CREATE TABLE tenant_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
