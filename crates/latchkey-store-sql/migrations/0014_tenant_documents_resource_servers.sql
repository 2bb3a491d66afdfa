-- Tenant settings Auth0 keeps apart from /tenants/settings (prompts, attack protection): one JSON
-- document per name. Resource servers (APIs): one JSON document each, its identifier unique.
CREATE TABLE tenant_documents (
    name TEXT PRIMARY KEY,
    doc TEXT NOT NULL
);
CREATE TABLE resource_servers (
    id TEXT PRIMARY KEY,
    identifier TEXT NOT NULL UNIQUE,
    doc TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
