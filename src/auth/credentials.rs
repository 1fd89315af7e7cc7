//! Password proofs: PAP (the password itself, RFC 2865 §5.2), CHAP (RFC 1994) and
//! MS-CHAP version 1 (RFC 2433) and 2 (RFC 2759), and what a proof yields for the reply.

use md5::{Digest, Md5};

use crate::proto::mschap::{self, MppeKeys, ResponseV1, ResponseV2};
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
    /// An MS-CHAP version 1 response (MS-CHAP-Challenge and MS-CHAP-Response).
    MsChapV1 {
        /// The 8-byte MS-CHAP-Challenge.
        challenge: &'a [u8; 8],
        /// MS-CHAP-Response.
        response: ResponseV1<'a>,
    },
    /// An MS-CHAP version 2 response (MS-CHAP-Challenge and MS-CHAP2-Response).
    MsChapV2 {
        /// The 16-byte MS-CHAP-Challenge.
        challenge: &'a [u8; 16],
        /// MS-CHAP2-Response.
        response: ResponseV2<'a>,
        /// The User-Name the peer hashed.
        user: &'a [u8],
    },
}

/// What a proof that matched yields for the reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// Nothing more than the match (PAP, CHAP, MS-CHAP version 1).
    Matched,
    /// MS-CHAP version 2: the authenticator response that proves the server to the peer,
    /// and the MPPE start keys.
    MsChapV2 {
        /// `S=` and 40 hex digits, for MS-CHAP2-Success.
        authenticator_response: [u8; 42],
        /// MS-MPPE-Send-Key and MS-MPPE-Recv-Key.
        keys: MppeKeys,
    },
}

impl Credentials<'_> {
    /// What the proof yields when it matches `password`; `None` when it does not.
    pub fn prove(&self, password: &[u8]) -> Option<Proof> {
        let matched = |ok: bool| ok.then_some(Proof::Matched);
        match self {
            Credentials::Pap { password: given } => matched(constant_time_eq(given, password)),
            Credentials::Chap {
                ident,
                response,
                challenge,
            } => matched(constant_time_eq(
                &chap_response(*ident, password, challenge),
                *response,
            )),
            Credentials::MsChapV1 {
                challenge,
                response,
            } => {
                // The LM response is never accepted: its hash breaks in seconds.
                let hash = mschap::nt_password_hash(std::str::from_utf8(password).ok()?);
                let expected = mschap::challenge_response(challenge, &hash);
                matched(response.use_nt && constant_time_eq(&expected, response.nt_response))
            }
            Credentials::MsChapV2 {
                challenge,
                response,
                user,
            } => {
                let hash = mschap::nt_password_hash(std::str::from_utf8(password).ok()?);
                let peer = response.peer_challenge;
                let expected = mschap::nt_response_v2(challenge, peer, user, &hash);
                if !constant_time_eq(&expected, response.nt_response) {
                    return None;
                }
                Some(Proof::MsChapV2 {
                    authenticator_response: mschap::authenticator_response(
                        &hash,
                        response.nt_response,
                        peer,
                        challenge,
                        user,
                    ),
                    keys: MppeKeys::v2(&hash, response.nt_response),
                })
            }
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
        assert_eq!(c.prove(b"secret"), Some(Proof::Matched));
        assert_eq!(c.prove(b"secreT"), None);
    }

    #[test]
    fn ms_chap_proofs_match_only_the_right_password() {
        use crate::proto::mschap::{challenge_response, nt_password_hash, nt_response_v2};
        let challenge8 = [3u8; 8];
        let nt = challenge_response(&challenge8, &nt_password_hash("pässword"));
        let v1 = |use_nt| Credentials::MsChapV1 {
            challenge: &challenge8,
            response: ResponseV1 {
                ident: 1,
                use_nt,
                nt_response: &nt,
            },
        };
        assert_eq!(v1(true).prove("pässword".as_bytes()), Some(Proof::Matched));
        assert_eq!(v1(true).prove(b"password"), None);
        assert_eq!(v1(false).prove("pässword".as_bytes()), None, "LM only");

        let (challenge, peer) = ([5u8; 16], [6u8; 16]);
        let nt = nt_response_v2(&challenge, &peer, b"bob", &nt_password_hash("hello"));
        let v2 = Credentials::MsChapV2 {
            challenge: &challenge,
            response: ResponseV2 {
                ident: 1,
                peer_challenge: &peer,
                nt_response: &nt,
            },
            user: b"bob",
        };
        assert!(matches!(v2.prove(b"hello"), Some(Proof::MsChapV2 { .. })));
        assert_eq!(v2.prove(b"hellO"), None);
        assert_eq!(v2.prove(&[0xff, 0xfe]), None, "not UTF-8");
    }
}
