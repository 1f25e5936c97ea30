-- 店小二 on PostgreSQL, version 1: sessions, append-only turns, tickets; everything keyed by shop.
CREATE TABLE sessions (
    shop TEXT NOT NULL,
    key TEXT NOT NULL,
    state JSONB NOT NULL,
    version BIGINT NOT NULL,            -- the turn the session reached: it only moves forward
    updated_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (shop, key)
);
CREATE TABLE turns (
    id BIGSERIAL PRIMARY KEY,
    shop TEXT NOT NULL,
    session_id TEXT NOT NULL,
    turn INTEGER NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    buyer_id TEXT,
    message TEXT NOT NULL,
    reply TEXT NOT NULL,
    action TEXT NOT NULL,
    intent TEXT,
    confidence DOUBLE PRECISION NOT NULL,
    reason TEXT,
    topic TEXT,
    UNIQUE (shop, session_id, turn)
);
CREATE TABLE tickets (
    id BIGSERIAL PRIMARY KEY,
    shop TEXT NOT NULL,
    session_id TEXT NOT NULL,
    buyer_id TEXT,
    reason TEXT NOT NULL,
    priority TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'claimed', 'closed')),
    created_at DOUBLE PRECISION NOT NULL,
    claimed_by TEXT,
    claimed_at DOUBLE PRECISION,
    closed_at DOUBLE PRECISION,
    note TEXT,
    left_messages JSONB NOT NULL DEFAULT '[]',
    order_number TEXT,
    questions JSONB NOT NULL DEFAULT '[]'
);
CREATE INDEX tickets_by_session ON tickets (shop, session_id, status);
CREATE INDEX tickets_by_status ON tickets (shop, status, created_at);
