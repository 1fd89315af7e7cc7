-- Billing: product instance balances, cycles and usage; packages; the ledger; settlements
-- and the settlement log (E7xxx). Money is integer fen.

-- A product instance's own balance (产品余额), its current cycle [cycle_start, cycle_end)
-- and the cycle's usage. cycle_end = 0: not computed yet (the settlement pass computes it
-- from the product's cycle). Usage counters are added to by accounting and reduced by
-- settlement in the same transactions as the records they come from.
ALTER TABLE user_products ADD COLUMN balance_fen BIGINT NOT NULL DEFAULT 0;
ALTER TABLE user_products ADD COLUMN cycle_start BIGINT NOT NULL DEFAULT 0;
ALTER TABLE user_products ADD COLUMN cycle_end BIGINT NOT NULL DEFAULT 0;
-- used_bytes becomes the user's upload; download is new.
ALTER TABLE user_products RENAME COLUMN used_bytes TO used_in;
ALTER TABLE user_products ADD COLUMN used_out BIGINT NOT NULL DEFAULT 0;
ALTER TABLE user_products ADD COLUMN logins BIGINT NOT NULL DEFAULT 0;
-- A package plan to buy automatically at each settlement (预约购买), or NULL.
ALTER TABLE user_products ADD COLUMN reserved_package TEXT;
-- The charge is computed from the usage (one rounding per cycle); never stored.
ALTER TABLE user_products DROP COLUMN spent_fen;
UPDATE user_products SET cycle_start = started_at;

-- Packages (套餐) bought onto a product instance: extra time and traffic until expiry.
CREATE TABLE user_packages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_name   TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    product     TEXT NOT NULL,
    package     TEXT NOT NULL,
    extra_secs  BIGINT NOT NULL,
    extra_bytes BIGINT NOT NULL,
    price_fen   BIGINT NOT NULL,
    bought_at   BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX user_packages_user ON user_packages (user_name, product);

-- Every movement of money, never edited: a correction is a new reversing entry.
-- product NULL is the wallet (电子钱包). amount_fen is signed (credit > 0); balance_fen
-- is the balance it left. ref is the idempotency key: a second entry with the same ref
-- is refused.
CREATE TABLE ledger (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          BIGINT NOT NULL,
    user_name   TEXT NOT NULL,
    product     TEXT,
    amount_fen  BIGINT NOT NULL,
    balance_fen BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    ref         TEXT NOT NULL UNIQUE,
    note        TEXT
);
CREATE INDEX ledger_user ON ledger (user_name, id);

-- One row per settled cycle (结算清单). The UNIQUE key is what makes settlement happen
-- exactly once, whoever runs it and however often.
CREATE TABLE settlements (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_name   TEXT NOT NULL,
    product     TEXT NOT NULL,
    cycle_start BIGINT NOT NULL,
    cycle_end   BIGINT NOT NULL,
    settled_at  BIGINT NOT NULL,
    used_secs   BIGINT NOT NULL,
    used_in     BIGINT NOT NULL,
    used_out    BIGINT NOT NULL,
    logins      BIGINT NOT NULL,
    fee_fen     BIGINT NOT NULL,
    usage_fen   BIGINT NOT NULL,
    charged_fen BIGINT NOT NULL,
    balance_fen BIGINT NOT NULL,
    code        INTEGER NOT NULL,
    UNIQUE (user_name, product, cycle_start)
);
CREATE INDEX settlements_user ON settlements (user_name, id);

-- The settlement log: one line per outcome, with its E7xxx code.
CREATE TABLE settlement_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          BIGINT NOT NULL,
    user_name   TEXT NOT NULL,
    product     TEXT,
    cycle_start BIGINT,
    code        INTEGER NOT NULL,
    amount_fen  BIGINT NOT NULL DEFAULT 0,
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX settlement_log_user ON settlement_log (user_name, id);

-- Where an online session was last split (settlement E4011, policy change E3005/E3006):
-- its history rows count usage from there. 0 when never split.
ALTER TABLE online_sessions ADD COLUMN split_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE online_sessions ADD COLUMN split_time BIGINT NOT NULL DEFAULT 0;
ALTER TABLE online_sessions ADD COLUMN split_input BIGINT NOT NULL DEFAULT 0;
ALTER TABLE online_sessions ADD COLUMN split_output BIGINT NOT NULL DEFAULT 0;
