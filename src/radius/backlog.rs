//! Whether authentication is falling behind, so that accounting yields the CPUs to it.
//!
//! A login has a user waiting for it; an accounting record is retransmitted by its NAS
//! until it is answered, and loses nothing by waiting. So when the authentication
//! sockets' kernel queues fill up (or overflow), the accounting listener reads at most
//! `[radius] overload_accounting_per_sec` requests a second until they drain. What it
//! leaves waits in its own socket's buffer; beyond that the kernel drops it and the NAS
//! sends it again.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::udp_socket::SocketStats;

/// The authentication backlog, as last sampled from the kernel.
#[derive(Debug)]
pub struct AuthBacklog {
    behind: AtomicBool,
    drops: AtomicU64,
    /// Queued bytes from which authentication is behind.
    high: u64,
    /// Queued bytes under which it has caught up again.
    low: u64,
}

impl AuthBacklog {
    /// A backlog over sockets whose receive buffers hold `capacity` bytes in all: behind
    /// from an eighth of it, caught up under a thirty-second (so it does not flap).
    pub fn new(capacity: u64) -> AuthBacklog {
        AuthBacklog {
            behind: AtomicBool::new(false),
            drops: AtomicU64::new(0),
            high: (capacity / 8).max(1),
            low: capacity / 32,
        }
    }

    /// True while authentication is behind: accounting then yields.
    pub fn is_behind(&self) -> bool {
        self.behind.load(Ordering::Relaxed)
    }

    /// Takes a new sample of the sockets; returns the state when it changed.
    pub fn observe(&self, stats: &SocketStats) -> Option<bool> {
        let overflowed = self.drops.swap(stats.drops, Ordering::Relaxed) < stats.drops;
        let was = self.is_behind();
        let behind = if was {
            overflowed || stats.queued_bytes >= self.low
        } else {
            overflowed || stats.queued_bytes >= self.high
        };
        self.behind.store(behind, Ordering::Relaxed);
        (behind != was).then_some(behind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(queued_bytes: u64, drops: u64) -> SocketStats {
        SocketStats {
            queued_bytes,
            drops,
        }
    }

    #[test]
    fn behind_from_a_full_queue_or_drops_until_the_queue_drains() {
        let b = AuthBacklog::new(32_000);
        assert_eq!(b.observe(&sample(3_000, 0)), None);
        assert_eq!(b.observe(&sample(4_000, 0)), Some(true));
        assert!(b.is_behind());
        // Still behind above a thirty-second of the capacity.
        assert_eq!(b.observe(&sample(1_500, 0)), None);
        assert_eq!(b.observe(&sample(900, 0)), Some(false));
        // New drops mean behind whatever the queue; old ones do not.
        assert_eq!(b.observe(&sample(0, 5)), Some(true));
        assert_eq!(b.observe(&sample(0, 5)), Some(false));
        assert!(!b.is_behind());
    }
}
