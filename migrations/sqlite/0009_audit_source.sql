-- The audit log records where each call came from, and calls refused for a missing or
-- unknown token (actor '-').
ALTER TABLE audit_log ADD COLUMN source TEXT NOT NULL DEFAULT '';
