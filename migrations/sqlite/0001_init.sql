-- Users, NAS devices and the change log that keeps every daemon's memory fresh.
-- Types are chosen so that the PostgreSQL schema differs only in BLOB/BYTEA and the
-- change log's key generation; every query is shared.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    name            TEXT PRIMARY KEY,
    -- AES-256-GCM: nonce || ciphertext || tag, bound to the user name.
    password_sealed BLOB NOT NULL,
    enabled         BOOLEAN NOT NULL DEFAULT TRUE,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE nas_devices (
    name                          TEXT PRIMARY KEY,
    address                       TEXT NOT NULL,
    secret_sealed                 BLOB NOT NULL,
    vendor                        TEXT NOT NULL,
    require_message_authenticator BOOLEAN NOT NULL,
    created_at                    BIGINT NOT NULL
);

-- One row per change; daemons poll for rows above the last they applied.
-- entity is 'user' or 'nas'; key is the name, or '*' for "reload everything".
CREATE TABLE changes (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    entity TEXT NOT NULL,
    key    TEXT NOT NULL
);
