//! `[store]`: where users, sessions and billing are kept, and how nodes share them.

use serde::Deserialize;

use super::{check_range, ConfigError};

/// `[store]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    /// `sqlite://PATH` (the embedded default; empty means `<data_dir>/turnstile.db`) or
    /// `postgres://user:password@host:port/database`, shared by the nodes of a cluster.
    pub url: String,
    /// How often the daemon picks up changes made by the CLI or other nodes when nothing
    /// wakes it sooner (PostgreSQL's NOTIFY does).
    pub sync_interval_ms: u64,
    /// Length of the lease on once-only work (settlement, the sweeper, policy-change
    /// pushes): when its node dies, another takes the work over within this time.
    pub lease_secs: u64,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            url: String::new(),
            sync_interval_ms: 500,
            lease_secs: 20,
        }
    }
}

impl StoreSettings {
    /// Checks the section's values, naming the key at fault.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        check_range("store.lease_secs", self.lease_secs, 2..=300, " seconds")?;
        check_range(
            "store.sync_interval_ms",
            self.sync_interval_ms,
            1..=2000,
            " (changes must reach the daemon within 2 s)",
        )?;
        Ok(())
    }
}
