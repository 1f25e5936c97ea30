-- Version 3: agents, who answer handed-off buyers (a token is kept only as its SHA-256), and the
-- agent who wrote an agent's turn of a transcript.
CREATE TABLE agents (
    token_hash TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    admin BOOLEAN NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    revoked_at DOUBLE PRECISION
);
CREATE UNIQUE INDEX agents_by_name ON agents (name) WHERE revoked_at IS NULL;
ALTER TABLE turns ADD COLUMN agent TEXT;
