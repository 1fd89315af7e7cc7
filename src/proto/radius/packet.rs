//! The RADIUS wire format (RFC 2865 §3): a validated, borrowed view of a received
//! datagram, and a builder for packets we send.
//!
//! The `radius` crate supplies the dictionary (codes and attribute numbers). Its own
//! codec copies every attribute into a `Vec` and cannot put Message-Authenticator first
//! with a matching response authenticator, so parsing and building live here.

use radius::core::code::Code;
use radius::core::rfc2865::VENDOR_SPECIFIC_TYPE;
use radius::core::rfc2869::MESSAGE_AUTHENTICATOR_TYPE;
use thiserror::Error;

use super::attribute::{walk, BadFraming};
pub use super::attribute::{Attribute, HEADER_LEN};
use super::crypto::{self, SharedSecret};
use super::vendor::VendorSpecific;
/// Largest packet RFC 2865 allows.
pub const MAX_PACKET_LEN: usize = 4096;
/// Length of the Message-Authenticator attribute, header included.
const MESSAGE_AUTHENTICATOR_LEN: usize = 18;

/// Why a datagram is not a well-formed RADIUS packet.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum MalformedPacket {
    /// Fewer than 20 bytes.
    #[error("datagram shorter than the 20-byte header")]
    Truncated,
    /// More than 4096 bytes.
    #[error("datagram longer than 4096 bytes")]
    TooLong,
    /// The header's length is below 20 or beyond the datagram.
    #[error("length field {0} disagrees with the datagram")]
    BadLength(u16),
    /// An attribute claims a length of 0 or 1.
    #[error("attribute at offset {0} has a length below 2")]
    AttributeTooShort(usize),
    /// An attribute runs past the end of the packet.
    #[error("attribute at offset {0} overruns the packet")]
    AttributeOverrun(usize),
    /// The code is not a RADIUS packet type.
    #[error("unknown packet code {0}")]
    UnknownCode(u8),
}

impl MalformedPacket {
    /// Short label for the drop counter.
    pub fn reason(&self) -> &'static str {
        match self {
            MalformedPacket::Truncated => "truncated",
            MalformedPacket::TooLong => "too_long",
            MalformedPacket::BadLength(_) => "bad_length",
            MalformedPacket::AttributeTooShort(_) => "attribute_too_short",
            MalformedPacket::AttributeOverrun(_) => "attribute_overrun",
            MalformedPacket::UnknownCode(_) => "unknown_code",
        }
    }
}

/// A structurally valid packet borrowed from the receive buffer.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    bytes: &'a [u8],
}

impl<'a> Packet<'a> {
    /// Validates the header and every attribute's framing. Bytes after the header's
    /// length are padding and ignored, as RFC 2865 says.
    pub fn parse(datagram: &'a [u8]) -> Result<Self, MalformedPacket> {
        if datagram.len() > MAX_PACKET_LEN {
            return Err(MalformedPacket::TooLong);
        }
        if datagram.len() < HEADER_LEN {
            return Err(MalformedPacket::Truncated);
        }
        let length = u16::from_be_bytes([datagram[2], datagram[3]]);
        if (length as usize) < HEADER_LEN || length as usize > datagram.len() {
            return Err(MalformedPacket::BadLength(length));
        }
        if matches!(Code::from(datagram[0]), Code::Invalid | Code::Reserved) {
            return Err(MalformedPacket::UnknownCode(datagram[0]));
        }
        let bytes = &datagram[..length as usize];
        for attribute in walk(bytes) {
            attribute.map_err(|e| match e {
                BadFraming::TooShort(at) => MalformedPacket::AttributeTooShort(at),
                BadFraming::Overrun(at) => MalformedPacket::AttributeOverrun(at),
            })?;
        }
        Ok(Packet { bytes })
    }

    /// The packet's code.
    pub fn code(&self) -> Code {
        Code::from(self.bytes[0])
    }

    /// The identifier that pairs a reply with its request.
    pub fn identifier(&self) -> u8 {
        self.bytes[1]
    }

    /// The 16-byte authenticator.
    #[allow(clippy::expect_used, reason = "parse checked the header's length")]
    pub fn authenticator(&self) -> &'a [u8; 16] {
        self.bytes[4..HEADER_LEN]
            .try_into()
            .expect("parse checked the header length")
    }

    /// The packet's bytes, up to its declared length.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Every attribute, in order.
    pub fn attributes(&self) -> impl Iterator<Item = Attribute<'a>> + 'a {
        // `parse` walked them all already: none is badly framed.
        walk(self.bytes).map_while(Result::ok)
    }

    /// The value of the first attribute of this type.
    pub fn first(&self, typ: u8) -> Option<&'a [u8]> {
        self.attributes().find(|a| a.typ == typ).map(|a| a.value)
    }

    /// The value of the first vendor attribute `typ` of `vendor_id` (inside
    /// Vendor-Specific).
    pub fn first_vendor(&self, vendor_id: u32, typ: u8) -> Option<&'a [u8]> {
        self.attributes()
            .filter(|a| a.typ == VENDOR_SPECIFIC_TYPE)
            .flat_map(|a| VendorSpecific::parse(a.value))
            .find(|v| v.vendor_id == vendor_id && v.typ == typ)
            .map(|v| v.data)
    }
}

/// Builds a packet to send: attributes in order, then signed by one of the `finish_*`
/// methods, which fill in the length, Message-Authenticator and authenticator.
#[derive(Debug)]
pub struct PacketBuilder {
    buf: Vec<u8>,
    message_authenticator_at: Option<usize>,
}

/// Attributes would make the packet longer than 4096 bytes, or a value longer than 253.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
#[error("packet would exceed RADIUS size limits")]
pub struct PacketTooLarge;

impl PacketBuilder {
    /// Starts a packet with this code and identifier.
    pub fn new(code: Code, identifier: u8) -> Self {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&[code as u8, identifier, 0, 0]);
        buf.extend_from_slice(&[0; 16]);
        PacketBuilder {
            buf,
            message_authenticator_at: None,
        }
    }

    /// Adds a Message-Authenticator placeholder at the current position; call it first
    /// so that the attribute leads the packet (RFC 3579; BlastRADIUS, CVE-2024-3596).
    pub fn message_authenticator(mut self) -> Self {
        self.message_authenticator_at = Some(self.buf.len());
        self.buf.push(MESSAGE_AUTHENTICATOR_TYPE);
        self.buf.push(MESSAGE_AUTHENTICATOR_LEN as u8);
        self.buf.extend_from_slice(&[0; 16]);
        self
    }

    /// Adds an attribute; values longer than 253 bytes are an error.
    pub fn attribute(mut self, typ: u8, value: &[u8]) -> Result<Self, PacketTooLarge> {
        if value.len() > 253 || self.buf.len() + 2 + value.len() > MAX_PACKET_LEN {
            return Err(PacketTooLarge);
        }
        self.buf.push(typ);
        self.buf.push(2 + value.len() as u8);
        self.buf.extend_from_slice(value);
        Ok(self)
    }

    /// Adds a Vendor-Specific attribute holding one sub-attribute.
    pub fn vendor_specific(
        mut self,
        vsa: &super::vendor::VendorSpecific<'_>,
    ) -> Result<Self, PacketTooLarge> {
        let len = 2 + 6 + vsa.data.len();
        if len > 255 || self.buf.len() + len > MAX_PACKET_LEN {
            return Err(PacketTooLarge);
        }
        self.buf.push(radius::core::rfc2865::VENDOR_SPECIFIC_TYPE);
        self.buf.push(len as u8);
        vsa.encode_into(&mut self.buf);
        Ok(self)
    }

    /// Adds a 32-bit integer attribute.
    pub fn u32_attribute(self, typ: u8, value: u32) -> Result<Self, PacketTooLarge> {
        self.attribute(typ, &value.to_be_bytes())
    }

    fn set_length(&mut self) {
        let len = self.buf.len() as u16;
        self.buf[2..4].copy_from_slice(&len.to_be_bytes());
    }

    fn sign_message_authenticator(&mut self, secret: &SharedSecret) {
        if let Some(at) = self.message_authenticator_at {
            let mac = crypto::message_authenticator(secret, &self.buf);
            self.buf[at + 2..at + MESSAGE_AUTHENTICATOR_LEN].copy_from_slice(&mac);
        }
    }

    /// A reply (Access-Accept/Reject/Challenge, Accounting-Response, CoA/Disconnect
    /// ACK/NAK): Message-Authenticator over the request authenticator, then the response
    /// authenticator (RFC 2865 §3, RFC 3579 §3.2).
    pub fn finish_reply(
        mut self,
        request_authenticator: &[u8; 16],
        secret: &SharedSecret,
    ) -> Vec<u8> {
        self.set_length();
        self.buf[4..HEADER_LEN].copy_from_slice(request_authenticator);
        self.sign_message_authenticator(secret);
        let auth = crypto::response_authenticator(&self.buf, secret.as_bytes());
        self.buf[4..HEADER_LEN].copy_from_slice(&auth);
        self.buf
    }

    /// An Access-Request or Status-Server with the given random request authenticator.
    pub fn finish_access_request(
        mut self,
        authenticator: &[u8; 16],
        secret: &SharedSecret,
    ) -> Vec<u8> {
        self.set_length();
        self.buf[4..HEADER_LEN].copy_from_slice(authenticator);
        self.sign_message_authenticator(secret);
        self.buf
    }

    /// An Accounting-Request, Disconnect-Request or CoA-Request: the authenticator is the
    /// MD5 of the packet with a zero authenticator (RFC 2866 §3, RFC 5176 §2.3).
    pub fn finish_signed_request(mut self, secret: &SharedSecret) -> Vec<u8> {
        self.set_length();
        self.sign_message_authenticator(secret);
        let auth = crypto::response_authenticator(&self.buf, secret.as_bytes());
        self.buf[4..HEADER_LEN].copy_from_slice(&auth);
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(code: u8, len: u16) -> Vec<u8> {
        let mut p = vec![code, 7];
        p.extend_from_slice(&len.to_be_bytes());
        p.extend_from_slice(&[0xAA; 16]);
        p
    }

    #[test]
    fn parses_rfc2865_example() {
        // RFC 2865 §7.1: Access-Request for "nemo".
        let bytes: [u8; 56] = [
            0x01, 0x00, 0x00, 0x38, 0x0f, 0x40, 0x3f, 0x94, 0x73, 0x97, 0x80, 0x57, 0xbd, 0x83,
            0xd5, 0xcb, 0x98, 0xf4, 0x22, 0x7a, 0x01, 0x06, 0x6e, 0x65, 0x6d, 0x6f, 0x02, 0x12,
            0x0d, 0xbe, 0x70, 0x8d, 0x93, 0xd4, 0x13, 0xce, 0x31, 0x96, 0xe4, 0x3f, 0x78, 0x2a,
            0x0a, 0xee, 0x04, 0x06, 0xc0, 0xa8, 0x01, 0x10, 0x05, 0x06, 0x00, 0x00, 0x00, 0x03,
        ];
        let p = Packet::parse(&bytes).unwrap();
        assert_eq!(p.code(), Code::AccessRequest);
        assert_eq!(p.first(1), Some(&b"nemo"[..]));
        assert_eq!(p.attributes().count(), 4);
    }

    #[test]
    fn rejects_every_malformation() {
        assert_eq!(
            Packet::parse(&[1; 19]).unwrap_err(),
            MalformedPacket::Truncated
        );
        assert_eq!(
            Packet::parse(&vec![1; 4097]).unwrap_err(),
            MalformedPacket::TooLong
        );
        assert_eq!(
            Packet::parse(&header(1, 40)).unwrap_err(),
            MalformedPacket::BadLength(40)
        );
        assert_eq!(
            Packet::parse(&header(1, 19)).unwrap_err(),
            MalformedPacket::BadLength(19)
        );
        assert_eq!(
            Packet::parse(&header(99, 20)).unwrap_err(),
            MalformedPacket::UnknownCode(99)
        );
        let mut p = header(1, 23);
        p.extend_from_slice(&[1, 0, 0]);
        assert_eq!(
            Packet::parse(&p).unwrap_err(),
            MalformedPacket::AttributeTooShort(20)
        );
        let mut p = header(1, 23);
        p.extend_from_slice(&[1, 1, 0]);
        assert_eq!(
            Packet::parse(&p).unwrap_err(),
            MalformedPacket::AttributeTooShort(20)
        );
        let mut p = header(1, 24);
        p.extend_from_slice(&[1, 9, 0, 0]);
        assert_eq!(
            Packet::parse(&p).unwrap_err(),
            MalformedPacket::AttributeOverrun(20)
        );
        let mut p = header(1, 21);
        p.push(1);
        assert_eq!(
            Packet::parse(&p).unwrap_err(),
            MalformedPacket::AttributeOverrun(20)
        );
    }

    #[test]
    fn padding_after_length_is_ignored() {
        let mut p = header(1, 20);
        p.extend_from_slice(&[0xFF; 5]);
        assert_eq!(Packet::parse(&p).unwrap().bytes().len(), 20);
    }

    #[test]
    fn builder_puts_message_authenticator_first_and_signs() {
        let secret = SharedSecret::new(b"s3cret");
        let req_auth = [9u8; 16];
        let reply = PacketBuilder::new(Code::AccessAccept, 5)
            .message_authenticator()
            .attribute(18, b"hello")
            .unwrap()
            .finish_reply(&req_auth, &secret);
        let p = Packet::parse(&reply).unwrap();
        let first = p.attributes().next().unwrap();
        assert_eq!(first.typ, MESSAGE_AUTHENTICATOR_TYPE);
        assert!(crypto::verify_response(
            &reply,
            &req_auth,
            secret.as_bytes()
        ));
        assert_eq!(
            crypto::verify_message_authenticator(&reply, &req_auth, &secret),
            Some(true)
        );
    }
}

#[cfg(test)]
mod garbage {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn parsing_random_bytes_never_panics() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5080);
        for _ in 0..100_000 {
            let len = rng.gen_range(0..300);
            let mut bytes: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            if len >= 4 {
                bytes[2..4].copy_from_slice(&(len as u16).to_be_bytes());
            }
            if let Ok(p) = Packet::parse(&bytes) {
                // Every accepted packet can be walked and checked without panicking.
                let _ = p.attributes().count();
                let secret = SharedSecret::new(b"k");
                let _ = crypto::verify_message_authenticator(p.bytes(), p.authenticator(), &secret);
            }
        }
    }
}
