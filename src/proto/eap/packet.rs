//! The EAP packet (RFC 3748 §4): Code, Identifier, Length, and for a Request or a
//! Response a Type and its data; Success and Failure are the header alone.

use thiserror::Error;

/// The header: Code, Identifier, Length.
pub const HEADER_LEN: usize = 4;

/// Method types turnstile reads or sends (RFC 3748 §5, IANA "EAP Method Types").
pub mod types {
    /// Identity.
    pub const IDENTITY: u8 = 1;
    /// Notification.
    pub const NOTIFICATION: u8 = 2;
    /// Legacy Nak: the methods a peer would rather use.
    pub const NAK: u8 = 3;
    /// MD5-Challenge.
    pub const MD5: u8 = 4;
    /// EAP-TLS.
    pub const TLS: u8 = 13;
    /// EAP-TTLS.
    pub const TTLS: u8 = 21;
    /// PEAP.
    pub const PEAP: u8 = 25;
    /// EAP-MSCHAPv2.
    pub const MSCHAPV2: u8 = 26;
    /// EAP-TLV (PEAP's Result TLV).
    pub const EXTENSIONS: u8 = 33;
    /// An expanded type (vendor id and type follow).
    pub const EXPANDED: u8 = 254;
}

/// The Code field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EapCode {
    /// From the server.
    Request = 1,
    /// From the peer.
    Response = 2,
    /// The end: authenticated.
    Success = 3,
    /// The end: refused.
    Failure = 4,
}

/// Why bytes are not an EAP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum MalformedEap {
    /// Fewer bytes than the header, or than Length says.
    #[error("EAP packet shorter than its header or its Length")]
    Truncated,
    /// Length below the header's size, or a Request or Response without a Type.
    #[error("EAP Length too small for its Code")]
    BadLength,
    /// A Code other than 1 to 4.
    #[error("unknown EAP Code {0}")]
    UnknownCode(u8),
}

impl MalformedEap {
    /// Label for the drop counter.
    pub fn reason(self) -> &'static str {
        match self {
            MalformedEap::Truncated => "eap_truncated",
            MalformedEap::BadLength => "eap_bad_length",
            MalformedEap::UnknownCode(_) => "eap_unknown_code",
        }
    }
}

/// A view of one EAP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EapPacket<'a> {
    /// Request, Response, Success or Failure.
    pub code: EapCode,
    /// Matches a Response to its Request.
    pub identifier: u8,
    /// The method type of a Request or Response (None for Success and Failure).
    pub typ: Option<u8>,
    /// What follows the Type.
    pub data: &'a [u8],
}

impl<'a> EapPacket<'a> {
    /// Reads a packet; bytes past its Length are padding and ignored (RFC 3748 §4.1).
    pub fn parse(bytes: &'a [u8]) -> Result<EapPacket<'a>, MalformedEap> {
        let (&[code, identifier, high, low], _) = bytes
            .split_first_chunk::<HEADER_LEN>()
            .ok_or(MalformedEap::Truncated)?;
        let code = match code {
            1 => EapCode::Request,
            2 => EapCode::Response,
            3 => EapCode::Success,
            4 => EapCode::Failure,
            other => return Err(MalformedEap::UnknownCode(other)),
        };
        let length = usize::from(u16::from_be_bytes([high, low]));
        if length < HEADER_LEN {
            return Err(MalformedEap::BadLength);
        }
        let body = bytes
            .get(HEADER_LEN..length)
            .ok_or(MalformedEap::Truncated)?;
        let (typ, data) = match code {
            EapCode::Request | EapCode::Response => {
                let (&typ, data) = body.split_first().ok_or(MalformedEap::BadLength)?;
                (Some(typ), data)
            }
            // RFC 3748 §4.2: Success and Failure carry no data.
            EapCode::Success | EapCode::Failure => (None, &[][..]),
        };
        Ok(EapPacket {
            code,
            identifier,
            typ,
            data,
        })
    }

    /// The packet's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let typed = usize::from(self.typ.is_some());
        let length = HEADER_LEN + typed + self.data.len();
        let mut out = Vec::with_capacity(length);
        out.push(self.code as u8);
        out.push(self.identifier);
        out.extend_from_slice(&(length.min(usize::from(u16::MAX)) as u16).to_be_bytes());
        out.extend(self.typ);
        out.extend_from_slice(self.data);
        out
    }

    /// A Request of `typ` carrying `data`.
    pub fn request(identifier: u8, typ: u8, data: &'a [u8]) -> EapPacket<'a> {
        EapPacket {
            code: EapCode::Request,
            identifier,
            typ: Some(typ),
            data,
        }
    }

    /// Success or Failure, answering the Response with `identifier` (RFC 3748 §4.2).
    pub fn outcome(success: bool, identifier: u8) -> EapPacket<'static> {
        EapPacket {
            code: if success {
                EapCode::Success
            } else {
                EapCode::Failure
            },
            identifier,
            typ: None,
            data: &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identity_response_and_the_outcomes_read_and_write_back() {
        let identity = b"\x02\x07\x00\x0a\x01alice";
        let p = EapPacket::parse(identity).unwrap();
        assert_eq!(
            p,
            EapPacket {
                code: EapCode::Response,
                identifier: 7,
                typ: Some(types::IDENTITY),
                data: b"alice"
            }
        );
        assert_eq!(p.to_bytes(), identity);
        assert_eq!(EapPacket::outcome(true, 9).to_bytes(), [3, 9, 0, 4]);
        assert_eq!(EapPacket::outcome(false, 9).to_bytes(), [4, 9, 0, 4]);
        // The Identity request the server opens with.
        assert_eq!(
            EapPacket::request(0, types::IDENTITY, b"").to_bytes(),
            [1, 0, 0, 5, 1]
        );
    }

    #[test]
    fn padding_is_ignored_and_short_or_unknown_packets_refused() {
        let p = EapPacket::parse(b"\x02\x01\x00\x06\x04\x10padding").unwrap();
        assert_eq!((p.typ, p.data), (Some(types::MD5), &b"\x10"[..]));
        assert_eq!(
            EapPacket::parse(b"\x02\x01\x00"),
            Err(MalformedEap::Truncated)
        );
        assert_eq!(
            EapPacket::parse(b"\x02\x01\x00\x09\x01ab"),
            Err(MalformedEap::Truncated)
        );
        assert_eq!(
            EapPacket::parse(b"\x02\x01\x00\x03\x01"),
            Err(MalformedEap::BadLength)
        );
        assert_eq!(
            EapPacket::parse(b"\x01\x01\x00\x04"),
            Err(MalformedEap::BadLength),
            "a Request needs a Type"
        );
        assert_eq!(
            EapPacket::parse(b"\x05\x01\x00\x04"),
            Err(MalformedEap::UnknownCode(5))
        );
        // Success with stray data: the data is not part of it.
        let s = EapPacket::parse(b"\x03\x02\x00\x05\x00").unwrap();
        assert_eq!((s.code, s.typ, s.data), (EapCode::Success, None, &b""[..]));
    }
}
