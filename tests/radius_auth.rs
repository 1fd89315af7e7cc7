//! Access-Request handling over real UDP sockets against a real daemon process.

mod common;

use common::{Daemon, Nas};
use radius::core::code::Code;
use radius::core::rfc2869::MESSAGE_AUTHENTICATOR_TYPE;
use std::time::Duration;

const DROPPED: &str = "turnstile_radius_dropped_total{reason=";

fn dropped(reason: &str) -> String {
    format!("{DROPPED}\"{reason}\"}}")
}

#[test]
fn pap_accept_and_refusal_codes() {
    let d = Daemon::start();
    let mut nas = Nas::new("127.0.0.1", &d);

    let r = nas.pap("alice", "wonderland", true);
    let reply = nas.exchange(&r);
    assert_eq!(reply.code(), Code::AccessAccept);
    assert_eq!(
        reply.first_attribute_type(),
        Some(MESSAGE_AUTHENTICATOR_TYPE)
    );

    let r = nas.pap("nobody", "x", true);
    let reply = nas.exchange(&r);
    assert_eq!(reply.code(), Code::AccessReject);
    assert_eq!(
        reply.first_attribute_type(),
        Some(MESSAGE_AUTHENTICATOR_TYPE)
    );
    assert_eq!(reply.reply_message(), "E2531: 用户不存在");

    let r = nas.pap("alice", "wrong", true);
    let reply = nas.exchange(&r);
    assert_eq!(reply.code(), Code::AccessReject);
    assert_eq!(reply.reply_message(), "E2553: 帐号或密码错误");

    // A 128-byte password, the RFC 2865 maximum.
    d.cli_ok(&["user", "add", "long", "--password", &"p".repeat(128)]);
    d.wait_metric("turnstile_directory_users", 3.0);
    let r = nas.pap("long", &"p".repeat(128), true);
    assert_eq!(nas.exchange(&r).code(), Code::AccessAccept);

    d.wait_metric(
        "turnstile_radius_replies_total{type=\"access_reject\",code=\"E2553\"}",
        1.0,
    );
    d.wait_metric(
        "turnstile_radius_replies_total{type=\"access_accept\",code=\"E0000\"}",
        2.0,
    );
}

#[test]
fn chap_with_and_without_challenge_attribute() {
    let d = Daemon::start();
    let mut nas = Nas::new("127.0.0.1", &d);
    let r = nas.chap("carol", "chap-secret", Some(b"0123456789abcdef"));
    assert_eq!(nas.exchange(&r).code(), Code::AccessAccept);
    let r = nas.chap("carol", "chap-secret", None);
    assert_eq!(nas.exchange(&r).code(), Code::AccessAccept);
    let r = nas.chap("carol", "wrong", Some(b"0123456789abcdef"));
    let reply = nas.exchange(&r);
    assert_eq!(reply.code(), Code::AccessReject);
    assert_eq!(reply.reply_message(), "E2553: 帐号或密码错误");
    let r = nas.chap("nobody", "x", None);
    assert_eq!(nas.exchange(&r).reply_message(), "E2531: 用户不存在");
}

#[test]
fn message_authenticator_missing_or_bad_is_dropped() {
    let d = Daemon::start();
    let mut strict = Nas::new("127.0.0.1", &d);

    // Missing: dropped. The same socket's next request is answered, and it is the only
    // reply (one client socket is served in order by one worker).
    let missing = strict.pap("alice", "wonderland", false);
    strict.send(&missing.bytes);
    let good = strict.pap("alice", "wonderland", true);
    assert_eq!(strict.exchange(&good).code(), Code::AccessAccept);
    d.wait_metric(&dropped("missing_message_authenticator"), 1.0);

    // Bad: one bit of the Message-Authenticator flipped.
    let mut bad = strict.pap("alice", "wonderland", true);
    bad.bytes[22] ^= 1;
    strict.send(&bad.bytes);
    let good = strict.pap("alice", "wonderland", true);
    assert_eq!(strict.exchange(&good).code(), Code::AccessAccept);
    d.wait_metric(&dropped("bad_message_authenticator"), 1.0);

    // A bad one is dropped even from a NAS that does not require the attribute.
    let mut legacy = Nas::new("127.0.0.2", &d);
    let mut bad = legacy.pap("alice", "wonderland", true);
    bad.bytes[30] ^= 1;
    legacy.send(&bad.bytes);
    // The opt-out NAS gets answers without the attribute, still signed in the reply.
    let plain = legacy.pap("alice", "wonderland", false);
    let reply = legacy.exchange(&plain);
    assert_eq!(reply.code(), Code::AccessAccept);
    assert_eq!(
        reply.first_attribute_type(),
        Some(MESSAGE_AUTHENTICATOR_TYPE)
    );
    d.wait_metric(&dropped("bad_message_authenticator"), 2.0);

    // Wrong secret: the Message-Authenticator does not verify.
    let mut wrong = Nas::new("127.0.0.1", &d);
    wrong.secret = b"not-the-secret".to_vec();
    let r = wrong.pap("alice", "wonderland", true);
    wrong.send(&r.bytes);
    d.wait_metric(&dropped("bad_message_authenticator"), 3.0);

    d.wait_log(&["without Message-Authenticator"]);
}

#[test]
fn unknown_client_is_dropped_unanswered() {
    let d = Daemon::start();
    let mut stranger = Nas::new("127.0.0.3", &d);
    stranger
        .socket
        .set_read_timeout(Some(std::time::Duration::from_millis(300)))
        .unwrap();
    let r = stranger.pap("alice", "wonderland", true);
    stranger.send(&r.bytes);
    d.wait_metric(&dropped("unknown_client"), 1.0);
    // The drop is counted after the decision not to answer: nothing can follow.
    assert!(stranger.recv().is_none());
}

#[test]
fn retransmission_gets_identical_reply_and_is_processed_once() {
    let d = Daemon::start();
    let mut nas = Nas::new("127.0.0.1", &d);
    let r = nas.pap("alice", "wrong", true);
    let first = nas.exchange(&r);
    nas.send(&r.bytes);
    let second = nas.recv().expect("cached reply");
    assert_eq!(first.bytes, second);
    d.wait_metric("turnstile_radius_duplicates_total{outcome=\"resent\"}", 1.0);
    assert_eq!(
        d.metric("turnstile_radius_requests_total{type=\"access_request\"}"),
        1.0
    );

    // Same identifier, new authenticator: a new request, processed again.
    let mut again = nas.pap("alice", "wonderland", true);
    again.bytes[1] = r.id;
    again.id = r.id;
    let fresh = PacketRewrite::resign(&again, &nas);
    let reply = nas.exchange(&fresh);
    assert_eq!(reply.code(), Code::AccessAccept);
    d.wait_metric(
        "turnstile_radius_requests_total{type=\"access_request\"}",
        2.0,
    );
}

/// Rebuilds a request after its identifier was changed (the Message-Authenticator covers
/// the header).
struct PacketRewrite;

impl PacketRewrite {
    fn resign(r: &common::Request, nas: &Nas) -> common::Request {
        let mut bytes = r.bytes.clone();
        bytes[22..38].fill(0);
        let secret = turnstile::proto::radius::crypto::SharedSecret::new(&nas.secret);
        let mac = turnstile::proto::radius::crypto::message_authenticator(&secret, &bytes);
        bytes[22..38].copy_from_slice(&mac);
        common::Request {
            bytes,
            authenticator: r.authenticator,
            id: r.id,
        }
    }
}

#[test]
fn status_server_is_answered_only_with_message_authenticator() {
    let d = Daemon::start();
    let mut nas = Nas::new("127.0.0.2", &d);
    let without = nas.status_server(false);
    nas.send(&without.bytes);
    let with = nas.status_server(true);
    let reply = nas.exchange(&with);
    assert_eq!(reply.code(), Code::AccessAccept);
    assert_eq!(
        reply.first_attribute_type(),
        Some(MESSAGE_AUTHENTICATOR_TYPE)
    );
    d.wait_metric(&dropped("missing_message_authenticator"), 1.0);
    d.wait_metric(
        "turnstile_radius_requests_total{type=\"status_server\"}",
        1.0,
    );
}

#[test]
fn malformed_packets_are_dropped_and_the_next_request_is_answered() {
    let d = Daemon::start();
    let mut nas = Nas::new("127.0.0.2", &d);
    let good = nas.pap("alice", "wonderland", false);
    let header = |code: u8, len: u16| {
        let mut p = vec![code, 77];
        p.extend_from_slice(&len.to_be_bytes());
        p.extend_from_slice(&[0x5a; 16]);
        p
    };
    let with_attr = |len: u16, attr: &[u8]| {
        let mut p = header(1, len);
        p.extend_from_slice(attr);
        p
    };
    let mut lying = good.bytes.clone();
    lying[3] = lying[3].wrapping_add(10);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", good.bytes[..19].to_vec()),
        ("bad_length", lying),
        ("bad_length", header(1, 19)),
        ("attribute_too_short", with_attr(24, &[1, 0, 0, 0])),
        ("attribute_too_short", with_attr(24, &[1, 1, 0, 0])),
        ("attribute_overrun", with_attr(24, &[1, 40, 0, 0])),
        ("too_long", with_attr(4097, &vec![0u8; 4077])),
        ("unknown_code", header(99, 20)),
        ("unexpected_code", header(4, 20)),
    ];
    let mut expected = std::collections::HashMap::new();
    for (reason, bytes) in cases {
        nas.send(&bytes);
        let r = nas.pap("alice", "wonderland", false);
        assert_eq!(
            nas.exchange(&r).code(),
            Code::AccessAccept,
            "after {reason}"
        );
        *expected.entry(reason).or_insert(0.0) += 1.0;
    }
    for (reason, n) in expected {
        d.wait_metric(&dropped(reason), n);
    }
}

#[test]
fn reply_message_follows_the_configured_language() {
    let d = Daemon::start_with("", &[("TURNSTILE__GENERAL__LANGUAGE", "en")]);
    let mut nas = Nas::new("127.0.0.1", &d);
    let r = nas.pap("alice", "nope", true);
    assert_eq!(
        nas.exchange(&r).reply_message(),
        "E2553: Wrong account or password"
    );
}

#[test]
fn secrets_never_reach_logs_or_disk_in_clear() {
    let d = Daemon::start();
    let mut nas = Nas::new("127.0.0.1", &d);
    let r = nas.pap("alice", "wonderland", true);
    assert_eq!(nas.exchange(&r).code(), Code::AccessAccept);
    let r = nas.pap("alice", "wrong-guess", true);
    assert_eq!(nas.exchange(&r).code(), Code::AccessReject);
    d.wait_metric(
        "turnstile_radius_replies_total{type=\"access_reject\",code=\"E2553\"}",
        1.0,
    );
    d.wait_log(&["access decision", "code=E2553"]);
    let log = d.log();
    for secret in ["wonderland", "wrong-guess", common::SECRET] {
        assert!(!log.contains(secret), "{secret} in log");
    }
    let data = d.dir.path().join("data");
    for file in std::fs::read_dir(&data).unwrap() {
        let bytes = std::fs::read(file.unwrap().path()).unwrap();
        assert!(!bytes.windows(10).any(|w| w == b"wonderland"));
    }
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(data.join("secret.key"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn random_garbage_never_stops_the_daemon() {
    use rand::{Rng, SeedableRng};
    let d = Daemon::start();
    let mut nas = Nas::new("127.0.0.1", &d);
    let mut rng = rand::rngs::StdRng::seed_from_u64(2865);
    for i in 0..5000 {
        let len = rng.gen_range(0..600);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
        // Half of them look like Access-Requests with a plausible length field.
        if i % 2 == 0 && len >= 20 {
            bytes[0] = 1;
            bytes[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        }
        nas.send(&bytes);
    }
    let r = nas.pap("alice", "wonderland", true);
    assert_eq!(nas.exchange(&r).code(), Code::AccessAccept);
    d.wait_metric(
        "turnstile_radius_replies_total{type=\"access_accept\",code=\"E0000\"}",
        1.0,
    );
}

#[test]
fn the_store_reports_its_connections_and_sqlite_its_heap() {
    let d = Daemon::start();
    // Sampled as the metrics listener starts, then every 5 s.
    common::wait_until(
        Duration::from_secs(6),
        || d.metrics_text(),
        || {
            let connections = d.metric("turnstile_store_connections{state=\"idle\"}")
                + d.metric("turnstile_store_connections{state=\"busy\"}");
            let heap = common::postgres_server().is_some()
                || d.metric("turnstile_sqlite_memory_bytes") > 0.0;
            (connections >= 1.0 && heap).then_some(())
        },
    );
}
