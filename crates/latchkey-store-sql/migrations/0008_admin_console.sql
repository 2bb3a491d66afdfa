-- The admin console: administrators' credential epoch (a password change ends their sessions),
-- optional TOTP, console sessions (digests only) and password-reset tickets (digests only).
ALTER TABLE admins ADD COLUMN credential_epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE admins ADD COLUMN totp_secret TEXT;
ALTER TABLE admins ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;
ALTER TABLE admins ADD COLUMN last_login_at BIGINT;
CREATE TABLE admin_sessions (
    digest TEXT PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    admin_id TEXT NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    credential_epoch BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX admin_sessions_admin ON admin_sessions (admin_id);
CREATE TABLE admin_tickets (
    digest TEXT PRIMARY KEY,
    admin_id TEXT NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    credential_epoch BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX admin_tickets_admin ON admin_tickets (admin_id);
