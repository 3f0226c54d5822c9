-- Events through the WAL (`nats.relay_source = "wal"`): while the relay reads a logical
-- replication slot, a trigger turns each outbox insert into a transactional logical decoding
-- message, `pg_logical_emit_message(true, 'redsupply.<schema>', envelope)`, and keeps no row: the
-- event is in the WAL of the transaction that announces the change, and nothing is claimed,
-- deleted or vacuumed. The relay installs the trigger when it holds (or has created) the slot,
-- and removes it when the service runs on the table again; the producers' INSERTs stay as they
-- are.
--
-- The envelope is version 1: the byte 1, the event id (16 bytes), the time the event was written
-- (8 bytes, microseconds since 2000-01-01, as timestamptz_send), then subject, source,
-- ce_subject, payload, traceparent and tracestate, each as a 4-byte big-endian length (-1 for
-- NULL) and its bytes (text in UTF-8). The relay's decoder (kit::bus::relay::envelope) reads it.
CREATE FUNCTION outbox_to_wal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- No row means no NOT NULL check of the table's: made here, as the table would (a NULL
    -- would make the whole message NULL, and pg_logical_emit_message would write nothing).
    IF NEW.event_id IS NULL OR NEW.subject IS NULL OR NEW.source IS NULL
       OR NEW.ce_subject IS NULL OR NEW.payload IS NULL OR NEW.created_at IS NULL THEN
        RAISE EXCEPTION 'an outbox event lacks its id, subject, source, ce_subject, payload or time'
            USING ERRCODE = 'not_null_violation';
    END IF;
    PERFORM pg_logical_emit_message(
        true,
        'redsupply.' || TG_TABLE_SCHEMA,
        '\x01'::bytea
            || uuid_send(NEW.event_id)
            || timestamptz_send(NEW.created_at)
            || int4send(octet_length(convert_to(NEW.subject, 'UTF8'))) || convert_to(NEW.subject, 'UTF8')
            || int4send(octet_length(convert_to(NEW.source, 'UTF8'))) || convert_to(NEW.source, 'UTF8')
            || int4send(octet_length(convert_to(NEW.ce_subject, 'UTF8'))) || convert_to(NEW.ce_subject, 'UTF8')
            || int4send(octet_length(NEW.payload)) || NEW.payload
            || int4send(COALESCE(octet_length(convert_to(NEW.traceparent, 'UTF8')), -1))
            || COALESCE(convert_to(NEW.traceparent, 'UTF8'), '')
            || int4send(COALESCE(octet_length(convert_to(NEW.tracestate, 'UTF8')), -1))
            || COALESCE(convert_to(NEW.tracestate, 'UTF8'), ''));
    RETURN NULL;
END
$$;
