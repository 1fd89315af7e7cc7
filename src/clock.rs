//! The daemon's clock: unix seconds, shifted by `[general] clock_offset_secs`.
//!
//! Everything that asks "what time is it" for a decision (the policy, accounting, the
//! sweeper, settlement) asks here, so that a drill or a test can move the whole daemon to
//! the end of a billing cycle without waiting for it. [`Zone`] turns its unix seconds into
//! the local dates and times that billing cycles and daily runs are counted in.

use chrono::{DateTime, Days, FixedOffset, Local, NaiveDateTime, NaiveTime, TimeZone};
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};

/// A date or time outside chrono's calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("date out of range")]
pub struct OutOfRange;

static OFFSET_SECS: AtomicI64 = AtomicI64::new(0);

/// Shifts the clock by `secs` (set once at start from the configuration).
pub fn set_offset(secs: i64) {
    OFFSET_SECS.store(secs, Ordering::Relaxed);
}

/// Seconds since the Unix epoch, shifted.
pub fn now() -> i64 {
    let real = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    real.saturating_add(OFFSET_SECS.load(Ordering::Relaxed))
}

/// The time zone cycles are counted in: the machine's, or a fixed offset from UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Zone {
    /// The machine's local time zone (daylight saving included).
    #[default]
    Local,
    /// A fixed offset, e.g. +08:00.
    Fixed(FixedOffset),
}

impl Zone {
    /// Local date and time of a unix second.
    pub fn local(self, unix: i64) -> Result<NaiveDateTime, OutOfRange> {
        let utc = DateTime::from_timestamp(unix, 0).ok_or(OutOfRange)?;
        Ok(match self {
            Zone::Local => utc.with_timezone(&Local).naive_local(),
            Zone::Fixed(offset) => utc.with_timezone(&offset).naive_local(),
        })
    }

    /// The unix second of a local date and time. A time skipped by a daylight-saving
    /// change is taken as the first moment after the gap; a repeated one as its first.
    pub fn unix(self, local: NaiveDateTime) -> Result<i64, OutOfRange> {
        match self {
            Zone::Fixed(offset) => unix_in(&offset, local),
            Zone::Local => unix_in(&Local, local),
        }
    }
}

/// [`Zone::unix`] in any time zone. chrono's own answer is not enough: at the very first
/// second of a repeated hour it gives the second occurrence only.
fn unix_in<Tz: TimeZone>(tz: &Tz, local: NaiveDateTime) -> Result<i64, OutOfRange> {
    let local_at = |unix: i64| {
        DateTime::from_timestamp(unix, 0)
            .map(|t| t.with_timezone(tz).naive_local())
            .ok_or(OutOfRange)
    };
    let naive = local.and_utc().timestamp();
    let offset_at = |unix: i64| Ok::<_, OutOfRange>(local_at(unix)?.and_utc().timestamp() - unix);
    // Offsets are under a day and change at most once around a given time: the offsets
    // in force a day before and a day after give every occurrence of `local`.
    let (before, after) = (naive - 86_400, naive + 86_400);
    let candidates = [
        tz.from_local_datetime(&local)
            .earliest()
            .map(|t| t.timestamp()),
        Some(naive - offset_at(before)?),
        Some(naive - offset_at(after)?),
    ];
    if let Some(first) = candidates
        .into_iter()
        .flatten()
        .filter(|&unix| local_at(unix) == Ok(local))
        .min()
    {
        return Ok(first);
    }
    // Skipped: the gap ends at the first second whose local time is `local` or later;
    // local time only moves forward around a gap, so a bisection finds it.
    let (mut before, mut after) = (before, after);
    while after - before > 1 {
        let mid = before + (after - before) / 2;
        if local_at(mid)? >= local {
            after = mid;
        } else {
            before = mid;
        }
    }
    Ok(after)
}

impl Zone {
    /// The first unix second after `now` at `minute` of a local day.
    pub fn next_daily(self, now: i64, minute: u32) -> Result<i64, OutOfRange> {
        let today = self.local(now)?.date();
        let at = NaiveTime::from_hms_opt(minute / 60, minute % 60, 0).ok_or(OutOfRange)?;
        for day in [today, today.succ_opt().ok_or(OutOfRange)?] {
            let t = self.unix(day.and_time(at))?;
            if t > now {
                return Ok(t);
            }
        }
        let after = today.checked_add_days(Days::new(2)).ok_or(OutOfRange)?;
        self.unix(after.and_time(at))
    }
}

impl FromStr for Zone {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "local" {
            return Ok(Zone::Local);
        }
        let bad = || format!("{s:?} is not \"local\" or an offset such as \"+08:00\"");
        let (sign, rest) = match s.as_bytes().first() {
            Some(b'+') => (1, &s[1..]),
            Some(b'-') => (-1, &s[1..]),
            _ => return Err(bad()),
        };
        let (h, m) = rest.split_once(':').ok_or_else(bad)?;
        let (h, m): (i32, i32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if !(0..=14).contains(&h) || !(0..60).contains(&m) {
            return Err(bad());
        }
        FixedOffset::east_opt(sign * (h * 3600 + m * 60))
            .map(Zone::Fixed)
            .ok_or_else(bad)
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Zone::Local => f.write_str("local"),
            Zone::Fixed(o) => write!(f, "{o}"),
        }
    }
}

impl<'de> Deserialize<'de> for Zone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}
