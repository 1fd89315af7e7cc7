-- Sessions online now, written before the Accounting-Response is sent and read back at
-- start, so the online table survives a restart.
CREATE TABLE online_sessions (
    nas        TEXT NOT NULL,
    session_id TEXT NOT NULL,
    user_name  TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (nas, session_id)
);
CREATE INDEX online_sessions_user ON online_sessions (user_name);
