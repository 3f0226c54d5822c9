-- The bus tables of one service, created in that service's schema.

-- Transactional outbox: an event is written in the same transaction as the change it announces;
-- the relay publishes it to JetStream (Nats-Msg-Id = event_id) and deletes the row.
CREATE TABLE outbox (
    seq         BIGSERIAL PRIMARY KEY,
    event_id    UUID NOT NULL UNIQUE,
    subject     TEXT NOT NULL,
    source      TEXT NOT NULL,
    ce_subject  TEXT NOT NULL,
    payload     BYTEA NOT NULL,
    traceparent TEXT,
    tracestate  TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Idempotent consumers: one row per (consumer, event) whose effect has been committed.
CREATE TABLE inbox (
    consumer     TEXT NOT NULL,
    event_id     UUID NOT NULL,
    processed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- Events a consumer gave up on after max_deliver attempts (or could not decode), kept for replay.
CREATE TABLE dead_letters (
    id          BIGSERIAL PRIMARY KEY,
    consumer    TEXT NOT NULL,
    event_id    UUID,
    subject     TEXT NOT NULL,
    headers     JSONB NOT NULL DEFAULT '{}',
    payload     BYTEA NOT NULL,
    error       TEXT NOT NULL,
    deliveries  BIGINT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    replayed_at TIMESTAMPTZ
);
CREATE INDEX dead_letters_open ON dead_letters (consumer, created_at) WHERE replayed_at IS NULL;
