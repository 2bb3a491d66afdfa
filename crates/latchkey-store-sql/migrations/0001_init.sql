-- Latchkey schema v1, shared by SQLite and PostgreSQL: only BIGINT and TEXT columns, timestamps in
-- milliseconds since the Unix epoch, flags as 0/1, JSON as TEXT.
CREATE TABLE tenant (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    settings TEXT NOT NULL
);
CREATE TABLE connections (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    strategy TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE clients (
    client_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    client_secret TEXT,
    data TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE client_grants (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    audience TEXT NOT NULL,
    scope TEXT NOT NULL,
    UNIQUE (client_id, audience)
);
CREATE TABLE users (
    user_id TEXT PRIMARY KEY,
    connection TEXT NOT NULL,
    email TEXT,
    username TEXT,
    email_verified BIGINT NOT NULL DEFAULT 0,
    blocked BIGINT NOT NULL DEFAULT 0,
    password_hash TEXT,
    password_history TEXT NOT NULL DEFAULT '[]',
    credential_epoch BIGINT NOT NULL DEFAULT 0,
    profile TEXT NOT NULL,
    user_metadata TEXT NOT NULL,
    app_metadata TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    last_login BIGINT,
    last_ip TEXT,
    last_password_reset BIGINT,
    logins_count BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX users_connection_email ON users (connection, email);
CREATE UNIQUE INDEX users_connection_username ON users (connection, username);
CREATE INDEX users_email ON users (email);
CREATE INDEX users_created_at ON users (created_at, user_id);
CREATE TABLE refresh_tokens (
    id TEXT PRIMARY KEY,
    digest TEXT NOT NULL UNIQUE,
    family TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    client_id TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    audience TEXT,
    scope TEXT NOT NULL,
    credential_epoch BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    last_used_at BIGINT,
    rotated BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    private_pkcs8 TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    is_current BIGINT NOT NULL,
    revoked BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE logs (
    log_id TEXT PRIMARY KEY,
    date BIGINT NOT NULL,
    type TEXT NOT NULL,
    user_id TEXT,
    data TEXT NOT NULL
);
CREATE INDEX logs_user ON logs (user_id, log_id);
CREATE INDEX logs_type ON logs (type, log_id);
CREATE TABLE admins (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
