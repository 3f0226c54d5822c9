-- organization: who saw which worker's phone and ID number in clear, through which call. Append
-- only; county admins page through it (ListPersonalDataAccess), newest first.

CREATE TABLE personal_data_access (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    accessor       TEXT NOT NULL,
    accessor_roles TEXT[] NOT NULL,
    worker_id      UUID NOT NULL,
    call           TEXT NOT NULL,
    accessed_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX personal_data_access_by_worker ON personal_data_access (worker_id, id);
CREATE INDEX personal_data_access_by_accessor ON personal_data_access (accessor, id);
