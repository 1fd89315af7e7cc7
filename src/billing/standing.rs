//! Where a user stands on a product: what is left of its quota, what its usage has cost
//! this cycle and whether the money holds. The policy asks at login (E2616, E2617); the
//! sweeper asks for every online session (E3001, E3004). One answer for both, so a
//! session is ended for exactly what would refuse a new login.

use super::meter::Meter;
use super::rating::{self, Charge, Extra, Remaining};
use crate::account::Holding;
use crate::catalog::{BillingPolicy, Catalog};
use crate::codes::ECode;
use crate::directory::UserEntry;

/// Why a user may not (or no longer) use a product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shortfall {
    /// The wallet or the instance's balance is below zero.
    Arrears,
    /// Included time or traffic with no price beyond is used up.
    QuotaUsedUp,
    /// This cycle's usage charge has reached what the balance and the wallet hold.
    OutOfFunds,
    /// This cycle's spending reached the user's consumption limit.
    CapReached,
}

impl Shortfall {
    /// The refusal of a new login.
    pub fn login_code(self) -> ECode {
        match self {
            Shortfall::Arrears | Shortfall::OutOfFunds => ECode::Arrearage,
            Shortfall::QuotaUsedUp | Shortfall::CapReached => ECode::ConsumptionLimitReached,
        }
    }

    /// Why an online session is ended.
    pub fn session_code(self) -> ECode {
        match self {
            Shortfall::QuotaUsedUp => ECode::QuotaUsedUp,
            Shortfall::Arrears | Shortfall::OutOfFunds | Shortfall::CapReached => {
                ECode::InsufficientBalance
            }
        }
    }
}

/// A user's standing on one product in the current cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// What is left of the hard caps.
    pub remaining: Remaining,
    /// What the cycle costs so far.
    pub charge: Charge,
    /// What can pay: the instance's balance and the wallet, where above zero.
    pub funds_fen: i64,
}

/// The instance of `product` that `user` holds, if any.
pub fn holding<'a>(user: &'a UserEntry, product: &str) -> Option<&'a Holding> {
    user.holdings.iter().find(|h| h.product == product)
}

/// `user`'s standing on `product` (billed by `policy`) at `now`.
pub fn standing(
    user: &UserEntry,
    product: &str,
    policy: &BillingPolicy,
    meter: &Meter,
    now: i64,
) -> Standing {
    let usage = meter.usage(&user.name, product);
    let held = holding(user, product);
    let extra = held.map_or(Extra::default(), |h| {
        let (secs, bytes) = h.extra_during(h.cycle_start.min(now), now.saturating_add(1));
        Extra { secs, bytes }
    });
    let balance = held.map_or(0, |h| h.balance_fen);
    Standing {
        remaining: rating::remaining(policy, &usage, extra),
        charge: rating::charge(policy, &usage, extra),
        funds_fen: balance
            .max(0)
            .saturating_add(user.profile.balance_fen.max(0)),
    }
}

/// What `user`'s usage has cost this cycle, over every product held (the consumption
/// limit's measure; fixed fees are charged at settlement and not counted).
pub fn spent_fen(user: &UserEntry, catalog: &Catalog, meter: &Meter, now: i64) -> i64 {
    user.holdings
        .iter()
        .filter_map(|h| {
            let product = catalog.products.get(&h.product)?;
            let policy = catalog.billing.get(&product.billing_policy)?;
            Some(
                standing(user, &h.product, policy, meter, now)
                    .charge
                    .usage_fen,
            )
        })
        .fold(0i64, i64::saturating_add)
}

/// What stops `user` whatever the product: a wallet below zero, or the consumption
/// limit reached.
pub fn user_shortfall(
    user: &UserEntry,
    catalog: &Catalog,
    meter: &Meter,
    now: i64,
) -> Option<Shortfall> {
    if user.profile.balance_fen < 0 {
        return Some(Shortfall::Arrears);
    }
    let limit = user.profile.consumption_limit_fen?;
    (spent_fen(user, catalog, meter, now) >= limit).then_some(Shortfall::CapReached)
}

/// Whether `user` may use `product` (billed by `policy`) now: its instance not in
/// arrears, its quota not used up, its usage charge within what can pay.
pub fn instance_shortfall(
    user: &UserEntry,
    product: &str,
    policy: &BillingPolicy,
    meter: &Meter,
    now: i64,
) -> Result<Standing, Shortfall> {
    if holding(user, product).is_some_and(|h| h.balance_fen < 0) {
        return Err(Shortfall::Arrears);
    }
    let s = standing(user, product, policy, meter, now);
    if s.remaining.used_up() {
        return Err(Shortfall::QuotaUsedUp);
    }
    if s.charge.usage_fen > 0 && s.charge.usage_fen >= s.funds_fen {
        return Err(Shortfall::OutOfFunds);
    }
    Ok(s)
}
