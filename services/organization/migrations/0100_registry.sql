-- organization: the registry of communities, grids and workers.

CREATE TABLE communities (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL,
    township    TEXT NOT NULL DEFAULT '',
    version     BIGINT NOT NULL DEFAULT 1,
    created_by  TEXT NOT NULL,
    request_id  TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (created_by, request_id)
);

-- boundary: a JSON array of [latitude, longitude] pairs, open ring (first point not repeated).
CREATE TABLE grids (
    id           UUID PRIMARY KEY,
    name         TEXT NOT NULL,
    community_id UUID REFERENCES communities (id),
    boundary     JSONB NOT NULL,
    version      BIGINT NOT NULL DEFAULT 1,
    created_by   TEXT NOT NULL,
    request_id   TEXT,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (created_by, request_id)
);
CREATE INDEX grids_by_community ON grids (community_id, id);

CREATE TABLE workers (
    id             UUID PRIMARY KEY,
    name           TEXT NOT NULL,
    phone          TEXT NOT NULL,
    platform       TEXT NOT NULL,
    enterprise_id  UUID,
    community_id   UUID REFERENCES communities (id),
    party_member   BOOLEAN NOT NULL DEFAULT FALSE,
    version        BIGINT NOT NULL DEFAULT 1,
    registered_by  TEXT NOT NULL,
    request_id     TEXT NOT NULL,
    registered_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (registered_by, request_id)
);
