//! The online table: sessions keyed by NAS and Acct-Session-Id, indexed by user, so the
//! policy can count a user's sessions and find the oldest to push out.

use dashmap::DashMap;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::auth::policy::OnlineCounts;
use crate::codes::ECode;
use crate::store::OnlineRecord;

/// Identifies a session: the NAS client's name and the Acct-Session-Id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionKey {
    /// NAS client name.
    pub nas: Box<str>,
    /// Acct-Session-Id.
    pub id: Box<str>,
}

/// One online session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Session {
    /// User name.
    pub user: Box<str>,
    /// Unix second it started.
    pub started_at: i64,
    /// Why the server wants it ended, once decided (e.g. E3008), until it is gone.
    pub pending_end: Option<ECode>,
    /// Unix second the traffic counters last moved (for the idle check).
    pub traffic_at: i64,
    /// The rest of what accounting said, as stored.
    pub record: OnlineRecord,
}

impl Session {
    /// The in-memory form of a stored session.
    pub fn from_record(record: OnlineRecord) -> (SessionKey, Session) {
        let key = SessionKey {
            nas: record.nas.as_str().into(),
            id: record.session_id.as_str().into(),
        };
        let session = Session {
            user: record.user.as_str().into(),
            started_at: record.started_at,
            pending_end: None,
            traffic_at: record.updated_at,
            record,
        };
        (key, session)
    }
}

/// Every session online now.
#[derive(Debug, Default)]
pub struct OnlineTable {
    sessions: DashMap<SessionKey, Session>,
    by_user: DashMap<Box<str>, Vec<SessionKey>>,
    total: AtomicU32,
}

impl OnlineTable {
    /// Adds or replaces a session.
    pub fn insert(&self, key: SessionKey, session: Session) {
        let user = session.user.clone();
        if let Some(old) = self.sessions.insert(key.clone(), session) {
            self.unindex(&old.user, &key);
        } else {
            self.total.fetch_add(1, Ordering::Relaxed);
        }
        self.by_user.entry(user).or_default().push(key);
    }

    /// Removes a session, returning it.
    pub fn remove(&self, key: &SessionKey) -> Option<Session> {
        let (_, session) = self.sessions.remove(key)?;
        self.total.fetch_sub(1, Ordering::Relaxed);
        self.unindex(&session.user, key);
        Some(session)
    }

    fn unindex(&self, user: &str, key: &SessionKey) {
        if let Some(mut keys) = self.by_user.get_mut(user) {
            keys.retain(|k| k != key);
        }
        self.by_user.remove_if(user, |_, keys| keys.is_empty());
    }

    /// Sessions of `user` and of everyone.
    pub fn counts(&self, user: &str) -> OnlineCounts {
        OnlineCounts {
            user: self.by_user.get(user).map_or(0, |k| k.len() as u32),
            total: self.total.load(Ordering::Relaxed),
        }
    }

    /// Marks the oldest session of `user` not already marked to be ended with `cause`;
    /// returns its key. Of sessions started in the same second, the first recorded is the
    /// oldest.
    pub fn mark_oldest(&self, user: &str, cause: ECode) -> Option<SessionKey> {
        let keys = self.by_user.get(user)?.clone();
        let mut oldest: Option<(i64, SessionKey)> = None;
        for k in keys {
            let Some(s) = self.sessions.get(&k) else {
                continue;
            };
            if s.pending_end.is_none() && oldest.as_ref().is_none_or(|(t, _)| s.started_at < *t) {
                oldest = Some((s.started_at, k.clone()));
            }
        }
        let oldest = oldest?.1;
        if let Some(mut s) = self.sessions.get_mut(&oldest) {
            s.pending_end = Some(cause);
        }
        Some(oldest)
    }

    /// Removes every session of a NAS; returns how many.
    pub fn remove_nas(&self, nas: &str) -> usize {
        let keys: Vec<SessionKey> = self
            .sessions
            .iter()
            .filter(|e| &*e.key().nas == nas)
            .map(|e| e.key().clone())
            .collect();
        keys.iter().filter(|k| self.remove(k).is_some()).count()
    }

    /// Sessions online.
    pub fn len(&self) -> usize {
        self.total.load(Ordering::Relaxed) as usize
    }

    /// True when nobody is online.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `check` on every session in place (no copies) and collects what it returns.
    pub fn scan<T>(&self, mut check: impl FnMut(&SessionKey, &Session) -> Option<T>) -> Vec<T> {
        self.sessions
            .iter()
            .filter_map(|e| check(e.key(), e.value()))
            .collect()
    }

    /// Every session (of `user`, when given), copied out.
    pub fn snapshot(&self, user: Option<&str>) -> Vec<(SessionKey, Session)> {
        match user {
            Some(user) => self
                .by_user
                .get(user)
                .map(|keys| keys.clone())
                .unwrap_or_default()
                .into_iter()
                .filter_map(|k| self.get(&k).map(|s| (k, s)))
                .collect(),
            None => self
                .sessions
                .iter()
                .map(|e| (e.key().clone(), e.value().clone()))
                .collect(),
        }
    }

    /// The session under `key`.
    pub fn get(&self, key: &SessionKey) -> Option<Session> {
        self.sessions.get(key).map(|s| s.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str) -> SessionKey {
        SessionKey {
            nas: "bras".into(),
            id: id.into(),
        }
    }

    fn session(user: &str, started_at: i64) -> Session {
        Session {
            user: user.into(),
            started_at,
            ..Session::default()
        }
    }

    #[test]
    fn counts_follow_inserts_and_removes() {
        let t = OnlineTable::default();
        t.insert(key("1"), session("alice", 10));
        t.insert(key("2"), session("alice", 5));
        t.insert(key("3"), session("bob", 7));
        // A repeated Start replaces, it does not add.
        t.insert(key("3"), session("bob", 7));
        assert_eq!(t.counts("alice"), OnlineCounts { user: 2, total: 3 });
        assert_eq!(t.counts("carol"), OnlineCounts { user: 0, total: 3 });
        assert_eq!(t.remove(&key("3")).map(|s| s.user), Some("bob".into()));
        assert_eq!(t.remove(&key("3")), None);
        assert_eq!(t.counts("bob"), OnlineCounts { user: 0, total: 2 });
        t.insert(
            SessionKey {
                nas: "other".into(),
                id: "1".into(),
            },
            session("alice", 1),
        );
        assert_eq!(t.remove_nas("bras"), 2);
        assert_eq!(t.counts("alice"), OnlineCounts { user: 1, total: 1 });
    }

    #[test]
    fn oldest_is_marked_once() {
        let t = OnlineTable::default();
        t.insert(key("1"), session("alice", 10));
        t.insert(key("2"), session("alice", 5));
        t.insert(key("0"), session("alice", 10));
        let cause = ECode::SessionLimitExceeded;
        assert_eq!(t.mark_oldest("alice", cause), Some(key("2")));
        assert_eq!(t.get(&key("2")).unwrap().pending_end, Some(cause));
        // Same second: the first recorded.
        assert_eq!(t.mark_oldest("alice", cause), Some(key("1")));
        assert_eq!(t.mark_oldest("alice", cause), Some(key("0")));
        assert_eq!(t.mark_oldest("alice", cause), None);
        assert_eq!(t.mark_oldest("nobody", cause), None);
    }
}
