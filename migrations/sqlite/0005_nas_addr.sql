-- Where the session's NAS sends accounting from: Disconnect and CoA requests go there.
ALTER TABLE online_sessions ADD COLUMN nas_addr TEXT;
ALTER TABLE session_history ADD COLUMN nas_addr TEXT;
