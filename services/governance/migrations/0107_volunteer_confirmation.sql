-- governance: a finished volunteer service earns points only once a team leader or county staff
-- confirms it (ConfirmVolunteerService). Services finished before this version were paid when
-- recorded: they count as confirmed, as recorded.
ALTER TABLE service_records
    ADD COLUMN confirmed_at    TIMESTAMPTZ,
    ADD COLUMN confirmed_by    TEXT,
    ADD COLUMN confirmed_hours DOUBLE PRECISION;
UPDATE service_records SET confirmed_at = ended_at, confirmed_by = 'before confirmations', confirmed_hours = hours
WHERE ended_at IS NOT NULL;
