-- stations: honours (最美骑手, 最美快递员, 夹江好人) chosen in selections: county staff open a yearly
-- or quarterly selection with its categories, staff nominate workers with a reason, county staff
-- shortlist, award or decline with a reason. An award may carry points (ledger reason
-- honour_awarded, keyed by the nomination).

-- The worker's enterprise, as the registry last told (a nomination on an enterprise's behalf
-- names the worker's own). Rows from before say none until the worker next changes.
ALTER TABLE workers ADD COLUMN enterprise_id UUID;

CREATE TABLE honour_selections (
    id            UUID PRIMARY KEY,
    title         TEXT NOT NULL,
    -- "2026" or "2026-Q3"; its bounds in the county's time.
    period        TEXT NOT NULL,
    period_start  TIMESTAMPTZ NOT NULL,
    period_end    TIMESTAMPTZ NOT NULL CHECK (period_end > period_start),
    categories    SMALLINT[] NOT NULL CHECK (cardinality(categories) BETWEEN 1 AND 3),
    places        INTEGER NOT NULL CHECK (places BETWEEN 1 AND 100),
    award_points  BIGINT NOT NULL CHECK (award_points >= 0),
    opened_by     TEXT NOT NULL,
    opened_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    closed_at     TIMESTAMPTZ,
    version       BIGINT NOT NULL DEFAULT 1,
    request_id    TEXT NOT NULL,
    UNIQUE (opened_by, request_id),
    UNIQUE (period, title)
);
CREATE INDEX honour_selections_open ON honour_selections (id) WHERE closed_at IS NULL;

-- status: 1 nominated, 2 shortlisted, 3 awarded, 4 declined.
CREATE TABLE honour_nominations (
    id             UUID PRIMARY KEY,
    selection_id   UUID NOT NULL REFERENCES honour_selections (id),
    category       SMALLINT NOT NULL CHECK (category BETWEEN 1 AND 3),
    worker_id      UUID NOT NULL,
    community_id   UUID,
    enterprise_id  UUID,
    reason         TEXT NOT NULL,
    nominated_by   TEXT NOT NULL,
    nominated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    status         SMALLINT NOT NULL DEFAULT 1 CHECK (status BETWEEN 1 AND 4),
    review_reason  TEXT NOT NULL DEFAULT '',
    reviewed_by    TEXT NOT NULL DEFAULT '',
    reviewed_at    TIMESTAMPTZ,
    -- The candidate's record as the last review saw it (JSON of the record's figures).
    record         JSONB,
    points_awarded BIGINT NOT NULL DEFAULT 0,
    version        BIGINT NOT NULL DEFAULT 1,
    request_id     TEXT NOT NULL,
    UNIQUE (nominated_by, request_id),
    -- One nomination of a worker per category and selection, whoever nominates.
    UNIQUE (selection_id, category, worker_id)
);
CREATE INDEX honour_nominations_by_selection ON honour_nominations (selection_id, id);
CREATE INDEX honour_nominations_by_worker ON honour_nominations (worker_id) WHERE status = 3;

-- What a worker did that an honour's record counts, whatever points the rules gave it (a rule of
-- 0 points writes no ledger entry): confirmed volunteer service with its hours, trainings and
-- activities attended. One row per source event and worker.
CREATE TABLE worker_deeds (
    source_event_id UUID NOT NULL,
    worker_id       UUID NOT NULL,
    deed            TEXT NOT NULL CHECK (deed IN ('volunteer_service', 'training_attended', 'activity_attended')),
    subject_ref     TEXT NOT NULL,
    -- Volunteer service: the confirmed hours; NULL where not known (service before this table).
    hours           DOUBLE PRECISION,
    done_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (source_event_id, worker_id)
);
CREATE INDEX worker_deeds_by_worker ON worker_deeds (worker_id, done_at);

-- What the ledger already tells of them (hours were not kept).
INSERT INTO worker_deeds (source_event_id, worker_id, deed, subject_ref, done_at)
SELECT DISTINCT ON (source_event_id, worker_id) source_event_id, worker_id, reason,
       COALESCE(subject_ref, source_event_id::text), created_at
FROM ledger_entries
WHERE reason IN ('volunteer_service', 'training_attended', 'activity_attended')
  AND reverses_entry_id IS NULL AND points > 0
ORDER BY source_event_id, worker_id, created_at
ON CONFLICT DO NOTHING;
