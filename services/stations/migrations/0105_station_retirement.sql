-- stations: a station can be retired (a soft delete) and restored; each change is kept, with its
-- reason and who made it. A retired station leaves searches, lists and coverage and takes no
-- visits, reports or stock; its record, visits and stock stay.
ALTER TABLE stations
    ADD COLUMN retired_at     TIMESTAMPTZ,
    ADD COLUMN retired_reason TEXT NOT NULL DEFAULT '' CHECK (length(retired_reason) <= 500);

CREATE TABLE station_history (
    id          BIGSERIAL PRIMARY KEY,
    station_id  UUID NOT NULL REFERENCES stations (id),
    change      SMALLINT NOT NULL CHECK (change IN (1, 2)), -- 1 retired, 2 restored
    reason      TEXT NOT NULL CHECK (length(reason) <= 500),
    actor       TEXT NOT NULL,
    version     BIGINT NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX station_history_by_station ON station_history (station_id, id);
