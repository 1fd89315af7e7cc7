//! `[http]`: the limits every HTTP listener applies.

use serde::Deserialize;

use super::{check_range, ConfigError, DynAuthSettings};

/// `[http]`: limits every HTTP listener (portal, operator API, metrics) applies, so that
/// slow, idle or half-open clients cannot exhaust it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// Connections open at once on each listener; more are closed at once.
    pub max_connections: usize,
    /// Connections open at once from one client address on each listener.
    pub max_connections_per_address: usize,
    /// Seconds a client has to send a request head (and finish the TLS handshake), and
    /// to read a reply that is being written.
    pub header_timeout_secs: u64,
    /// Seconds within which a request, its body included, must be answered (408
    /// beyond); longer than a portal login that waits for a NAS's CoA answer
    /// (`dynauth.total_ms`).
    pub request_timeout_secs: u64,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            max_connections: 1024,
            max_connections_per_address: 32,
            header_timeout_secs: 10,
            request_timeout_secs: 60,
        }
    }
}

impl HttpSettings {
    /// Checks the section's values, naming the key at fault; a request must outlast a portal login's wait for its NAS (`dynauth`).
    pub(super) fn validate(&self, dynauth: &DynAuthSettings) -> Result<(), ConfigError> {
        let h = self;
        if h.max_connections == 0 {
            return Err(ConfigError::key(
                "http.max_connections",
                "must be at least 1",
            ));
        }
        if h.max_connections_per_address == 0 {
            return Err(ConfigError::key(
                "http.max_connections_per_address",
                "must be at least 1",
            ));
        }
        check_range(
            "http.header_timeout_secs",
            h.header_timeout_secs,
            1..=300,
            " seconds",
        )?;
        let login_wait = dynauth.total_ms.div_ceil(1000);
        if h.request_timeout_secs <= login_wait || h.request_timeout_secs > 3600 {
            return Err(ConfigError::key(
                "http.request_timeout_secs",
                format!(
                    "must be more than dynauth.total_ms ({login_wait} s: a portal login may wait that long for its NAS) and at most 3600"
                ),
            ));
        }
        Ok(())
    }
}
