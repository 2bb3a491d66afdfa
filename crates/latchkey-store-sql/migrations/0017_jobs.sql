-- Management API jobs (/api/v2/jobs/*): a bulk user import is one row here plus one outbox row
-- that runs it. The uploaded file stays in `input` until the job ends; `position` is how many
-- of its users are settled, moved in the same transaction that writes them, so a job resumed
-- after a restart neither skips nor repeats a user.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    connection TEXT NOT NULL,
    external_id TEXT,
    upsert BIGINT NOT NULL DEFAULT 0,
    send_completion_email BIGINT NOT NULL DEFAULT 0,
    input TEXT,
    total BIGINT NOT NULL DEFAULT 0,
    position BIGINT NOT NULL DEFAULT 0,
    inserted BIGINT NOT NULL DEFAULT 0,
    updated BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- One row per user the job could not import: the user as given and Auth0's errors, as JSON.
CREATE TABLE job_errors (
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
);
