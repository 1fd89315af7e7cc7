//! What an account holds beyond its password: the profile an operator sets, the bindings
//! that tie it to devices and ports, and the product instances it has bought. Shared by
//! the store (rows), the directory (memory) and the policy (decisions).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::net::IpAddr;
use thiserror::Error;

use crate::mac::MacAddr;

/// Operator-set attributes of an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Profile {
    /// Group, for its default product and control overrides.
    pub group: Option<String>,
    /// Unix seconds from which the account is expired (E2536).
    pub expires_at: Option<i64>,
    /// Balance in fen; below zero is arrearage (E2616).
    pub balance_fen: i64,
    /// Contact phone number.
    pub phone: Option<String>,
    /// Most sessions at once; overrides the control policy.
    pub max_online: Option<u32>,
    /// May log in through RADIUS (E2607 otherwise).
    pub allow_radius: bool,
    /// May log in through the web portal (E2607 otherwise).
    pub allow_portal: bool,
    /// Banned for proxy or sharing behaviour until this unix second (E2534).
    pub banned_until: Option<i64>,
    /// Spending cap of the cycle in fen (E2617 once reached).
    pub consumption_limit_fen: Option<i64>,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            group: None,
            expires_at: None,
            balance_fen: 0,
            phone: None,
            max_online: None,
            allow_radius: true,
            allow_portal: true,
            banned_until: None,
            consumption_limit_fen: None,
        }
    }
}

/// A change to some fields of a [`Profile`] (and the enabled flag). `None` leaves a field
/// alone; `Some(None)` clears an optional one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfilePatch {
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// New group.
    pub group: Option<Option<String>>,
    /// New expiry.
    pub expires_at: Option<Option<i64>>,
    /// New balance.
    pub balance_fen: Option<i64>,
    /// New phone.
    pub phone: Option<Option<String>>,
    /// New session limit.
    pub max_online: Option<Option<u32>>,
    /// RADIUS interface on or off.
    pub allow_radius: Option<bool>,
    /// Portal interface on or off.
    pub allow_portal: Option<bool>,
    /// New ban.
    pub banned_until: Option<Option<i64>>,
    /// New spending cap.
    pub consumption_limit_fen: Option<Option<i64>>,
}

impl ProfilePatch {
    /// True when it changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == ProfilePatch::default()
    }
}

/// Everything one `user set` changes, applied in one transaction: the profile fields,
/// then bindings cleared, then bindings and product instances added and removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChange {
    /// Profile fields.
    pub profile: ProfilePatch,
    /// Remove every binding first.
    pub clear_bindings: bool,
    /// Bindings to remove.
    pub remove_bindings: Vec<Binding>,
    /// Bindings to add.
    pub add_bindings: Vec<Binding>,
    /// Products to give an instance of.
    pub add_products: Vec<String>,
    /// Products whose instance is taken away.
    pub remove_products: Vec<String>,
}

/// How a request is made: the access interfaces an account can be allowed or denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interface {
    /// An Access-Request from a NAS.
    Radius,
    /// A login on the web portal.
    Portal,
}

/// One binding: when an account has bindings of a kind, requests must match one of them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Binding {
    /// Calling-Station-Id as a MAC address (E2614).
    Mac(MacAddr),
    /// The user's IP address (E2615).
    Ip(IpAddr),
    /// The NAS: its IP address, NAS-Identifier or client name (E2613).
    Nas(String),
    /// NAS-Port-Id, exactly (E2613).
    NasPort(String),
    /// VLAN id from NAS-Port-Id (E2613).
    Vlan(u16),
    /// A terminal identifier: Calling-Station-Id exactly, or the portal's device id (E2611).
    Device(String),
}

/// A binding that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("bad {kind} binding {value:?}: {reason}")]
pub struct BadBinding {
    /// The kind.
    pub kind: String,
    /// The value.
    pub value: String,
    /// Why.
    pub reason: String,
}

impl Binding {
    /// The kind as stored.
    pub fn kind(&self) -> &'static str {
        match self {
            Binding::Mac(_) => "mac",
            Binding::Ip(_) => "ip",
            Binding::Nas(_) => "nas",
            Binding::NasPort(_) => "nas_port",
            Binding::Vlan(_) => "vlan",
            Binding::Device(_) => "device",
        }
    }

    /// The value as stored.
    pub fn value(&self) -> String {
        match self {
            Binding::Mac(m) => m.to_string(),
            Binding::Ip(ip) => ip.to_string(),
            Binding::Vlan(v) => v.to_string(),
            Binding::Nas(s) | Binding::NasPort(s) | Binding::Device(s) => s.clone(),
        }
    }

    /// Reads a stored binding.
    pub fn parse(kind: &str, value: &str) -> Result<Binding, BadBinding> {
        let bad = |reason: String| BadBinding {
            kind: kind.to_string(),
            value: value.to_string(),
            reason,
        };
        let text = || -> Result<String, BadBinding> {
            if value.is_empty() || value.len() > 253 {
                Err(bad("must be 1 to 253 bytes".into()))
            } else {
                Ok(value.to_string())
            }
        };
        Ok(match kind {
            "mac" => Binding::Mac(value.parse().map_err(|e| bad(format!("{e}")))?),
            "ip" => Binding::Ip(value.parse().map_err(|e| bad(format!("{e}")))?),
            "vlan" => Binding::Vlan(
                value
                    .parse()
                    .ok()
                    .filter(|v| (1..=4094).contains(v))
                    .ok_or_else(|| bad("not a VLAN id (1-4094)".into()))?,
            ),
            "nas" => Binding::Nas(text()?),
            "nas_port" => Binding::NasPort(text()?),
            "device" => Binding::Device(text()?),
            _ => return Err(bad("unknown kind".into())),
        })
    }
}

/// A binding on the wire: `{"kind": "mac", "value": "aa:bb:cc:dd:ee:ff"}`.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct BindingJson {
    /// mac, ip, nas, nas_port, vlan or device.
    kind: String,
    /// The MAC, IP address, NAS, NAS-Port-Id, VLAN id (1-4094) or device id.
    value: String,
}

impl utoipa::PartialSchema for Binding {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        BindingJson::schema()
    }
}

impl utoipa::ToSchema for Binding {
    fn name() -> std::borrow::Cow<'static, str> {
        "Binding".into()
    }
}

impl Serialize for Binding {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        BindingJson {
            kind: self.kind().to_string(),
            value: self.value(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Binding {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let b = BindingJson::deserialize(d)?;
        Binding::parse(&b.kind, &b.value).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Binding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.kind(), self.value())
    }
}

/// A product instance (产品实例) an account holds: its own balance and its current cycle.
/// The cycle's usage is kept apart ([`Usage`]): accounting changes it all the time, the
/// rest changes only with payments, settlement and operators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Holding {
    /// The product's name.
    pub product: String,
    /// The instance's balance (产品余额), fen; below zero is arrearage (E2616).
    pub balance_fen: i64,
    /// Unix second the current cycle started.
    pub cycle_start: i64,
    /// Unix second the current cycle ends (exclusive); 0 until settlement computes it
    /// from the product's cycle.
    pub cycle_end: i64,
    /// Package plan bought automatically at each settlement (预约购买).
    pub reserved_package: Option<String>,
    /// Packages bought onto it that have not been deleted.
    pub packages: Vec<Grant>,
}

/// What a package bought onto a product instance adds, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Grant {
    /// Extra online seconds.
    pub extra_secs: u64,
    /// Extra traffic (both ways), bytes.
    pub extra_bytes: u64,
    /// Unix second of purchase.
    pub bought_at: i64,
    /// Unix second it stops counting.
    pub expires_at: i64,
}

impl Holding {
    /// Extra (seconds, bytes) from packages valid at some time in `[start, end)`.
    pub fn extra_during(&self, start: i64, end: i64) -> (u64, u64) {
        self.packages
            .iter()
            .filter(|g| g.bought_at < end && g.expires_at > start)
            .fold((0u64, 0u64), |(s, b), g| {
                (
                    s.saturating_add(g.extra_secs),
                    b.saturating_add(g.extra_bytes),
                )
            })
    }

    /// A fresh instance of `product` whose first cycle starts at `now`.
    pub fn new(product: &str, now: i64) -> Holding {
        Holding {
            product: product.to_string(),
            balance_fen: 0,
            cycle_start: now,
            cycle_end: 0,
            reserved_package: None,
            packages: Vec::new(),
        }
    }
}

/// What a product instance used in its current cycle. Counters saturate instead of
/// wrapping.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
pub struct Usage {
    /// Online seconds.
    pub secs: u64,
    /// Octets from the user (upload).
    pub bytes_in: u64,
    /// Octets to the user (download).
    pub bytes_out: u64,
    /// Sessions started.
    pub logins: u64,
}

impl Usage {
    /// Traffic both ways.
    pub fn bytes(&self) -> u64 {
        self.bytes_in.saturating_add(self.bytes_out)
    }

    /// This usage and `other` together.
    pub fn plus(self, other: Usage) -> Usage {
        Usage {
            secs: self.secs.saturating_add(other.secs),
            bytes_in: self.bytes_in.saturating_add(other.bytes_in),
            bytes_out: self.bytes_out.saturating_add(other.bytes_out),
            logins: self.logins.saturating_add(other.logins),
        }
    }

    /// This usage without `other` (never below zero).
    pub fn minus(self, other: Usage) -> Usage {
        Usage {
            secs: self.secs.saturating_sub(other.secs),
            bytes_in: self.bytes_in.saturating_sub(other.bytes_in),
            bytes_out: self.bytes_out.saturating_sub(other.bytes_out),
            logins: self.logins.saturating_sub(other.logins),
        }
    }

    /// True when nothing was used.
    pub fn is_zero(&self) -> bool {
        *self == Usage::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_round_trip() {
        for b in [
            Binding::Mac("aa-bb-cc-dd-ee-ff".parse().unwrap()),
            Binding::Ip("10.1.2.3".parse().unwrap()),
            Binding::Ip("2001:db8::1".parse().unwrap()),
            Binding::Nas("bras-1".into()),
            Binding::NasPort("0/1/0:100".into()),
            Binding::Vlan(100),
            Binding::Device("356938035643809".into()),
        ] {
            assert_eq!(Binding::parse(b.kind(), &b.value()), Ok(b));
        }
        assert!(Binding::parse("vlan", "4095").is_err());
        assert!(Binding::parse("mac", "aa").is_err());
        assert!(Binding::parse("colour", "red").is_err());
        assert!(Binding::parse("device", "").is_err());
    }
}
