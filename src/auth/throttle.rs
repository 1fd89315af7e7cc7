//! Per-user memory of recent logins: when the last one was accepted (for E2532) and the
//! wrong passwords of the lockout window (for E2533). Locks are handed back to the caller
//! to be stored, so they survive a restart; the rest is memory only.

use arc_swap::{ArcSwap, Guard};
use dashmap::DashMap;
use std::sync::Arc;

use super::policy::History;
use crate::codes::ECode;
use crate::config::PolicySettings;

#[derive(Debug, Default)]
struct Record {
    last_accept: Option<i64>,
    locked_until: Option<i64>,
    /// Unix seconds of recent wrong passwords, oldest first.
    failures: Vec<i64>,
}

/// Recent login history of every user who logged in lately.
#[derive(Debug)]
pub struct Throttle {
    limits: ArcSwap<PolicySettings>,
    users: DashMap<Box<str>, Record>,
}

impl Throttle {
    /// An empty history under these thresholds.
    pub fn new(limits: PolicySettings) -> Throttle {
        Throttle {
            limits: ArcSwap::from_pointee(limits),
            users: DashMap::new(),
        }
    }

    /// The thresholds.
    pub fn limits(&self) -> Guard<Arc<PolicySettings>> {
        self.limits.load()
    }

    /// New thresholds (a configuration reload); the history stays.
    pub fn set_limits(&self, limits: PolicySettings) {
        self.limits.store(Arc::new(limits));
    }

    /// What the decision needs to know about `user`.
    pub fn history(&self, user: &str) -> History {
        self.users
            .get(user)
            .map_or_else(History::default, |r| History {
                last_accept: r.last_accept,
                locked_until: r.locked_until,
            })
    }

    /// Takes note of a decision for an existing user. Returns the end of a lock that this
    /// wrong password started, which the caller must store.
    pub fn record(&self, user: &str, code: ECode, now: i64) -> Option<i64> {
        let l = self.limits.load();
        match code {
            ECode::LoginSuccess => {
                if l.min_auth_interval_secs > 0 {
                    let mut r = self.users.entry(user.into()).or_default();
                    r.last_accept = Some(now);
                    r.failures.clear();
                } else if let Some(mut r) = self.users.get_mut(user) {
                    r.failures.clear();
                }
                None
            }
            ECode::WrongPassword if l.lockout_failures > 0 => {
                let mut r = self.users.entry(user.into()).or_default();
                let window_start = now - i64::from(l.lockout_window_secs);
                r.failures.retain(|&t| t > window_start);
                r.failures.push(now);
                if r.failures.len() < l.lockout_failures as usize {
                    return None;
                }
                r.failures.clear();
                let until = now + i64::from(l.lockout_secs);
                r.locked_until = Some(until);
                Some(until)
            }
            _ => None,
        }
    }

    /// Restores a stored lock (at start-up).
    pub fn restore_lock(&self, user: &str, until: i64) {
        self.users.entry(user.into()).or_default().locked_until = Some(until);
    }

    /// Forgets what no longer matters at `now`, so memory follows recent activity only.
    pub fn prune(&self, now: i64) {
        let l = self.limits.load();
        let interval_start = now - i64::from(l.min_auth_interval_secs);
        let window_start = now - i64::from(l.lockout_window_secs);
        self.users.retain(|_, r| {
            r.failures.retain(|&t| t > window_start);
            r.last_accept = r.last_accept.filter(|&t| t > interval_start);
            r.locked_until = r.locked_until.filter(|&t| t > now);
            r.last_accept.is_some() || r.locked_until.is_some() || !r.failures.is_empty()
        });
    }

    /// Users remembered.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// True when no user is remembered.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> Throttle {
        Throttle::new(PolicySettings::default())
    }

    #[test]
    fn five_wrong_passwords_in_the_window_lock() {
        let t = throttle();
        for i in 0..4 {
            assert_eq!(t.record("a", ECode::WrongPassword, 1000 + i), None);
        }
        assert_eq!(t.record("a", ECode::WrongPassword, 1004), Some(1304));
        assert_eq!(t.history("a").locked_until, Some(1304));
        assert_eq!(t.history("b"), History::default());
    }

    #[test]
    fn failures_outside_the_window_do_not_count() {
        let t = throttle();
        for i in 0..4 {
            t.record("a", ECode::WrongPassword, 1000 + i);
        }
        assert_eq!(t.record("a", ECode::WrongPassword, 1000 + 301), None);
    }

    #[test]
    fn success_resets_failures_and_starts_the_interval() {
        let t = throttle();
        for i in 0..4 {
            t.record("a", ECode::WrongPassword, 1000 + i);
        }
        t.record("a", ECode::LoginSuccess, 1010);
        assert_eq!(t.history("a").last_accept, Some(1010));
        assert_eq!(t.record("a", ECode::WrongPassword, 1011), None);
        // Other refusals are not remembered.
        t.record("c", ECode::UserDisabled, 1010);
        assert_eq!(t.history("c"), History::default());
    }

    #[test]
    fn zero_turns_checks_off() {
        let t = Throttle::new(PolicySettings {
            min_auth_interval_secs: 0,
            lockout_failures: 0,
            ..PolicySettings::default()
        });
        for i in 0..10 {
            assert_eq!(t.record("a", ECode::WrongPassword, 1000 + i), None);
        }
        t.record("a", ECode::LoginSuccess, 1000);
        assert!(t.is_empty());
    }

    #[test]
    fn prune_keeps_only_what_matters() {
        let t = throttle();
        t.record("old", ECode::LoginSuccess, 1000);
        t.record("new", ECode::LoginSuccess, 1995);
        t.restore_lock("locked", 2100);
        t.prune(2000);
        assert_eq!(t.len(), 2);
        assert_eq!(t.history("old"), History::default());
    }
}
