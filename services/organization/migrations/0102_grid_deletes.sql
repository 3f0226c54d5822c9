-- organization: grids are deleted softly (history and cases keep pointing at them).
ALTER TABLE grids ADD COLUMN deleted_at TIMESTAMPTZ;
