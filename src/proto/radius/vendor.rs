//! NAS vendor dialects on the wire: the vendor-specific attributes each [`Vendor`]
//! understands (bandwidth, Juniper services).

use crate::vendor::Vendor;

/// Vendor-Specific (type 26) as RFC 2865 §5.26 lays it out: vendor id, then one
/// sub-attribute (type, length, data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VendorSpecific<'a> {
    /// SMI enterprise number.
    pub vendor_id: u32,
    /// The vendor's attribute number.
    pub typ: u8,
    /// The sub-attribute's value.
    pub data: &'a [u8],
}

impl VendorSpecific<'_> {
    /// Writes the value of the type-26 attribute to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.vendor_id.to_be_bytes());
        out.push(self.typ);
        out.push(2 + self.data.len() as u8);
        out.extend_from_slice(self.data);
    }
}

impl<'a> VendorSpecific<'a> {
    /// The sub-attributes in the value of a Vendor-Specific attribute (vendor id, then
    /// type-length-value triples); stops at the first that is badly framed.
    pub fn parse(value: &'a [u8]) -> impl Iterator<Item = VendorSpecific<'a>> + 'a {
        let (vendor_id, mut rest) = match value.split_first_chunk::<4>() {
            Some((id, rest)) => (u32::from_be_bytes(*id), rest),
            None => (0, &[][..]),
        };
        std::iter::from_fn(move || {
            let (&[typ, len], _) = rest.split_first_chunk::<2>()?;
            let len = usize::from(len);
            if len < 2 || len > rest.len() {
                return None;
            }
            let (sub, next) = rest.split_at(len);
            rest = next;
            Some(VendorSpecific {
                vendor_id,
                typ,
                data: &sub[2..],
            })
        })
    }
}

/// SMI enterprise numbers.
const HUAWEI: u32 = 2011;
const H3C: u32 = 25506;
const MIKROTIK: u32 = 14988;
const JUNIPER_ERX: u32 = 4874;

/// Juniper's (ERX/MX) service switch for IPoE web authentication:
/// `ERX-Service-Activate` (65) or `ERX-Service-Deactivate` (66) naming `service`.
pub fn juniper_service(service: &[u8], activate: bool) -> VendorSpecific<'_> {
    VendorSpecific {
        vendor_id: JUNIPER_ERX,
        typ: if activate { 65 } else { 66 },
        data: service,
    }
}

impl Vendor {
    /// Folds the attributes that limit a session to `up_bps` (user to network, what the
    /// NAS calls input) and `down_bps` (network to user, output), in this dialect, into
    /// `acc` with `add`, stopping at the first error. 0 is no limit in that direction;
    /// rates above the 32-bit range are sent as the largest value.
    pub fn bandwidth<T, E>(
        self,
        up_bps: u64,
        down_bps: u64,
        acc: T,
        mut add: impl FnMut(T, VendorSpecific<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let rate = |bps: u64| u32::try_from(bps).unwrap_or(u32::MAX);
        let (up, down) = (rate(up_bps), rate(down_bps));
        let mut integers = |mut acc: T, vendor_id: u32, typs: &[u8], value: u32| {
            if value > 0 {
                let data = value.to_be_bytes();
                for &typ in typs {
                    acc = add(
                        acc,
                        VendorSpecific {
                            vendor_id,
                            typ,
                            data: &data,
                        },
                    )?;
                }
            }
            Ok(acc)
        };
        match self {
            Vendor::Standard => Ok(acc),
            // Huawei-Input-Average-Rate 2, -Input-Peak-Rate 3, -Output-Average-Rate 5,
            // -Output-Peak-Rate 6: the peak equals the average for a flat limit.
            Vendor::Huawei => {
                let acc = integers(acc, HUAWEI, &[2, 3], up)?;
                integers(acc, HUAWEI, &[5, 6], down)
            }
            // H3C-Input-Peak-Rate 1, -Average 2, -Basic 3; Output 4, 5, 6.
            Vendor::H3c => {
                let acc = integers(acc, H3C, &[1, 2, 3], up)?;
                integers(acc, H3C, &[4, 5, 6], down)
            }
            // Mikrotik-Rate-Limit 8: "rx/tx" from the router's side, rx being the user's
            // upload; 0 means unlimited.
            Vendor::Mikrotik if up > 0 || down > 0 => add(
                acc,
                VendorSpecific {
                    vendor_id: MIKROTIK,
                    typ: 8,
                    data: format!("{up}/{down}").as_bytes(),
                },
            ),
            Vendor::Mikrotik => Ok(acc),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(v: Vendor, up: u64, down: u64) -> Vec<Vec<u8>> {
        v.bandwidth(up, down, Vec::new(), |mut out, a| {
            let mut value = Vec::new();
            a.encode_into(&mut value);
            out.push(value);
            Ok::<_, ()>(out)
        })
        .unwrap()
    }

    #[test]
    fn huawei_layout() {
        // 2 Mbit/s up = 0x001e8480, 10 Mbit/s down = 0x00989680.
        assert_eq!(
            encoded(Vendor::Huawei, 2_000_000, 10_000_000),
            vec![
                vec![0, 0, 0x07, 0xdb, 2, 6, 0x00, 0x1e, 0x84, 0x80],
                vec![0, 0, 0x07, 0xdb, 3, 6, 0x00, 0x1e, 0x84, 0x80],
                vec![0, 0, 0x07, 0xdb, 5, 6, 0x00, 0x98, 0x96, 0x80],
                vec![0, 0, 0x07, 0xdb, 6, 6, 0x00, 0x98, 0x96, 0x80],
            ]
        );
    }

    #[test]
    fn h3c_layout() {
        let a = encoded(Vendor::H3c, 1_000_000, 0);
        // 25506 = 0x000063a2; 1 Mbit/s = 0x000f4240; no download limit.
        assert_eq!(
            a,
            vec![
                vec![0, 0, 0x63, 0xa2, 1, 6, 0x00, 0x0f, 0x42, 0x40],
                vec![0, 0, 0x63, 0xa2, 2, 6, 0x00, 0x0f, 0x42, 0x40],
                vec![0, 0, 0x63, 0xa2, 3, 6, 0x00, 0x0f, 0x42, 0x40],
            ]
        );
    }

    #[test]
    fn mikrotik_layout() {
        // 14988 = 0x00003a8c; "rx/tx" = upload/download.
        let mut want = vec![0, 0, 0x3a, 0x8c, 8, 2 + 16];
        want.extend_from_slice(b"2000000/10000000");
        assert_eq!(encoded(Vendor::Mikrotik, 2_000_000, 10_000_000), vec![want]);
    }

    #[test]
    fn no_limit_no_attributes() {
        for v in Vendor::ALL {
            assert!(encoded(v, 0, 0).is_empty(), "{v}");
        }
        assert!(encoded(Vendor::Standard, 1, 1).is_empty());
        // Beyond 32 bits the largest value is sent rather than a wrapped one.
        assert_eq!(
            encoded(Vendor::Huawei, u64::MAX, 0)[0][6..],
            [0xff, 0xff, 0xff, 0xff]
        );
    }

    #[test]
    fn sub_attributes_are_read_until_one_is_badly_framed() {
        let mut value = 311u32.to_be_bytes().to_vec();
        value.extend([11, 4, 0xAA, 0xBB, 25, 3, 0xCC, 7, 9, 1]);
        let subs: Vec<_> = VendorSpecific::parse(&value).collect();
        let sub = |typ, data| VendorSpecific {
            vendor_id: 311,
            typ,
            data,
        };
        assert_eq!(subs, [sub(11, &[0xAA, 0xBB][..]), sub(25, &[0xCC][..])]);
        assert_eq!(VendorSpecific::parse(&[0, 0, 1]).count(), 0);
        assert_eq!(VendorSpecific::parse(&[0, 0, 1, 55, 9, 1, 0]).count(), 0);
        assert_eq!(VendorSpecific::parse(&[0, 0, 1, 55, 1, 1]).count(), 0);
    }
}
