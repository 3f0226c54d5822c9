-- stations: points in three parts. A tip's points are pending until the tip is confirmed (its
-- case accepted, or `pending_days` without a rejection); points taken back after they were spent
-- become a debt that later credits repay first. Every entry says how it moved each part, so the
-- ledger replays into all three: available = sum(points - pending_change + debt_change),
-- pending = sum(pending_change), debt = sum(debt_change). Old entries moved available only.
ALTER TABLE balances
    ADD COLUMN pending BIGINT NOT NULL DEFAULT 0 CONSTRAINT balances_pending_never_negative CHECK (pending >= 0),
    ADD COLUMN debt    BIGINT NOT NULL DEFAULT 0 CONSTRAINT balances_debt_never_negative CHECK (debt >= 0);

ALTER TABLE ledger_entries
    ADD COLUMN pending_change    BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN debt_change       BIGINT NOT NULL DEFAULT 0,
    -- A release: the pending award whose points it made available.
    ADD COLUMN releases_entry_id UUID;
CREATE UNIQUE INDEX ledger_one_release ON ledger_entries (releases_entry_id) WHERE releases_entry_id IS NOT NULL;

-- Pending awards waiting for their release (a work queue beside the ledger, which stays the
-- record): deleted when released or taken back in full.
CREATE TABLE pending_awards (
    entry_id      UUID PRIMARY KEY REFERENCES ledger_entries (id),
    worker_id     UUID NOT NULL,
    tip_id        UUID NOT NULL,
    release_after TIMESTAMPTZ NOT NULL
);
CREATE INDEX pending_awards_due ON pending_awards (release_after);
CREATE INDEX pending_awards_by_tip ON pending_awards (tip_id);

-- Tips known to be merged into an existing case (they earn `tip_merged`, not `tip_submitted`) or
-- in an accepted case (confirmed), for awards that arrive after the news.
CREATE TABLE tip_marks (
    tip_id    UUID PRIMARY KEY,
    merged    BOOLEAN NOT NULL DEFAULT FALSE,
    confirmed BOOLEAN NOT NULL DEFAULT FALSE
);
