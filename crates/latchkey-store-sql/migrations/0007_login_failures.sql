-- Brute-force protection (Auth0 semantics): consecutive failed logins per (user, IP); at the
-- threshold the pair is blocked until a successful password reset or an administrator lifts it.
CREATE TABLE login_failures (
    user_id TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    ip TEXT NOT NULL,
    failures BIGINT NOT NULL,
    blocked_at BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, ip)
);
