//! Policy changes on live sessions. When an operator changes what a user holds (products,
//! group) or a policy object that sessions run under (a product, its billing policy, or
//! the bandwidth or session timeout of a control policy), each affected online session
//! gets its new policy at once: a
//! CoA-Request (E4009) with the new bandwidth and Session-Timeout; on CoA-ACK the
//! session's part so far goes to the history with E3005 (billing policy changed) or
//! E3006 (control policy changed), and the rest is charged to the new product. A session
//! whose new product has no quota or money left is disconnected instead (E3001 / E3004),
//! one left with no product at all with E3002.

use std::sync::Arc;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

use super::kick::{KickMode, KickSource, Kicker};
use super::online::{Session, SessionKey};
use crate::billing::meter::Meter;
use crate::billing::standing;
use crate::catalog::Catalog;
use crate::clock;
use crate::codes::ECode;
use crate::directory::{Reloaded, UserEntry};
use crate::duty::Duty;

/// What a change means for one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replan {
    /// Nothing that governs the session changed.
    Same,
    /// Disconnect it, for this cause.
    End(ECode),
    /// Send the new policy; record the split with `cause`.
    Change {
        /// E3005 or E3006.
        cause: ECode,
        /// The product it is charged to from now on.
        product: String,
        /// Upload, bit/s.
        up_bps: u64,
        /// Download, bit/s.
        down_bps: u64,
        /// Time left, when limited.
        session_timeout: Option<u32>,
    },
}

/// A user as seen through a catalog: before or after a change.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    /// The user.
    pub user: &'a UserEntry,
    /// The catalog.
    pub catalog: &'a Catalog,
}

/// What changing `before` into `after` means for `session` (pure).
pub fn replan(
    before: View<'_>,
    after: View<'_>,
    session: &Session,
    sessions: u32,
    meter: &Meter,
    now: i64,
) -> Replan {
    let old_product = session
        .record
        .product
        .clone()
        .or_else(|| before.user.product(before.catalog));
    let still_held = |p: &String| {
        after.user.holdings.iter().any(|h| &h.product == p)
            || after.user.product(after.catalog).as_ref() == Some(p)
    };
    let new_product = match old_product.clone().filter(still_held) {
        Some(p) => p,
        None => match after.user.product(after.catalog) {
            Some(p) => p,
            None => return Replan::End(ECode::BillingPolicyMismatch),
        },
    };
    // What a session's NAS is told of its control policy (bandwidth, time limit): a
    // change elsewhere (session limit, windows, interim) applies from the next login.
    let control = |v: View<'_>, product: Option<&str>| {
        let name = v.user.control_policy(v.catalog, product)?;
        let c = v.catalog.control.get(name)?;
        Some((c.up_bps, c.down_bps, c.session_timeout_secs))
    };
    let billing = |v: View<'_>, product: Option<&str>| {
        let name = &v.catalog.products.get(product?)?.billing_policy;
        Some((name.clone(), v.catalog.billing.get(name)?.clone()))
    };
    let old_control = control(before, old_product.as_deref());
    let new_control = control(after, Some(&new_product));
    let old_billing = billing(before, old_product.as_deref());
    let new_billing = billing(after, Some(&new_product));
    let same_product = old_product.as_deref() == Some(new_product.as_str());
    if same_product && old_control == new_control && old_billing == new_billing {
        return Replan::Same;
    }
    let cause = if !same_product || old_billing != new_billing {
        ECode::BillingPolicyChangedOnline
    } else {
        ECode::ControlPolicyChangedOnline
    };
    let Some((_, policy)) = new_billing else {
        return Replan::End(ECode::BillingPolicyMismatch);
    };
    let Some((up_bps, down_bps, session_timeout_secs)) = new_control else {
        return Replan::End(ECode::ControlPolicyMismatch);
    };
    let standing = match standing::instance_shortfall(after.user, &new_product, &policy, meter, now)
    {
        Ok(s) => s,
        Err(shortfall) => return Replan::End(shortfall.session_code()),
    };
    // The time quota is shared by the user's sessions, as at login.
    let quota = standing
        .remaining
        .secs
        .map(|left| left / u64::from(sessions.max(1)));
    let policy_left = (session_timeout_secs > 0).then(|| {
        let elapsed = u64::try_from(now - session.started_at).unwrap_or(0);
        u64::from(session_timeout_secs).saturating_sub(elapsed)
    });
    let session_timeout = [quota, policy_left]
        .into_iter()
        .flatten()
        .min()
        .map(|t| u32::try_from(t).unwrap_or(u32::MAX));
    Replan::Change {
        cause,
        product: new_product,
        up_bps,
        down_bps,
        session_timeout,
    }
}

/// Most CoA and Disconnect requests under way at once for one change (a catalog edit
/// may touch every session online).
const CONCURRENT: usize = 64;

/// Applies every change of a user or of the catalog to the online sessions it governs,
/// until `shutdown`.
pub async fn follow(
    kicker: Arc<Kicker>,
    meter: Arc<Meter>,
    duty: Duty,
    mut changes: mpsc::UnboundedReceiver<Reloaded>,
    shutdown: CancellationToken,
) {
    loop {
        let change = tokio::select! {
            c = changes.recv() => match c { Some(c) => c, None => return },
            _ = shutdown.cancelled() => return,
        };
        let catalog = kicker.directory.catalog();
        let now = clock::now();
        // (session, its plan), for every session the change may touch.
        let mut plans = Vec::new();
        match change {
            Reloaded::User { name, before } => {
                let after = kicker.directory.user(&name);
                // An instance taken away (or its user deleted) took its stored usage along.
                for h in before.holdings.iter() {
                    let kept = after
                        .as_ref()
                        .is_some_and(|a| a.holdings.iter().any(|k| k.product == h.product));
                    if !kept {
                        meter.forget(&name, &h.product);
                    }
                }
                let Some(after) = after else {
                    continue;
                };
                let sessions = kicker.online.snapshot(Some(&name));
                let count = sessions.len() as u32;
                for (key, session) in sessions {
                    let old = View {
                        user: &before,
                        catalog: &catalog,
                    };
                    let new = View {
                        user: &after,
                        catalog: &catalog,
                    };
                    plans.push((key, replan(old, new, &session, count, &meter, now), session));
                }
            }
            Reloaded::Catalog { before } => {
                for (key, session) in kicker.online.snapshot(None) {
                    let Some(user) = kicker.directory.user(&session.user) else {
                        continue;
                    };
                    let count = kicker.online.counts(&session.user).user;
                    let old = View {
                        user: &user,
                        catalog: &before,
                    };
                    let new = View {
                        user: &user,
                        catalog: &catalog,
                    };
                    plans.push((key, replan(old, new, &session, count, &meter, now), session));
                }
            }
        }
        drop(catalog);
        // Every node forgets the usage of instances taken away; one pushes the change.
        if !duty.is_mine() {
            continue;
        }
        let limit = Arc::new(Semaphore::new(CONCURRENT));
        let mut running = tokio::task::JoinSet::new();
        for (key, plan, session) in plans {
            if plan == Replan::Same || session.pending_end.is_some() {
                continue;
            }
            let Ok(permit) = limit.clone().acquire_owned().await else {
                break;
            };
            let kicker = kicker.clone();
            running.spawn(async move {
                apply(&kicker, &key, plan).await;
                drop(permit);
            });
        }
        while running.join_next().await.is_some() {}
    }
}

async fn apply(kicker: &Kicker, key: &SessionKey, plan: Replan) {
    match plan {
        Replan::Same => {}
        Replan::End(cause) => {
            kicker
                .kick(key, KickMode::Dm, KickSource::Radius, Some(cause))
                .await;
        }
        Replan::Change {
            cause,
            product,
            up_bps,
            down_bps,
            session_timeout,
        } => match kicker.coa(key, up_bps, down_bps, session_timeout).await {
            Ok(()) => {
                let via = Some(ECode::CoaPolicySwitch);
                metrics::counter!("turnstile_policy_changes_total", "cause" => cause.to_string())
                    .increment(1);
                if let Err(e) = kicker
                    .journal
                    .split(key, cause, via, Some(product), clock::now())
                    .await
                {
                    tracing::warn!(nas = %key.nas, session = ?key.id, error = %e, "policy change not recorded");
                }
            }
            Err(why) => {
                tracing::warn!(nas = %key.nas, session = ?key.id, cause = %cause, why, "new policy not applied; the session keeps the old one until it ends");
            }
        },
    }
}
