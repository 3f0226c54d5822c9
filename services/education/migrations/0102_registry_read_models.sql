-- education: what it keeps of organization's registry (consumers education-workers and
-- education-communities), so that a check-in is only for a registered worker, a learning site
-- only in a community that exists, and a learning record of an unknown worker is NOT_FOUND.
-- Newer versions only; a deployment older than the event stream's retention fills them once with
-- `redsupply republish` (deploy/README.md, "Upgrades").
CREATE TABLE workers (
    id           UUID PRIMARY KEY,
    community_id UUID,
    deleted      BOOLEAN NOT NULL DEFAULT false,
    version      BIGINT NOT NULL
);
CREATE INDEX workers_by_community ON workers (community_id);

CREATE TABLE communities (
    id      UUID PRIMARY KEY,
    version BIGINT NOT NULL
);
