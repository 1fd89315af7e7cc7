//! What an account holds beyond its password: the profile an operator sets, the bindings
//! that tie it to devices and ports, and the product instances it has bought. Shared by
//! the store (rows), the directory (memory) and the policy (decisions).

use serde::Serialize;
use std::fmt;
use std::net::IpAddr;
use thiserror::Error;

use crate::auth::mac::MacAddr;

/// Operator-set attributes of an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

impl fmt::Display for Binding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.kind(), self.value())
    }
}

/// A product instance an account holds, with the usage of the current cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holding {
    /// The product's name.
    pub product: String,
    /// Online seconds used this cycle.
    pub used_secs: u64,
    /// Bytes used this cycle.
    pub used_bytes: u64,
    /// Money spent this cycle, fen.
    pub spent_fen: i64,
}

impl Holding {
    /// A fresh instance of `product`.
    pub fn new(product: &str) -> Holding {
        Holding {
            product: product.to_string(),
            used_secs: 0,
            used_bytes: 0,
            spent_fen: 0,
        }
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
