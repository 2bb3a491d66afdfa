-- Second factors. A TOTP secret must be readable to check codes, so it is stored as given;
-- last_step makes each code single use (a replay of the same 30-second step is refused).
CREATE TABLE authenticators (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    name TEXT,
    secret TEXT NOT NULL,
    confirmed BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    last_step BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX authenticators_user ON authenticators (user_id);
