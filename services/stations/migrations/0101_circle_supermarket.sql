-- stations: opening hours, amenity states, visits; read models of workers and grids; points rules
-- (reversals, daily caps); the community points supermarkets.

ALTER TABLE stations
    ADD COLUMN community_id  UUID,
    ADD COLUMN always_open   BOOLEAN NOT NULL DEFAULT TRUE,
    ADD COLUMN opens_minute  INTEGER NOT NULL DEFAULT 0 CHECK (opens_minute BETWEEN 0 AND 1439),
    ADD COLUMN closes_minute INTEGER NOT NULL DEFAULT 0 CHECK (closes_minute BETWEEN 0 AND 1439),
    ADD COLUMN version       BIGINT NOT NULL DEFAULT 1,
    ADD COLUMN created_by    TEXT,
    ADD COLUMN request_id    TEXT,
    ADD CONSTRAINT stations_request UNIQUE (created_by, request_id);

-- The state of each amenity a station offers (a missing row means working).
CREATE TABLE amenity_states (
    station_id UUID NOT NULL REFERENCES stations (id),
    amenity    SMALLINT NOT NULL,
    status     SMALLINT NOT NULL,
    note       TEXT NOT NULL DEFAULT '',
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (station_id, amenity)
);

CREATE TABLE visits (
    id             UUID PRIMARY KEY,
    station_id     UUID NOT NULL REFERENCES stations (id),
    worker_id      UUID NOT NULL,
    amenities_used SMALLINT[] NOT NULL DEFAULT '{}',
    visited_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    request_id     TEXT NOT NULL,
    UNIQUE (worker_id, request_id)
);
CREATE INDEX visits_by_station ON visits (station_id, visited_at);

-- Read model of organization's workers (community and platform, for the leaderboards).
CREATE TABLE workers (
    id           UUID PRIMARY KEY,
    community_id UUID,
    platform     TEXT NOT NULL DEFAULT '',
    version      BIGINT NOT NULL
);

-- Read model of organization's grids (for coverage).
CREATE TABLE grids (
    id       UUID PRIMARY KEY,
    name     TEXT NOT NULL,
    boundary JSONB NOT NULL,
    version  BIGINT NOT NULL
);

-- What an award was for ("tip:<id>"), so that a rejection finds the award to reverse.
ALTER TABLE ledger_entries ADD COLUMN subject_ref TEXT, ADD COLUMN reverses_entry_id UUID;
CREATE INDEX ledger_by_subject ON ledger_entries (subject_ref) WHERE subject_ref IS NOT NULL;
CREATE INDEX ledger_by_worker_reason ON ledger_entries (worker_id, reason, created_at);

-- Tips rejected as false: an award arriving after the rejection is not made.
CREATE TABLE rejected_tips (
    tip_id      UUID PRIMARY KEY,
    rejected_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE rewards (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL,
    points_cost BIGINT NOT NULL CHECK (points_cost > 0),
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    created_by  TEXT NOT NULL,
    request_id  TEXT,
    UNIQUE (created_by, request_id)
);

-- Stock of each reward in each community's points supermarket; never below zero.
CREATE TABLE stock (
    community_id UUID NOT NULL,
    reward_id    UUID NOT NULL REFERENCES rewards (id),
    quantity     BIGINT NOT NULL CHECK (quantity >= 0),
    PRIMARY KEY (community_id, reward_id)
);

CREATE TABLE stock_supplies (
    id           UUID PRIMARY KEY,
    station_id   UUID NOT NULL REFERENCES stations (id),
    community_id UUID NOT NULL,
    reward_id    UUID NOT NULL REFERENCES rewards (id),
    quantity     BIGINT NOT NULL CHECK (quantity > 0),
    created_by   TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    supplied_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (created_by, request_id)
);

CREATE TABLE redemptions (
    id           UUID PRIMARY KEY,
    worker_id    UUID NOT NULL,
    community_id UUID NOT NULL,
    reward_id    UUID NOT NULL REFERENCES rewards (id),
    quantity     BIGINT NOT NULL CHECK (quantity > 0),
    points       BIGINT NOT NULL,
    request_id   TEXT NOT NULL,
    redeemed_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (worker_id, request_id)
);

-- No balance ever goes below zero: Redeem checks under the row lock, reversals stop at zero, and
-- the database refuses anything else.
ALTER TABLE balances ADD CONSTRAINT balances_never_negative CHECK (points >= 0);

-- One entry per (source event, reason, worker): a case resolved for three reporters is one event
-- and three entries.
ALTER TABLE ledger_entries
    DROP CONSTRAINT ledger_entries_source_event_id_reason_key,
    ADD CONSTRAINT ledger_entries_once UNIQUE (source_event_id, reason, worker_id);
