-- Email verification: tickets (`POST /api/v2/tickets/email-verification` and the links the
-- verify_email mail carries), and verification-email jobs in the jobs table.
CREATE TABLE email_verification_tickets (
    id TEXT PRIMARY KEY,
    -- hex SHA-256 of the token; the token itself is never stored
    digest TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    -- the address the link verifies: a user whose address changed since cannot redeem it
    email TEXT NOT NULL,
    client_id TEXT,
    result_url TEXT,
    include_email BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX email_verification_tickets_user ON email_verification_tickets (user_id);
-- A verification-email job names its user (an import names its connection, as before).
ALTER TABLE jobs ADD COLUMN user_id TEXT;
