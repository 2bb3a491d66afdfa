-- The SMTP relay, a single row. The password has its own column so that the JSON never holds it.
CREATE TABLE email_provider (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    data TEXT NOT NULL,
    smtp_pass TEXT
);
