-- stations: indexes the ledger's queries need, and a bound on reward prices.
CREATE INDEX ledger_reversals ON ledger_entries (reverses_entry_id) WHERE reverses_entry_id IS NOT NULL;
CREATE INDEX ledger_by_time ON ledger_entries (created_at);
CREATE INDEX ledger_by_worker_subject ON ledger_entries (worker_id, reason, subject_ref) WHERE points > 0;
ALTER TABLE rewards ADD CONSTRAINT rewards_cost_bounded CHECK (points_cost <= 1000000);
