-- Cross-origin authentication (`/co/authenticate`): a checked password becomes a login ticket
-- that `/authorize?login_ticket=` redeems once, within minutes, for the client it was minted
-- for, in the browser holding the verifier. Only digests are stored.
CREATE TABLE login_tickets (
    digest TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    connection TEXT NOT NULL,
    verifier_digest TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    credential_epoch BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX login_tickets_expiry ON login_tickets (expires_at);
