//! EAP-MD5 (RFC 3748 §5.4): a 16-byte challenge, answered with MD5(Identifier ‖ password
//! ‖ challenge), the CHAP computation; no keys.

use super::super::credentials::Credentials;

/// The challenge a conversation sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Md5 {
    /// The random challenge.
    pub challenge: [u8; 16],
}

impl Md5 {
    /// A fresh challenge.
    pub fn new() -> Md5 {
        Md5 {
            challenge: rand::random(),
        }
    }

    /// The Type-Data of the Request: Value-Size, then the challenge.
    pub fn request_data(&self) -> Vec<u8> {
        [&[16u8][..], &self.challenge].concat()
    }

    /// The credentials of a Response's Type-Data (Value-Size 16, the MD5 value, an
    /// optional name); `None` when it is not laid out so.
    pub fn credentials<'a>(&'a self, identifier: u8, data: &'a [u8]) -> Option<Credentials<'a>> {
        let (&size, rest) = data.split_first()?;
        let response: &[u8; 16] = rest.get(..16)?.try_into().ok()?;
        (size == 16).then_some(Credentials::Chap {
            ident: identifier,
            response,
            challenge: &self.challenge,
        })
    }
}

impl Default for Md5 {
    fn default() -> Self {
        Md5::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Proof;

    #[test]
    fn a_captured_response_proves_the_password() {
        // id 0xaa, password "hello", from an eapol_test exchange with FreeRADIUS.
        let md5 = Md5 {
            challenge: *b"\x73\x0b\x74\x5c\xed\x6b\xe5\x50\xa0\xfd\xd7\xac\xa2\xfb\xcb\xad",
        };
        let data = b"\x10\x75\x2f\xf2\x2d\x41\xb5\x83\x7c\x1b\x22\x36\x41\x4e\x19\x44\xbc";
        let credentials = md5.credentials(0xaa, data).unwrap();
        assert_eq!(credentials.prove(b"hello"), Some(Proof::Matched));
        assert_eq!(credentials.prove(b"hellO"), None);
        assert!(md5.credentials(0xaa, &data[..10]).is_none());
        assert!(md5
            .credentials(
                0xaa,
                b"\x08\x75\x2f\xf2\x2d\x41\xb5\x83\x7c\x1b\x22\x36\x41\x4e\x19\x44\xbc"
            )
            .is_none());
    }
}
