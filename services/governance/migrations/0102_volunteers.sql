-- governance: the "Hu Wan Jia" volunteer team, its five roles, and service records (check-in to
-- check-out); cases remember when they were resolved, for the statistics.

CREATE TABLE volunteers (
    worker_id UUID PRIMARY KEY,
    joined_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE volunteer_roles (
    worker_id    UUID NOT NULL REFERENCES volunteers (worker_id),
    role         SMALLINT NOT NULL,
    appointed_by TEXT NOT NULL,
    appointed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (worker_id, role)
);

CREATE TABLE service_records (
    id              UUID PRIMARY KEY,
    worker_id       UUID NOT NULL REFERENCES volunteers (worker_id),
    role            SMALLINT NOT NULL DEFAULT 0,
    started_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    ended_at        TIMESTAMPTZ,
    hours           DOUBLE PRECISION,
    problems_solved INTEGER NOT NULL DEFAULT 0 CHECK (problems_solved >= 0),
    note            TEXT NOT NULL DEFAULT '',
    request_id      TEXT NOT NULL,
    UNIQUE (worker_id, request_id)
);
-- One open service per volunteer.
CREATE UNIQUE INDEX service_records_open ON service_records (worker_id) WHERE ended_at IS NULL;
CREATE INDEX service_records_by_end ON service_records (ended_at) WHERE ended_at IS NOT NULL;

ALTER TABLE cases ADD COLUMN resolved_at TIMESTAMPTZ;
CREATE INDEX cases_resolved ON cases (resolved_at) WHERE resolved_at IS NOT NULL;
