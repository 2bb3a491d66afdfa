-- Log streams (Auth0's custom webhooks). The stream is a JSON document (its secrets sealed by
-- the service). Deliveries are outbox rows; `stream_id` lets a stream's be listed.
CREATE TABLE log_streams (
    id TEXT PRIMARY KEY,
    doc TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
ALTER TABLE mail_outbox ADD COLUMN stream_id TEXT;
CREATE INDEX mail_outbox_stream ON mail_outbox (stream_id, created_at);
