-- governance: two notes on a case (the internal note for staff and platforms, and the public reply
-- the reporter sees), a resolution (fixed, or void when every tip was rejected), when it closed
-- (staff may reopen within a window), the reporter's answer to "is it fixed?", the reason a tip was
-- rejected, and the indexes a platform's backfill and lookups use.

ALTER TABLE cases
    ADD COLUMN public_reply TEXT NOT NULL DEFAULT '',
    ADD COLUMN resolution   SMALLINT NOT NULL DEFAULT 0,
    ADD COLUMN closed_at    TIMESTAMPTZ;
-- Cases closed before this migration: closed when last changed; void if every tip was rejected,
-- else fixed. (Open cases left with rejected tips only are voided by the sweep, with their history
-- and feed change.)
UPDATE cases c SET closed_at = updated_at,
    resolution = CASE WHEN EXISTS (SELECT 1 FROM tips t WHERE t.case_id = c.id AND t.status <> 4)
                      THEN 1 ELSE 2 END
WHERE status = 5;
UPDATE cases SET resolution = 1 WHERE status = 4;

ALTER TABLE tips
    ADD COLUMN rejection_reason TEXT NOT NULL DEFAULT '',
    -- The reporter's answer once the case was resolved: NULL none, true fixed, false not fixed.
    ADD COLUMN confirmed_fixed  BOOLEAN,
    ADD COLUMN confirmed_at     TIMESTAMPTZ;

ALTER TABLE case_transitions
    ADD COLUMN public_reply TEXT NOT NULL DEFAULT '',
    ADD COLUMN version      BIGINT;

-- No index on updated_at: every change of a case sets it, and an index on it would make every
-- such update a non-HOT one (a new entry in each of the table's indexes; measured: 8 WAL records per
-- note update instead of 1). A backfill by updated_since scans the table, which is rare and cheap
-- next to that.
CREATE INDEX cases_by_external_ref ON cases (external_ref) WHERE external_ref <> '';
