-- governance: case numbers, the platform's reference, escalation, transitions (who, when, why),
-- and the indexes near-duplicate search, rate limiting and the escalation sweep use.

ALTER TABLE cases
    ADD COLUMN number       TEXT,
    ADD COLUMN external_ref TEXT NOT NULL DEFAULT '',
    ADD COLUMN escalated_at TIMESTAMPTZ;
CREATE UNIQUE INDEX cases_number ON cases (number) WHERE number IS NOT NULL;
-- Open cases by category and place, for merging near-duplicate tips.
CREATE INDEX cases_open_near ON cases (category, latitude, longitude) WHERE status IN (1, 2, 3);
-- Open cases past due and not yet escalated, for the sweep.
CREATE INDEX cases_overdue ON cases (due_at) WHERE escalated_at IS NULL AND status IN (1, 2, 3);

-- Case numbers run per county and year: JJ-2026-000123.
CREATE TABLE case_counters (
    county TEXT NOT NULL,
    year   INTEGER NOT NULL,
    last   BIGINT NOT NULL,
    PRIMARY KEY (county, year)
);

CREATE TABLE case_transitions (
    id              BIGSERIAL PRIMARY KEY,
    case_id         UUID NOT NULL,
    from_status     SMALLINT,
    to_status       SMALLINT NOT NULL,
    from_grid_id    UUID,
    to_grid_id      UUID,
    from_department TEXT,
    to_department   TEXT NOT NULL,
    actor           TEXT NOT NULL,
    reason          TEXT NOT NULL DEFAULT '',
    at              TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX case_transitions_by_case ON case_transitions (case_id, id);

-- The feed carries each change's status, so watchers can filter on it.
ALTER TABLE case_changes ADD COLUMN status SMALLINT;

-- Tips per reporter over time (rate limit, "my tips").
CREATE INDEX tips_by_reporter ON tips (reporter_id, submitted_at);
