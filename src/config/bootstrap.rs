//! `[bootstrap]`: accounts created the first time the daemon runs on a store.

use serde::Deserialize;

use super::{ConfigError, Secret};

/// `[bootstrap]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Bootstrap {
    /// Users created the first time the daemon runs on a store (never afterwards).
    pub users: Vec<BootstrapUser>,
}

/// One `[[bootstrap.users]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootstrapUser {
    /// User name.
    pub name: String,
    /// Password.
    pub password: Secret,
}

impl Bootstrap {
    /// Checks the section's values, naming the key at fault.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        for (i, u) in self.users.iter().enumerate() {
            if u.name.is_empty() || u.password.0.is_empty() {
                return Err(ConfigError::key(
                    format!("bootstrap.users[{i}]"),
                    "name and password must not be empty",
                ));
            }
        }
        Ok(())
    }
}
