-- governance: the workers organization registered (consumer governance-workers), so that a
-- volunteer or a tip filed by staff is only ever for a worker who exists. Filled from
-- worker.registered and worker.updated (newer versions only); a deployment older than the event
-- stream's retention fills it once with `redsupply republish` (deploy/README.md, "Upgrades").
CREATE TABLE workers (
    id           UUID PRIMARY KEY,
    community_id UUID,
    deleted      BOOLEAN NOT NULL DEFAULT false,
    version      BIGINT NOT NULL
);
