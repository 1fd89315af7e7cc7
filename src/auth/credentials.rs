//! Password proofs: PAP (the password itself, RFC 2865 §5.2) and CHAP (RFC 1994).

use crate::radius::crypto::{chap_response, constant_time_eq};

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

#[cfg(test)]
mod tests {
    use super::*;

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
