//! EAP against wpa_supplicant's `eapol_test` (Debian package `eapoltest`), an independent
//! peer: EAP-MD5 accepted and refused with the policy's codes; and, from the test's own
//! NAS, the carriage rules: Message-Authenticator required, a retransmitted request
//! answered with the same Challenge without a second round.

mod common;

use common::{Daemon, Nas, Request, SECRET};
use radius::core::code::Code;
use radius::core::rfc2865::{STATE_TYPE, USER_NAME_TYPE};
use radius::core::rfc2869::EAP_MESSAGE_TYPE;
use std::process::Command;
use turnstile::proto::radius::crypto::SharedSecret;
use turnstile::proto::radius::packet::PacketBuilder;

/// Runs eapol_test with `network` against the daemon; its exit status and output.
fn eapol_test(d: &Daemon, network: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("eapol.conf");
    std::fs::write(&conf, format!("network={{\n{network}\n}}\n")).unwrap();
    let out = Command::new("eapol_test")
        .arg("-c")
        .arg(&conf)
        .args(["-a", "127.0.0.1", "-p"])
        .arg(d.auth.port().to_string())
        .args(["-s", SECRET, "-n", "-t", "5"])
        .output()
        .expect("eapol_test not found: install Debian's eapoltest (scripts/test.sh does)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success(), text)
}

fn md5(identity: &str, password: &str) -> String {
    format!("key_mgmt=IEEE8021X\neap=MD5\nidentity=\"{identity}\"\npassword=\"{password}\"")
}

#[test]
fn eap_md5_accepts_the_password_and_refuses_with_the_policys_code() {
    let d = Daemon::start_with(
        "[[bootstrap.users]]\nname = \"dora\"\npassword = \"hello\"\n",
        &[],
    );
    let (ok, out) = eapol_test(&d, &md5("alice", "wonderland"));
    assert!(ok && out.contains("SUCCESS"), "{out}");
    d.wait_log(&["access decision", "alice", "E0000"]);

    let (ok, out) = eapol_test(&d, &md5("alice", "guess"));
    assert!(!ok && out.contains("EAP-Failure"), "{out}");
    d.wait_log(&["access decision", "alice", "E2553"]);

    d.cli_ok(&["user", "disable", "dora"]);
    common::wait_until(
        std::time::Duration::from_secs(3),
        || "dora never refused as disabled".into(),
        || {
            let (ok, _) = eapol_test(&d, &md5("dora", "hello"));
            (!ok && d.log().contains("E2606")).then_some(())
        },
    );
    d.wait_log(&["access decision", "dora", "E2606"]);
}

fn identity_request(nas_id: u8, message_authenticator: bool) -> Request {
    let authenticator: [u8; 16] = rand::random();
    let mut b = PacketBuilder::new(Code::AccessRequest, nas_id);
    if message_authenticator {
        b = b.message_authenticator();
    }
    let bytes = b
        .attribute(USER_NAME_TYPE, b"alice")
        .unwrap()
        .attribute(EAP_MESSAGE_TYPE, b"\x02\x00\x00\x0a\x01alice")
        .unwrap()
        .finish_access_request(&authenticator, &SharedSecret::new(SECRET.as_bytes()));
    Request {
        bytes,
        authenticator,
        id: nas_id,
    }
}

#[test]
fn eap_needs_message_authenticator_and_a_retransmission_gets_the_same_challenge() {
    // The legacy NAS may omit Message-Authenticator for PAP, never with EAP.
    let d = Daemon::start();
    let legacy = Nas::new("127.0.0.2", &d);
    legacy
        .socket
        .set_read_timeout(Some(std::time::Duration::from_millis(500)))
        .unwrap();
    assert!(legacy.try_exchange(&identity_request(1, false)).is_none());
    d.wait_metric(
        "turnstile_radius_dropped_total{reason=\"missing_message_authenticator\"}",
        1.0,
    );

    let nas = Nas::new("127.0.0.1", &d);
    let request = identity_request(2, true);
    let first = nas.exchange(&request);
    assert_eq!(first.code(), Code::AccessChallenge);
    let state = first.values(STATE_TYPE);
    assert_eq!(state.len(), 1);
    assert_eq!(state[0].len(), 16);
    let eap = first.values(EAP_MESSAGE_TYPE).concat();
    assert_eq!(
        (eap[0], eap[1], eap[4]),
        (1, 1, 4),
        "Request/MD5, identifier 1"
    );
    assert!(first
        .values(radius::core::rfc2865::REPLY_MESSAGE_TYPE)
        .is_empty());
    let again = nas.exchange(&request);
    assert_eq!(again.bytes, first.bytes, "answered from the reply cache");
    d.wait_metric("turnstile_eap_conversations", 1.0);
}
