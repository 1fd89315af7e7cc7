//! FreeRADIUS's own client (`radclient`, Debian package `freeradius-utils`) against the
//! daemon: an independent implementation of PAP, CHAP, Message-Authenticator and the
//! accounting request authenticator.

mod common;

use common::{Daemon, SECRET};
use std::io::Write;
use std::process::{Command, Stdio};

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
