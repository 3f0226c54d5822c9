-- stations: what shows that a visit happened: 1 the worker's check-in within the visit radius of
-- the station (with its distance), 2 staff of the station's community recorded it. Visits
-- recorded before have none (0).
ALTER TABLE visits
    ADD COLUMN proof           SMALLINT NOT NULL DEFAULT 0 CHECK (proof BETWEEN 0 AND 2),
    ADD COLUMN distance_meters DOUBLE PRECISION;
