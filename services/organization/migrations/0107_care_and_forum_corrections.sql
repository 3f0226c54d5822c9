-- Corrections and withdrawals of forums, care visits and hardship files (issue 19), kept as
-- revisions like those of census visits and issues. Care is personal: a care record's
-- withdrawal reason, and its revisions' reason and before, are sealed with the personal-data
-- key (`reason` is then empty and `reason_sealed` holds it).
ALTER TABLE forums
    ADD COLUMN withdrawn_at     TIMESTAMPTZ,
    ADD COLUMN withdrawn_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE care_visits
    ADD COLUMN version                 BIGINT NOT NULL DEFAULT 1,
    ADD COLUMN withdrawn_at            TIMESTAMPTZ,
    ADD COLUMN withdrawn_reason_sealed BYTEA;
ALTER TABLE hardship_files
    ADD COLUMN withdrawn_at            TIMESTAMPTZ,
    ADD COLUMN withdrawn_reason_sealed BYTEA;
-- kind: 3 forum, 4 care visit (sealed), 5 hardship file (sealed).
ALTER TABLE revisions ADD COLUMN reason_sealed BYTEA;
