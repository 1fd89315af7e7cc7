//! One login at a time per address. A login checks that its address is not online, may
//! wait for the NAS to confirm an activation, and only then records the session; two
//! logins from one address in that window (a double click, a script retrying) would
//! both pass the check. Holding the address's lock across the whole login makes the
//! second wait and then see the first one's session (`ip_already_online_error`), or,
//! if the first failed, log in itself.

use dashmap::DashMap;
use std::net::IpAddr;
use std::sync::Arc;
use tokio::sync::{Mutex, OwnedMutexGuard};

/// A lock per address, kept only while some login holds or awaits it.
#[derive(Debug, Default)]
pub struct AddressLocks {
    locks: DashMap<IpAddr, Arc<Mutex<()>>>,
}

/// An address held by one login; released (and forgotten when nobody waits) on drop.
pub struct AddressGuard<'a> {
    owner: &'a AddressLocks,
    ip: IpAddr,
    guard: Option<OwnedMutexGuard<()>>,
}

impl AddressLocks {
    /// Waits until no other login holds `ip`, then holds it.
    pub async fn hold(&self, ip: IpAddr) -> AddressGuard<'_> {
        let lock = self.locks.entry(ip).or_default().clone();
        AddressGuard {
            owner: self,
            ip,
            guard: Some(lock.lock_owned().await),
        }
    }

    /// How many addresses are held or awaited.
    pub fn len(&self) -> usize {
        self.locks.len()
    }

    /// True when no address is held.
    pub fn is_empty(&self) -> bool {
        self.locks.is_empty()
    }
}

impl Drop for AddressGuard<'_> {
    fn drop(&mut self) {
        drop(self.guard.take());
        // Under the shard's lock nobody can clone the entry, so a count of one (the map's
        // own) means no login holds or awaits this address.
        self.owner
            .locks
            .remove_if(&self.ip, |_, lock| Arc::strong_count(lock) == 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn second_login_waits_for_the_first() {
        let locks = Arc::new(AddressLocks::default());
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let first = locks.hold(a).await;
        // Another address is not held up.
        drop(locks.hold("10.0.0.2".parse().unwrap()).await);
        let waiter = {
            let locks = locks.clone();
            tokio::spawn(async move {
                let _held = locks.hold(a).await;
            })
        };
        // The waiter cannot finish while the first login holds the address.
        let blocked = tokio::time::timeout(Duration::from_millis(100), async {
            while !waiter.is_finished() {
                tokio::task::yield_now().await;
            }
        })
        .await;
        assert!(blocked.is_err());
        assert_eq!(locks.len(), 1);
        drop(first);
        waiter.await.unwrap();
        assert!(locks.is_empty(), "released addresses are forgotten");
    }
}
