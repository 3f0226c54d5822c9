-- stations: red supply stations, and the points ledger.

CREATE TABLE stations (
    id         UUID PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    tier       SMALLINT NOT NULL,
    host       SMALLINT NOT NULL,
    latitude   DOUBLE PRECISION NOT NULL,
    longitude  DOUBLE PRECISION NOT NULL,
    address    TEXT NOT NULL DEFAULT '',
    amenities  SMALLINT[] NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Append-only: a reversal is a new, negative entry. One entry per (source event, reason).
CREATE INDEX stations_position ON stations (latitude, longitude);

CREATE TABLE ledger_entries (
    id              UUID PRIMARY KEY,
    worker_id       UUID NOT NULL,
    points          BIGINT NOT NULL,
    reason          TEXT NOT NULL,
    source_event_id UUID NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (source_event_id, reason)
);
CREATE INDEX ledger_by_worker ON ledger_entries (worker_id, id);

-- The running sum of each worker's entries, kept in the same transaction as each entry.
CREATE TABLE balances (
    worker_id  UUID PRIMARY KEY,
    points     BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
