-- Cluster support (the same tables exist on PostgreSQL):
-- a lease per kind of once-only work (settlement, the sweeper, policy-change pushes),
-- held by one node at a time and renewed while it lives;
-- and the history by session, so a Stop retransmitted to another node is seen as done.

CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    -- The node holding it (host name and a random id per process).
    holder     TEXT NOT NULL,
    -- Unix second after which another node may take it.
    expires_at BIGINT NOT NULL
);

CREATE INDEX session_history_session ON session_history (nas, session_id);
