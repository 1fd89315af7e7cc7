//! Password proofs: PAP (the password itself, RFC 2865 §5.2) and CHAP (RFC 1994).

use md5::{Digest, Md5};

use crate::proto::radius::crypto::constant_time_eq;

/// How a request proves the password.
#[derive(Debug)]
pub enum Credentials<'a> {
    /// The plain password, already recovered from User-Password.
    Pap {
        /// The password.
        password: &'a [u8],
    },
    /// A CHAP response over a challenge.
    Chap {
        /// CHAP identifier (first byte of CHAP-Password).
        ident: u8,
        /// MD5 response (the other 16 bytes).
        response: &'a [u8; 16],
        /// CHAP-Challenge, or the request authenticator when there is none.
        challenge: &'a [u8],
    },
}

impl Credentials<'_> {
    /// True when the proof matches `password`.
    pub fn verify(&self, password: &[u8]) -> bool {
        match self {
            Credentials::Pap { password: given } => constant_time_eq(given, password),
            Credentials::Chap {
                ident,
                response,
                challenge,
            } => constant_time_eq(&chap_response(*ident, password, challenge), *response),
        }
    }
}

/// The CHAP response MD5(ident ‖ password ‖ challenge) (RFC 1994 §4.1).
pub fn chap_response(ident: u8, password: &[u8], challenge: &[u8]) -> [u8; 16] {
    let mut md5 = Md5::new();
    md5.update([ident]);
    md5.update(password);
    md5.update(challenge);
    md5.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chap_matches_rfc1994() {
        // MD5(0x01 ‖ "password" ‖ 16 zero bytes), computed independently with md5sum.
        let r = chap_response(1, b"password", &[0; 16]);
        let expected = [
            0xae, 0x88, 0xb6, 0xc2, 0xfe, 0x68, 0xbc, 0x92, 0x3a, 0xe9, 0x94, 0xf6, 0x52, 0x50,
            0x8d, 0x12,
        ];
        assert_eq!(r, expected);
    }

    #[test]
    fn chap_verifies_only_the_right_password() {
        let challenge = [7u8; 16];
        let response = chap_response(9, b"secret", &challenge);
        let c = Credentials::Chap {
            ident: 9,
            response: &response,
            challenge: &challenge,
        };
        assert!(c.verify(b"secret"));
        assert!(!c.verify(b"secreT"));
    }
}
