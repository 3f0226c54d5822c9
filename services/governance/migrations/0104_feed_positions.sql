-- governance: the case feed is read by position, a number the feed sequencer gives each change
-- once it has committed. Positions grow in commit order, so a reader needs no transaction-id
-- horizon: a transaction left open anywhere on the server (another database included) cannot
-- delay it, and a change committed late simply gets a later number.
--
-- Each change also says what the case was before it (status and grid), so a watcher whose filter
-- the case stops matching is told once more.
--
-- `xid` keeps being written (its default) for one release: replicas of the previous version, which
-- read by (xid, seq), keep serving their streams during a rolling upgrade, and cursors they gave
-- out are translated. A later release drops it.

ALTER TABLE case_changes
    ADD COLUMN position        BIGINT,
    ADD COLUMN previous_status SMALLINT;

-- The old order was (xid, seq) compared as xid8 values: number the existing changes that way.
UPDATE case_changes c SET position = o.n
FROM (SELECT seq, row_number() OVER (ORDER BY xid, seq) AS n FROM case_changes) o
WHERE c.seq = o.seq;

CREATE UNIQUE INDEX case_changes_by_position ON case_changes (position) WHERE position IS NOT NULL;
-- What the sequencer has yet to number: empty at rest.
CREATE INDEX case_changes_unsequenced ON case_changes (seq) WHERE position IS NULL;
