//! NAS vendors: the attribute dialects a NAS client can be configured with. How each is
//! written on the wire is `proto::radius::vendor`'s business.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The attribute dialect of a NAS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Vendor {
    /// Only RFC attributes.
    #[default]
    Standard,
    /// Huawei (vendor 2011).
    Huawei,
    /// H3C (vendor 25506).
    H3c,
    /// MikroTik (vendor 14988).
    Mikrotik,
}

impl Vendor {
    /// Every dialect, for help texts.
    pub const ALL: [Vendor; 4] = [
        Vendor::Standard,
        Vendor::Huawei,
        Vendor::H3c,
        Vendor::Mikrotik,
    ];

    /// The name used in config files and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            Vendor::Standard => "standard",
            Vendor::Huawei => "huawei",
            Vendor::H3c => "h3c",
            Vendor::Mikrotik => "mikrotik",
        }
    }
}

impl fmt::Display for Vendor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A vendor name that is not one of [`Vendor::ALL`].
#[derive(Debug, thiserror::Error)]
#[error("unknown vendor {0:?} (expected standard, huawei, h3c or mikrotik)")]
pub struct UnknownVendor(String);

impl FromStr for Vendor {
    type Err = UnknownVendor;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Vendor::ALL
            .into_iter()
            .find(|v| v.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownVendor(s.to_string()))
    }
}
