//! MAC addresses as NAS devices write them in Calling-Station-Id: `aa-bb-cc-dd-ee-ff`,
//! `AA:BB:CC:DD:EE:FF`, `aabb.ccdd.eeff`, `aabbccddeeff` (any case).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// A 48-bit MAC address; displayed as `aa:bb:cc:dd:ee:ff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacAddr(pub [u8; 6]);

/// The text is not a MAC address in any of the accepted forms.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("not a MAC address: {0:?} (expected aa:bb:cc:dd:ee:ff, aa-bb-…, aabb.ccdd.eeff or aabbccddeeff)")]
pub struct BadMac(pub String);

impl MacAddr {
    /// Parses the bytes of a Calling-Station-Id; None when it is not a MAC address.
    pub fn from_station_id(value: &[u8]) -> Option<MacAddr> {
        std::str::from_utf8(value).ok()?.parse().ok()
    }
}

impl FromStr for MacAddr {
    type Err = BadMac;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadMac(s.to_string());
        let t = s.trim().as_bytes();
        // The separator pattern must be one of the known layouts, not any mix.
        let (step, sep): (usize, &[usize]) = match t.len() {
            12 => (2, &[]),
            14 if t[4] == b'.' && t[9] == b'.' => (0, &[4, 9]),
            17 if (t[2] == b':' || t[2] == b'-') && (2..17).step_by(3).all(|i| t[i] == t[2]) => {
                (3, &[])
            }
            _ => return Err(bad()),
        };
        let mut digits = [0u8; 12];
        let mut n = 0;
        for (i, &c) in t.iter().enumerate() {
            let is_separator = match step {
                3 => i % 3 == 2,
                0 => sep.contains(&i),
                _ => false,
            };
            if is_separator {
                continue;
            }
            // Checked here because from_str_radix would accept a leading '+'.
            let d = (c as char).to_digit(16).ok_or_else(bad)?;
            digits[n] = d as u8;
            n += 1;
        }
        let mut mac = [0u8; 6];
        for (i, pair) in digits.chunks(2).enumerate() {
            mac[i] = pair[0] << 4 | pair[1];
        }
        Ok(MacAddr(mac))
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

impl Serialize for MacAddr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MacAddr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_common_form() {
        let want = MacAddr([0xaa, 0xbb, 0xcc, 0x0d, 0xee, 0xff]);
        for s in [
            "aa-bb-cc-0d-ee-ff",
            "AA-BB-CC-0D-EE-FF",
            "aa:bb:cc:0d:ee:ff",
            "AA:BB:CC:0D:EE:FF",
            "aabb.cc0d.eeff",
            "AABB.CC0D.EEFF",
            "aabbcc0deeff",
            " aabbcc0deeff ",
        ] {
            assert_eq!(s.parse::<MacAddr>(), Ok(want), "{s}");
        }
        assert_eq!(want.to_string(), "aa:bb:cc:0d:ee:ff");
    }

    #[test]
    fn rejects_lookalikes() {
        for s in [
            "",
            "aa:bb:cc:dd:ee",
            "aa:bb-cc:dd:ee:ff",
            "aabb.ccdd-eeff",
            "gg:bb:cc:dd:ee:ff",
            "aabbccddeeff00",
            "+a:bb:cc:dd:ee:ff",
            "13800138000",
            "aa:bb:cc:dd:ee:ff:",
            "äa:bb:cc:dd:ee:f",
        ] {
            assert!(s.parse::<MacAddr>().is_err(), "{s}");
        }
        assert_eq!(MacAddr::from_station_id(&[0xff, 0xfe]), None);
    }
}
