-- Version 7: one row that /readyz writes, so that "ready" means a write went through.
CREATE TABLE health (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at DOUBLE PRECISION NOT NULL
);
