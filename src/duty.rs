//! The once-only duty of a cluster: settlement, the sweeper and policy-change pushes run
//! on one node at a time, the one holding the `duties` lease ([`crate::store::lease`]).
//! The holder renews it every quarter of its length; when it dies, another node takes it
//! once it expires. A lone node (SQLite) holds it from its first moment.

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::store::Store;

/// The lease's name in the store.
const LEASE: &str = "duties";

/// Whether this node does the once-only work now.
#[derive(Clone)]
pub struct Duty {
    held: watch::Receiver<bool>,
}

impl Duty {
    /// True while this node holds the lease.
    pub fn is_mine(&self) -> bool {
        *self.held.borrow()
    }

    /// Waits until this node takes the lease over from another (or after losing it).
    pub async fn taken_over(&mut self) {
        if self.held.wait_for(|held| !*held).await.is_err() {
            return std::future::pending().await;
        }
        if self.held.wait_for(|held| *held).await.is_err() {
            std::future::pending().await
        }
    }
}

/// Holds the lease for `holder` (stable across restarts of the same node, so a restarted
/// node takes its own lease back at once) with `length`, until `shutdown`, then gives it
/// up. The first attempt is made before this returns; the renewals are the returned
/// future's work, for the caller to run.
pub async fn hold(
    store: Arc<dyn Store>,
    holder: String,
    length: Duration,
    shutdown: CancellationToken,
) -> (Duty, impl std::future::Future<Output = ()> + Send) {
    let secs = i64::try_from(length.as_secs()).unwrap_or(i64::MAX).max(1);
    let (mine, mut valid_until) = attempt(&*store, &holder, secs, 0).await;
    let (set, held) = watch::channel(mine);
    announce(mine, &holder);
    let renew = async move {
        let mut tick = tokio::time::interval(length / 4);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.cancelled() => break,
            }
            let (mine, until) = attempt(&*store, &holder, secs, valid_until).await;
            valid_until = until;
            if set.send_replace(mine) != mine {
                announce(mine, &holder);
            }
        }
        if *set.borrow() {
            if let Err(e) = store.release_lease(LEASE, &holder).await {
                tracing::warn!(error = %e, "the duties lease was not given up; it expires");
            }
        }
    };
    (Duty { held }, renew)
}

/// Takes or renews the lease for `secs`; whether this node holds it, and until when it
/// surely does. A failing store keeps the lease only until what was `valid_until`: past
/// that, another node may have taken it.
async fn attempt(store: &dyn Store, holder: &str, secs: i64, valid_until: i64) -> (bool, i64) {
    let now = crate::clock::now();
    match store.hold_lease(LEASE, holder, now + secs, now).await {
        Ok(true) => (true, now + secs),
        Ok(false) => (false, 0),
        Err(e) => {
            tracing::warn!(error = %e, "the duties lease cannot be renewed");
            (now < valid_until, valid_until)
        }
    }
}

fn announce(mine: bool, holder: &str) {
    metrics::gauge!("turnstile_duties_held").set(if mine { 1.0 } else { 0.0 });
    if mine {
        tracing::info!(node = %holder, "this node does the once-only work (settlement, sweeper, policy changes)");
    } else {
        tracing::info!(node = %holder, "another node does the once-only work");
    }
}
