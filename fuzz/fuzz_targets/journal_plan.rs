//! The accounting journal's planning: a run of batches — Accounting-Requests (built from
//! the input and signed, so that they parse), server-side ends and splits, over a few
//! sessions of two users — each planned over the sessions the batches before left. No
//! input may panic (counter arithmetic included), and a session's counters never go
//! back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;
use turnstile::radius::accounting::parse;
use turnstile::directory::clients::NasClient;
use turnstile::proto::radius::crypto::SharedSecret;
use turnstile::proto::radius::packet::PacketBuilder;
use turnstile::session::journal::fuzzing::{Step, Store};
use turnstile::store::{OnlineChange, OnlineRecord};
use turnstile::vendor::Vendor;

const SECRET: &[u8] = b"fuzz-secret";

/// An Accounting-Request from the next bytes of `input` (status, session, counters).
fn request(id: u8, input: &mut &[u8]) -> Option<Vec<u8>> {
    let (head, rest) = input.split_first_chunk::<14>()?;
    *input = rest;
    let word = |i: usize| u32::from_be_bytes(head[i..i + 4].try_into().expect("4 bytes"));
    let status = [1, 3, 2, 3, 7][usize::from(head[0] & 0x0f) % 5];
    let session = format!("s{}", head[1] % 4);
    let user = ["alice", "bob"][usize::from(head[1] >> 7)];
    let mut b = PacketBuilder::new(radius::core::code::Code::AccountingRequest, id)
        .u32_attribute(40, status)
        .ok()?
        .attribute(44, session.as_bytes())
        .ok()?
        .attribute(1, user.as_bytes())
        .ok()?
        .u32_attribute(46, word(2))
        .ok()?
        .u32_attribute(42, word(6))
        .ok()?
        .u32_attribute(43, word(10))
        .ok()?;
    // Gigawords, a Terminate-Cause and a Class, some of the time.
    if head[0] & 0x10 != 0 {
        b = b.u32_attribute(52, u32::from(head[12])).ok()?;
        b = b.u32_attribute(53, u32::from(head[13]) << 24).ok()?;
    }
    if head[0] & 0x20 != 0 {
        b = b.u32_attribute(49, u32::from(head[13] % 24)).ok()?;
    }
    if head[0] & 0x40 != 0 {
        b = b.attribute(25, b"ts1:premium:alice").ok()?;
    }
    Some(b.finish_signed_request(&SharedSecret::new(SECRET)))
}

/// A session's time and octets in and out.
fn counters(r: &OnlineRecord) -> (i64, i64, i64) {
    (r.session_time, r.input_octets, r.output_octets)
}

fuzz_target!(|data: &[u8]| {
    let client = NasClient::new(
        "fuzz-nas".into(),
        "127.0.0.1/32".parse().expect("a valid range"),
        SECRET,
        Vendor::Standard,
        false,
    );
    let mut store = Store::default();
    let mut input = data;
    let mut now = 1_800_000_000i64;
    let mut steps = Vec::new();
    let mut id = 0u8;
    while let Some((&op, rest)) = input.split_first() {
        input = rest;
        let session = format!("s{}", op >> 6);
        match op % 8 {
            0..=4 => {
                id = id.wrapping_add(1);
                let Some(datagram) = request(id, &mut input) else {
                    break;
                };
                let event = parse(&datagram, &client).expect("a signed request parses");
                steps.push(Step::Accounting(event));
            }
            5 => steps.push(Step::End(session)),
            6 => steps.push(Step::Split(
                session,
                (op & 8 != 0).then(|| "premium".into()),
            )),
            _ => {
                // Each session's counters as last stored, followed through the plan's
                // changes: they may only grow while the session lives.
                let mut last: HashMap<String, (i64, i64, i64)> = store
                    .online()
                    .map(|r| (r.session_id.clone(), counters(r)))
                    .collect();
                let plan = store.plan("fuzz-nas", now, std::mem::take(&mut steps));
                for change in &plan.changes {
                    match change {
                        OnlineChange::Put(r) | OnlineChange::Split { session: r, .. } => {
                            if let Some(before) = last.get(&r.session_id) {
                                let now = counters(r);
                                assert!(
                                    now.0 >= before.0 && now.1 >= before.1 && now.2 >= before.2,
                                    "{before:?} went back to {r:?}"
                                );
                            }
                            last.insert(r.session_id.clone(), counters(r));
                        }
                        OnlineChange::End(h) => {
                            last.remove(&h.session.session_id);
                        }
                        OnlineChange::EndNas { .. } => last.clear(),
                    }
                }
                now += i64::from(op >> 3) * 10;
            }
        }
    }
    store.plan("fuzz-nas", now, steps);
});
