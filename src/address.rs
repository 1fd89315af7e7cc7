//! Address ranges as operators write them (NAS clients, blacklists, IP tables): one
//! address or a CIDR range.

use ipnet::IpNet;
use std::net::IpAddr;

/// Parses `192.0.2.1`, `2001:db8::1` or a CIDR range such as `10.0.0.0/8`.
pub fn parse_address_range(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    if let Ok(net) = s.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    s.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("{s:?} is not an IP address or CIDR range"))
}
