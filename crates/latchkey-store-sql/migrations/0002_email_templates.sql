-- Mail templates in Auth0's JSON representation, one row per template name.
CREATE TABLE email_templates (
    name TEXT PRIMARY KEY,
    data TEXT NOT NULL
);
