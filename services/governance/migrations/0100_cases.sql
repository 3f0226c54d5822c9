-- governance: tips, the cases they become, the change feed grid systems watch, and the read model
-- of organization's grids.

CREATE TABLE tips (
    id           UUID PRIMARY KEY,
    request_id   TEXT NOT NULL,
    reporter_id  UUID NOT NULL,
    submitted_by TEXT NOT NULL,
    category     SMALLINT NOT NULL,
    description  TEXT NOT NULL,
    latitude     DOUBLE PRECISION NOT NULL,
    longitude    DOUBLE PRECISION NOT NULL,
    photo_urls   TEXT[] NOT NULL DEFAULT '{}',
    observed_at  TIMESTAMPTZ NOT NULL,
    submitted_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    status       SMALLINT NOT NULL,
    case_id      UUID,
    -- A retried SubmitTip returns the same tip.
    UNIQUE (reporter_id, request_id)
);
CREATE INDEX tips_by_case ON tips (case_id) WHERE case_id IS NOT NULL;

CREATE TABLE cases (
    id          UUID PRIMARY KEY,
    -- NULL: the county-level queue (the tip lay outside every grid).
    grid_id     UUID,
    department  TEXT NOT NULL,
    status      SMALLINT NOT NULL,
    category    SMALLINT NOT NULL,
    latitude    DOUBLE PRECISION NOT NULL,
    longitude   DOUBLE PRECISION NOT NULL,
    due_at      TIMESTAMPTZ NOT NULL,
    note        TEXT NOT NULL DEFAULT '',
    version     BIGINT NOT NULL DEFAULT 1,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX cases_by_grid ON cases (grid_id, id);
CREATE INDEX cases_by_status ON cases (status, id);

-- One row per case change, read in commit order: a reader only takes rows whose transaction id
-- is below the oldest transaction still running, so a slow commit can never be skipped.
CREATE TABLE case_changes (
    seq              BIGSERIAL PRIMARY KEY,
    xid              XID8 NOT NULL DEFAULT pg_current_xact_id(),
    case_id          UUID NOT NULL,
    grid_id          UUID,
    previous_grid_id UUID,
    snapshot         BYTEA NOT NULL,
    changed_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX case_changes_order ON case_changes (xid, seq);

-- Read model of organization's grids; applied_seq orders changes for the in-memory index.
CREATE SEQUENCE grid_applied_seq;
CREATE TABLE grids (
    id           UUID PRIMARY KEY,
    name         TEXT NOT NULL,
    community_id UUID,
    boundary     JSONB NOT NULL,
    version      BIGINT NOT NULL,
    applied_seq  BIGINT NOT NULL DEFAULT nextval('grid_applied_seq')
);
