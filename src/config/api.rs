//! `[api]`: the operator API's listener and its TLS.

use serde::Deserialize;
use std::path::{Path, PathBuf};

use super::ConfigError;

/// `[api]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiSettings {
    /// Address of the operator API; "" turns it off. Keep it on loopback, or use TLS.
    pub listen: String,
    /// Certificate chain (PEM) for HTTPS; empty: plain HTTP. Needs `tls_key`.
    pub tls_cert: PathBuf,
    /// Private key (PEM) of `tls_cert`.
    pub tls_key: PathBuf,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            listen: "127.0.0.1:9813".into(),
            tls_cert: PathBuf::new(),
            tls_key: PathBuf::new(),
        }
    }
}

impl ApiSettings {
    /// The certificate and key when TLS is on.
    pub fn tls(&self) -> Option<(&Path, &Path)> {
        (!self.tls_cert.as_os_str().is_empty())
            .then_some((self.tls_cert.as_path(), self.tls_key.as_path()))
    }

    /// Checks the section's values, naming the key at fault.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let api = self;
        match (
            api.tls_cert.as_os_str().is_empty(),
            api.tls_key.as_os_str().is_empty(),
        ) {
            (false, true) => {
                return Err(ConfigError::key(
                    "api.tls_key",
                    "is needed with api.tls_cert",
                ))
            }
            (true, false) => {
                return Err(ConfigError::key(
                    "api.tls_cert",
                    "is needed with api.tls_key",
                ))
            }
            _ => {}
        }
        Ok(())
    }
}
