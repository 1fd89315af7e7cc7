//! Parsers for command-line values operators type (dates, durations, bandwidths, yes/no),
//! and the arguments several commands share.

use chrono::{Local, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};

/// `--user`, `--limit`, `--json` of the lists the daemon keeps (history, ledger …).
#[derive(clap::Args)]
pub struct ListArgs {
    /// Only this user's.
    #[arg(long)]
    pub user: Option<String>,
    /// At most this many (newest first).
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `yes`/`no` (or `true`/`false`).
pub fn yes_no(s: &str) -> Result<bool, String> {
    match s {
        "yes" | "true" | "on" => Ok(true),
        "no" | "false" | "off" => Ok(false),
        _ => Err(format!("expected yes or no, got {s:?}")),
    }
}

/// A value or `none` (which clears it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrNone<T> {
    /// Set this value.
    Value(T),
    /// Clear the field.
    None,
}

impl<T> OrNone<T> {
    /// As a patch field value.
    pub fn into_option(self) -> Option<T> {
        match self {
            OrNone::Value(v) => Some(v),
            OrNone::None => None,
        }
    }
}

fn or_none<T>(s: &str, parse: impl Fn(&str) -> Result<T, String>) -> Result<OrNone<T>, String> {
    if s == "none" {
        Ok(OrNone::None)
    } else {
        parse(s).map(OrNone::Value)
    }
}

fn local_unix(t: NaiveDateTime) -> Result<i64, String> {
    Local
        .from_local_datetime(&t)
        .earliest()
        .map(|t| t.timestamp())
        .ok_or_else(|| format!("{t} does not exist in the local time zone"))
}

/// `YYYY-MM-DD`: the account is valid through that day (local time); the stored value
/// is the first second after it. `none` clears the expiry.
pub fn expiry(s: &str) -> Result<OrNone<i64>, String> {
    or_none(s, |s| {
        let day = NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| format!("expected YYYY-MM-DD or none, got {s:?}"))?;
        let next = day
            .succ_opt()
            .ok_or_else(|| format!("{s:?} is out of range"))?;
        local_unix(next.and_time(NaiveTime::MIN))
    })
}

/// A moment: `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS]` (also with `T`) in local time, or a
/// duration from now: `90s`, `30m`, `2h`, `7d`. `none` clears it.
pub fn moment(s: &str) -> Result<OrNone<i64>, String> {
    or_none(s, |s| {
        let bad = || {
            format!("expected YYYY-MM-DD[ HH:MM[:SS]], a duration such as 30m, 2h or 7d, or none; got {s:?}")
        };
        if let Some(unit) = s.chars().last().filter(|c| "smhd".contains(*c)) {
            if let Ok(n) = s[..s.len() - 1].parse::<i64>() {
                let secs = match unit {
                    's' => 1,
                    'm' => 60,
                    'h' => 3600,
                    _ => 86_400,
                };
                return Ok(turnstile::clock::now() + n.checked_mul(secs).ok_or_else(bad)?);
            }
        }
        for format in [
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%d %H:%M",
            "%Y-%m-%dT%H:%M",
        ] {
            if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
                return local_unix(t);
            }
        }
        let day = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| bad())?;
        local_unix(day.and_time(NaiveTime::MIN))
    })
}

/// A bandwidth in bit/s: `2000000`, `512k`, `10M`, `1G` (decimal multiples).
pub fn bandwidth(s: &str) -> Result<u64, String> {
    let bad = || format!("expected bit/s such as 2000000, 512k, 10M or 1G; got {s:?}");
    let (digits, multiplier) = match s.chars().last() {
        Some('k' | 'K') => (&s[..s.len() - 1], 1_000),
        Some('m' | 'M') => (&s[..s.len() - 1], 1_000_000),
        Some('g' | 'G') => (&s[..s.len() - 1], 1_000_000_000),
        _ => (s, 1),
    };
    digits
        .parse::<u64>()
        .map_err(|_| bad())?
        .checked_mul(multiplier)
        .ok_or_else(bad)
}

/// An unsigned count, or `none`.
pub fn count_or_none(s: &str) -> Result<OrNone<u32>, String> {
    or_none(s, |s| {
        s.parse()
            .map_err(|_| format!("expected a number or none, got {s:?}"))
    })
}

/// An amount of fen, or `none`.
pub fn fen_or_none(s: &str) -> Result<OrNone<i64>, String> {
    or_none(s, |s| {
        s.parse()
            .map_err(|_| format!("expected fen (an integer) or none, got {s:?}"))
    })
}

/// A name, or `none`.
pub fn name_or_none(s: &str) -> Result<OrNone<String>, String> {
    or_none(s, |s| Ok(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(bandwidth("10M"), Ok(10_000_000));
        assert_eq!(bandwidth("512k"), Ok(512_000));
        assert_eq!(bandwidth("7"), Ok(7));
        assert!(bandwidth("fast").is_err());
        assert!(bandwidth("99999999999G").is_err());
        assert_eq!(expiry("none"), Ok(OrNone::None));
        let OrNone::Value(end) = expiry("2030-01-31").unwrap() else {
            panic!("a date")
        };
        let OrNone::Value(start) = moment("2030-02-01").unwrap() else {
            panic!("a date")
        };
        assert_eq!(end, start);
        assert!(expiry("31/01/2030").is_err());
        let OrNone::Value(t) = moment("2h").unwrap() else {
            panic!("a duration")
        };
        assert!((t - turnstile::clock::now() - 7200).abs() <= 1);
        assert!(moment("soon").is_err());
        assert_eq!(yes_no("no"), Ok(false));
    }
}
