-- Corrections and withdrawals (issue 19): census visits and enterprise issues can be
-- corrected and withdrawn with a reason; every such change is kept as a revision holding the
-- record as it stood before (its protobuf encoding). A withdrawn record stays, marked, and no
-- longer counts.
ALTER TABLE census_visits
    ADD COLUMN version          BIGINT NOT NULL DEFAULT 1,
    ADD COLUMN withdrawn_at     TIMESTAMPTZ,
    ADD COLUMN withdrawn_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE enterprise_issues
    ADD COLUMN withdrawn_at     TIMESTAMPTZ,
    ADD COLUMN withdrawn_reason TEXT NOT NULL DEFAULT '';

-- action: 1 corrected, 2 withdrawn.
CREATE TABLE revisions (
    id         UUID PRIMARY KEY,
    record_id  UUID NOT NULL,
    version    BIGINT NOT NULL,
    action     SMALLINT NOT NULL,
    fields     TEXT[] NOT NULL DEFAULT '{}',
    reason     TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- 1 census visit, 2 enterprise issue: which message `before` encodes.
    kind       SMALLINT NOT NULL,
    before     BYTEA NOT NULL
);
CREATE INDEX revisions_of_record ON revisions (record_id, id);
