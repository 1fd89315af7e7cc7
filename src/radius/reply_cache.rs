//! The reply cache of RFC 5080 §2.2.2: a retransmitted request gets the reply already
//! sent, and a request still being worked on is not started twice.

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What identifies a request: source, identifier and request authenticator. A reused
/// identifier with a new authenticator is a new request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestKey {
    /// Source address and port.
    pub source: SocketAddr,
    /// Packet identifier.
    pub identifier: u8,
    /// Request authenticator.
    pub authenticator: [u8; 16],
}

#[derive(Debug)]
enum Slot {
    InProgress(Instant),
    Done(Instant, Arc<[u8]>),
}

impl Slot {
    fn since(&self) -> Instant {
        match self {
            Slot::InProgress(t) | Slot::Done(t, _) => *t,
        }
    }
}

/// What [`ReplyCache::begin`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    /// A new request: process it, then call `complete` or `abandon`.
    New,
    /// The same request is being processed: drop this copy.
    InProgress,
    /// Already answered: send this reply again.
    Cached(Arc<[u8]>),
    /// The cache is full: process without deduplication.
    Untracked,
}

/// Replies by request, kept for a fixed lifetime and bounded in number.
#[derive(Debug)]
pub struct ReplyCache {
    slots: DashMap<RequestKey, Slot>,
    lifetime: Duration,
    capacity: usize,
    len: AtomicUsize,
}

impl ReplyCache {
    /// A cache keeping replies for `lifetime`, at most `capacity` of them.
    pub fn new(lifetime: Duration, capacity: usize) -> Self {
        ReplyCache {
            slots: DashMap::new(),
            lifetime,
            capacity,
            len: AtomicUsize::new(0),
        }
    }

    /// Registers a request, or finds it already registered.
    pub fn begin(&self, key: RequestKey, now: Instant) -> Lookup {
        match self.slots.entry(key) {
            Entry::Occupied(mut e) => {
                if now.duration_since(e.get().since()) >= self.lifetime {
                    e.insert(Slot::InProgress(now));
                    return Lookup::New;
                }
                match e.get() {
                    Slot::InProgress(_) => Lookup::InProgress,
                    Slot::Done(_, reply) => Lookup::Cached(reply.clone()),
                }
            }
            Entry::Vacant(v) => {
                if self.len.load(Ordering::Relaxed) >= self.capacity {
                    return Lookup::Untracked;
                }
                v.insert(Slot::InProgress(now));
                self.len.fetch_add(1, Ordering::Relaxed);
                Lookup::New
            }
        }
    }

    /// Stores the reply of a request registered by `begin`.
    pub fn complete(&self, key: &RequestKey, reply: Arc<[u8]>, now: Instant) {
        if let Some(mut slot) = self.slots.get_mut(key) {
            *slot = Slot::Done(now, reply);
        }
    }

    /// Forgets a request that was dropped unanswered, so a corrected retransmission is
    /// processed.
    pub fn abandon(&self, key: &RequestKey) {
        if self.slots.remove(key).is_some() {
            self.len.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Removes entries older than the lifetime; returns how many remain.
    pub fn purge(&self, now: Instant) -> usize {
        let mut removed = 0;
        self.slots.retain(|_, slot| {
            let keep = now.duration_since(slot.since()) < self.lifetime;
            removed += usize::from(!keep);
            keep
        });
        self.len.fetch_sub(removed, Ordering::Relaxed) - removed
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: u8, auth: u8) -> RequestKey {
        RequestKey {
            source: "127.0.0.1:5000".parse().unwrap(),
            identifier: id,
            authenticator: [auth; 16],
        }
    }

    #[test]
    fn lifecycle() {
        let c = ReplyCache::new(Duration::from_secs(5), 10);
        let t0 = Instant::now();
        assert_eq!(c.begin(key(1, 1), t0), Lookup::New);
        assert_eq!(c.begin(key(1, 1), t0), Lookup::InProgress);
        c.complete(&key(1, 1), Arc::from(&b"reply"[..]), t0);
        assert_eq!(c.begin(key(1, 1), t0), Lookup::Cached(Arc::from(&b"reply"[..])));
        // Same identifier, new authenticator: a new request.
        assert_eq!(c.begin(key(1, 2), t0), Lookup::New);
        // Expired: processed again.
        let later = t0 + Duration::from_secs(6);
        assert_eq!(c.begin(key(1, 1), later), Lookup::New);
        assert_eq!(c.purge(later + Duration::from_secs(6)), 0);
    }

    #[test]
    fn bounded_and_abandon_frees_space() {
        let c = ReplyCache::new(Duration::from_secs(5), 2);
        let t = Instant::now();
        assert_eq!(c.begin(key(1, 1), t), Lookup::New);
        assert_eq!(c.begin(key(2, 1), t), Lookup::New);
        assert_eq!(c.begin(key(3, 1), t), Lookup::Untracked);
        c.abandon(&key(2, 1));
        assert_eq!(c.begin(key(3, 1), t), Lookup::New);
        assert_eq!(c.len(), 2);
    }
}
