//! A limit on login attempts per client address (brute force through the portal): at
//! most `per_minute` in any fixed minute; beyond it the portal answers
//! `speed_limit_error` at once, without looking at the credentials. The per-user E2533
//! lock is shared with RADIUS and works on top of this.

use dashmap::DashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);

/// Attempts per address in the current minute.
#[derive(Debug)]
pub struct LoginRate {
    per_minute: u32,
    windows: DashMap<IpAddr, (Instant, u32)>,
}

impl LoginRate {
    /// At most `per_minute` attempts per address; 0 turns the limit off.
    pub fn new(per_minute: u32) -> LoginRate {
        LoginRate {
            per_minute,
            windows: DashMap::new(),
        }
    }

    /// Counts an attempt from `ip`; false when it is over the limit.
    pub fn allow(&self, ip: IpAddr, now: Instant) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        let mut w = self.windows.entry(ip).or_insert((now, 0));
        if now.duration_since(w.0) >= WINDOW {
            *w = (now, 0);
        }
        w.1 += 1;
        w.1 <= self.per_minute
    }

    /// Forgets finished windows.
    pub fn prune(&self, now: Instant) {
        self.windows
            .retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_address_per_minute() {
        let r = LoginRate::new(3);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let t = Instant::now();
        assert!((0..3).all(|_| r.allow(a, t)));
        assert!(!r.allow(a, t + Duration::from_secs(59)));
        assert!(r.allow(b, t));
        assert!(r.allow(a, t + WINDOW));
        assert!((0..100).all(|_| LoginRate::new(0).allow(a, t)));
    }
}
