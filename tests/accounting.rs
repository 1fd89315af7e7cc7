//! Accounting over UDP: durability across kill -9, duplicates applied once.

mod common;

use common::{Daemon, Nas};
use radius::core::code::Code;
use radius::core::rfc2865::{CALLING_STATION_ID_TYPE, CLASS_TYPE, FRAMED_IP_ADDRESS_TYPE};
use radius::core::rfc2866::{
    ACCT_INPUT_OCTETS_TYPE, ACCT_OUTPUT_OCTETS_TYPE, ACCT_SESSION_ID_TYPE, ACCT_SESSION_TIME_TYPE,
    ACCT_STATUS_TYPE_TYPE, ACCT_TERMINATE_CAUSE_TYPE,
};
use radius::core::rfc2869::{ACCT_OUTPUT_GIGAWORDS_TYPE, NAS_PORT_ID_TYPE};
use std::net::UdpSocket;
use std::time::Duration;
use turnstile::proto::radius::crypto::SharedSecret;
use turnstile::proto::radius::packet::PacketBuilder;

#[test]
fn kill_9_loses_no_acknowledged_start() {
    let mut d = Daemon::start();
    let load = common::StartLoad::start(&[d.acct; 4]);
    // Kill in the middle of the load, once a good number of records were acknowledged.
    load.wait_for(2000);
    d.kill9();
    let (sent, acked) = load.finish();

    d.restart();
    let stored = common::assert_acknowledged_stored(&d, &acked, sent);
    // The daemon restored them: its gauge counts every stored session.
    d.wait_metric("turnstile_online_sessions", stored as f64);
    eprintln!("sent {sent}, acknowledged {}, stored {stored}", acked.len());
}

#[test]
fn a_retransmitted_stop_is_applied_once() {
    let d = Daemon::start();
    let mut acct = Nas::accounting("127.0.0.1", &d);
    let start = acct.acct(1, "s1", "alice");
    assert_eq!(acct.exchange(&start).code(), Code::AccountingResponse);
    let stop = acct.acct(2, "s1", "alice");
    let first = acct.exchange(&stop);
    // A new Start for the same session id, then the old Stop retransmitted: the cached
    // response comes back and the new session stays online.
    let again = acct.acct(1, "s1", "alice");
    assert_eq!(acct.exchange(&again).code(), Code::AccountingResponse);
    acct.send(&stop.bytes);
    assert_eq!(acct.recv().unwrap(), first.bytes);
    d.wait_metric("turnstile_accounting_duplicates_total", 1.0);
    assert_eq!(d.metric("turnstile_online_sessions"), 1.0);
    assert_eq!(
        d.metric("turnstile_accounting_requests_total{status=\"stop\"}"),
        1.0
    );
}

/// A NAS that could not reach the server sends what it buffered at once when the server
/// is back: each session's Start, Interim-Update and Stop back to back. They are applied
/// in the order they came, so every one of those sessions ends.
#[test]
fn records_sent_back_to_back_are_applied_in_order() {
    let d = Daemon::start();
    let mut acct = Nas::accounting("127.0.0.1", &d);
    const SESSIONS: usize = 300;
    // Replies not yet read stay under this many, so that this NAS's own receive queue
    // (the kernel's default size) cannot overflow while it is still sending.
    const WINDOW: usize = 96;
    let (mut sent, mut answered) = (0, 0);
    let read_reply = |acct: &Nas, answered: &mut usize, sent: usize| {
        assert!(
            acct.recv().is_some(),
            "{answered} of {sent} answered; the daemon dropped {} for a full socket",
            d.metric("turnstile_accounting_dropped_total{reason=\"socket_overflow\"}")
        );
        *answered += 1;
    };
    for n in 0..SESSIONS {
        let id = format!("flushed-{n}");
        for status in [1, 3, 2] {
            let request = acct.acct(status, &id, "alice");
            acct.send(&request.bytes);
            sent += 1;
        }
        while sent - answered > WINDOW {
            read_reply(&acct, &mut answered, sent);
        }
    }
    while answered < sent {
        read_reply(&acct, &mut answered, sent);
    }
    let online = d.online(&["session_id"]);
    assert!(online.is_empty(), "sessions left online: {online:?}");
    assert_eq!(d.metric("turnstile_online_sessions"), 0.0);
}

fn int(v: u32) -> [u8; 4] {
    v.to_be_bytes()
}

#[test]
fn session_lifecycle_with_usage_and_causes() {
    let d = Daemon::start();
    let mut acct = Nas::accounting("127.0.0.1", &d);
    let send = |acct: &mut Nas, r: common::Request| {
        assert_eq!(acct.exchange(&r).code(), Code::AccountingResponse);
    };
    let class = b"ts1:standard:alice";
    let r = acct.acct_with(
        1,
        "s1",
        "alice",
        &[
            (FRAMED_IP_ADDRESS_TYPE, &[10, 1, 2, 3]),
            (CALLING_STATION_ID_TYPE, b"aa-bb-cc-dd-ee-ff"),
            (NAS_PORT_ID_TYPE, b"0/1/0:100"),
            (CLASS_TYPE, class),
        ],
    );
    send(&mut acct, r);
    let r = acct.acct_with(
        3,
        "s1",
        "alice",
        &[
            (ACCT_SESSION_TIME_TYPE, &int(60)),
            (ACCT_INPUT_OCTETS_TYPE, &int(1000)),
            (ACCT_OUTPUT_OCTETS_TYPE, &int(5)),
            (ACCT_OUTPUT_GIGAWORDS_TYPE, &int(2)),
        ],
    );
    send(&mut acct, r);
    let online = d.online(&[
        "user",
        "product",
        "framed_ip",
        "station",
        "nas_port",
        "session_time",
        "input_octets",
        "output_octets",
    ]);
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        online,
        vec![vec![
            s("alice"),
            s("standard"),
            s("10.1.2.3"),
            s("aa-bb-cc-dd-ee-ff"),
            s("0/1/0:100"),
            s("60"),
            s("1000"),
            s(&(2u64 * (1 << 32) + 5).to_string())
        ]]
    );
    // Stop with Lost-Service (3): the catalog's E2403.
    let r = acct.acct_with(
        2,
        "s1",
        "alice",
        &[
            (ACCT_SESSION_TIME_TYPE, &int(90)),
            (ACCT_INPUT_OCTETS_TYPE, &int(2000)),
            (ACCT_TERMINATE_CAUSE_TYPE, &int(3)),
        ],
    );
    send(&mut acct, r);
    // A Stop for a session never started is recorded, with a cause outside 1-17 kept raw.
    let r = acct.acct_with(2, "ghost", "bob", &[(ACCT_TERMINATE_CAUSE_TYPE, &int(99))]);
    send(&mut acct, r);
    // Accounting-On closes what the NAS had open, as E2411.
    let r = acct.acct(1, "s2", "carol");
    send(&mut acct, r);
    let r = acct.acct(7, "", "");
    send(&mut acct, r);

    assert!(d.online(&["session_id"]).is_empty());
    let history = d.history(&[
        "session_id",
        "user",
        "framed_ip",
        "session_time",
        "input_octets",
        "cause",
        "terminate_cause",
    ]);
    assert_eq!(
        history,
        vec![
            vec![
                s("s1"),
                s("alice"),
                s("10.1.2.3"),
                s("90"),
                s("2000"),
                s("2403"),
                s("3")
            ],
            vec![s("ghost"), s("bob"), None, s("0"), s("0"), None, s("99")],
            vec![s("s2"), s("carol"), None, s("0"), s("0"), s("2411"), None],
        ]
    );
    assert_eq!(d.metric("turnstile_online_sessions"), 0.0);
}

#[test]
fn message_authenticator_in_accounting_is_checked_when_present() {
    let d = Daemon::start();
    let secret = SharedSecret::new(common::SECRET.as_bytes());
    let request = |ma_ok: bool| {
        let mut bytes = PacketBuilder::new(Code::AccountingRequest, 7)
            .message_authenticator()
            .u32_attribute(ACCT_STATUS_TYPE_TYPE, 1)
            .and_then(|b| b.attribute(ACCT_SESSION_ID_TYPE, b"ma"))
            .unwrap()
            .finish_signed_request(&secret);
        if !ma_ok {
            // Corrupt the Message-Authenticator, then sign the packet again so that only
            // the Message-Authenticator is wrong.
            bytes[22] ^= 0xff;
            bytes[4..20].fill(0);
            let auth = turnstile::proto::radius::crypto::response_authenticator(
                &bytes,
                common::SECRET.as_bytes(),
            );
            bytes[4..20].copy_from_slice(&auth);
        }
        bytes
    };
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.connect(d.acct).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 4096];
    socket.send(&request(false)).unwrap();
    assert!(
        socket.recv(&mut buf).is_err(),
        "a bad Message-Authenticator is answered"
    );
    d.wait_metric(
        "turnstile_accounting_dropped_total{reason=\"bad_message_authenticator\"}",
        1.0,
    );
    // The good request is stored durably before its answer: allow a loaded machine time.
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    socket.send(&request(true)).unwrap();
    let n = socket.recv(&mut buf).unwrap();
    assert_eq!(buf[0], Code::AccountingResponse as u8);
    assert!(n >= 20);
}
