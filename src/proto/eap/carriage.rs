//! EAP in RADIUS (RFC 3579 §3.1): one EAP packet per RADIUS packet, split over
//! consecutive EAP-Message attributes of at most 253 bytes and joined on receipt. An
//! EAP-Message with no data, or the two bytes some NASes send, is EAP-Start (§2.1).

use radius::core::rfc2869::EAP_MESSAGE_TYPE;
use std::borrow::Cow;
use thiserror::Error;

use super::packet::{EapPacket, MalformedEap, HEADER_LEN};
use crate::proto::radius::packet::{Packet, PacketBuilder, PacketTooLarge};

/// The most an attribute's value holds.
const MAX_VALUE: usize = 253;

/// What a request's EAP-Message attributes carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Carried<'a> {
    /// None: not an EAP request.
    Nothing,
    /// EAP-Start: the NAS asks the server to begin.
    Start,
    /// One EAP packet (its bytes, joined).
    Packet(Cow<'a, [u8]>),
}

/// Why a request's EAP-Message attributes are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum BadCarriage {
    /// Another attribute between two EAP-Message attributes.
    #[error("EAP-Message attributes not consecutive")]
    NotConsecutive,
    /// The joined bytes are not an EAP packet.
    #[error("EAP-Message: {0}")]
    Malformed(#[source] MalformedEap),
    /// Bytes after the EAP packet's Length: more than one packet, or garbage.
    #[error("EAP-Message holds more than one EAP packet")]
    NotOnePacket,
}

impl BadCarriage {
    /// Label for the drop counter.
    pub fn reason(self) -> &'static str {
        match self {
            BadCarriage::NotConsecutive => "eap_not_consecutive",
            BadCarriage::Malformed(m) => m.reason(),
            BadCarriage::NotOnePacket => "eap_not_one_packet",
        }
    }
}

/// Joins the EAP-Message attributes of `packet`, checking that they are consecutive and
/// hold exactly one EAP packet.
pub fn carried<'a>(packet: &Packet<'a>) -> Result<Carried<'a>, BadCarriage> {
    let mut parts = packet
        .attributes()
        .skip_while(|a| a.typ != EAP_MESSAGE_TYPE)
        .peekable();
    let Some(first) = parts.next() else {
        return Ok(Carried::Nothing);
    };
    let mut joined = Cow::Borrowed(first.value);
    while let Some(next) = parts.next_if(|a| a.typ == EAP_MESSAGE_TYPE) {
        joined.to_mut().extend_from_slice(next.value);
    }
    if parts.any(|a| a.typ == EAP_MESSAGE_TYPE) {
        return Err(BadCarriage::NotConsecutive);
    }
    if matches!(joined.len(), 0 | 2) {
        return Ok(Carried::Start);
    }
    let eap = EapPacket::parse(&joined).map_err(BadCarriage::Malformed)?;
    if HEADER_LEN + usize::from(eap.typ.is_some()) + eap.data.len() != joined.len() {
        return Err(BadCarriage::NotOnePacket);
    }
    Ok(Carried::Packet(joined))
}

/// Adds `eap` to a reply as consecutive EAP-Message attributes.
pub fn add(mut b: PacketBuilder, eap: &[u8]) -> Result<PacketBuilder, PacketTooLarge> {
    for part in eap.chunks(MAX_VALUE) {
        b = b.attribute(EAP_MESSAGE_TYPE, part)?;
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::radius::crypto::SharedSecret;
    use radius::core::code::Code;
    use radius::core::rfc2865::{STATE_TYPE, USER_NAME_TYPE};

    fn request(attrs: &[(u8, &[u8])]) -> Vec<u8> {
        let mut b = PacketBuilder::new(Code::AccessRequest, 1).message_authenticator();
        for (typ, value) in attrs {
            b = b.attribute(*typ, value).unwrap();
        }
        b.finish_access_request(&[9; 16], &SharedSecret::new(b"s"))
    }

    fn carried_by(bytes: &[u8]) -> Result<Carried<'_>, BadCarriage> {
        carried(&Packet::parse(bytes).unwrap())
    }

    #[test]
    fn a_large_packet_is_split_at_253_and_joined_again() {
        let data = vec![0x5a; 1000];
        let eap = EapPacket::request(3, 13, &data).to_bytes();
        let reply = add(PacketBuilder::new(Code::AccessChallenge, 1), &eap)
            .unwrap()
            .finish_reply(&[0; 16], &SharedSecret::new(b"s"));
        let packet = Packet::parse(&reply).unwrap();
        let sizes: Vec<usize> = packet
            .attributes()
            .filter(|a| a.typ == EAP_MESSAGE_TYPE)
            .map(|a| a.value.len())
            .collect();
        assert_eq!(sizes, [253, 253, 253, 246]);
        assert_eq!(carried(&packet), Ok(Carried::Packet(Cow::Owned(eap))));
    }

    #[test]
    fn start_nothing_and_refusals() {
        assert_eq!(
            carried_by(&request(&[(USER_NAME_TYPE, b"a")])),
            Ok(Carried::Nothing)
        );
        assert_eq!(
            carried_by(&request(&[(EAP_MESSAGE_TYPE, b"")])),
            Ok(Carried::Start)
        );
        assert_eq!(
            carried_by(&request(&[(EAP_MESSAGE_TYPE, b"\x02\x00")])),
            Ok(Carried::Start)
        );
        let identity = b"\x02\x07\x00\x0a\x01alice";
        assert_eq!(
            carried_by(&request(&[(EAP_MESSAGE_TYPE, identity)])),
            Ok(Carried::Packet(Cow::Borrowed(&identity[..])))
        );
        let split = request(&[
            (EAP_MESSAGE_TYPE, &identity[..5]),
            (STATE_TYPE, b"x"),
            (EAP_MESSAGE_TYPE, &identity[5..]),
        ]);
        assert_eq!(carried_by(&split), Err(BadCarriage::NotConsecutive));
        let two = [&identity[..], &identity[..]].concat();
        assert_eq!(
            carried_by(&request(&[(EAP_MESSAGE_TYPE, &two)])),
            Err(BadCarriage::NotOnePacket)
        );
        assert_eq!(
            carried_by(&request(&[(EAP_MESSAGE_TYPE, b"\x02")])),
            Err(BadCarriage::Malformed(MalformedEap::Truncated))
        );
    }
}
