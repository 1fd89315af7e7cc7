//! `[policy]`: thresholds of the authorization checks that are not stored per user.

use serde::Deserialize;

/// `[policy]`: thresholds of the checks that are not stored per user. 0 turns a check off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicySettings {
    /// A user accepted less than this many seconds ago is refused with E2532.
    pub min_auth_interval_secs: u32,
    /// This many wrong passwords within `lockout_window_secs` lock the user (E2533).
    pub lockout_failures: u32,
    /// The window in which wrong passwords are counted.
    pub lockout_window_secs: u32,
    /// How long a lock lasts; it survives a restart.
    pub lockout_secs: u32,
}

impl Default for PolicySettings {
    fn default() -> Self {
        PolicySettings {
            min_auth_interval_secs: 10,
            lockout_failures: 5,
            lockout_window_secs: 300,
            lockout_secs: 300,
        }
    }
}
