//! Typed settings: one TOML file (`config/turnstile.toml` documents every key and its
//! default), overridable key by key from the environment as `TURNSTILE__SECTION__KEY`.
//!
//! Loading checks every value and names the offending key on error, so that
//! `turnstile check-config` can tell an operator exactly what to fix.

//!
//! Each section's struct, its defaults and its checks live in one file of this module,
//! named after the section; this file reads the whole and runs every section's checks.

use serde::Deserialize;
use std::fmt;
use std::path::{Path, PathBuf};
use thiserror::Error;

mod api;
mod billing;
mod bootstrap;
mod dynauth;
mod general;
mod http;
mod policy;
mod portal;
mod radius;
mod sessions;
mod store;
mod telemetry;

pub use api::ApiSettings;
pub use billing::{BillingSettings, PayTo};
pub use bootstrap::{Bootstrap, BootstrapUser};
pub use dynauth::DynAuthSettings;
pub use general::General;
pub use http::HttpSettings;
pub use policy::PolicySettings;
pub use portal::{PortalActivation, PortalSettings};
pub use radius::{
    default_coa_port, default_require_message_authenticator, ClientSettings, RadiusSettings,
    DEFAULT_COA_PORT,
};
pub use sessions::SessionSettings;
pub use store::StoreSettings;
pub use telemetry::{LogFormat, TelemetrySettings};

/// Environment variables with this prefix (and `__` between levels) override the file.
pub const ENV_PREFIX: &str = "TURNSTILE";

/// Why the configuration cannot be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The file is missing, unreadable or not TOML.
    #[error("cannot read config file {path}: {reason}")]
    File {
        /// The file's path.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// One key has a bad value (or is not a key at all).
    #[error("config key `{key}`: {reason}")]
    Key {
        /// Dotted path of the key, e.g. `radius.clients[0].secret`.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl ConfigError {
    /// Key `key` is wrong for `reason`.
    pub fn key(key: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError::Key {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

/// Every setting of the daemon and the CLI.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Language and data directory.
    pub general: General,
    /// RADIUS listener and NAS clients.
    pub radius: RadiusSettings,
    /// Where users and NAS devices are kept.
    pub store: StoreSettings,
    /// Thresholds of the authorization policy.
    pub policy: PolicySettings,
    /// Retransmission of Disconnect and CoA requests.
    pub dynauth: DynAuthSettings,
    /// Server-side checks of online sessions.
    pub sessions: SessionSettings,
    /// The operator's local HTTP API.
    pub api: ApiSettings,
    /// The Srun-compatible web portal.
    pub portal: PortalSettings,
    /// Limits of the HTTP listeners (portal, API, metrics).
    pub http: HttpSettings,
    /// Payments and settlement.
    pub billing: BillingSettings,
    /// Logs and metrics.
    pub telemetry: TelemetrySettings,
    /// Accounts created the first time the daemon runs on a store.
    pub bootstrap: Bootstrap,
}

/// Refuses `value` of `key` outside `range`: "must be between LOW and HIGH", then `unit`
/// (" seconds", or why the bounds are what they are).
fn check_range<T: PartialOrd + fmt::Display>(
    key: &str,
    value: T,
    range: std::ops::RangeInclusive<T>,
    unit: &str,
) -> Result<(), ConfigError> {
    if range.contains(&value) {
        return Ok(());
    }
    Err(ConfigError::key(
        key,
        format!(
            "must be between {} and {}{unit}",
            range.start(),
            range.end()
        ),
    ))
}

/// A secret string (shared secret, password) that is never printed.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("*redacted*")
    }
}

impl Settings {
    /// Reads the file, applies `TURNSTILE__…` overrides, and checks every value.
    pub fn load(path: &Path) -> Result<Settings, ConfigError> {
        Self::load_with_env(path, None)
    }

    /// As [`Settings::load`], with the environment given explicitly (for tests).
    pub fn load_with_env(
        path: &Path,
        env: Option<std::collections::HashMap<String, String>>,
    ) -> Result<Settings, ConfigError> {
        let file_error = |reason: String| ConfigError::File {
            path: path.to_path_buf(),
            reason,
        };
        if !path.is_file() {
            return Err(file_error("no such file".into()));
        }
        let raw = config::Config::builder()
            .add_source(config::File::from(path).format(config::FileFormat::Toml))
            .add_source(
                config::Environment::with_prefix(ENV_PREFIX)
                    .separator("__")
                    .source(env),
            )
            .build()
            .map_err(|e| file_error(e.to_string()))?;
        let settings: Settings = serde_path_to_error::deserialize(raw).map_err(|e| {
            let key = e.path().to_string();
            let reason = e.into_inner().to_string();
            ConfigError::key(
                if key == "." {
                    "(top level)".into()
                } else {
                    key
                },
                reason,
            )
        })?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.general.validate()?;
        self.radius.validate()?;
        self.api.validate()?;
        self.store.validate()?;
        self.telemetry.validate()?;
        self.portal.validate()?;
        self.http.validate(&self.dynauth)?;
        self.sessions.validate()?;
        self.billing.validate()?;
        self.bootstrap.validate()
    }

    /// This node's name among the nodes of a cluster: the host and the data directory,
    /// the same across restarts.
    pub fn node_name(&self) -> String {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "localhost".into());
        let dir = std::fs::canonicalize(&self.general.data_dir)
            .unwrap_or_else(|_| self.general.data_dir.clone());
        format!("{host}:{}", dir.display())
    }

    /// Number of RADIUS workers, resolving 0 to the CPU count.
    pub fn worker_count(&self) -> usize {
        match self.radius.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(toml: &str, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(&path, toml).unwrap();
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::load_with_env(&path, Some(env))
    }

    #[test]
    fn shipped_config_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/turnstile.toml");
        let s = Settings::load_with_env(&path, Some(HashMap::new())).unwrap();
        assert_eq!(s.radius.auth_port, 1812);
        assert_eq!(s.radius.clients[0].secret.0, "testing123");
    }

    #[test]
    fn environment_overrides_a_key() {
        let s = load("", &[("TURNSTILE__RADIUS__AUTH_PORT", "11812")]).unwrap();
        assert_eq!(s.radius.auth_port, 11812);
    }

    #[test]
    fn errors_name_the_key() {
        let e = load("[radius]\nauth_port = \"abc\"\n", &[]).unwrap_err();
        assert!(e.to_string().contains("radius.auth_port"), "{e}");
        let e = load("[radius]\nauth_prot = 1\n", &[]).unwrap_err();
        assert!(e.to_string().contains("auth_prot"), "{e}");
        let e = load(
            "[[radius.clients]]\nname=\"a\"\naddress=\"10.0.0.300\"\nsecret=\"x\"\n",
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().contains("radius.clients[0].address"), "{e}");
        let e = load(
            "[[radius.clients]]\nname=\"a\"\naddress=\"10.0.0.0/8\"\nsecret=\"\"\n",
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().contains("radius.clients[0].secret"), "{e}");
        let e = load("", &[("TURNSTILE__GENERAL__LANGUAGE", "fr")]).unwrap_err();
        assert!(e.to_string().contains("general.language"), "{e}");
        let e = load("[portal]\nac_ids = [\"1\", \"a\\\"b\"]\n", &[]).unwrap_err();
        assert!(e.to_string().contains("portal.ac_ids[1]"), "{e}");
        let activation = |ac_id: &str, service: &str| {
            format!("[[portal.activation]]\nac_id = \"{ac_id}\"\nnas = \"bras\"\nservice = \"{service}\"\n")
        };
        let e = load(&activation("9", "internet"), &[]).unwrap_err();
        assert!(e.to_string().contains("portal.activation[0].ac_id"), "{e}");
        let e = load(&activation("1", ""), &[]).unwrap_err();
        assert!(
            e.to_string().contains("portal.activation[0].service"),
            "{e}"
        );
        let ok = load(&activation("1", "internet"), &[]).unwrap();
        assert_eq!(ok.portal.activation[0].nas, "bras");
    }

    #[test]
    fn address_ranges() {
        assert_eq!(
            crate::address::parse_address_range("127.0.0.1")
                .unwrap()
                .to_string(),
            "127.0.0.1/32"
        );
        assert_eq!(
            crate::address::parse_address_range("10.1.2.3/8")
                .unwrap()
                .to_string(),
            "10.0.0.0/8"
        );
        assert!(crate::address::parse_address_range("nas1").is_err());
    }
}
