//! FreeRADIUS's own client (`radclient`, Debian package `freeradius-utils`) against the
//! daemon: an independent implementation of PAP, CHAP, Message-Authenticator and the
//! accounting request authenticator.

mod common;

use common::{Daemon, SECRET};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

fn radclient(d: &Daemon, input: &str) -> String {
    radclient_to(d.auth, "auth", input)
}

fn radclient_to(server: std::net::SocketAddr, kind: &str, input: &str) -> String {
    let mut child = Command::new("radclient")
        .args(["-x", "-t", "3", "-r", "1"])
        .arg(server.to_string())
        .arg(kind)
        .arg(SECRET)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("radclient not found: install Debian's freeradius-utils (scripts/test.sh does)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn radclient_pap_and_chap() {
    let d = Daemon::start();
    let ma = "Message-Authenticator = 0x00";

    let out = radclient(
        &d,
        &format!("User-Name = \"alice\", User-Password = \"wonderland\", {ma}\n"),
    );
    assert!(out.contains("Received Access-Accept"), "{out}");

    let out = radclient(
        &d,
        &format!("User-Name = \"alice\", User-Password = \"bad\", {ma}\n"),
    );
    assert!(out.contains("Received Access-Reject"), "{out}");
    assert!(
        out.contains("Reply-Message = \"E2553: 帐号或密码错误\""),
        "{out}"
    );

    let out = radclient(
        &d,
        &format!("User-Name = \"carol\", CHAP-Password = \"chap-secret\", {ma}\n"),
    );
    assert!(out.contains("Received Access-Accept"), "{out}");

    let out = radclient(
        &d,
        &format!("User-Name = \"carol\", CHAP-Password = \"nope\", {ma}\n"),
    );
    assert!(out.contains("Received Access-Reject"), "{out}");

    let out = radclient(
        &d,
        &format!("User-Name = \"nobody\", User-Password = \"x\", {ma}\n"),
    );
    assert!(out.contains("E2531"), "{out}");

    // radclient checks the reply's Message-Authenticator itself; a reply that failed it
    // would be reported as invalid rather than received.
    assert!(!out.contains("invalid"), "{out}");
}

#[test]
fn radclient_accounting_start_and_stop() {
    let d = Daemon::start();
    let start = "Acct-Status-Type = Start, Acct-Session-Id = \"rc-1\", User-Name = \"alice\", \
                 Framed-IP-Address = 10.9.8.7\n";
    let out = radclient_to(d.acct, "acct", start);
    assert!(out.contains("Received Accounting-Response"), "{out}");
    let stop = "Acct-Status-Type = Stop, Acct-Session-Id = \"rc-1\", User-Name = \"alice\", \
                Acct-Session-Time = 42, Acct-Input-Octets = 1234, Acct-Terminate-Cause = User-Request\n";
    let out = radclient_to(d.acct, "acct", stop);
    assert!(out.contains("Received Accounting-Response"), "{out}");
    assert_eq!(
        d.history(&["framed_ip", "session_time", "input_octets", "cause"]),
        vec![vec![
            Some("10.9.8.7".to_string()),
            Some("42".to_string()),
            Some("1234".to_string()),
            Some("2401".to_string())
        ]]
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn radclient_ms_chap_v1_and_v2() {
    let d = Daemon::start_with(
        "[[bootstrap.users]]\nname = \"bob\"\npassword = \"hello\"\n\n\
         [[bootstrap.users]]\nname = \"dora\"\npassword = \"hello\"\n",
        &[],
    );
    d.cli_ok(&["user", "disable", "dora"]);
    let ma = "Message-Authenticator = 0x00";

    // Version 1: radclient computes MS-CHAP-Challenge and MS-CHAP-Response from
    // MS-CHAP-Password itself, as `radtest -t mschap` does.
    let out = radclient(
        &d,
        &format!("User-Name = \"alice\", MS-CHAP-Password = \"wonderland\", {ma}\n"),
    );
    assert!(out.contains("Received Access-Accept"), "{out}");
    let out = radclient(
        &d,
        &format!("User-Name = \"alice\", MS-CHAP-Password = \"guess\", {ma}\n"),
    );
    assert!(out.contains("Received Access-Reject"), "{out}");
    assert!(out.contains("MS-CHAP-Error"), "{out}");
    // And as the operator's first try would be.
    let radtest = Command::new("radtest")
        .args(["-t", "mschap", "alice", "wonderland"])
        .arg(d.auth.to_string())
        .args(["0", SECRET, "0", "127.0.0.1"])
        .output()
        .expect("radtest, from Debian's freeradius-utils");
    let out = String::from_utf8_lossy(&radtest.stdout);
    assert!(out.contains("Received Access-Accept"), "{out}");

    // Version 2: the exchange FreeRADIUS 3.2 accepted for bob/hello, sent as it was; the
    // same authenticator response and, decrypted by radclient, the same MPPE keys.
    let challenge = "0x00112233445566778899aabbccddeeff";
    let response = "0x42000f0e0d0c0b0a09080706050403020100\
                    0000000000000000d2949707add1f3d9856cf52209b494938ddcd19011de8686";
    let v2 = |user: &str| {
        format!(
            "User-Name = \"{user}\", MS-CHAP-Challenge = {challenge}, \
             MS-CHAP2-Response = {response}, {ma}\n"
        )
    };
    let out = radclient(&d, &v2("bob"));
    assert!(out.contains("Received Access-Accept"), "{out}");
    let success = format!(
        "MS-CHAP2-Success = 0x42{}",
        hex(b"S=A4454730DCE7A4A89B3C1FE01C395EEC8FB368F9")
    );
    assert!(out.contains(&success), "{out}");
    assert!(
        out.contains("MS-MPPE-Recv-Key = 0xaaf0f5cc335797139783fe987e2e208f"),
        "{out}"
    );
    assert!(
        out.contains("MS-MPPE-Send-Key = 0x781eb620c5b954344898f243af7680ba"),
        "{out}"
    );
    assert!(
        out.contains("MS-MPPE-Encryption-Policy = Encryption-Allowed"),
        "{out}"
    );
    assert!(
        out.contains("MS-MPPE-Encryption-Types = RC4-40or128-bit-Allowed"),
        "{out}"
    );

    // A refusal says why in MS-CHAP-Error, for the dialer, and in Reply-Message. The
    // password is right (radclient computes the version 1 response), the account off.
    let disabled = format!("User-Name = \"dora\", MS-CHAP-Password = \"hello\", {ma}\n");
    // The CLI's change reaches the daemon within one sync interval.
    let out = common::wait_until(
        Duration::from_secs(3),
        || {
            format!(
                "dora never refused as disabled: {}",
                radclient(&d, &disabled)
            )
        },
        || Some(radclient(&d, &disabled)).filter(|out| out.contains("E2606")),
    );
    assert!(out.contains("Received Access-Reject"), "{out}");
    assert!(out.contains("E=647 R=0 C="), "{out}");
    assert!(out.contains(" V=3 M=E2606: 用户被禁用\""), "{out}");
    assert!(
        out.contains("Reply-Message = \"E2606: 用户被禁用\""),
        "{out}"
    );
    // Against the wrong password, 691.
    let wrong = v2("bob").replace("d2949707", "d2949708");
    let out = radclient(&d, &wrong);
    assert!(out.contains("Received Access-Reject"), "{out}");
    assert!(out.contains("MS-CHAP-Error = \"BE=691 R=0 C="), "{out}");
    assert!(out.contains(" V=3 M=E2553: 帐号或密码错误\""), "{out}");
}
