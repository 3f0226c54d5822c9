-- education: community and department activities (free clinics, book giveaways, weekend classes,
-- themed lecture series) with sign-ups and check-ins, the lecture series that group sessions and
-- activities, and what education keeps of stations' stations (an activity may be held at one;
-- consumer education-stations). Check-in codes admit to a session or to an activity.

CREATE TABLE lecture_series (
    id          UUID PRIMARY KEY,
    title       TEXT NOT NULL,
    theme       SMALLINT NOT NULL,
    departments TEXT[] NOT NULL DEFAULT '{}',
    year        INTEGER NOT NULL,
    version     BIGINT NOT NULL DEFAULT 1,
    created_by  TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (created_by, request_id)
);
CREATE INDEX lecture_series_by_year ON lecture_series (year, id);

ALTER TABLE sessions ADD COLUMN series_id UUID REFERENCES lecture_series (id);
CREATE INDEX sessions_by_series ON sessions (series_id) WHERE series_id IS NOT NULL;

CREATE TABLE stations (
    id      UUID PRIMARY KEY,
    name    TEXT NOT NULL,
    retired BOOLEAN NOT NULL DEFAULT FALSE,
    version BIGINT NOT NULL
);

CREATE TABLE activities (
    id                     UUID PRIMARY KEY,
    kind                   SMALLINT NOT NULL,
    title                  TEXT NOT NULL,
    description            TEXT NOT NULL DEFAULT '',
    organizer_community_id UUID,
    organizer_department   TEXT NOT NULL DEFAULT '',
    site_id                UUID REFERENCES learning_sites (id),
    station_id             UUID REFERENCES stations (id),
    address                TEXT NOT NULL DEFAULT '',
    -- Whose staff manage it: the organizer community, or the learning site's; NULL: the county.
    community_id           UUID,
    starts_at              TIMESTAMPTZ NOT NULL,
    ends_at                TIMESTAMPTZ NOT NULL,
    capacity               INTEGER NOT NULL CHECK (capacity > 0),
    series_id              UUID REFERENCES lecture_series (id),
    version                BIGINT NOT NULL DEFAULT 1,
    created_by             TEXT NOT NULL,
    request_id             TEXT NOT NULL,
    created_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (created_by, request_id),
    CHECK (ends_at > starts_at)
);
CREATE INDEX activities_by_start ON activities (starts_at);
CREATE INDEX activities_by_community ON activities (community_id, id);
CREATE INDEX activities_by_series ON activities (series_id) WHERE series_id IS NOT NULL;

CREATE TABLE activity_sign_ups (
    activity_id  UUID NOT NULL REFERENCES activities (id),
    worker_id    UUID NOT NULL,
    signed_up_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    cancelled_at TIMESTAMPTZ,
    version      BIGINT NOT NULL DEFAULT 1,
    PRIMARY KEY (activity_id, worker_id)
);
CREATE INDEX activity_sign_ups_by_worker ON activity_sign_ups (worker_id);

ALTER TABLE check_in_codes ALTER COLUMN session_id DROP NOT NULL;
ALTER TABLE check_in_codes ADD COLUMN activity_id UUID REFERENCES activities (id);
ALTER TABLE check_in_codes ADD CONSTRAINT check_in_codes_one_target
    CHECK (num_nonnulls(session_id, activity_id) = 1);
CREATE INDEX check_in_codes_by_activity ON check_in_codes (activity_id) WHERE activity_id IS NOT NULL;

CREATE TABLE activity_attendances (
    id            UUID PRIMARY KEY,
    activity_id   UUID NOT NULL REFERENCES activities (id),
    worker_id     UUID NOT NULL,
    code          TEXT REFERENCES check_in_codes (code),
    signed_up     BOOLEAN NOT NULL,
    checked_in_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (activity_id, worker_id)
);
CREATE INDEX activity_attendances_by_worker ON activity_attendances (worker_id, id);
