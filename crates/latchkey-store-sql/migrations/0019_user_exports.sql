-- User exports (/api/v2/jobs/users-exports): the `jobs` row holds the status and counters
-- (connection and connection_id empty for an export of every user); this row holds what the
-- export writes and how far it got. Its file is stored here as pieces (each a complete gzip
-- member, base64 so one schema serves both backends), so every node sharing the database can
-- serve it; all three rows are deleted when the file expires.
CREATE TABLE user_exports (
    job_id TEXT PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    format TEXT NOT NULL,
    row_limit BIGINT,
    fields TEXT NOT NULL,
    cursor TEXT NOT NULL DEFAULT '',
    chunks BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT
);
CREATE TABLE user_export_chunks (
    job_id TEXT NOT NULL REFERENCES user_exports (job_id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
);
CREATE INDEX user_exports_expiry ON user_exports (expires_at);
