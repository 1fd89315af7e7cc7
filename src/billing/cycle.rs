//! Billing cycles on the calendar: where a product instance's cycle starts and ends.
//!
//! A cycle is `count` days, months or years. Calendar cycles end at local midnight, on
//! the 1st of a month or on January 1st (the first cycle is the part from the instance's
//! start to the first such boundary); anniversary cycles end at the instance's start plus
//! whole cycles, each computed from the start (never cycle by cycle), so Jan 31 + 1 month
//! is Feb 28 (or 29) and + 2 months is Mar 31 again. Local time is the configured zone.

use chrono::{Datelike, Days, Months, NaiveDate, NaiveDateTime, NaiveTime};
use thiserror::Error;

use crate::catalog::{CycleUnit, Product};
use crate::clock::{OutOfRange, Zone};

/// Why a cycle cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CycleError {
    /// `cycle_count` is 0.
    #[error("cycle_count must be at least 1")]
    ZeroCount,
    /// The dates run off chrono's calendar.
    #[error("date out of range")]
    OutOfRange,
}

impl From<OutOfRange> for CycleError {
    fn from(_: OutOfRange) -> Self {
        CycleError::OutOfRange
    }
}

/// How a product's cycles fall on the calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CycleRule {
    /// Days, months or years.
    pub unit: CycleUnit,
    /// Units per cycle.
    pub count: u32,
    /// Counted from the instance's start rather than from calendar boundaries.
    pub anniversary: bool,
}

impl CycleRule {
    /// The rule of a product.
    pub fn of(product: &Product) -> CycleRule {
        CycleRule {
            unit: product.cycle,
            count: product.cycle_count,
            anniversary: product.anniversary,
        }
    }

    /// The local moment `k` cycles after `origin` (k ≥ 1), on this rule's boundaries.
    fn boundary(&self, origin: NaiveDateTime, k: u64) -> Result<NaiveDateTime, CycleError> {
        let n = k
            .checked_mul(u64::from(self.count))
            .ok_or(CycleError::OutOfRange)?;
        let n32 = u32::try_from(n).map_err(|_| CycleError::OutOfRange)?;
        let midnight = |d: NaiveDate| d.and_time(NaiveTime::MIN);
        let date = origin.date();
        let out = match (self.unit, self.anniversary) {
            (CycleUnit::Day, true) => origin.checked_add_days(Days::new(n)),
            (CycleUnit::Day, false) => date.checked_add_days(Days::new(n)).map(midnight),
            (CycleUnit::Month, true) => origin.checked_add_months(Months::new(n32)),
            (CycleUnit::Month, false) => date
                .with_day(1)
                .and_then(|d| d.checked_add_months(Months::new(n32)))
                .map(midnight),
            (CycleUnit::Year, true) => origin.checked_add_months(Months::new(
                n32.checked_mul(12).ok_or(CycleError::OutOfRange)?,
            )),
            (CycleUnit::Year, false) => i32::try_from(n)
                .ok()
                .and_then(|n| date.year().checked_add(n))
                .and_then(|y| NaiveDate::from_ymd_opt(y, 1, 1))
                .map(midnight),
        };
        out.ok_or(CycleError::OutOfRange)
    }

    /// The end of the cycle that starts at `start` (the first cycle of an instance, or a
    /// later one: every boundary is computed from `origin`, the instance's first start).
    pub fn end_after(&self, origin: i64, start: i64, zone: Zone) -> Result<i64, CycleError> {
        Ok(self.cycle_at(origin, start, zone)?.1)
    }

    /// The cycle `[start, end)` that contains `t`, for an instance that started at
    /// `origin` (its first cycle starts there). `t` before `origin` is in the first cycle.
    pub fn cycle_at(&self, origin: i64, t: i64, zone: Zone) -> Result<(i64, i64), CycleError> {
        if self.count == 0 {
            return Err(CycleError::ZeroCount);
        }
        let o = zone.local(origin)?;
        let at = |k: u64| -> Result<i64, CycleError> {
            if k == 0 {
                Ok(origin)
            } else {
                Ok(zone.unix(self.boundary(o, k)?)?)
            }
        };
        // A first guess from the cycle's length in days, then step to the exact cycle.
        let unit_days: i64 = match self.unit {
            CycleUnit::Day => 1,
            CycleUnit::Month => 28,
            CycleUnit::Year => 365,
        };
        let approx = (t - origin).max(0) / 86_400 / (unit_days * i64::from(self.count));
        let mut k = u64::try_from(approx.saturating_sub(1)).unwrap_or(0);
        while k > 0 && at(k)? > t {
            k -= 1;
        }
        loop {
            let end = at(k + 1)?;
            if end > t {
                return Ok((at(k)?, end));
            }
            k += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cst() -> Zone {
        "+08:00".parse().unwrap()
    }

    fn t(s: &str) -> i64 {
        let local = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        cst().unix(local).unwrap()
    }

    fn rule(unit: CycleUnit, count: u32, anniversary: bool) -> CycleRule {
        CycleRule {
            unit,
            count,
            anniversary,
        }
    }

    #[test]
    fn anniversary_months_clamp_to_the_month_end_and_come_back() {
        let r = rule(CycleUnit::Month, 1, true);
        let origin = t("2027-01-31 10:00");
        assert_eq!(
            r.cycle_at(origin, origin, cst()).unwrap(),
            (origin, t("2027-02-28 10:00"))
        );
        assert_eq!(
            r.cycle_at(origin, t("2027-03-01 00:00"), cst()).unwrap(),
            (t("2027-02-28 10:00"), t("2027-03-31 10:00"))
        );
        // A leap year has February 29th.
        let leap = t("2028-01-31 10:00");
        assert_eq!(
            r.end_after(leap, leap, cst()).unwrap(),
            t("2028-02-29 10:00")
        );
        // Two-month cycles from Dec 31.
        let r2 = rule(CycleUnit::Month, 2, true);
        let dec = t("2027-12-31 00:00");
        assert_eq!(
            r2.end_after(dec, dec, cst()).unwrap(),
            t("2028-02-29 00:00")
        );
        assert_eq!(
            r2.cycle_at(dec, t("2028-03-01 00:00"), cst()).unwrap(),
            (t("2028-02-29 00:00"), t("2028-04-30 00:00"))
        );
    }

    #[test]
    fn calendar_cycles_end_on_the_first_of_the_unit() {
        let m = rule(CycleUnit::Month, 1, false);
        let origin = t("2027-01-31 10:00");
        assert_eq!(
            m.cycle_at(origin, origin, cst()).unwrap(),
            (origin, t("2027-02-01 00:00"))
        );
        assert_eq!(
            m.cycle_at(origin, t("2027-02-15 00:00"), cst()).unwrap(),
            (t("2027-02-01 00:00"), t("2027-03-01 00:00"))
        );
        let d = rule(CycleUnit::Day, 1, false);
        assert_eq!(
            d.cycle_at(origin, t("2027-02-28 23:59"), cst()).unwrap(),
            (t("2027-02-28 00:00"), t("2027-03-01 00:00"))
        );
        let y = rule(CycleUnit::Year, 1, false);
        assert_eq!(
            y.cycle_at(origin, t("2028-02-29 12:00"), cst()).unwrap(),
            (t("2028-01-01 00:00"), t("2029-01-01 00:00"))
        );
        // Anniversary years from Feb 29 fall on Feb 28 in common years.
        let ya = rule(CycleUnit::Year, 1, true);
        let feb29 = t("2028-02-29 08:00");
        assert_eq!(
            ya.end_after(feb29, feb29, cst()).unwrap(),
            t("2029-02-28 08:00")
        );
        assert_eq!(
            ya.cycle_at(feb29, t("2032-03-01 00:00"), cst()).unwrap(),
            (t("2032-02-29 08:00"), t("2033-02-28 08:00"))
        );
    }

    #[test]
    fn a_long_idle_instance_lands_in_the_cycle_of_now() {
        let r = rule(CycleUnit::Day, 7, true);
        let origin = t("2027-01-01 00:00");
        let (start, end) = r.cycle_at(origin, t("2030-06-15 12:00"), cst()).unwrap();
        assert!(start <= t("2030-06-15 12:00") && t("2030-06-15 12:00") < end);
        assert_eq!(end - start, 7 * 86_400);
        assert_eq!((start - origin) % (7 * 86_400), 0);
        assert_eq!(
            rule(CycleUnit::Day, 0, true).cycle_at(origin, origin, cst()),
            Err(CycleError::ZeroCount)
        );
    }

    #[test]
    fn the_daily_run_is_next_at_its_minute() {
        let at = |s| t(s);
        assert_eq!(
            cst().next_daily(at("2027-01-31 00:04"), 5).unwrap(),
            at("2027-01-31 00:05")
        );
        assert_eq!(
            cst().next_daily(at("2027-01-31 00:05"), 5).unwrap(),
            at("2027-02-01 00:05")
        );
    }

    #[test]
    fn zones_move_the_boundaries() {
        let utc: Zone = "+00:00".parse().unwrap();
        let m = rule(CycleUnit::Month, 1, false);
        let origin = t("2027-01-15 00:00");
        // Midnight of Feb 1 in UTC is 08:00 in +08:00.
        assert_eq!(
            m.end_after(origin, origin, utc).unwrap(),
            t("2027-02-01 08:00")
        );
        assert!("8".parse::<Zone>().is_err());
        assert!("+15:00".parse::<Zone>().is_err());
        assert_eq!("-05:30".parse::<Zone>().unwrap().to_string(), "-05:30");
    }
}
