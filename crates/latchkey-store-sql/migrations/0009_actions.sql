-- Actions. The action and its versions are JSON documents (the Management API's shapes change
-- with Auth0's; only what queries need is a column). Secrets inside are sealed by the service.
CREATE TABLE actions (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    doc TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE action_versions (
    id TEXT PRIMARY KEY,
    action_id TEXT NOT NULL REFERENCES actions (id) ON DELETE CASCADE,
    number BIGINT NOT NULL,
    doc TEXT NOT NULL,
    UNIQUE (action_id, number)
);
CREATE TABLE action_bindings (
    id TEXT PRIMARY KEY,
    trigger_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    action_id TEXT NOT NULL REFERENCES actions (id) ON DELETE CASCADE,
    display_name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX action_bindings_trigger ON action_bindings (trigger_id, position);
CREATE TABLE action_executions (
    id TEXT PRIMARY KEY,
    doc TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX action_executions_created ON action_executions (created_at);
-- Claims a post-login action added travel with the code to the token endpoint.
ALTER TABLE authorization_codes ADD COLUMN custom_claims TEXT;
