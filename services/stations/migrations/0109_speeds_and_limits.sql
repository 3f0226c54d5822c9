-- stations: a station's own riding speed (NULL: its area's or the county's, from the settings);
-- the community each grid belongs to (coverage of one community); and the index that counts a
-- worker's recent amenity reports, the per-worker limit every replica shares; and the case pay a
-- false tip's reporter forfeits.
ALTER TABLE stations ADD COLUMN riding_speed_kmh DOUBLE PRECISION
    CONSTRAINT stations_riding_speed CHECK (riding_speed_kmh IS NULL OR riding_speed_kmh BETWEEN 1 AND 60);
ALTER TABLE grids ADD COLUMN community_id UUID;
CREATE INDEX amenity_reports_by_reporter ON amenity_reports (reporter, reported_at);

-- A reporter whose tip was rejected (and who has no other tip in its case) forfeits what the
-- case pays later: a resolution handled after the rejection pays them nothing.
CREATE TABLE case_forfeits (
    case_id   UUID NOT NULL,
    worker_id UUID NOT NULL,
    PRIMARY KEY (case_id, worker_id)
);
