//! The NAS client table: which source addresses may talk to us, with which secret.

use ipnet::IpNet;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::DEFAULT_COA_PORT;
use crate::proto::radius::crypto::SharedSecret;
use crate::vendor::Vendor;

/// One NAS (or a range of them sharing a secret).
#[derive(Debug)]
pub struct NasClient {
    /// Name for logs and metrics.
    pub name: String,
    /// Source addresses this entry covers.
    pub range: IpNet,
    /// Shared secret.
    pub secret: SharedSecret,
    /// Attribute dialect.
    pub vendor: Vendor,
    /// Drop Access-Requests without Message-Authenticator.
    pub require_message_authenticator: bool,
    /// Port the NAS takes Disconnect and CoA requests on (RFC 5176).
    pub coa_port: u16,
    warned_at: WarnLimiter,
}

impl NasClient {
    /// The same entry taking Disconnect and CoA requests on `port`.
    pub fn with_coa_port(mut self, port: u16) -> Self {
        self.coa_port = port;
        self
    }

    /// A client entry.
    pub fn new(
        name: String,
        range: IpNet,
        secret: &[u8],
        vendor: Vendor,
        require_message_authenticator: bool,
    ) -> Self {
        NasClient {
            name,
            range,
            secret: SharedSecret::new(secret),
            vendor,
            require_message_authenticator,
            coa_port: DEFAULT_COA_PORT,
            warned_at: WarnLimiter::default(),
        }
    }

    /// True at most once a minute per client: keeps a misconfigured NAS from flooding
    /// the log.
    pub fn should_warn(&self) -> bool {
        self.warned_at.allow(Duration::from_secs(60))
    }
}

/// Lets an event through at most once per interval.
#[derive(Debug)]
struct WarnLimiter {
    origin: Instant,
    last_ms: AtomicU64,
}

impl Default for WarnLimiter {
    fn default() -> Self {
        WarnLimiter {
            origin: Instant::now(),
            last_ms: AtomicU64::new(u64::MAX),
        }
    }
}

impl WarnLimiter {
    fn allow(&self, interval: Duration) -> bool {
        let now = self.origin.elapsed().as_millis() as u64;
        let last = self.last_ms.load(Ordering::Relaxed);
        let due = last == u64::MAX || now.saturating_sub(last) >= interval.as_millis() as u64;
        due && self
            .last_ms
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }
}

/// Clients by exact address, then by range (longest prefix first).
#[derive(Debug, Default)]
pub struct ClientTable {
    exact: HashMap<IpAddr, Arc<NasClient>>,
    ranges: Vec<Arc<NasClient>>,
}

impl ClientTable {
    /// Builds the table. When two entries cover the same address, the more specific
    /// wins, and among equals the first given.
    pub fn new(clients: impl IntoIterator<Item = NasClient>) -> Self {
        let mut table = ClientTable::default();
        for c in clients {
            let c = Arc::new(c);
            if c.range.prefix_len() == c.range.max_prefix_len() {
                table.exact.entry(c.range.addr()).or_insert(c);
            } else {
                table.ranges.push(c);
            }
        }
        table
            .ranges
            .sort_by_key(|c| std::cmp::Reverse(c.range.prefix_len()));
        table
    }

    /// The client a packet from `ip` belongs to.
    pub fn lookup(&self, ip: IpAddr) -> Option<&Arc<NasClient>> {
        let ip = ip.to_canonical();
        self.exact
            .get(&ip)
            .or_else(|| self.ranges.iter().find(|c| c.range.contains(&ip)))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.exact.len() + self.ranges.len()
    }

    /// The entry of this name.
    pub fn by_name(&self, name: &str) -> Option<&Arc<NasClient>> {
        self.exact
            .values()
            .chain(&self.ranges)
            .find(|c| c.name == name)
    }

    /// True when no client is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(name: &str, range: &str) -> NasClient {
        NasClient::new(
            name.into(),
            crate::address::parse_address_range(range).unwrap(),
            b"s",
            Vendor::Standard,
            true,
        )
    }

    #[test]
    fn exact_beats_range_and_longest_prefix_wins() {
        let t = ClientTable::new([
            client("wide", "10.0.0.0/8"),
            client("narrow", "10.1.0.0/16"),
            client("one", "10.1.2.3"),
        ]);
        let name = |ip: &str| t.lookup(ip.parse().unwrap()).map(|c| c.name.clone());
        assert_eq!(name("10.1.2.3").as_deref(), Some("one"));
        assert_eq!(name("10.1.9.9").as_deref(), Some("narrow"));
        assert_eq!(name("10.9.9.9").as_deref(), Some("wide"));
        assert_eq!(name("::ffff:10.1.2.3").as_deref(), Some("one"));
        assert_eq!(name("192.0.2.1"), None);
    }

    #[test]
    fn warnings_are_rate_limited() {
        let c = client("a", "10.0.0.1");
        assert!(c.should_warn());
        assert!(!c.should_warn());
    }
}
