//! `[radius]`: the RADIUS listeners and the NAS clients known from the file.

use ipnet::IpNet;
use serde::{Deserialize, Deserializer};
use std::net::{IpAddr, Ipv4Addr};

use super::{check_range, ConfigError, Secret};
use crate::vendor::Vendor;

/// The port RFC 5176 assigns to Dynamic Authorization (a NAS's Disconnect and CoA).
pub const DEFAULT_COA_PORT: u16 = 3799;

/// `[radius]`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RadiusSettings {
    /// Address the RADIUS sockets bind to.
    pub listen: IpAddr,
    /// Authentication port (0 picks a free one).
    pub auth_port: u16,
    /// Accounting port (0 picks a free one).
    pub acct_port: u16,
    /// Worker threads, each with its own socket on the port; 0 means one per CPU.
    pub workers: usize,
    /// Kernel receive buffer of each RADIUS socket (every auth worker's, accounting's and
    /// the DM/CoA client's), in bytes: the bounded queue that absorbs bursts.
    pub recv_buffer_bytes: usize,
    /// How long a reply stays in the reply cache for retransmissions (RFC 5080).
    pub reply_cache_secs: u64,
    /// Most replies kept in the cache; beyond this, requests are not deduplicated.
    pub reply_cache_max_entries: usize,
    /// Accounting requests read per second while authentication falls behind (its
    /// sockets' queues fill); the rest wait, and NASes retransmit what the kernel drops.
    pub overload_accounting_per_sec: u32,
    /// NAS clients known from this file (more can be added with `turnstile nas add`).
    pub clients: Vec<ClientSettings>,
}

impl Default for RadiusSettings {
    fn default() -> Self {
        RadiusSettings {
            listen: IpAddr::V4(Ipv4Addr::LOCALHOST),
            auth_port: 1812,
            acct_port: 1813,
            workers: 0,
            recv_buffer_bytes: 4 << 20,
            reply_cache_secs: 5,
            reply_cache_max_entries: 1_000_000,
            overload_accounting_per_sec: 200,
            clients: Vec::new(),
        }
    }
}

/// One `[[radius.clients]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSettings {
    /// A name for logs and metrics.
    pub name: String,
    /// Source address or CIDR range of the NAS.
    #[serde(deserialize_with = "address_range")]
    pub address: IpNet,
    /// Shared secret.
    pub secret: Secret,
    /// Attribute dialect of the NAS.
    #[serde(default)]
    pub vendor: Vendor,
    /// Drop Access-Requests without Message-Authenticator (BlastRADIUS defence).
    #[serde(default = "default_require_message_authenticator")]
    pub require_message_authenticator: bool,
    /// Port the NAS takes Disconnect and CoA requests on.
    #[serde(default = "default_coa_port")]
    pub coa_port: u16,
}

/// A NAS client's `coa_port` when none is given (the NAS registry's too).
pub fn default_coa_port() -> u16 {
    DEFAULT_COA_PORT
}

/// A NAS client's `require_message_authenticator` when none is given (the NAS
/// registry's too): on.
pub fn default_require_message_authenticator() -> bool {
    true
}

impl RadiusSettings {
    /// Checks the section's values, naming the key at fault.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let r = self;
        if r.recv_buffer_bytes < 65536 {
            return Err(ConfigError::key(
                "radius.recv_buffer_bytes",
                "must be at least 65536",
            ));
        }
        check_range(
            "radius.reply_cache_secs",
            r.reply_cache_secs,
            1..=300,
            " seconds",
        )?;
        check_range(
            "radius.overload_accounting_per_sec",
            r.overload_accounting_per_sec,
            1..=1_000_000,
            "",
        )?;
        let mut names = std::collections::HashSet::new();
        for (i, c) in r.clients.iter().enumerate() {
            let key = |field: &str| format!("radius.clients[{i}].{field}");
            if c.name.trim().is_empty() {
                return Err(ConfigError::key(key("name"), "must not be empty"));
            }
            if !names.insert(c.name.as_str()) {
                return Err(ConfigError::key(
                    key("name"),
                    format!("{:?} is used by another client", c.name),
                ));
            }
            if c.secret.0.is_empty() {
                return Err(ConfigError::key(key("secret"), "must not be empty"));
            }
        }
        Ok(())
    }
}

fn address_range<'de, D: Deserializer<'de>>(d: D) -> Result<IpNet, D::Error> {
    let s = String::deserialize(d)?;
    crate::address::parse_address_range(&s).map_err(serde::de::Error::custom)
}
