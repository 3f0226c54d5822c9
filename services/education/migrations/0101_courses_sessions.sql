-- education: the lecturer pool, courses, sessions, check-in codes and attendance.

CREATE TABLE lecturers (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL,
    department  TEXT NOT NULL,
    expertise   TEXT[] NOT NULL DEFAULT '{}',
    available   BOOLEAN NOT NULL DEFAULT TRUE,
    version     BIGINT NOT NULL DEFAULT 1,
    created_by  TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (created_by, request_id)
);
CREATE INDEX lecturers_expertise ON lecturers USING gin (expertise);

CREATE TABLE courses (
    id               UUID PRIMARY KEY,
    title            TEXT NOT NULL,
    format           SMALLINT NOT NULL,
    theme            SMALLINT NOT NULL,
    duration_minutes INTEGER NOT NULL CHECK (duration_minutes > 0),
    description      TEXT NOT NULL DEFAULT '',
    created_by       TEXT NOT NULL,
    request_id       TEXT NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (created_by, request_id)
);

CREATE TABLE sessions (
    id          UUID PRIMARY KEY,
    course_id   UUID NOT NULL REFERENCES courses (id),
    site_id     UUID NOT NULL REFERENCES learning_sites (id),
    lecturer_id UUID NOT NULL REFERENCES lecturers (id),
    starts_at   TIMESTAMPTZ NOT NULL,
    ends_at     TIMESTAMPTZ NOT NULL,
    capacity    INTEGER NOT NULL CHECK (capacity > 0),
    created_by  TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (created_by, request_id),
    CHECK (ends_at > starts_at)
);
CREATE INDEX sessions_by_lecturer ON sessions (lecturer_id, starts_at);
CREATE INDEX sessions_by_site ON sessions (site_id, starts_at);
CREATE INDEX sessions_by_start ON sessions (starts_at);

-- Single-use codes, each admitting one worker to one session.
CREATE TABLE check_in_codes (
    code       TEXT PRIMARY KEY,
    session_id UUID NOT NULL REFERENCES sessions (id),
    issued_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    used_by    UUID,
    used_at    TIMESTAMPTZ
);
CREATE INDEX check_in_codes_by_session ON check_in_codes (session_id);

CREATE TABLE attendances (
    id            UUID PRIMARY KEY,
    session_id    UUID NOT NULL REFERENCES sessions (id),
    worker_id     UUID NOT NULL,
    code          TEXT REFERENCES check_in_codes (code),
    checked_in_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (session_id, worker_id)
);
CREATE INDEX attendances_by_worker ON attendances (worker_id, id);
