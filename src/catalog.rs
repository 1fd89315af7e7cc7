//! The policy catalog: the small, operator-defined objects that every decision consults —
//! groups, products (产品), billing policies (计费策略), control policies (控制策略), the
//! MAC and IP blacklists, the IP tables and the system switches.
//!
//! The store keeps one row per object (kind, name, JSON body); memory holds all of them as
//! one immutable [`Catalog`] snapshot that is replaced whole when any object changes, so a
//! decision never sees half an update.

use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use thiserror::Error;

use crate::mac::MacAddr;

/// Name of the single object of kind [`CatalogKind::System`].
pub const SYSTEM_OBJECT: &str = "switches";

/// The group of users who are given none.
pub const DEFAULT_GROUP: &str = "default";

/// The objects a new store starts with, so that a user created with nothing but a
/// password can log in: group `default` → product `standard` → billing policy `free`
/// and control policy `unlimited`. Operators change or replace them.
pub fn starter_objects() -> Vec<CatalogRow> {
    vec![
        CatalogRow::new(
            CatalogKind::BillingPolicy,
            "free",
            &BillingPolicy::default(),
        ),
        CatalogRow::new(
            CatalogKind::ControlPolicy,
            "unlimited",
            &ControlPolicy::default(),
        ),
        CatalogRow::new(
            CatalogKind::Product,
            "standard",
            &Product::new("free", "unlimited"),
        ),
        CatalogRow::new(
            CatalogKind::Group,
            DEFAULT_GROUP,
            &Group {
                default_product: Some("standard".into()),
                control_policy: None,
            },
        ),
    ]
}

/// Checks the name of a product, policy or group: 1 to 64 bytes, no spaces, no control
/// characters, and none of `:` and `/` (they separate fields in Class and in logs).
pub fn check_object_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err(format!("name {name:?} must be 1 to 64 bytes"));
    }
    if name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == ':' || c == '/')
    {
        return Err(format!(
            "name {name:?} must not contain spaces, control characters, ':' or '/'"
        ));
    }
    Ok(())
}

/// What kind of object a catalog row holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CatalogKind {
    /// A [`Group`].
    Group,
    /// A [`Product`].
    Product,
    /// A [`BillingPolicy`].
    BillingPolicy,
    /// A [`ControlPolicy`].
    ControlPolicy,
    /// A blacklisted MAC address (the name); body [`BlacklistEntry`].
    MacBlacklist,
    /// A blacklisted IP range (the name, CIDR); body [`BlacklistEntry`].
    IpBlacklist,
    /// An IP table range (the name, CIDR); body [`IpRange`].
    IpRange,
    /// The [`SystemSwitches`], named [`SYSTEM_OBJECT`].
    System,
    /// A [`PackagePlan`].
    PackagePlan,
}

impl CatalogKind {
    /// The kind as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            CatalogKind::Group => "group",
            CatalogKind::Product => "product",
            CatalogKind::BillingPolicy => "billing_policy",
            CatalogKind::ControlPolicy => "control_policy",
            CatalogKind::MacBlacklist => "mac_blacklist",
            CatalogKind::IpBlacklist => "ip_blacklist",
            CatalogKind::IpRange => "ip_range",
            CatalogKind::System => "system",
            CatalogKind::PackagePlan => "package_plan",
        }
    }
}

impl FromStr for CatalogKind {
    type Err = CatalogError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "group" => CatalogKind::Group,
            "product" => CatalogKind::Product,
            "billing_policy" => CatalogKind::BillingPolicy,
            "control_policy" => CatalogKind::ControlPolicy,
            "mac_blacklist" => CatalogKind::MacBlacklist,
            "ip_blacklist" => CatalogKind::IpBlacklist,
            "ip_range" => CatalogKind::IpRange,
            "system" => CatalogKind::System,
            "package_plan" => CatalogKind::PackagePlan,
            _ => return Err(CatalogError::UnknownKind(s.to_string())),
        })
    }
}

impl fmt::Display for CatalogKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Errors reading or checking catalog objects.
#[derive(Debug, Error)]
pub enum CatalogError {
    /// A stored kind this version does not know.
    #[error("unknown catalog kind {0:?}")]
    UnknownKind(String),
    /// A body that does not parse as its kind.
    #[error("{kind} {name:?}: {reason}")]
    BadBody {
        /// Kind of the object.
        kind: CatalogKind,
        /// Its name.
        name: String,
        /// Why it does not parse.
        reason: String,
    },
    /// A name that is not valid for its kind (a MAC, a CIDR range).
    #[error("{kind} name {name:?}: {reason}")]
    BadName {
        /// Kind of the object.
        kind: CatalogKind,
        /// The name.
        name: String,
        /// Why.
        reason: String,
    },
    /// A time window that is not `HH:MM-HH:MM`.
    #[error("time window {0:?}: expected HH:MM-HH:MM (00:00-24:00; the end may be before the start to span midnight)")]
    BadWindow(String),
}

/// A user group: what its members get when they hold no product, and control overrides.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Group {
    /// Product used for members who hold no product instance.
    pub default_product: Option<String>,
    /// Control policy that replaces the product's for every member.
    pub control_policy: Option<String>,
}

/// A product (产品): what a user buys, tying one billing and one control policy together,
/// with how its instances are settled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Product {
    /// Name of its billing policy.
    pub billing_policy: String,
    /// Name of its control policy.
    pub control_policy: String,
    /// Length unit of a billing cycle.
    #[serde(default)]
    pub cycle: CycleUnit,
    /// Units per cycle (1 or more).
    #[serde(default = "one")]
    pub cycle_count: u32,
    /// Cycles run from the instance's start (anniversary) rather than from the first of
    /// the unit (calendar: midnight, the 1st of the month, January 1st).
    #[serde(default)]
    pub anniversary: bool,
    /// What settlement does when the balance cannot pay the cycle's charge.
    #[serde(default)]
    pub short_balance: ShortBalance,
    /// Traffic (both ways) below which a cycle is not charged (E7009); 0: no threshold.
    #[serde(default)]
    pub min_bytes: u64,
    /// Online time below which a cycle is not charged (E7010); 0: no threshold.
    #[serde(default)]
    pub min_secs: u64,
}

fn one() -> u32 {
    1
}

impl Product {
    /// A product of these policies with the default settlement: calendar months,
    /// arrears allowed.
    pub fn new(billing_policy: &str, control_policy: &str) -> Product {
        Product {
            billing_policy: billing_policy.to_string(),
            control_policy: control_policy.to_string(),
            cycle: CycleUnit::Month,
            cycle_count: 1,
            anniversary: false,
            short_balance: ShortBalance::Negative,
            min_bytes: 0,
            min_secs: 0,
        }
    }
}

/// The unit of a billing cycle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CycleUnit {
    /// Days.
    Day,
    /// Months.
    #[default]
    Month,
    /// Years.
    Year,
}

impl FromStr for CycleUnit {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        by_name(s, "cycle", "day, month or year")
    }
}

/// A unit variant by its serde name (`by_time`, or a command line's `by-time`), so that
/// each name is spelt once, in `rename_all`; `what` and `choices` word the refusal.
fn by_name<T: serde::de::DeserializeOwned>(
    s: &str,
    what: &str,
    choices: &str,
) -> Result<T, String> {
    let name = s.replace('-', "_");
    T::deserialize(serde::de::value::StrDeserializer::<serde::de::value::Error>::new(&name))
        .map_err(|_| format!("unknown {what} {s:?} ({choices})"))
}

/// What settlement does when an instance's balance (after taking what the wallet has)
/// cannot pay the cycle's charge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShortBalance {
    /// Charge nothing (E7011).
    Skip,
    /// Take what there is: the balance becomes 0 (E7012).
    Zero,
    /// Charge in full: the balance goes below zero and logins are refused with E2616
    /// until a payment clears it (E7013).
    #[default]
    Negative,
}

impl FromStr for ShortBalance {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        by_name(s, "short-balance rule", "skip, zero or negative")
    }
}

/// A package plan (套餐): extra time and traffic bought onto a product instance, valid
/// for some days.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PackagePlan {
    /// Price, fen.
    pub price_fen: i64,
    /// Extra online seconds.
    pub extra_secs: u64,
    /// Extra traffic (both ways), bytes.
    pub extra_bytes: u64,
    /// Days it stays valid after purchase.
    pub valid_days: u32,
    /// Only instances of this product may buy it; None: any.
    pub product: Option<String>,
}

/// How a billing policy charges.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BillingKind {
    /// Nothing is charged.
    #[default]
    Free,
    /// A fixed fee per cycle, with included time and traffic.
    Monthly,
    /// By online time beyond the included time.
    ByTime,
    /// By traffic beyond the included traffic.
    ByTraffic,
}

impl FromStr for BillingKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        by_name(s, "billing kind", "free, monthly, by-time or by-traffic")
    }
}

/// A billing policy (计费策略): how usage is charged. Money is integer fen, never floats.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct BillingPolicy {
    /// How it charges.
    pub kind: BillingKind,
    /// Online seconds included per cycle; None is unlimited.
    pub included_secs: Option<u64>,
    /// Bytes (in + out) included per cycle; None is unlimited.
    pub included_bytes: Option<u64>,
    /// Fee per billing cycle (the product's cycle, usually a month), in fen; charged at
    /// settlement. Free policies charge nothing.
    #[serde(alias = "monthly_fee_fen")]
    pub cycle_fee_fen: i64,
    /// Price of an hour beyond the included time, in fen; 0 makes the time a hard cap.
    pub fen_per_hour: i64,
    /// Price of a GiB beyond the included traffic, in fen; 0 makes the traffic a hard cap.
    pub fen_per_gib: i64,
}

/// What happens when a user already has the most sessions the control policy allows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OverLimit {
    /// Refuse the new login (E2620).
    #[default]
    Refuse,
    /// Accept it and disconnect the oldest session (E3008).
    KickOldest,
}

impl FromStr for OverLimit {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        by_name(s, "action", "refuse or kick-oldest")
    }
}

/// A control policy (控制策略): what a session may do. 0 means "no limit" everywhere.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ControlPolicy {
    /// Most sessions per user; 0 is unlimited.
    pub max_online: u32,
    /// What to do when a login would exceed `max_online`.
    pub over_limit: OverLimit,
    /// Upload limit (user to network), bit/s.
    pub up_bps: u64,
    /// Download limit (network to user), bit/s.
    pub down_bps: u64,
    /// When logins are allowed (local time); empty is always.
    #[schema(value_type = Vec<String>, example = json!(["08:00-23:00"]))]
    pub windows: Vec<TimeWindow>,
    /// Idle-Timeout, seconds.
    pub idle_timeout_secs: u32,
    /// Longest session, seconds.
    pub session_timeout_secs: u32,
    /// Acct-Interim-Interval, seconds.
    pub interim_secs: u32,
}

/// A daily time window in local time, minute precision. An end before the start spans
/// midnight (`22:00-06:00`); `00:00-24:00` is the whole day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    /// Minute of the day the window opens, 0–1439.
    pub start: u16,
    /// Minute of the day it closes, 1–1440.
    pub end: u16,
}

const DAY_SECS: u32 = 86_400;

impl TimeWindow {
    /// Seconds from `secs_of_day` until the window closes, or None if it is closed then.
    pub fn remaining(&self, secs_of_day: u32) -> Option<u32> {
        let (start, end) = (u32::from(self.start) * 60, u32::from(self.end) * 60);
        if start < end {
            (start..end)
                .contains(&secs_of_day)
                .then(|| end - secs_of_day)
        } else if secs_of_day >= start {
            Some(DAY_SECS - secs_of_day + end)
        } else if secs_of_day < end {
            Some(end - secs_of_day)
        } else {
            None
        }
    }
}

impl FromStr for TimeWindow {
    type Err = CatalogError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || CatalogError::BadWindow(s.to_string());
        let minute = |t: &str| -> Option<u16> {
            let (h, m) = t.trim().split_once(':')?;
            let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
            (m < 60 && (h < 24 || (h == 24 && m == 0))).then(|| h * 60 + m)
        };
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        let (start, end) = (minute(a).ok_or_else(bad)?, minute(b).ok_or_else(bad)?);
        if start == end || start == 1440 {
            return Err(bad());
        }
        Ok(TimeWindow { start, end })
    }
}

impl fmt::Display for TimeWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02}:{:02}-{:02}:{:02}",
            self.start / 60,
            self.start % 60,
            self.end / 60,
            self.end % 60
        )
    }
}

impl Serialize for TimeWindow {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TimeWindow {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A blacklist entry's body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct BlacklistEntry {
    /// Why it was listed, for operators.
    pub note: Option<String>,
}

/// An IP table range's body. Ranges with `no_auth` need no authentication (their users
/// are online without logging in, E2842); the others are where logins are allowed from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct IpRange {
    /// Addresses in this range are online without authentication.
    pub no_auth: bool,
}

/// System-wide switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SystemSwitches {
    /// False refuses every login with E2535.
    pub auth_enabled: bool,
    /// Most sessions online at once (the licence); 0 is unlimited.
    pub licensed_online: u32,
}

impl Default for SystemSwitches {
    fn default() -> Self {
        SystemSwitches {
            auth_enabled: true,
            licensed_online: 0,
        }
    }
}

/// One stored catalog object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogRow {
    /// What it is.
    pub kind: CatalogKind,
    /// Its name (a MAC or CIDR range for blacklists and IP tables).
    pub name: String,
    /// JSON body of the kind's type.
    pub body: String,
}

impl CatalogRow {
    /// A row holding `value` (one of this module's object types) under `name`.
    pub fn new<T: Serialize>(kind: CatalogKind, name: &str, value: &T) -> CatalogRow {
        CatalogRow {
            kind,
            name: name.to_string(),
            body: serde_json::to_string(value).unwrap_or_else(|_| "{}".into()),
        }
    }

    /// The body as the kind's type.
    pub fn parse<T: for<'de> Deserialize<'de>>(&self) -> Result<T, CatalogError> {
        serde_json::from_str(&self.body).map_err(|e| CatalogError::BadBody {
            kind: self.kind,
            name: self.name.clone(),
            reason: e.to_string(),
        })
    }

    /// The name as a range, for IP blacklists and IP tables.
    pub fn range(&self) -> Result<IpNet, CatalogError> {
        crate::address::parse_address_range(&self.name).map_err(|reason| CatalogError::BadName {
            kind: self.kind,
            name: self.name.clone(),
            reason,
        })
    }
}

/// Every catalog object, in memory, ready for the authorization policy.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Groups by name.
    pub groups: HashMap<String, Group>,
    /// Products by name.
    pub products: HashMap<String, Product>,
    /// Billing policies by name.
    pub billing: HashMap<String, BillingPolicy>,
    /// Control policies by name.
    pub control: HashMap<String, ControlPolicy>,
    /// Blacklisted MAC addresses.
    pub mac_blacklist: HashSet<MacAddr>,
    /// Blacklisted IP ranges.
    pub ip_blacklist: Vec<IpNet>,
    /// IP table ranges where logins are allowed (empty: anywhere).
    pub ip_allowed: Vec<IpNet>,
    /// IP table ranges that need no authentication.
    pub ip_no_auth: Vec<IpNet>,
    /// The system switches.
    pub system: SystemSwitches,
    /// Package plans by name.
    pub packages: HashMap<String, PackagePlan>,
}

impl Catalog {
    /// Builds the snapshot from stored rows. A row that cannot be read is left out and
    /// returned with its error, so one bad object never takes the others down.
    pub fn from_rows(rows: Vec<CatalogRow>) -> (Catalog, Vec<CatalogError>) {
        let mut catalog = Catalog::default();
        let mut errors = Vec::new();
        for row in rows {
            if let Err(e) = catalog.add(&row) {
                errors.push(e);
            }
        }
        (catalog, errors)
    }

    fn add(&mut self, row: &CatalogRow) -> Result<(), CatalogError> {
        let name = row.name.clone();
        match row.kind {
            CatalogKind::Group => {
                self.groups.insert(name, row.parse()?);
            }
            CatalogKind::Product => {
                self.products.insert(name, row.parse()?);
            }
            CatalogKind::BillingPolicy => {
                self.billing.insert(name, row.parse()?);
            }
            CatalogKind::ControlPolicy => {
                self.control.insert(name, row.parse()?);
            }
            CatalogKind::MacBlacklist => {
                let mac =
                    row.name
                        .parse()
                        .map_err(|e: crate::mac::BadMac| CatalogError::BadName {
                            kind: row.kind,
                            name: name.clone(),
                            reason: e.to_string(),
                        })?;
                self.mac_blacklist.insert(mac);
            }
            CatalogKind::IpBlacklist => self.ip_blacklist.push(row.range()?),
            CatalogKind::IpRange => {
                let range = row.range()?;
                let body: IpRange = row.parse()?;
                if body.no_auth {
                    self.ip_no_auth.push(range);
                } else {
                    self.ip_allowed.push(range);
                }
            }
            CatalogKind::System => self.system = row.parse()?,
            CatalogKind::PackagePlan => {
                self.packages.insert(name, row.parse()?);
            }
        }
        Ok(())
    }

    /// True if `ip` is in one of `ranges`.
    pub fn contains(ranges: &[IpNet], ip: IpAddr) -> bool {
        ranges.iter().any(|r| r.contains(&ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_parse_and_measure() {
        let w: TimeWindow = "08:00-22:30".parse().unwrap();
        assert_eq!(w.to_string(), "08:00-22:30");
        assert_eq!(w.remaining(8 * 3600), Some(14 * 3600 + 1800));
        assert_eq!(w.remaining(22 * 3600 + 1800), None);
        assert_eq!(w.remaining(7 * 3600 + 3599), None);
        let night: TimeWindow = "22:00-06:00".parse().unwrap();
        assert_eq!(night.remaining(23 * 3600), Some(7 * 3600));
        assert_eq!(night.remaining(3600), Some(5 * 3600));
        assert_eq!(night.remaining(12 * 3600), None);
        let day: TimeWindow = "00:00-24:00".parse().unwrap();
        assert_eq!(day.remaining(0), Some(DAY_SECS));
        assert_eq!(day.remaining(DAY_SECS - 1), Some(1));
        for bad in [
            "",
            "8-9",
            "08:00",
            "08:00-08:00",
            "25:00-26:00",
            "08:60-09:00",
            "24:00-01:00",
            // Found by fuzzing: an hour that overflows when turned into minutes.
            "+51008:20-208\0:01\0\0\u{0}4",
            "9999:00-10:00",
        ] {
            assert!(bad.parse::<TimeWindow>().is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_rows_are_left_out_and_named() {
        let rows = vec![
            CatalogRow::new(CatalogKind::Group, "staff", &Group::default()),
            CatalogRow {
                kind: CatalogKind::Product,
                name: "broken".into(),
                body: "{\"billing_policy\":1}".into(),
            },
            CatalogRow::new(
                CatalogKind::MacBlacklist,
                "not-a-mac",
                &BlacklistEntry::default(),
            ),
            CatalogRow::new(
                CatalogKind::IpRange,
                "10.0.0.0/8",
                &IpRange { no_auth: true },
            ),
            CatalogRow::new(CatalogKind::IpRange, "10.1.0.0/16", &IpRange::default()),
        ];
        let (catalog, errors) = Catalog::from_rows(rows);
        assert!(catalog.groups.contains_key("staff"));
        assert!(catalog.products.is_empty());
        assert_eq!(errors.len(), 2);
        assert!(errors[0].to_string().contains("product \"broken\""));
        assert_eq!(catalog.ip_no_auth.len(), 1);
        assert_eq!(catalog.ip_allowed.len(), 1);
        assert!(catalog.system.auth_enabled);
    }
}
