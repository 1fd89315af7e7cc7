//! The sweeper: on a timer, looks at every online session and ends those the server must
//! end — pushed out by a newer login (E3008, by DM), silent for too many interim
//! intervals (heartbeat lost, E3101, locally: the NAS is not answering accounting), past
//! the control policy's session timeout (E3007, by DM) or idle for its idle timeout
//! (E3010, by DM), its product's quota used up (E3001, by DM) or its money run out
//! (E3004, by DM: balance, arrears or the consumption limit). Quota and money are
//! checked with the same rules as a login (`billing::standing`), so every session of a
//! product ends in the same pass, within one interim interval of the usage that crossed.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

use super::kick::{KickMode, KickSource, Kicker};
use super::online::{OnlineTable, SessionKey};
use crate::billing::meter::Meter;
use crate::billing::standing;
use crate::catalog::{Catalog, ControlPolicy};
use crate::clock;
use crate::codes::ECode;
use crate::config::SessionSettings;
use crate::directory::Directory;
use crate::duty::Duty;

/// A session the server must end, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// Which.
    pub key: SessionKey,
    /// Why (E3008, E3101, E3007, E3010, E3001, E3004).
    pub cause: ECode,
}

/// The control policy governing a session: the user's group override, else its product's.
pub fn control_of<'c>(
    catalog: &'c Catalog,
    directory: &Directory,
    user: &str,
    product: Option<&str>,
) -> Option<&'c ControlPolicy> {
    let name = match directory.user(user) {
        Some(entry) => entry.control_policy(catalog, product)?.to_string(),
        None => catalog.products.get(product?)?.control_policy.clone(),
    };
    catalog.control.get(&name)
}

/// Why the money or quota of `user`'s `product` no longer allows a session (E3001,
/// E3004), if it does not.
pub fn billing_end(
    catalog: &Catalog,
    directory: &Directory,
    meter: &Meter,
    user: &str,
    product: Option<&str>,
    now: i64,
) -> Option<ECode> {
    let entry = directory.user(user)?;
    if let Some(s) = standing::user_shortfall(&entry, catalog, meter, now) {
        return Some(s.session_code());
    }
    let product = product?;
    let policy = catalog
        .billing
        .get(&catalog.products.get(product)?.billing_policy)?;
    standing::instance_shortfall(&entry, product, policy, meter, now)
        .err()
        .map(|s| s.session_code())
}

/// Every session due to end at `now`, in one pass over the table; `control` names the
/// control policy of a user's session on a product, `billing` why its quota or money
/// ends it.
pub fn due<'c>(
    online: &OnlineTable,
    settings: &SessionSettings,
    now: i64,
    control: impl Fn(&str, Option<&str>) -> Option<&'c ControlPolicy>,
    billing: impl Fn(&str, Option<&str>) -> Option<ECode>,
) -> Vec<Due> {
    online.scan(|key, s| {
        let due = |cause| {
            Some(Due {
                key: key.clone(),
                cause,
            })
        };
        if let Some(cause) = s.pending_end {
            return due(cause);
        }
        let control = control(&s.user, s.record.product.as_deref())?;
        // No accounting feeds a portal session: neither heartbeat nor traffic applies.
        let fed = &*key.nas != super::PORTAL_NAS;
        let interim = match control.interim_secs {
            0 => settings.default_interim_secs,
            n => n,
        };
        let heartbeat = i64::from(interim) * i64::from(settings.heartbeat_intervals);
        if fed && heartbeat > 0 && now - s.record.updated_at > heartbeat {
            due(ECode::HeartbeatLost)
        } else if control.session_timeout_secs > 0
            && now - s.started_at > i64::from(control.session_timeout_secs)
        {
            due(ECode::Timeout)
        } else if fed
            && control.idle_timeout_secs > 0
            && now - s.traffic_at > i64::from(control.idle_timeout_secs)
        {
            due(ECode::NoTrafficTimeout)
        } else {
            billing(&s.user, s.record.product.as_deref()).and_then(due)
        }
    })
}

/// Runs the sweeper until `shutdown`.
pub async fn run(
    kicker: Arc<Kicker>,
    meter: Arc<Meter>,
    settings: SessionSettings,
    duty: Duty,
    shutdown: CancellationToken,
) {
    let mut tick =
        tokio::time::interval(Duration::from_millis(settings.sweep_interval_ms.max(100)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Sessions whose end is under way, so that a slow NAS is not asked twice.
    let busy: Arc<Mutex<HashSet<SessionKey>>> = Arc::default();
    let pass = metrics::histogram!("turnstile_sweep_seconds");
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        // In a cluster every node sees every session; one of them sweeps.
        if !duty.is_mine() {
            continue;
        }
        let started = Instant::now();
        let catalog = kicker.directory.catalog();
        let now = clock::now();
        let directory = &kicker.directory;
        let due = due(
            &kicker.online,
            &settings,
            now,
            |user, product| control_of(&catalog, directory, user, product),
            |user, product| billing_end(&catalog, directory, &meter, user, product, now),
        );
        drop(catalog);
        pass.record(started.elapsed().as_secs_f64());
        for d in due {
            if !busy
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(d.key.clone())
            {
                continue;
            }
            let (kicker, busy) = (kicker.clone(), busy.clone());
            tokio::spawn(async move {
                if d.cause == ECode::HeartbeatLost {
                    // The NAS stopped reporting: there is nobody to send a DM to.
                    if let Err(e) = kicker
                        .journal
                        .end(&d.key, d.cause, None, clock::now())
                        .await
                    {
                        tracing::warn!(error = %e, "heartbeat end not recorded");
                    }
                    tracing::info!(nas = %d.key.nas, session = ?d.key.id, cause = %d.cause, "session ended");
                } else {
                    kicker
                        .kick(&d.key, KickMode::Dm, KickSource::Radius, Some(d.cause))
                        .await;
                }
                busy.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&d.key);
            });
        }
    }
}
