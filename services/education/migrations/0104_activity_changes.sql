-- education: an activity corrected (its version counts the changes) or cancelled with a reason,
-- until it starts. A cancelled activity takes no sign-ups or check-ins.
ALTER TABLE activities
    ADD COLUMN cancelled_at  TIMESTAMPTZ,
    ADD COLUMN cancel_reason TEXT NOT NULL DEFAULT '',
    ADD COLUMN changed_by    TEXT,
    ADD COLUMN changed_at    TIMESTAMPTZ;
