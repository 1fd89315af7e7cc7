//! `[general]`: the language of user-facing texts and the data directory.

use serde::Deserialize;
use std::path::PathBuf;

use super::ConfigError;
use crate::codes::Lang;

/// `[general]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct General {
    /// Language of user-facing texts (`zh` or `en`).
    pub language: Lang,
    /// Directory of the database and the secret key.
    pub data_dir: PathBuf,
    /// Shifts the daemon's clock by this many seconds: for drills and tests that must see
    /// a billing cycle end. Leave it at 0 in production.
    pub clock_offset_secs: i64,
}

impl Default for General {
    fn default() -> Self {
        General {
            language: Lang::Zh,
            data_dir: PathBuf::from("data"),
            clock_offset_secs: 0,
        }
    }
}

impl General {
    /// Checks the section's values, naming the key at fault.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::key("general.data_dir", "must not be empty"));
        }
        Ok(())
    }
}
