-- stations: a read model of organization's communities (consumer `stations-communities`), so that
-- stock, stations and catalogs name only communities that exist; workers found by community.
CREATE TABLE communities (
    id      UUID PRIMARY KEY,
    version BIGINT NOT NULL
);
CREATE INDEX workers_by_community ON workers (community_id) WHERE community_id IS NOT NULL;
