-- organization: phone and ID numbers encrypted at rest, with keyed hashes for exact lookup. The
-- service moves any phone still in clear into the sealed column when it starts (it holds the key).
ALTER TABLE workers
    ALTER COLUMN phone DROP NOT NULL,
    ADD COLUMN phone_sealed     BYTEA,
    ADD COLUMN phone_hash       BYTEA,
    ADD COLUMN id_number_sealed BYTEA,
    ADD COLUMN id_number_hash   BYTEA;
CREATE INDEX workers_phone_hash ON workers (phone_hash);
CREATE INDEX workers_id_number_hash ON workers (id_number_hash) WHERE id_number_hash IS NOT NULL;
CREATE INDEX workers_by_community ON workers (community_id, id);
