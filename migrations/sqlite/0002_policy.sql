-- Authorization policy: per-user attributes, bindings, product instances, the policy
-- catalog and persistent lockouts.

ALTER TABLE users ADD COLUMN group_name TEXT;
-- Unix seconds from which the account is expired (exclusive end of its last day).
ALTER TABLE users ADD COLUMN expires_at BIGINT;
-- Integer fen; never floats.
ALTER TABLE users ADD COLUMN balance_fen BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN phone TEXT;
-- Overrides the control policy's max_online when set.
ALTER TABLE users ADD COLUMN max_online INTEGER;
ALTER TABLE users ADD COLUMN allow_radius BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE users ADD COLUMN allow_portal BOOLEAN NOT NULL DEFAULT TRUE;
-- Temporary ban for proxy/sharing behaviour (E2534), unix seconds.
ALTER TABLE users ADD COLUMN banned_until BIGINT;
-- Spending cap per cycle (消费保护), fen; E2617 once reached.
ALTER TABLE users ADD COLUMN consumption_limit_fen BIGINT;

-- kind: mac | ip | nas | nas_port | vlan | device. A user with bindings of a kind may
-- only log in with one of them.
CREATE TABLE user_bindings (
    user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    kind      TEXT NOT NULL,
    value     TEXT NOT NULL,
    PRIMARY KEY (user_name, kind, value)
);

-- Product instances a user holds, with this cycle's usage (settlement updates them).
CREATE TABLE user_products (
    user_name  TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    product    TEXT NOT NULL,
    used_secs  BIGINT NOT NULL DEFAULT 0,
    used_bytes BIGINT NOT NULL DEFAULT 0,
    spent_fen  BIGINT NOT NULL DEFAULT 0,
    started_at BIGINT NOT NULL,
    PRIMARY KEY (user_name, product)
);

-- Groups, products, billing and control policies, blacklists, IP tables and the system
-- switches: few rows, read whole into memory. body is JSON of the kind's type.
CREATE TABLE catalog (
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    body       TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (kind, name)
);

-- Accounts locked after too many wrong passwords (E2533); written by the daemon.
CREATE TABLE lockouts (
    user_name    TEXT PRIMARY KEY,
    locked_until BIGINT NOT NULL
);
