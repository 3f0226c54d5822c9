-- The outbox is a queue: every row is inserted, claimed and deleted within moments. Left to the
-- default thresholds (a fifth of the table), its dead rows pile up between vacuums and every claim
-- walks past them; vacuum it after every thousand dead rows instead, without throttling.
ALTER TABLE outbox SET (
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_insert_scale_factor = 0,
    autovacuum_vacuum_insert_threshold = 1000,
    autovacuum_vacuum_cost_delay = 0
);
