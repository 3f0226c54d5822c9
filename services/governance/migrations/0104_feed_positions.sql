-- governance: the case feed is read by position, a number the feed sequencer gives each change
-- once it has committed. Positions grow in commit order, so a reader needs no transaction-id
-- horizon: a transaction left open anywhere on the server (another database included) cannot
-- delay it, and a change committed late simply gets a later position.
--
-- Each change also says what the case was before it (status and grid), so a watcher whose filter
-- the case stops matching is told once more.

CREATE SEQUENCE case_feed_position;

ALTER TABLE case_changes
    ADD COLUMN position        BIGINT,
    ADD COLUMN previous_status SMALLINT;

-- Changes written before this migration keep their transaction id (for cursors given out before
-- it); new ones need none.
ALTER TABLE case_changes ALTER COLUMN xid DROP DEFAULT;
ALTER TABLE case_changes ALTER COLUMN xid DROP NOT NULL;

-- The old order was (xid, seq) compared as xid8 values: number the existing changes that way.
UPDATE case_changes c SET position = o.n
FROM (SELECT seq, row_number() OVER (ORDER BY xid, seq) AS n FROM case_changes) o
WHERE c.seq = o.seq;
SELECT setval('case_feed_position', coalesce((SELECT max(position) FROM case_changes), 0) + 1, false);

CREATE UNIQUE INDEX case_changes_by_position ON case_changes (position) WHERE position IS NOT NULL;
-- What the sequencer has yet to number: empty at rest.
CREATE INDEX case_changes_unsequenced ON case_changes (seq) WHERE position IS NULL;
-- Cursors of the old form (xid.seq) are translated through this index.
DROP INDEX case_changes_order;
CREATE INDEX case_changes_legacy_order ON case_changes (xid, seq) WHERE xid IS NOT NULL;
