//! Rating: what a cycle's usage costs, and what is left of its quota. Pure arithmetic on
//! integer fen.
//!
//! The rounding rule: a cycle's usage charge is computed from the cycle's TOTAL usage —
//! time beyond the included time at `fen_per_hour`, traffic beyond the included traffic
//! at `fen_per_gib` — as one exact fraction, rounded up to the fen once. It is never
//! computed Interim by Interim, so how the usage was reported does not change it.
//! Arithmetic is in u128 and saturates: no counter value can overflow it.

use crate::account::Usage;
use crate::catalog::{BillingKind, BillingPolicy};

/// Seconds in an hour, the unit of `fen_per_hour`.
const HOUR: u128 = 3600;
/// Bytes in a GiB, the unit of `fen_per_gib`.
const GIB: u128 = 1 << 30;

/// Time and traffic a cycle gets on top of its policy's: the packages bought onto it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Extra {
    /// Extra online seconds.
    pub secs: u64,
    /// Extra bytes.
    pub bytes: u64,
}

/// What a cycle costs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Charge {
    /// The cycle's fixed fee.
    pub fee_fen: i64,
    /// Usage beyond what is included, at the policy's prices, rounded up once.
    pub usage_fen: i64,
}

impl Charge {
    /// Fee and usage together.
    pub fn total(&self) -> i64 {
        self.fee_fen.saturating_add(self.usage_fen)
    }
}

/// What is left of the cycle's hard caps (included time or traffic with no price beyond);
/// None where there is no cap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Remaining {
    /// Online seconds left.
    pub secs: Option<u64>,
    /// Bytes left.
    pub bytes: Option<u64>,
}

impl Remaining {
    /// True when a cap is reached.
    pub fn used_up(&self) -> bool {
        self.secs == Some(0) || self.bytes == Some(0)
    }
}

/// Amount beyond `included + extra`, when something is included.
fn beyond(used: u64, included: Option<u64>, extra: u64) -> u128 {
    included.map_or(0, |inc| {
        u128::from(used.saturating_sub(inc.saturating_add(extra)))
    })
}

fn price(fen: i64) -> u128 {
    u128::try_from(fen).unwrap_or(0)
}

/// What `usage` costs under `policy` in one cycle with `extra` on top.
pub fn charge(policy: &BillingPolicy, usage: &Usage, extra: Extra) -> Charge {
    if policy.kind == BillingKind::Free {
        return Charge::default();
    }
    let fee_fen = policy.cycle_fee_fen.max(0);
    let time = beyond(usage.secs, policy.included_secs, extra.secs);
    let traffic = beyond(usage.bytes(), policy.included_bytes, extra.bytes);
    if time == 0 && traffic == 0 {
        // Within what is included (the common case): no 128-bit division.
        return Charge {
            fee_fen,
            usage_fen: 0,
        };
    }
    // time × p_h / 3600 + traffic × p_g / 2^30, over one denominator, rounded up once.
    let numerator = time
        .saturating_mul(price(policy.fen_per_hour))
        .saturating_mul(GIB)
        .saturating_add(
            traffic
                .saturating_mul(price(policy.fen_per_gib))
                .saturating_mul(HOUR),
        );
    let usage_fen = numerator.div_ceil(HOUR * GIB);
    Charge {
        fee_fen,
        usage_fen: i64::try_from(usage_fen).unwrap_or(i64::MAX),
    }
}

/// What is left of the hard caps of `policy` after `usage`, with `extra` on top.
pub fn remaining(policy: &BillingPolicy, usage: &Usage, extra: Extra) -> Remaining {
    let cap = |included: Option<u64>, price: i64, used: u64, extra: u64| {
        included
            .filter(|_| price == 0)
            .map(|inc| inc.saturating_add(extra).saturating_sub(used))
    };
    Remaining {
        secs: cap(
            policy.included_secs,
            policy.fen_per_hour,
            usage.secs,
            extra.secs,
        ),
        bytes: cap(
            policy.included_bytes,
            policy.fen_per_gib,
            usage.bytes(),
            extra.bytes,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn by_time(included_hours: u64, fen_per_hour: i64) -> BillingPolicy {
        BillingPolicy {
            kind: BillingKind::ByTime,
            included_secs: Some(included_hours * 3600),
            fen_per_hour,
            ..BillingPolicy::default()
        }
    }

    fn secs(s: u64) -> Usage {
        Usage {
            secs: s,
            ..Usage::default()
        }
    }

    #[test]
    fn time_beyond_the_included_is_charged_and_rounded_up_once() {
        let p = by_time(10, 100);
        assert_eq!(charge(&p, &secs(10 * 3600), Extra::default()).usage_fen, 0);
        // One second beyond: 100/3600 fen, rounded up to 1.
        assert_eq!(
            charge(&p, &secs(10 * 3600 + 1), Extra::default()).usage_fen,
            1
        );
        assert_eq!(
            charge(&p, &secs(11 * 3600), Extra::default()).usage_fen,
            100
        );
        // A package's hour is included too.
        let extra = Extra {
            secs: 3600,
            bytes: 0,
        };
        assert_eq!(charge(&p, &secs(11 * 3600), extra).usage_fen, 0);
    }

    #[test]
    fn traffic_and_fee() {
        let p = BillingPolicy {
            kind: BillingKind::Monthly,
            included_bytes: Some(1 << 30),
            fen_per_gib: 500,
            cycle_fee_fen: 2000,
            ..BillingPolicy::default()
        };
        let u = Usage {
            bytes_in: 1 << 30,
            bytes_out: 1 << 29,
            ..Usage::default()
        };
        assert_eq!(
            charge(&p, &u, Extra::default()),
            Charge {
                fee_fen: 2000,
                usage_fen: 250
            }
        );
        let free = BillingPolicy::default();
        assert_eq!(charge(&free, &u, Extra::default()).total(), 0);
    }

    #[test]
    fn caps_without_a_price() {
        let p = by_time(1, 0);
        assert_eq!(
            remaining(&p, &secs(1000), Extra::default()).secs,
            Some(2600)
        );
        assert!(remaining(&p, &secs(4000), Extra::default()).used_up());
        assert_eq!(
            remaining(&by_time(1, 5), &secs(4000), Extra::default()).secs,
            None
        );
        assert_eq!(charge(&p, &secs(u64::MAX), Extra::default()).usage_fen, 0);
    }

    #[test]
    fn nothing_overflows() {
        let p = BillingPolicy {
            kind: BillingKind::ByTraffic,
            included_bytes: Some(0),
            included_secs: Some(0),
            fen_per_gib: i64::MAX,
            fen_per_hour: i64::MAX,
            ..BillingPolicy::default()
        };
        let u = Usage {
            secs: u64::MAX,
            bytes_in: u64::MAX,
            bytes_out: u64::MAX,
            logins: u64::MAX,
        };
        assert_eq!(charge(&p, &u, Extra::default()).usage_fen, i64::MAX);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn usage() -> impl Strategy<Value = Usage> {
        (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(secs, bytes_in, bytes_out)| Usage {
            secs,
            bytes_in,
            bytes_out,
            logins: 0,
        })
    }

    proptest! {
        /// Any counters and prices: no overflow, never below zero, never less for more.
        #[test]
        fn charges_never_overflow_and_grow_with_usage(
            u in usage(),
            more in usage(),
            fen_per_hour in any::<i64>(),
            fen_per_gib in any::<i64>(),
            fee in any::<i64>(),
            included_secs in proptest::option::of(any::<u64>()),
            included_bytes in proptest::option::of(any::<u64>()),
        ) {
            let policy = BillingPolicy {
                kind: BillingKind::ByTime,
                included_secs,
                included_bytes,
                cycle_fee_fen: fee,
                fen_per_hour,
                fen_per_gib,
            };
            let c = charge(&policy, &u, Extra::default());
            prop_assert!(c.usage_fen >= 0 && c.fee_fen >= 0 && c.total() >= 0);
            let bigger = charge(&policy, &u.plus(more), Extra::default());
            prop_assert!(bigger.usage_fen >= c.usage_fen);
        }
    }
}
