-- Version 5: the events listeners follow (ticket opened, claimed, closed; a buyer writing to a
-- held conversation; an agent's message), kept here so that every replica hears them without
-- Redis, and a listener that comes back with the last id it saw gets what it missed.
CREATE TABLE events (
    seq BIGSERIAL PRIMARY KEY,
    shop TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    body TEXT NOT NULL
);
