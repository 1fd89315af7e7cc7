//! EAP conversations (RFC 3748, carried per RFC 3579): what to answer each EAP Response,
//! and the table of conversations between one round and the next, keyed by the State
//! the server sent. One file per method behind [`Method`]; the wire format is
//! [`crate::proto::eap`].
//!
//! Today's method is EAP-MD5: Identity ─▶ MD5-Challenge ─▶ the response proved like
//! CHAP ─▶ Success or Failure. A Nak, an unknown or expired State, a mismatched
//! Identifier or a full table end the conversation with Failure (E2554).

pub mod conversations;
pub mod md5;

pub use conversations::{Conversation, Conversations};

use crate::proto::eap::packet::types;
use crate::proto::eap::{EapCode, EapPacket};

/// A method's state between rounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// EAP-MD5.
    Md5(md5::Md5),
}

impl Method {
    /// The EAP type it speaks.
    pub fn typ(&self) -> u8 {
        match self {
            Method::Md5(_) => types::MD5,
        }
    }

    /// The Type-Data of its next Request.
    fn request_data(&self) -> Vec<u8> {
        match self {
            Method::Md5(md5) => md5.request_data(),
        }
    }
}

/// What to answer one EAP request with.
#[derive(Debug)]
pub enum Step {
    /// Another round: send `eap` in an Access-Challenge carrying `state`.
    Challenge {
        /// The EAP Request.
        eap: Vec<u8>,
        /// The State attribute, when the round opened a conversation.
        state: Option<[u8; 16]>,
    },
    /// The peer answered the method: prove the answer against the user, then send
    /// Success or Failure with the Response's identifier.
    Prove {
        /// The conversation, taken out of the table.
        conversation: Conversation,
        /// The Response's identifier.
        identifier: u8,
    },
    /// End it with Failure (E2554) at once.
    Fail {
        /// The Response's identifier.
        identifier: u8,
        /// Why, for the counter and the log.
        reason: &'static str,
    },
}

/// The answer to `eap` (None: EAP-Start) arriving with `state`.
pub fn step(table: &Conversations, eap: Option<&EapPacket<'_>>, state: Option<&[u8]>) -> Step {
    let Some(eap) = eap else {
        // EAP-Start: ask who it is. No conversation yet: the Identity opens one.
        return Step::Challenge {
            eap: EapPacket::request(0, types::IDENTITY, &[]).to_bytes(),
            state: None,
        };
    };
    let identifier = eap.identifier;
    let fail = |reason| Step::Fail { identifier, reason };
    if eap.code != EapCode::Response {
        return fail("not_a_response");
    }
    if eap.typ == Some(types::IDENTITY) {
        let Ok(user) = std::str::from_utf8(eap.data) else {
            return fail("identity_not_utf8");
        };
        let method = Method::Md5(md5::Md5::new());
        let next = identifier.wrapping_add(1);
        let request = EapPacket::request(next, method.typ(), &method.request_data()).to_bytes();
        return match table.open(user, next, method) {
            Some(state) => Step::Challenge {
                eap: request,
                state: Some(state),
            },
            None => fail("conversations_full"),
        };
    }
    let Some(conversation) = state.and_then(|s| table.take(s)) else {
        return fail("unknown_state");
    };
    if conversation.identifier != identifier {
        return fail("identifier_mismatch");
    }
    if eap.typ == Some(types::NAK) {
        // Only EAP-MD5 is offered: whatever the peer would rather use, it cannot have.
        return fail("nak");
    }
    if eap.typ != Some(conversation.method.typ()) {
        return fail("wrong_type");
    }
    Step::Prove {
        conversation,
        identifier,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn response(identifier: u8, typ: u8, data: &[u8]) -> Vec<u8> {
        EapPacket {
            code: EapCode::Response,
            identifier,
            typ: Some(typ),
            data,
        }
        .to_bytes()
    }

    #[test]
    fn identity_then_md5_reaches_the_proof_once() {
        let table = Conversations::new(10, Duration::from_secs(60));
        let Step::Challenge { eap, state: None } = step(&table, None, None) else {
            panic!("EAP-Start answered with Identity")
        };
        assert_eq!(eap, [1, 0, 0, 5, 1]);
        let identity = response(0, types::IDENTITY, b"alice");
        let identity = EapPacket::parse(&identity).unwrap();
        let Step::Challenge {
            eap,
            state: Some(state),
        } = step(&table, Some(&identity), None)
        else {
            panic!("Identity answered with a challenge")
        };
        let request = EapPacket::parse(&eap).unwrap();
        assert_eq!((request.identifier, request.typ), (1, Some(types::MD5)));
        assert_eq!(request.data.len(), 17);

        let answer = response(1, types::MD5, &[16; 17]);
        let answer = EapPacket::parse(&answer).unwrap();
        match step(&table, Some(&answer), Some(&state)) {
            Step::Prove {
                conversation,
                identifier: 1,
            } => assert_eq!(&*conversation.user, "alice"),
            other => panic!("{other:?}"),
        }
        // The State is spent.
        assert!(matches!(
            step(&table, Some(&answer), Some(&state)),
            Step::Fail {
                reason: "unknown_state",
                ..
            }
        ));
    }

    #[test]
    fn nak_mismatch_and_a_full_table_fail() {
        let table = Conversations::new(1, Duration::from_secs(60));
        let identity = response(4, types::IDENTITY, b"bob");
        let identity = EapPacket::parse(&identity).unwrap();
        let Step::Challenge {
            state: Some(state), ..
        } = step(&table, Some(&identity), None)
        else {
            panic!()
        };
        let fails = |s: Step| match s {
            Step::Fail { reason, .. } => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            fails(step(&table, Some(&identity), None)),
            "conversations_full"
        );
        let nak = response(5, types::NAK, &[types::PEAP]);
        assert_eq!(
            fails(step(
                &table,
                Some(&EapPacket::parse(&nak).unwrap()),
                Some(&state)
            )),
            "nak"
        );
        let Step::Challenge {
            state: Some(state), ..
        } = step(&table, Some(&identity), None)
        else {
            panic!()
        };
        let late = response(9, types::MD5, &[16; 17]);
        assert_eq!(
            fails(step(
                &table,
                Some(&EapPacket::parse(&late).unwrap()),
                Some(&state)
            )),
            "identifier_mismatch"
        );
    }
}
