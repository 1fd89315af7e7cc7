//! `[billing]`: where payments land and when settlement runs.

use serde::Deserialize;

use super::ConfigError;
use crate::clock::Zone;

/// Where a payment lands by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PayTo {
    /// The user's wallet (电子钱包).
    #[default]
    Wallet,
    /// The user's first product instance.
    Product,
}

/// `[billing]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BillingSettings {
    /// Where a payment lands when the payer names no product.
    pub pay_to: PayTo,
    /// Local time of the daily settlement run, `HH:MM`; "" turns the timer off.
    pub settle_at: String,
    /// The zone cycles and `settle_at` are counted in: "local" or an offset, "+08:00".
    pub time_zone: Zone,
}

impl Default for BillingSettings {
    fn default() -> Self {
        BillingSettings {
            pay_to: PayTo::Wallet,
            settle_at: "00:05".into(),
            time_zone: Zone::Local,
        }
    }
}

impl BillingSettings {
    /// Minute of the day of the settlement run; None when the timer is off.
    pub fn settle_minute(&self) -> Result<Option<u32>, String> {
        if self.settle_at.is_empty() {
            return Ok(None);
        }
        let bad = || format!("{:?} is not HH:MM (00:00-23:59) or \"\"", self.settle_at);
        let (h, m) = self.settle_at.split_once(':').ok_or_else(bad)?;
        let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if h > 23 || m > 59 {
            return Err(bad());
        }
        Ok(Some(h * 60 + m))
    }

    /// Checks the section's values, naming the key at fault.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        self.settle_minute()
            .map_err(|reason| ConfigError::key("billing.settle_at", reason))?;
        Ok(())
    }
}
