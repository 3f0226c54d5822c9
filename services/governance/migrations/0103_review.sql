-- governance: a reporter's tips newest first.
CREATE INDEX tips_by_reporter_id ON tips (reporter_id, id);
