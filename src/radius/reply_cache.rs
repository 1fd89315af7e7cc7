//! The reply cache of RFC 5080 §2.2.2: a retransmitted request gets the reply already
//! sent, and a request still being worked on is not started twice.

use arc_swap::ArcSwap;
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

/// One generation of entries: everything registered since the last rotation.
#[derive(Debug, Default)]
struct Generation {
    slots: DashMap<RequestKey, Slot>,
    len: AtomicUsize,
}

impl Generation {
    fn remove(&self, key: &RequestKey) -> bool {
        let removed = self.slots.remove(key).is_some();
        if removed {
            self.len.fetch_sub(1, Ordering::Relaxed);
        }
        removed
    }
}

#[derive(Debug, Default)]
struct Generations {
    current: Arc<Generation>,
    previous: Arc<Generation>,
}

/// Replies by request, kept for a fixed lifetime and bounded in number.
///
/// Entries live in two generations that rotate once per lifetime: expiry drops a whole
/// generation instead of scanning entries under the locks the packet path takes.
#[derive(Debug)]
pub struct ReplyCache {
    generations: ArcSwap<Generations>,
    lifetime: Duration,
    capacity: usize,
}

impl ReplyCache {
    /// A cache with the lifetime and capacity of the `[radius]` settings.
    pub fn for_settings(radius: &crate::config::RadiusSettings) -> Self {
        Self::new(
            Duration::from_secs(radius.reply_cache_secs),
            radius.reply_cache_max_entries,
        )
    }

    /// A cache keeping replies for `lifetime`, at most `capacity` of them.
    pub fn new(lifetime: Duration, capacity: usize) -> Self {
        ReplyCache {
            generations: ArcSwap::default(),
            lifetime,
            capacity,
        }
    }

    fn fresh(&self, slot: &Slot, now: Instant) -> bool {
        now.saturating_duration_since(slot.since()) < self.lifetime
    }

    fn found(slot: &Slot) -> Lookup {
        match slot {
            Slot::InProgress(_) => Lookup::InProgress,
            Slot::Done(_, reply) => Lookup::Cached(reply.clone()),
        }
    }

    /// Registers a request, or finds it already registered.
    pub fn begin(&self, key: RequestKey, now: Instant) -> Lookup {
        let gens = self.generations.load();
        if let Some(slot) = gens.previous.slots.get(&key) {
            if self.fresh(&slot, now) {
                return Self::found(&slot);
            }
        }
        let lookup = match gens.current.slots.entry(key) {
            Entry::Occupied(mut e) => {
                if self.fresh(e.get(), now) {
                    return Self::found(e.get());
                }
                e.insert(Slot::InProgress(now));
                Lookup::New
            }
            Entry::Vacant(v) => {
                let len = gens.current.len.load(Ordering::Relaxed)
                    + gens.previous.len.load(Ordering::Relaxed);
                if len >= self.capacity {
                    return Lookup::Untracked;
                }
                v.insert(Slot::InProgress(now));
                gens.current.len.fetch_add(1, Ordering::Relaxed);
                Lookup::New
            }
        };
        lookup
    }

    /// Stores the reply of a request registered by `begin`.
    pub fn complete(&self, key: &RequestKey, reply: Arc<[u8]>, now: Instant) {
        let gens = self.generations.load();
        let slot = gens
            .current
            .slots
            .get_mut(key)
            .or_else(|| gens.previous.slots.get_mut(key));
        if let Some(mut slot) = slot {
            *slot = Slot::Done(now, reply);
        }
    }

    /// Forgets a request that was dropped unanswered, so a corrected retransmission is
    /// processed.
    pub fn abandon(&self, key: &RequestKey) {
        let gens = self.generations.load();
        if !gens.current.remove(key) {
            gens.previous.remove(key);
        }
    }

    /// Starts a new generation, letting the oldest go. Call once per lifetime; returns
    /// the dropped generation so the caller can free it off the packet path.
    pub fn rotate(&self) -> impl Send + 'static {
        let next = Generations {
            current: Arc::default(),
            previous: self.generations.load().current.clone(),
        };
        self.generations.swap(Arc::new(next))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        let gens = self.generations.load();
        gens.current.len.load(Ordering::Relaxed) + gens.previous.len.load(Ordering::Relaxed)
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How long entries are kept.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
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
        assert_eq!(
            c.begin(key(1, 1), t0),
            Lookup::Cached(Arc::from(&b"reply"[..]))
        );
        // Same identifier, new authenticator: a new request.
        assert_eq!(c.begin(key(1, 2), t0), Lookup::New);
        // Expired: processed again.
        let later = t0 + Duration::from_secs(6);
        assert_eq!(c.begin(key(1, 1), later), Lookup::New);
    }

    #[test]
    fn entries_survive_one_rotation_and_go_with_the_second() {
        let c = ReplyCache::new(Duration::from_secs(5), 10);
        let t0 = Instant::now();
        assert_eq!(c.begin(key(1, 1), t0), Lookup::New);
        drop(c.rotate());
        // Still in progress in the previous generation: completed there.
        assert_eq!(c.begin(key(1, 1), t0), Lookup::InProgress);
        c.complete(&key(1, 1), Arc::from(&b"r"[..]), t0);
        assert_eq!(c.begin(key(1, 1), t0), Lookup::Cached(Arc::from(&b"r"[..])));
        assert_eq!(c.len(), 1);
        drop(c.rotate());
        assert_eq!(c.len(), 0);
        assert_eq!(c.begin(key(1, 1), t0), Lookup::New);
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
