-- stations: a worker's report that an amenity is broken is kept as a report; the amenity leaves
-- searches and coverage only when staff confirm it or enough distinct workers report it within
-- a window (settings). Until then its state is "reported broken" (4), which still counts.
CREATE TABLE amenity_reports (
    id          BIGSERIAL PRIMARY KEY,
    station_id  UUID NOT NULL REFERENCES stations (id),
    amenity     SMALLINT NOT NULL,
    reporter    TEXT NOT NULL,
    note        TEXT NOT NULL DEFAULT '' CHECK (length(note) <= 500),
    reported_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX amenity_reports_recent ON amenity_reports (station_id, amenity, reported_at);

-- When staff last set the state (reports before it no longer count), and how many distinct
-- workers have reported it since, within the window.
ALTER TABLE amenity_states
    ADD COLUMN staff_set_at TIMESTAMPTZ,
    ADD COLUMN reports      INTEGER NOT NULL DEFAULT 0,
    ADD CONSTRAINT amenity_states_status_check CHECK (status BETWEEN 1 AND 4);
