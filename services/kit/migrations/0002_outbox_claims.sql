-- The relay claims outbox rows in a short transaction, publishes outside it, then deletes them:
-- no transaction stays open across NATS round trips (an open one would hold back every reader
-- of commit order, such as WatchCases, while NATS is slow or away). A claim that outlives a
-- crashed relay expires, and the rows are published again (JetStream drops the duplicates).
ALTER TABLE outbox ADD COLUMN claimed_until TIMESTAMPTZ;
