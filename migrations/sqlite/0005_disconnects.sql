-- Where the session's NAS sends accounting from: Disconnect and CoA requests go there.
ALTER TABLE online_sessions ADD COLUMN nas_addr TEXT;
ALTER TABLE session_history ADD COLUMN nas_addr TEXT;
-- How a server-side end reached the session (E4xxx: DM, local or virtual offline and
-- from where), when `cause` says why (e.g. E3008 sent by DM as E4101).
ALTER TABLE session_history ADD COLUMN via INTEGER;
