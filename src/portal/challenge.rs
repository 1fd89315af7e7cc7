//! Login challenges: 64 hex characters per client address, valid for 60 s (by default)
//! and good for one login. Asking again while one is valid returns the same challenge with what is left of
//! its life, as real portals do.
//!
//! The address is the one the client names (`ip=`, for clients behind a NAT), so one
//! client could ask for any number of them: at most [`MAX_LIVE`] are kept.

use dashmap::DashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Most live challenges (about 150 bytes each); more than a campus logs in within a
/// challenge's life.
pub const MAX_LIVE: usize = 100_000;

/// Challenges by client address.
#[derive(Debug)]
pub struct Challenges {
    live: DashMap<IpAddr, (String, Instant)>,
    lifetime: Duration,
}

impl Challenges {
    /// No challenges yet; each will be valid for `lifetime`.
    pub fn new(lifetime: Duration) -> Challenges {
        Challenges {
            live: DashMap::new(),
            lifetime,
        }
    }

    /// How long a challenge is valid.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// The challenge for `ip` and its remaining seconds, issuing a new one if needed;
    /// None when [`MAX_LIVE`] others are live.
    pub fn issue(&self, ip: IpAddr, now: Instant) -> Option<(String, u64)> {
        if self.live.len() >= MAX_LIVE && !self.live.contains_key(&ip) {
            self.prune(now);
            if self.live.len() >= MAX_LIVE {
                return None;
            }
        }
        let mut entry = self.live.entry(ip).or_insert_with(|| (fresh(), now));
        if now.duration_since(entry.1) >= self.lifetime {
            *entry = (fresh(), now);
        }
        let left = self.lifetime.saturating_sub(now.duration_since(entry.1));
        // Whole seconds, rounded up: a challenge issued this instant has 60.
        let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        Some((entry.0.clone(), secs.max(1)))
    }

    /// Takes the live challenge of `ip`, if any: a challenge serves one login.
    pub fn take(&self, ip: IpAddr, now: Instant) -> Option<String> {
        let (_, (challenge, issued)) = self.live.remove(&ip)?;
        (now.duration_since(issued) < self.lifetime).then_some(challenge)
    }

    /// Forgets expired challenges.
    pub fn prune(&self, now: Instant) {
        self.live
            .retain(|_, (_, issued)| now.duration_since(*issued) < self.lifetime);
    }
}

fn fresh() -> String {
    (0..32)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_login_per_challenge_and_sixty_seconds() {
        let c = Challenges::new(Duration::from_secs(60));
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        let (a, left) = c.issue(ip, t0).unwrap();
        assert_eq!(a.len(), 64);
        assert_eq!(left, 60);
        // Asked again: the same one, with what is left.
        let (b, left) = c.issue(ip, t0 + Duration::from_secs(22)).unwrap();
        assert_eq!((b.as_str(), left), (a.as_str(), 38));
        assert_eq!(c.take(ip, t0 + Duration::from_secs(30)), Some(a.clone()));
        assert_eq!(c.take(ip, t0 + Duration::from_secs(31)), None);
        let (d, _) = c.issue(ip, t0).unwrap();
        assert_ne!(d, a);
        assert_eq!(c.take(ip, t0 + c.lifetime()), None);
    }

    #[test]
    fn live_challenges_are_bounded() {
        let c = Challenges::new(Duration::from_secs(60));
        let t0 = Instant::now();
        let ip = |n: usize| IpAddr::from((n as u128).to_be_bytes());
        for n in 0..MAX_LIVE {
            assert!(c.issue(ip(n), t0).is_some());
        }
        assert_eq!(c.issue(ip(MAX_LIVE), t0), None);
        // A live one is still given to its address; expired ones make room.
        assert!(c.issue(ip(7), t0).is_some());
        assert!(c.issue(ip(MAX_LIVE), t0 + c.lifetime()).is_some());
        assert_eq!(c.live.len(), 1);
    }
}
