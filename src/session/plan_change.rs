//! Policy changes on live sessions. When an operator changes what a user holds (products,
//! group), each of the user's online sessions gets its new policy at once: a CoA-Request
//! (E4009) with the new bandwidth and Session-Timeout; on CoA-ACK the session's part so
//! far goes to the history with E3005 (billing policy changed) or E3006 (control policy
//! changed), and the rest is charged to the new product. A session whose new product has
//! no quota or money left is disconnected instead (E3001 / E3004), and one left with no
//! product at all with E3002.

use std::sync::Arc;
use tokio::sync::{mpsc, watch};

use super::kick::{KickMode, KickSource, Kicker};
use super::online::{Session, SessionKey};
use crate::billing::meter::Meter;
use crate::billing::standing;
use crate::catalog::Catalog;
use crate::codes::ECode;
use crate::directory::{UserEntry, UserReloaded};
use crate::store::unix_now;

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

/// What changing `before` into `after` means for `session` (pure).
pub fn replan(
    before: &UserEntry,
    after: &UserEntry,
    session: &Session,
    sessions: u32,
    catalog: &Catalog,
    meter: &Meter,
    now: i64,
) -> Replan {
    let old_product = session
        .record
        .product
        .clone()
        .or_else(|| before.product(catalog));
    let still_held = |p: &String| after.holdings.iter().any(|h| &h.product == p);
    let new_product = match old_product.clone().filter(still_held) {
        Some(p) => p,
        None => match after.product(catalog) {
            Some(p) => p,
            None => return Replan::End(ECode::BillingPolicyMismatch),
        },
    };
    let old_control = before.control_policy(catalog, old_product.as_deref());
    let new_control = after.control_policy(catalog, Some(&new_product));
    let billing_of = |p: Option<&str>| Some(catalog.products.get(p?)?.billing_policy.as_str());
    let old_billing = billing_of(old_product.as_deref());
    let new_billing = billing_of(Some(&new_product));
    if old_product.as_deref() == Some(new_product.as_str()) && old_control == new_control {
        return Replan::Same;
    }
    let cause = if old_billing != new_billing || old_product.as_deref() != Some(&new_product) {
        ECode::BillingPolicyChangedOnline
    } else {
        ECode::ControlPolicyChangedOnline
    };
    let Some(policy) = new_billing.and_then(|b| catalog.billing.get(b)) else {
        return Replan::End(ECode::BillingPolicyMismatch);
    };
    let Some(control) = new_control.and_then(|c| catalog.control.get(c)) else {
        return Replan::End(ECode::ControlPolicyMismatch);
    };
    let standing = match standing::instance_shortfall(after, &new_product, policy, meter, now) {
        Ok(s) => s,
        Err(shortfall) => return Replan::End(shortfall.session_code()),
    };
    // The time quota is shared by the user's sessions, as at login.
    let quota = standing
        .remaining
        .secs
        .map(|left| left / u64::from(sessions.max(1)));
    let policy_left = (control.session_timeout_secs > 0).then(|| {
        let elapsed = u64::try_from(now - session.started_at).unwrap_or(0);
        u64::from(control.session_timeout_secs).saturating_sub(elapsed)
    });
    let session_timeout = [quota, policy_left]
        .into_iter()
        .flatten()
        .min()
        .map(|t| u32::try_from(t).unwrap_or(u32::MAX));
    Replan::Change {
        cause,
        product: new_product,
        up_bps: control.up_bps,
        down_bps: control.down_bps,
        session_timeout,
    }
}

/// Applies the policy of every changed user to its online sessions until `shutdown`.
pub async fn follow(
    kicker: Arc<Kicker>,
    meter: Arc<Meter>,
    mut changes: mpsc::UnboundedReceiver<UserReloaded>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let change = tokio::select! {
            c = changes.recv() => match c { Some(c) => c, None => return },
            _ = shutdown.changed() => return,
        };
        let after = kicker.directory.user(&change.name);
        // An instance taken away (or its user deleted) took its stored usage with it.
        for h in change.before.holdings.iter() {
            let kept = after
                .as_ref()
                .is_some_and(|a| a.holdings.iter().any(|k| k.product == h.product));
            if !kept {
                meter.forget(&change.name, &h.product);
            }
        }
        let Some(after) = after else {
            continue;
        };
        let sessions = kicker.online.snapshot(Some(&change.name));
        if sessions.is_empty() {
            continue;
        }
        let count = sessions.len() as u32;
        for (key, session) in sessions {
            if session.pending_end.is_some() {
                continue;
            }
            let plan = {
                let catalog = kicker.directory.catalog();
                replan(
                    &change.before,
                    &after,
                    &session,
                    count,
                    &catalog,
                    &meter,
                    unix_now(),
                )
            };
            apply(&kicker, &key, plan).await;
        }
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
                    .tracker
                    .split(key, cause, via, Some(product), unix_now())
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
