//! `[dynauth]`: retransmission of Disconnect and CoA requests.

use serde::Deserialize;

/// `[dynauth]`: how Disconnect and CoA requests are retransmitted (RFC 5176). The same
/// request is sent again after `initial_retry_ms`, doubling up to `max_retry_ms`, at most
/// `tries` times and never after `total_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DynAuthSettings {
    /// Wait before the first retransmission.
    pub initial_retry_ms: u64,
    /// Longest wait between two sends.
    pub max_retry_ms: u64,
    /// Sends in all, the first included.
    pub tries: u32,
    /// Time after which the NAS is taken not to answer.
    pub total_ms: u64,
}

impl Default for DynAuthSettings {
    fn default() -> Self {
        DynAuthSettings {
            initial_retry_ms: 2_000,
            max_retry_ms: 16_000,
            tries: 5,
            total_ms: 30_000,
        }
    }
}
