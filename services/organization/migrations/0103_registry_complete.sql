-- organization: the rest of the registry — townships, the organization tree, enterprises with the
-- five-clears ledger and census visits, report-ins, join requests, guides, contact links, forums and
-- enterprise issues, care visits and hardship files.

-- One table makes every create idempotent on (caller, request_id), whatever the aggregate.
CREATE TABLE create_requests (
    caller     TEXT NOT NULL,
    request_id TEXT NOT NULL,
    aggregate  TEXT NOT NULL,
    id         UUID NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (caller, request_id)
);

CREATE TABLE townships (
    id         UUID PRIMARY KEY,
    name       TEXT NOT NULL,
    kind       SMALLINT NOT NULL,
    version    BIGINT NOT NULL DEFAULT 1,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
ALTER TABLE communities ADD COLUMN township_id UUID REFERENCES townships (id);

ALTER TABLE workers
    ADD COLUMN organization_id UUID,
    ADD COLUMN reported_in_at  TIMESTAMPTZ,
    ADD COLUMN deleted_at      TIMESTAMPTZ,
    ADD COLUMN updated_at      TIMESTAMPTZ NOT NULL DEFAULT now();
CREATE INDEX workers_by_enterprise ON workers (enterprise_id, id);
CREATE INDEX workers_by_organization ON workers (organization_id, id);

CREATE TABLE report_ins (
    id           UUID PRIMARY KEY,
    worker_id    UUID NOT NULL REFERENCES workers (id),
    community_id UUID NOT NULL REFERENCES communities (id),
    note         TEXT NOT NULL DEFAULT '',
    reported_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX report_ins_by_community ON report_ins (community_id, id);
CREATE INDEX report_ins_by_worker ON report_ins (worker_id, id);

-- Governance's appointments, as a read model (appointments are only ever added).
CREATE TABLE worker_volunteer_roles (
    worker_id UUID NOT NULL,
    role      TEXT NOT NULL,
    PRIMARY KEY (worker_id, role)
);

-- kind: 1 working committee, 2 industry committee, 3 party organization.
-- formation_mode: 0 none (committees), 1 standalone, 2 regional joint, 3 industry joint, 4 online.
CREATE TABLE organizations (
    id             UUID PRIMARY KEY,
    name           TEXT NOT NULL,
    kind           SMALLINT NOT NULL,
    parent_id      UUID REFERENCES organizations (id),
    formation_mode SMALLINT NOT NULL DEFAULT 0,
    community_id   UUID REFERENCES communities (id),
    enterprise_ids UUID[] NOT NULL DEFAULT '{}',
    founded_on     DATE,
    version        BIGINT NOT NULL DEFAULT 1,
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at     TIMESTAMPTZ
);
CREATE INDEX organizations_by_parent ON organizations (parent_id, id);
-- One working committee per county.
CREATE UNIQUE INDEX one_working_committee ON organizations (kind) WHERE kind = 1 AND deleted_at IS NULL;

-- status: 1 pending, 2 approved, 3 declined.
CREATE TABLE join_requests (
    id              UUID PRIMARY KEY,
    worker_id       UUID NOT NULL REFERENCES workers (id),
    organization_id UUID NOT NULL REFERENCES organizations (id),
    status          SMALLINT NOT NULL DEFAULT 1,
    note            TEXT NOT NULL DEFAULT '',
    requested_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    decided_by      TEXT,
    decided_at      TIMESTAMPTZ,
    reason          TEXT NOT NULL DEFAULT '',
    version         BIGINT NOT NULL DEFAULT 1
);
-- At most one open request per worker and organization.
CREATE UNIQUE INDEX one_pending_join_request ON join_requests (worker_id, organization_id) WHERE status = 1;
CREATE INDEX join_requests_by_organization ON join_requests (organization_id, id);

-- kind: 1 express outlet, 2 delivery station, 3 internet company. The ledger columns hold the
-- figures last confirmed and the date of the visit that confirmed each.
CREATE TABLE enterprises (
    id                          UUID PRIMARY KEY,
    name                        TEXT NOT NULL,
    kind                        SMALLINT NOT NULL,
    brand                       TEXT NOT NULL DEFAULT '',
    community_id                UUID REFERENCES communities (id),
    address                     TEXT NOT NULL DEFAULT '',
    headcount                   INT,
    headcount_on                DATE,
    party_members               INT,
    party_members_on            DATE,
    situation                   TEXT,
    situation_on                DATE,
    needs                       TEXT,
    needs_on                    DATE,
    responsible_officer         TEXT,
    responsible_officer_on      DATE,
    last_visited_on             DATE,
    visits                      INT NOT NULL DEFAULT 0,
    version                     BIGINT NOT NULL DEFAULT 1,
    updated_at                  TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at                  TIMESTAMPTZ
);
CREATE INDEX enterprises_by_community ON enterprises (community_id, id);

CREATE TABLE census_visits (
    id                  UUID PRIMARY KEY,
    enterprise_id       UUID NOT NULL REFERENCES enterprises (id),
    visited_on          DATE NOT NULL,
    visitor             TEXT NOT NULL,
    headcount           INT,
    party_members       INT,
    situation           TEXT,
    needs               TEXT,
    responsible_officer TEXT,
    notes               TEXT NOT NULL DEFAULT '',
    recorded_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX census_visits_by_enterprise ON census_visits (enterprise_id, id);

-- kind: 1 instructor, 2 red commissioner.
CREATE TABLE guides (
    id               UUID PRIMARY KEY,
    name             TEXT NOT NULL,
    kind             SMALLINT NOT NULL,
    department       TEXT NOT NULL DEFAULT '',
    enterprise_ids   UUID[] NOT NULL DEFAULT '{}',
    organization_ids UUID[] NOT NULL DEFAULT '{}',
    version          BIGINT NOT NULL DEFAULT 1,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at       TIMESTAMPTZ
);

CREATE TABLE contact_links (
    member_id UUID NOT NULL REFERENCES workers (id),
    worker_id UUID NOT NULL REFERENCES workers (id),
    linked_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (member_id, worker_id),
    CHECK (member_id <> worker_id)
);
CREATE INDEX contact_links_by_worker ON contact_links (worker_id, member_id);
-- The member's set of links is one aggregate; its version counts changes.
CREATE TABLE contact_sets (
    member_id UUID PRIMARY KEY REFERENCES workers (id),
    version   BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE forums (
    id             UUID PRIMARY KEY,
    title          TEXT NOT NULL,
    held_on        DATE NOT NULL,
    enterprise_ids UUID[] NOT NULL DEFAULT '{}',
    version        BIGINT NOT NULL DEFAULT 1,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- status: 1 open, 2 resolved.
CREATE TABLE enterprise_issues (
    id            UUID PRIMARY KEY,
    forum_id      UUID NOT NULL REFERENCES forums (id),
    enterprise_id UUID REFERENCES enterprises (id),
    title         TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    raised_on     DATE NOT NULL,
    status        SMALLINT NOT NULL DEFAULT 1,
    resolution    TEXT NOT NULL DEFAULT '',
    resolved_on   DATE,
    version       BIGINT NOT NULL DEFAULT 1,
    CHECK (resolved_on IS NULL OR resolved_on >= raised_on)
);
CREATE INDEX enterprise_issues_by_forum ON enterprise_issues (forum_id, id);

-- Care texts are personal: sealed with the same key as phone numbers.
CREATE TABLE care_visits (
    id           UUID PRIMARY KEY,
    worker_id    UUID NOT NULL REFERENCES workers (id),
    visited_on   DATE NOT NULL,
    occasion     TEXT NOT NULL,
    visitor      TEXT NOT NULL,
    notes_sealed BYTEA
);
CREATE INDEX care_visits_by_worker ON care_visits (worker_id, id);

CREATE TABLE hardship_files (
    id                UUID PRIMARY KEY,
    worker_id         UUID NOT NULL REFERENCES workers (id),
    difficulty_sealed BYTEA NOT NULL,
    -- A JSON array of help entries, sealed.
    help_sealed       BYTEA NOT NULL,
    help_entries      INT NOT NULL DEFAULT 0,
    outcome_sealed    BYTEA,
    opened_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    closed_at         TIMESTAMPTZ,
    version           BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX hardship_files_by_worker ON hardship_files (worker_id, id);
