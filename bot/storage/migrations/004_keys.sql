-- Version 4: keys that let a caller chat for a shop (its server's, or a public one for a web
-- page's widget); a key is kept only as its SHA-256.
CREATE TABLE keys (
    token_hash TEXT PRIMARY KEY,
    shop TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('server', 'widget')),
    created_at DOUBLE PRECISION NOT NULL,
    revoked_at DOUBLE PRECISION
);
CREATE UNIQUE INDEX keys_by_name ON keys (shop, name) WHERE revoked_at IS NULL;
