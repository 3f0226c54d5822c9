-- education: learning sites ("xiao ge xue ba") in community service centres.

CREATE TABLE learning_sites (
    id           UUID PRIMARY KEY,
    name         TEXT NOT NULL,
    community_id UUID,
    address      TEXT NOT NULL DEFAULT '',
    capacity     INTEGER NOT NULL CHECK (capacity > 0),
    created_by   TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (created_by, request_id)
);
CREATE INDEX learning_sites_by_community ON learning_sites (community_id, id);
