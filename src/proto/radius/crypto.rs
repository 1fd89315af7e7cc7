//! The MD5-based cryptography of RADIUS: request and response authenticators
//! (RFC 2865 §3, RFC 2866 §3), Message-Authenticator (RFC 3579 §3.2, HMAC-MD5),
//! User-Password hiding (RFC 2865 §5.2) and CHAP (RFC 1994).

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use radius::core::rfc2869::MESSAGE_AUTHENTICATOR_TYPE;
use std::fmt;

use super::attribute::{walk, HEADER_LEN};

type HmacMd5 = Hmac<Md5>;

/// A RADIUS shared secret, with its HMAC key schedule computed once. Never printed.
#[derive(Clone)]
pub struct SharedSecret {
    bytes: Box<[u8]>,
    hmac: HmacMd5,
}

impl SharedSecret {
    /// Wraps the secret's bytes.
    #[allow(clippy::expect_used, reason = "HMAC takes a key of any length")]
    pub fn new(bytes: &[u8]) -> Self {
        SharedSecret {
            bytes: bytes.into(),
            hmac: HmacMd5::new_from_slice(bytes).expect("HMAC accepts keys of any length"),
        }
    }

    /// The raw secret.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedSecret(*redacted*)")
    }
}

/// Compares two byte strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// HMAC-MD5 of `packet`, with `authenticator` in the header and the value of every
/// Message-Authenticator attribute taken as zero; None when its attributes are badly
/// framed.
fn hmac_over(packet: &[u8], authenticator: &[u8; 16], secret: &SharedSecret) -> Option<[u8; 16]> {
    let mut mac = secret.hmac.clone();
    mac.update(&packet[..4]);
    mac.update(authenticator);
    for attribute in walk(packet) {
        let a = attribute.ok()?;
        let whole = &packet[a.offset..a.offset + 2 + a.value.len()];
        if a.typ == MESSAGE_AUTHENTICATOR_TYPE {
            mac.update(&whole[..2]);
            mac.update(&[0u8; 16][..a.value.len().min(16)]);
        } else {
            mac.update(whole);
        }
    }
    Some(mac.finalize().into_bytes().into())
}

/// The Message-Authenticator of a packet we are building, whose header already holds the
/// authenticator to sign over. Only for outgoing packets: panics below the 20-byte header,
/// which [`super::packet::PacketBuilder`] always writes.
#[allow(clippy::expect_used, reason = "only for packets the builder wrote")]
pub fn message_authenticator(secret: &SharedSecret, packet: &[u8]) -> [u8; 16] {
    let authenticator: [u8; 16] = packet[4..HEADER_LEN].try_into().expect("header present");
    hmac_over(packet, &authenticator, secret).expect("a built packet is well framed")
}

/// Checks a packet's Message-Authenticator, computed over `authenticator` (the packet's
/// own for Access-Request and Status-Server; the request's for a reply). `None` when the
/// packet carries none; `Some(false)` when it is wrong or malformed.
pub fn verify_message_authenticator(
    packet: &[u8],
    authenticator: &[u8; 16],
    secret: &SharedSecret,
) -> Option<bool> {
    let mut found = None;
    for attribute in walk(packet) {
        let Ok(a) = attribute else {
            return Some(false);
        };
        if a.typ == MESSAGE_AUTHENTICATOR_TYPE {
            if found.is_some() || a.value.len() != 16 {
                return Some(false);
            }
            found = Some(a.value);
        }
    }
    let received = found?;
    let expected = hmac_over(packet, authenticator, secret)?;
    Some(constant_time_eq(received, &expected))
}

/// MD5(packet ‖ secret): the response authenticator when the header holds the request
/// authenticator, the accounting request authenticator when it holds zeros.
pub fn response_authenticator(packet: &[u8], secret: &[u8]) -> [u8; 16] {
    let mut md5 = Md5::new();
    md5.update(packet);
    md5.update(secret);
    md5.finalize().into()
}

/// Checks a reply's response authenticator against the request's authenticator.
pub fn verify_response(reply: &[u8], request_authenticator: &[u8; 16], secret: &[u8]) -> bool {
    if reply.len() < HEADER_LEN {
        return false;
    }
    let mut md5 = Md5::new();
    md5.update(&reply[..4]);
    md5.update(request_authenticator);
    md5.update(&reply[HEADER_LEN..]);
    md5.update(secret);
    let expected: [u8; 16] = md5.finalize().into();
    constant_time_eq(&reply[4..HEADER_LEN], &expected)
}

/// Checks the authenticator of an Accounting-Request, Disconnect-Request or CoA-Request:
/// MD5 of the packet with a zero authenticator, then the secret.
pub fn verify_signed_request(packet: &[u8], secret: &[u8]) -> bool {
    verify_response(packet, &[0; 16], secret)
}

/// Recovers a User-Password (RFC 2865 §5.2). `None` when the hidden value is not a
/// multiple of 16 bytes between 16 and 128.
pub fn unhide_password(hidden: &[u8], secret: &[u8], authenticator: &[u8; 16]) -> Option<Vec<u8>> {
    if hidden.is_empty() || hidden.len() > 128 || !hidden.len().is_multiple_of(16) {
        return None;
    }
    let mut plain = Vec::with_capacity(hidden.len());
    let mut prev: &[u8] = authenticator;
    for chunk in hidden.chunks(16) {
        let mut md5 = Md5::new();
        md5.update(secret);
        md5.update(prev);
        let pad: [u8; 16] = md5.finalize().into();
        plain.extend(chunk.iter().zip(pad).map(|(c, p)| c ^ p));
        prev = chunk;
    }
    while plain.last() == Some(&0) {
        plain.pop();
    }
    Some(plain)
}

/// Hides a User-Password (RFC 2865 §5.2); `None` above 128 bytes.
pub fn hide_password(plain: &[u8], secret: &[u8], authenticator: &[u8; 16]) -> Option<Vec<u8>> {
    if plain.len() > 128 {
        return None;
    }
    let padded_len = plain.len().div_ceil(16).max(1) * 16;
    let mut padded = plain.to_vec();
    padded.resize(padded_len, 0);
    let mut hidden: Vec<u8> = Vec::with_capacity(padded_len);
    for (i, chunk) in padded.chunks(16).enumerate() {
        let mut md5 = Md5::new();
        md5.update(secret);
        if i == 0 {
            md5.update(authenticator);
        } else {
            md5.update(&hidden[(i - 1) * 16..i * 16]);
        }
        let pad: [u8; 16] = md5.finalize().into();
        let block: Vec<u8> = chunk.iter().zip(pad).map(|(c, p)| c ^ p).collect();
        hidden.extend(block);
    }
    Some(hidden)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2865_example_password() {
        // RFC 2865 §7.1: "arctangent" hidden with secret "xyzzy5461".
        let auth = [
            0x0f, 0x40, 0x3f, 0x94, 0x73, 0x97, 0x80, 0x57, 0xbd, 0x83, 0xd5, 0xcb, 0x98, 0xf4,
            0x22, 0x7a,
        ];
        let hidden = [
            0x0d, 0xbe, 0x70, 0x8d, 0x93, 0xd4, 0x13, 0xce, 0x31, 0x96, 0xe4, 0x3f, 0x78, 0x2a,
            0x0a, 0xee,
        ];
        assert_eq!(
            unhide_password(&hidden, b"xyzzy5461", &auth).unwrap(),
            b"arctangent"
        );
        assert_eq!(
            hide_password(b"arctangent", b"xyzzy5461", &auth).unwrap(),
            hidden
        );
    }

    #[test]
    fn long_passwords_round_trip() {
        let auth = [3u8; 16];
        for len in [0, 1, 15, 16, 17, 64, 127, 128] {
            let plain: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            let hidden = hide_password(&plain, b"k", &auth).unwrap();
            assert_eq!(unhide_password(&hidden, b"k", &auth).unwrap(), plain);
        }
        assert!(hide_password(&[b'x'; 129], b"k", &auth).is_none());
        assert!(unhide_password(&[0; 17], b"k", &auth).is_none());
        assert!(unhide_password(&[0; 144], b"k", &auth).is_none());
    }

    #[test]
    fn accounting_authenticator_round_trip() {
        // RFC 2866 §3: MD5 over the packet with a zero authenticator, then the secret.
        let mut p = vec![4u8, 1, 0, 26];
        p.extend_from_slice(&[0; 16]);
        p.extend_from_slice(&[40, 6, 0, 0, 0, 1]);
        let auth = response_authenticator(&p, b"secret");
        p[4..20].copy_from_slice(&auth);
        assert!(verify_signed_request(&p, b"secret"));
        assert!(!verify_signed_request(&p, b"other"));
    }
}
