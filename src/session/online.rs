//! The online table: sessions keyed by NAS and Acct-Session-Id, indexed by user (the
//! policy counts a user's sessions and finds the oldest to push out), by framed IP and by
//! MAC (the portal finds a client's session). Not by NAS: a BRAS carries tens of thousands
//! of sessions, and its rare Accounting-On is cheaper as a scan than every update would
//! be as an index change.

use dashmap::DashMap;
use std::borrow::Borrow;
use std::hash::Hash;
use std::net::IpAddr;
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

impl SessionKey {
    /// The key of session `id` on NAS `nas`.
    pub fn new(nas: &str, id: &str) -> SessionKey {
        SessionKey {
            nas: nas.into(),
            id: id.into(),
        }
    }

    /// The key of a stored session.
    pub fn of(record: &OnlineRecord) -> SessionKey {
        SessionKey::new(&record.nas, &record.session_id)
    }
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
        let key = SessionKey::of(&record);
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

/// Sessions by one of their attributes.
#[derive(Debug)]
struct Index<K: Eq + Hash>(DashMap<K, Vec<SessionKey>>);

impl<K: Eq + Hash> Default for Index<K> {
    fn default() -> Self {
        Index(DashMap::new())
    }
}

impl<K: Eq + Hash> Index<K> {
    fn add(&self, k: K, key: &SessionKey) {
        self.0.entry(k).or_default().push(key.clone());
    }

    fn remove<Q: Hash + Eq + ?Sized>(&self, k: &Q, key: &SessionKey)
    where
        K: Borrow<Q>,
    {
        if let Some(mut keys) = self.0.get_mut(k) {
            keys.retain(|x| x != key);
        }
        self.0.remove_if(k, |_, keys| keys.is_empty());
    }

    fn get<Q: Hash + Eq + ?Sized>(&self, k: &Q) -> Vec<SessionKey>
    where
        K: Borrow<Q>,
    {
        self.0.get(k).map(|keys| keys.clone()).unwrap_or_default()
    }

    fn count<Q: Hash + Eq + ?Sized>(&self, k: &Q) -> usize
    where
        K: Borrow<Q>,
    {
        self.0.get(k).map_or(0, |keys| keys.len())
    }
}

/// Every session online now.
#[derive(Debug, Default)]
pub struct OnlineTable {
    sessions: DashMap<SessionKey, Session>,
    by_user: Index<Box<str>>,
    by_ip: Index<IpAddr>,
    total: AtomicU32,
}

/// The framed IP of a session, for its index.
fn framed_ip(s: &Session) -> Option<IpAddr> {
    s.record.framed_ip.as_deref().and_then(|ip| ip.parse().ok())
}

impl OnlineTable {
    /// Adds or replaces a session.
    pub fn insert(&self, key: SessionKey, session: Session) {
        let ip = framed_ip(&session);
        let user = session.user.clone();
        if let Some(old) = self.sessions.insert(key.clone(), session) {
            // An update (Interim-Update) seldom changes what is indexed.
            if old.user == user && framed_ip(&old) == ip {
                return;
            }
            self.unindex(&key, &old);
        } else {
            self.total.fetch_add(1, Ordering::Relaxed);
        }
        self.by_user.add(user, &key);
        if let Some(ip) = ip {
            self.by_ip.add(ip, &key);
        }
    }

    /// Removes a session, returning it.
    pub fn remove(&self, key: &SessionKey) -> Option<Session> {
        let (_, session) = self.sessions.remove(key)?;
        self.total.fetch_sub(1, Ordering::Relaxed);
        self.unindex(key, &session);
        Some(session)
    }

    fn unindex(&self, key: &SessionKey, session: &Session) {
        self.by_user.remove(&*session.user, key);
        if let Some(ip) = framed_ip(session) {
            self.by_ip.remove(&ip, key);
        }
    }

    /// Sessions of `user` and of everyone.
    pub fn counts(&self, user: &str) -> OnlineCounts {
        OnlineCounts {
            user: self.by_user.count(user) as u32,
            total: self.total.load(Ordering::Relaxed),
        }
    }

    /// Sessions with this framed IP address.
    pub fn with_ip(&self, ip: IpAddr) -> Vec<SessionKey> {
        self.by_ip.get(&ip)
    }

    /// Marks the oldest session of `user` not already marked to be ended with `cause`;
    /// returns its key. Of sessions started in the same second, the first recorded is the
    /// oldest.
    pub fn mark_oldest(&self, user: &str, cause: ECode) -> Option<SessionKey> {
        let keys = self.by_user.get(user);
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

    /// Changes a session in place; `change` must not touch what the indexes hold (user,
    /// framed IP, station).
    pub fn update(&self, key: &SessionKey, change: impl FnOnce(&mut Session)) {
        if let Some(mut s) = self.sessions.get_mut(key) {
            change(&mut s);
        }
    }
}

impl crate::auth::authenticator::Sessions for OnlineTable {
    fn counts(&self, user: &str) -> OnlineCounts {
        OnlineTable::counts(self, user)
    }

    fn push_out_oldest(&self, user: &str, cause: ECode) -> Option<(String, String)> {
        self.mark_oldest(user, cause)
            .map(|key| (key.nas.to_string(), key.id.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str) -> SessionKey {
        SessionKey::new("bras", id)
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
    fn indexes_by_nas_and_ip() {
        let t = OnlineTable::default();
        let mut s = session("alice", 1);
        s.record.framed_ip = Some("10.0.0.7".into());
        s.record.station = Some("AA-BB-CC-DD-EE-FF".into());
        t.insert(key("1"), s.clone());
        let ip = "10.0.0.7".parse().unwrap();
        assert_eq!(t.with_ip(ip), vec![key("1")]);
        // A new address replaces the old in the index.
        s.record.framed_ip = Some("10.0.0.8".into());
        t.insert(key("1"), s);
        assert!(t.with_ip(ip).is_empty());
        assert_eq!(t.remove_nas("bras"), 1);
        assert!(t.with_ip("10.0.0.8".parse().unwrap()).is_empty());
        assert!(t.is_empty());
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
