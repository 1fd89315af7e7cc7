//! Disconnect and CoA (RFC 5176) against a NAS simulator: kicks from the CLI through the
//! operator API, the answers ACK, NAK 503 and silence, forged and flooded replies, local
//! and virtual offline, the
//! sweeper's server-side ends, and what the session history records.

mod common;

use common::{Answer, Daemon, Nas, NasSim};
use radius::core::code::Code;
use radius::core::rfc2865::{NAS_IP_ADDRESS_TYPE, USER_NAME_TYPE, VENDOR_SPECIFIC_TYPE};
use radius::core::rfc2866::ACCT_SESSION_ID_TYPE;
use radius::core::rfc2869::EVENT_TIMESTAMP_TYPE;
use std::time::{Duration, Instant};
use turnstile::proto::radius::packet::Packet;

/// A daemon whose NAS at 127.0.0.6 takes DM/CoA on the simulator's port.
fn setup(answer: Answer, vendor: &str, env: &[(&str, &str)]) -> (Daemon, NasSim, Nas) {
    let sim = NasSim::start("127.0.0.6", answer);
    let d = Daemon::start_with(&sim.client_entry("sim-nas", vendor), env);
    let acct = Nas::accounting("127.0.0.6", &d);
    (d, sim, acct)
}

fn start(acct: &mut Nas, session: &str, user: &str) {
    let r = acct.acct(1, session, user);
    assert_eq!(acct.exchange(&r).code(), Code::AccountingResponse);
}

/// The newest history row's (session id, cause, via).
fn last_end(d: &Daemon) -> Vec<Option<String>> {
    d.history(&["session_id", "cause", "via"])
        .pop()
        .unwrap_or_default()
}

/// Starts session s1 of alice, kicks her, and checks that the NAK (Error-Cause 506)
/// fails the kick and keeps the session.
fn kick_is_refused_with_506(d: &Daemon, acct: &mut Nas) {
    start(acct, "s1", "alice");
    let out = d.cli(&["kick", "--user", "alice"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Error-Cause Some(506)"),
        "{out:?}"
    );
    assert!(d.cli_ok(&["online"]).contains("sim-nas/s1"));
}

fn some(v: &str) -> Option<String> {
    Some(v.to_string())
}

#[test]
fn kick_by_disconnect_request_acknowledged() {
    let (d, sim, mut acct) = setup(Answer::Ack, "standard", &[]);
    start(&mut acct, "s1", "alice");
    let online = d.cli_ok(&["online", "--user", "alice"]);
    assert!(online.contains("sim-nas/s1\talice"), "{online}");

    let out = d.cli_ok(&["kick", "--user", "alice"]);
    assert!(out.contains("sim-nas/s1\tended\tE4103"), "{out}");
    assert_eq!(last_end(&d), vec![some("s1"), some("4103"), None]);
    assert!(d.cli_ok(&["online", "--json"]).contains("[]"));
    let history = d.cli_ok(&["sessions", "--user", "alice"]);
    assert!(
        history.contains("E4103: 来自后台管理（8080）的DM下线"),
        "{history}"
    );

    // What the NAS received: one Disconnect-Request naming the session.
    let requests = sim.requests();
    assert_eq!(requests.len(), 1);
    let p = Packet::parse(&requests[0]).unwrap();
    assert_eq!(p.code(), Code::DisconnectRequest);
    assert_eq!(
        p.attributes().next().map(|a| a.typ),
        Some(80),
        "Message-Authenticator first"
    );
    assert_eq!(p.first(USER_NAME_TYPE), Some(&b"alice"[..]));
    assert_eq!(p.first(ACCT_SESSION_ID_TYPE), Some(&b"s1"[..]));
    assert_eq!(p.first(NAS_IP_ADDRESS_TYPE), Some(&[127, 0, 0, 6][..]));
    assert!(p.first(EVENT_TIMESTAMP_TYPE).is_some());
}

#[test]
fn nak_503_closes_the_session_as_already_gone() {
    let (d, _sim, mut acct) = setup(Answer::Nak(503), "standard", &[]);
    start(&mut acct, "s1", "alice");
    let out = d.cli_ok(&[
        "kick",
        "--session",
        "sim-nas/s1",
        "--source",
        "self-service",
    ]);
    assert!(out.contains("ended\tE4104"), "{out}");
    assert_eq!(last_end(&d), vec![some("s1"), some("4104"), None]);
}

#[test]
fn forged_and_flooded_replies_are_ignored_and_counted() {
    let (d, sim, mut acct) = setup(Answer::ForgedThenNak(506), "standard", &[]);
    // A forged ACK taken for the answer would end the session; the real NAK keeps it.
    kick_is_refused_with_506(&d, &mut acct);
    let dropped = |reason: &str| {
        d.metric(&format!(
            "turnstile_dynauth_dropped_total{{reason=\"{reason}\"}}"
        ))
    };
    // The NAK behind the flood answered the first send: the socket's buffer held it.
    assert_eq!(sim.requests().len(), 1);
    assert_eq!(dropped("bad_authenticator"), 100.0);
    assert_eq!(dropped("unknown_identifier"), 100.0);
    assert!(dropped("malformed") >= 50.0, "{}", dropped("malformed"));
    // The daemon still answers.
    let mut nas = Nas::new("127.0.0.1", &d);
    let request = nas.pap("alice", "wonderland", true);
    assert_eq!(nas.exchange(&request).code(), Code::AccessAccept);
}

#[test]
fn other_nak_and_silence_keep_the_session() {
    let (d, _sim, mut acct) = setup(Answer::Nak(506), "standard", &[]);
    kick_is_refused_with_506(&d, &mut acct);

    let fast = [
        ("TURNSTILE__DYNAUTH__INITIAL_RETRY_MS", "100"),
        ("TURNSTILE__DYNAUTH__MAX_RETRY_MS", "200"),
        ("TURNSTILE__DYNAUTH__TRIES", "3"),
        ("TURNSTILE__DYNAUTH__TOTAL_MS", "2000"),
    ];
    let (d, sim, mut acct) = setup(Answer::Silence, "standard", &fast);
    start(&mut acct, "s2", "bob");
    let started = Instant::now();
    let out = d.cli(&["kick", "--user", "bob"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("no answer"),
        "{out:?}"
    );
    // Three sends of the very same request: 0, 100, 300 ms.
    let requests = sim.requests();
    assert_eq!(requests.len(), 3, "{requests:?}");
    assert!(requests.iter().all(|r| r == &requests[0]));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(d.cli_ok(&["online"]).contains("sim-nas/s2"));
}

#[test]
fn local_and_virtual_offline_do_not_tell_the_nas() {
    let (d, sim, mut acct) = setup(Answer::Ack, "standard", &[]);
    start(&mut acct, "a", "alice");
    start(&mut acct, "b", "alice");
    d.cli_ok(&[
        "kick",
        "--session",
        "sim-nas/a",
        "--mode",
        "local",
        "--source",
        "system",
    ]);
    assert_eq!(last_end(&d), vec![some("a"), some("4112"), None]);
    d.cli_ok(&["kick", "--session", "sim-nas/b", "--mode", "virtual"]);
    assert_eq!(last_end(&d), vec![some("b"), some("4123"), None]);
    assert!(sim.requests().is_empty());
    let out = d.cli(&["kick", "--user", "alice"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("E6503"),
        "{out:?}"
    );
}

#[test]
fn bandwidth_change_by_coa_keeps_the_session() {
    let (d, sim, mut acct) = setup(Answer::Ack, "huawei", &[]);
    start(&mut acct, "s1", "alice");
    let out = d.cli_ok(&[
        "coa",
        "--session",
        "sim-nas/s1",
        "--up",
        "1M",
        "--down",
        "4M",
    ]);
    assert!(out.contains("E4006") && out.contains("CoA-ACK"), "{out}");
    let requests = sim.requests();
    let p = Packet::parse(&requests[0]).unwrap();
    assert_eq!(p.code(), Code::CoARequest);
    let vsas: Vec<&[u8]> = p
        .attributes()
        .filter(|a| a.typ == VENDOR_SPECIFIC_TYPE)
        .map(|a| a.value)
        .collect();
    // Huawei-Input-Average-Rate = 1,000,000 (0x000f4240) first.
    assert_eq!(
        vsas[0],
        &[0, 0, 0x07, 0xdb, 2, 6, 0x00, 0x0f, 0x42, 0x40][..]
    );
    assert_eq!(vsas.len(), 4);
    assert!(d.cli_ok(&["online"]).contains("sim-nas/s1"));
}

/// Waits up to 10 s for the history's newest row to be `want`.
fn wait_end(d: &Daemon, want: Vec<Option<String>>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = last_end(d);
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "history has {got:?}, want {want:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_sweeper_pushes_out_the_oldest_session_by_dm() {
    let sweep = [("TURNSTILE__SESSIONS__SWEEP_INTERVAL_MS", "200")];
    let (d, sim, mut acct) = setup(Answer::Ack, "standard", &sweep);
    start(&mut acct, "old", "alice");
    let mut nas = Nas::new("127.0.0.6", &d);
    d.cli_ok(&["control-policy", "set", "unlimited", "--max-online", "1"]);
    nas.eventually(
        |nas| nas.pap("alice", "wonderland", true),
        |r| r.reply_message() == "E2620: 已经在线了",
    );
    d.cli_ok(&[
        "control-policy",
        "set",
        "unlimited",
        "--over-limit",
        "kick-oldest",
    ]);
    let accept = nas.eventually(
        |nas| nas.pap("alice", "wonderland", true),
        |r| r.code() == Code::AccessAccept,
    );
    assert_eq!(accept.code(), Code::AccessAccept);
    // E3008 is why, E4101 (DM from the RADIUS module) is how.
    wait_end(&d, vec![some("old"), some("3008"), some("4101")]);
    assert_eq!(sim.requests().len(), 1);
}

#[test]
fn the_sweeper_ends_a_silent_session_as_heartbeat_lost() {
    let sweep = [
        ("TURNSTILE__SESSIONS__SWEEP_INTERVAL_MS", "200"),
        ("TURNSTILE__SESSIONS__HEARTBEAT_INTERVALS", "2"),
    ];
    let (d, sim, mut acct) = setup(Answer::Ack, "standard", &sweep);
    d.cli_ok(&["control-policy", "set", "unlimited", "--interim", "1"]);
    // The Class ties the session to the product, hence to its control policy.
    let r = acct.acct_with(1, "quiet", "alice", &[(25, b"ts1:standard:alice")]);
    assert_eq!(acct.exchange(&r).code(), Code::AccountingResponse);
    wait_end(&d, vec![some("quiet"), some("3101"), None]);
    // Ended locally: nobody to send a Disconnect-Request to.
    assert!(sim.requests().is_empty());
}
