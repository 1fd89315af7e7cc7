-- Usage of online sessions, and the session history (上网明细): every ended session with
-- its usage and why it ended.
ALTER TABLE online_sessions ADD COLUMN product TEXT;
ALTER TABLE online_sessions ADD COLUMN framed_ip TEXT;
ALTER TABLE online_sessions ADD COLUMN station TEXT;
ALTER TABLE online_sessions ADD COLUMN nas_port TEXT;
ALTER TABLE online_sessions ADD COLUMN session_time BIGINT NOT NULL DEFAULT 0;
-- Octets with Acct-Input/Output-Gigawords folded in; input is the user's upload.
ALTER TABLE online_sessions ADD COLUMN input_octets BIGINT NOT NULL DEFAULT 0;
ALTER TABLE online_sessions ADD COLUMN output_octets BIGINT NOT NULL DEFAULT 0;

CREATE TABLE session_history (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    nas             TEXT NOT NULL,
    session_id      TEXT NOT NULL,
    user_name       TEXT NOT NULL,
    product         TEXT,
    framed_ip       TEXT,
    station         TEXT,
    nas_port        TEXT,
    started_at      BIGINT NOT NULL,
    ended_at        BIGINT NOT NULL,
    session_time    BIGINT NOT NULL,
    input_octets    BIGINT NOT NULL,
    output_octets   BIGINT NOT NULL,
    -- The E-code of the end (E24xx from the NAS, E3xxx/E4xxx from the server); NULL
    -- when the NAS sent a cause without one.
    cause           INTEGER,
    -- Acct-Terminate-Cause as the NAS sent it, when it did.
    terminate_cause INTEGER
);
CREATE INDEX session_history_user ON session_history (user_name, ended_at);
