-- stations: submissions that earned nothing because their reporter had reached the day's cap.
-- A tip's award is keyed by its submission event (its ledger entry), so one without an entry
-- is recorded here: delivered again on a later day, when the cap would have room, it still
-- earns nothing.
CREATE TABLE capped_submissions (
    event_id  UUID PRIMARY KEY,
    worker_id UUID NOT NULL,
    capped_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
