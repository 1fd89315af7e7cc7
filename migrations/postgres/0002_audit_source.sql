-- As migrations/sqlite/0009_audit_source.sql: where each audited call came from.
ALTER TABLE audit_log ADD COLUMN source TEXT COLLATE "C" NOT NULL DEFAULT '';
