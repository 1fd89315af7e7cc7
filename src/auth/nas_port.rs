//! VLAN ids from NAS-Port-Id, in the two forms BRAS devices send:
//! `slot/subslot/port:vlan[.vlan2]` (Huawei, H3C: `eth 0/1/0:100.200`) and
//! `vlanid=100;vlanid2=200;` (ZTE and others).

/// The outer and (for QinQ) inner VLAN of a NAS-Port-Id; absent parts are None.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Vlans {
    /// Outer (or only) VLAN id.
    pub outer: Option<u16>,
    /// Inner VLAN id of a QinQ port.
    pub inner: Option<u16>,
}

impl Vlans {
    /// Reads the VLANs of a NAS-Port-Id; unknown forms give no VLAN rather than an error.
    pub fn from_nas_port_id(port: &[u8]) -> Vlans {
        let Ok(text) = std::str::from_utf8(port) else {
            return Vlans::default();
        };
        if text.contains("vlanid=") {
            let mut v = Vlans::default();
            for field in text.split(';') {
                match field.trim().split_once('=') {
                    Some(("vlanid", id)) => v.outer = vlan(id),
                    Some(("vlanid2", id)) => v.inner = vlan(id),
                    _ => {}
                }
            }
            return v;
        }
        // The VLAN part follows the last ':' after the slot/subslot/port numbers.
        let Some((port_part, vlans)) = text.rsplit_once(':') else {
            return Vlans::default();
        };
        if !port_part.contains('/') {
            return Vlans::default();
        }
        let vlans = vlans.split_whitespace().next().unwrap_or("");
        let (outer, inner) = match vlans.split_once('.') {
            Some((o, i)) => (vlan(o), vlan(i)),
            None => (vlan(vlans), None),
        };
        Vlans { outer, inner }
    }

    /// True if either VLAN is `id`.
    pub fn contains(&self, id: u16) -> bool {
        self.outer == Some(id) || self.inner == Some(id)
    }
}

/// A VLAN id, 1–4094.
fn vlan(s: &str) -> Option<u16> {
    s.trim()
        .parse::<u16>()
        .ok()
        .filter(|v| (1..=4094).contains(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(outer: Option<u16>, inner: Option<u16>) -> Vlans {
        Vlans { outer, inner }
    }

    #[test]
    fn slot_port_forms() {
        assert_eq!(Vlans::from_nas_port_id(b"0/1/0:100"), v(Some(100), None));
        assert_eq!(
            Vlans::from_nas_port_id(b"slot=2;subslot=0;port=1;vlanid=100;vlanid2=200;"),
            v(Some(100), Some(200))
        );
        assert_eq!(
            Vlans::from_nas_port_id(b"eth 0/1/0:100.200"),
            v(Some(100), Some(200))
        );
        assert_eq!(
            Vlans::from_nas_port_id(b"GigabitEthernet2/0/1:4094.1 0/0/0/0/0/0"),
            v(Some(4094), Some(1))
        );
        assert_eq!(Vlans::from_nas_port_id(b"vlanid=7;"), v(Some(7), None));
    }

    #[test]
    fn unknown_forms_have_no_vlan() {
        for s in [
            &b""[..],
            b"port-17",
            b"0/1/0",
            b"0/1/0:abc",
            b"0/1/0:0",
            b"0/1/0:4095",
            b"vlanid=;",
            b"\xff\xfe",
            b"host:100",
        ] {
            assert_eq!(Vlans::from_nas_port_id(s), Vlans::default(), "{s:?}");
        }
    }
}
