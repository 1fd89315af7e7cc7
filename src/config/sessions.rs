//! `[sessions]`: the sweeper that ends sessions on the server's side.

use serde::Deserialize;

use super::{check_range, ConfigError};

/// `[sessions]`: the sweeper that ends sessions on the server's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionSettings {
    /// How often every online session is checked.
    pub sweep_interval_ms: u64,
    /// A session without Interim-Update for this many interim intervals is ended (E3101).
    pub heartbeat_intervals: u32,
    /// Acct-Interim-Interval sent when the control policy sets none, seconds: without
    /// interims neither quotas nor the heartbeat can be enforced.
    pub default_interim_secs: u32,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            sweep_interval_ms: 10_000,
            heartbeat_intervals: 3,
            default_interim_secs: 300,
        }
    }
}

impl SessionSettings {
    /// Checks the section's values, naming the key at fault.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        check_range(
            "sessions.default_interim_secs",
            self.default_interim_secs,
            10..=86_400,
            " seconds",
        )?;
        Ok(())
    }
}
