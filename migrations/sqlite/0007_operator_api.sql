-- The operator API: NAS devices registered over HTTP carry an alias and their CoA port;
-- API tokens (stored as SHA-256 of the secret, never the secret) with a role; and the
-- audit log of every mutating call.

ALTER TABLE nas_devices ADD COLUMN alias TEXT NOT NULL DEFAULT '';
ALTER TABLE nas_devices ADD COLUMN coa_port INTEGER NOT NULL DEFAULT 3799;

CREATE TABLE api_tokens (
    name       TEXT PRIMARY KEY,
    -- admin, operator, readonly or self-service.
    role       TEXT NOT NULL,
    -- The only user a self-service token may act on.
    user_name  TEXT,
    hash       BLOB NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     BIGINT NOT NULL,
    -- The token's name.
    actor  TEXT NOT NULL,
    method TEXT NOT NULL,
    path   TEXT NOT NULL,
    -- HTTP status and result code (0 or the E-code number).
    status INTEGER NOT NULL,
    code   INTEGER NOT NULL
);

CREATE INDEX users_group ON users (group_name);
