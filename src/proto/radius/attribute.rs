//! The attribute list of a RADIUS packet (RFC 2865 §5): type, length, value, one after
//! the other from the end of the 20-byte header. The one walker over it, for the packet
//! view and the cryptography alike.

/// Length of the fixed header: code, identifier, length, authenticator.
pub const HEADER_LEN: usize = 20;

/// One attribute: its type and value, and where it starts in the packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attribute<'a> {
    /// Attribute type (RFC 2865 dictionary number).
    pub typ: u8,
    /// Attribute value, without the two header bytes.
    pub value: &'a [u8],
    /// Offset of the attribute's type byte in the packet.
    pub offset: usize,
}

/// Why the attribute list is not well framed, with the attribute's offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadFraming {
    /// An attribute claims a length of 0 or 1.
    TooShort(usize),
    /// An attribute (or its two header bytes) runs past the end of the packet.
    Overrun(usize),
}

/// The attributes of `packet` (a header, then attributes up to the end of the slice), in
/// order. The first badly framed attribute ends the walk with its error.
pub fn walk(packet: &[u8]) -> impl Iterator<Item = Result<Attribute<'_>, BadFraming>> + '_ {
    let mut offset = HEADER_LEN;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || offset >= packet.len() {
            return None;
        }
        let at = offset;
        let framed = match packet.get(at + 1).map(|&l| l as usize) {
            None => Err(BadFraming::Overrun(at)),
            Some(len) if len < 2 => Err(BadFraming::TooShort(at)),
            Some(len) if at + len > packet.len() => Err(BadFraming::Overrun(at)),
            Some(len) => {
                offset += len;
                Ok(Attribute {
                    typ: packet[at],
                    value: &packet[at + 2..at + len],
                    offset: at,
                })
            }
        };
        failed = framed.is_err();
        Some(framed)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(attributes: &[u8]) -> Vec<u8> {
        let mut p = vec![0u8; HEADER_LEN];
        p.extend_from_slice(attributes);
        p
    }

    #[test]
    fn attributes_are_walked_in_order_and_bad_framing_ends_the_walk() {
        let p = packet(&[1, 4, b'a', b'b', 80, 2, 7, 3, b'x']);
        let walked: Vec<_> = walk(&p).collect();
        assert_eq!(
            walked,
            vec![
                Ok(Attribute {
                    typ: 1,
                    value: b"ab",
                    offset: 20
                }),
                Ok(Attribute {
                    typ: 80,
                    value: b"",
                    offset: 24
                }),
                Ok(Attribute {
                    typ: 7,
                    value: b"x",
                    offset: 26
                }),
            ]
        );
        assert_eq!(
            walk(&packet(&[1, 1, 0])).collect::<Vec<_>>(),
            vec![Err(BadFraming::TooShort(20))]
        );
        assert_eq!(
            walk(&packet(&[1, 9, 0])).collect::<Vec<_>>(),
            vec![Err(BadFraming::Overrun(20))]
        );
        assert_eq!(
            walk(&packet(&[1, 2, 5])).collect::<Vec<_>>(),
            vec![
                Ok(Attribute {
                    typ: 1,
                    value: b"",
                    offset: 20
                }),
                Err(BadFraming::Overrun(22))
            ]
        );
        assert_eq!(walk(&packet(&[])).count(), 0);
    }
}
