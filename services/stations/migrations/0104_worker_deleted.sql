-- stations: the worker read model keeps organization's `deleted` flag, so a deleted worker drops
-- out of the leaderboards and can no longer redeem or record visits; their ledger stays.
-- Rows written before this migration say false until organization announces the worker again
-- (`redsupply republish`): an announcement at the version already held is applied when only the
-- flag differs, since stations ignored it before.
ALTER TABLE workers ADD COLUMN deleted BOOLEAN NOT NULL DEFAULT false;
