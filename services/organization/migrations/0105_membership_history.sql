-- Membership history (issue 19): each spell of a worker's membership of a party organization,
-- how it began (an approved join request, a transfer in, or recorded before history was kept)
-- and how it ended (left, transferred, removed, party membership cleared), by whom and why.
-- workers.organization_id stays the current spell's organization; at most one spell is open
-- per worker.
CREATE TABLE membership_spells (
    id              UUID PRIMARY KEY,
    worker_id       UUID NOT NULL REFERENCES workers (id),
    organization_id UUID NOT NULL REFERENCES organizations (id),
    joined_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    start_how       SMALLINT NOT NULL,
    join_request_id UUID REFERENCES join_requests (id),
    started_by      TEXT NOT NULL DEFAULT '',
    left_at         TIMESTAMPTZ,
    end_how         SMALLINT,
    reason          TEXT NOT NULL DEFAULT '',
    ended_by        TEXT NOT NULL DEFAULT '',
    transferred_to  UUID REFERENCES organizations (id),
    CHECK ((left_at IS NULL) = (end_how IS NULL))
);
CREATE UNIQUE INDEX membership_spells_open ON membership_spells (worker_id) WHERE left_at IS NULL;
CREATE INDEX membership_spells_of_worker ON membership_spells (worker_id, id);
CREATE INDEX membership_spells_of_organization ON membership_spells (organization_id, id);

-- A UUIDv7 (RFC 9562) for a past instant, so that spells recorded here sort by when they began
-- among those the service writes (Uuid::now_v7): the instant's milliseconds, then random bits
-- with the version nibble set to 7.
CREATE FUNCTION pg_temp.uuid7_at(at TIMESTAMPTZ) RETURNS UUID LANGUAGE sql AS $$
    SELECT encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send(floor(extract(epoch FROM at) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid
$$;

-- The memberships that exist become open spells, dated by the approval that made them (or the
-- worker's registration where none is found).
INSERT INTO membership_spells (id, worker_id, organization_id, joined_at, start_how, join_request_id, started_by)
SELECT pg_temp.uuid7_at(m.joined_at), m.worker_id, m.organization_id, m.joined_at, m.start_how,
       m.join_request_id, m.started_by
FROM (
    SELECT w.id AS worker_id, w.organization_id, COALESCE(j.decided_at, w.registered_at) AS joined_at,
           CASE WHEN j.id IS NULL THEN 3 ELSE 1 END AS start_how, j.id AS join_request_id,
           COALESCE(j.decided_by, '') AS started_by
    FROM workers w
    LEFT JOIN LATERAL (
        SELECT id, decided_at, decided_by FROM join_requests
        WHERE worker_id = w.id AND organization_id = w.organization_id AND status = 2
        ORDER BY decided_at DESC LIMIT 1
    ) j ON true
    WHERE w.organization_id IS NOT NULL
) m;

-- Before this, clearing a worker's party membership left them in their organization: their
-- spell ends here, as the service now ends it, and they are of no organization (a new version;
-- `redsupply republish` announces it).
UPDATE membership_spells s
SET left_at = now(), end_how = 4, reason = 'party membership cleared', ended_by = 'migration 0105'
FROM workers w
WHERE w.id = s.worker_id AND s.left_at IS NULL AND NOT w.party_member;

UPDATE workers SET organization_id = NULL, version = version + 1, updated_at = now()
WHERE organization_id IS NOT NULL AND NOT party_member;
