//! SIGHUP: the config file read again. A bad file changes nothing; a good one applies
//! the NAS clients, the policy thresholds and the log filter at once.

mod common;

use common::{Daemon, Nas, SECRET};
use radius::core::code::Code;
use std::time::Duration;

fn assert_ignored(nas: &Nas, d: &Daemon) {
    let mut probe = Nas::new(&nas.socket.local_addr().unwrap().ip().to_string(), d);
    probe
        .socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let request = probe.pap("alice", "wonderland", true);
    assert!(
        probe.try_exchange(&request).is_none(),
        "the NAS was answered"
    );
}

#[test]
fn a_bad_file_keeps_the_running_config_and_a_good_one_applies() {
    let d = Daemon::start();
    let original = std::fs::read_to_string(&d.config).unwrap();
    let third = Nas::new("127.0.0.3", &d);
    assert_ignored(&third, &d);
    let additions = format!(
        "\n[[radius.clients]]\nname = \"third-nas\"\naddress = \"127.0.0.3\"\nsecret = \"{SECRET}\"\n\n[policy]\nlockout_failures = 2\n"
    );

    // A bad value: refused, with its key; nothing of the file applies.
    std::fs::write(
        &d.config,
        format!("{original}{additions}\n[http]\nmax_connections = 0\n"),
    )
    .unwrap();
    d.reload();
    d.wait_log(&[
        "configuration reload refused",
        "http.max_connections",
        "must be at least 1",
    ]);
    d.wait_metric(r#"turnstile_config_reloads_total{result="refused"}"#, 1.0);
    assert_ignored(&third, &d);
    let mut nas = Nas::new("127.0.0.1", &d);
    for _ in 0..2 {
        let wrong = nas.pap("carol", "wrong", true);
        assert_eq!(nas.exchange(&wrong).code(), Code::AccessReject);
    }
    let right = nas.pap("carol", "chap-secret", true);
    assert_eq!(
        nas.exchange(&right).code(),
        Code::AccessAccept,
        "two wrong passwords locked carol: the refused file's policy applied"
    );

    // Not TOML at all: refused too, and the daemon goes on.
    std::fs::write(&d.config, "[radius\nlisten = ").unwrap();
    d.reload();
    d.wait_metric(r#"turnstile_config_reloads_total{result="refused"}"#, 2.0);
    d.wait_log(&["configuration reload refused", "cannot read config file"]);

    // A good file: the new NAS is answered, the new threshold locks after two wrong
    // passwords, and a change that needs a restart is named.
    std::fs::write(
        &d.config,
        format!("{original}{additions}\n[http]\nmax_connections = 100\n"),
    )
    .unwrap();
    d.reload();
    d.wait_metric(r#"turnstile_config_reloads_total{result="applied"}"#, 1.0);
    d.wait_log(&["configuration reloaded", "radius.clients", "policy"]);
    d.wait_log(&["only a restart applies it", "http"]);
    let mut third = Nas::new("127.0.0.3", &d);
    let request = third.pap("alice", "wonderland", true);
    assert_eq!(third.exchange(&request).code(), Code::AccessAccept);
    for _ in 0..2 {
        let wrong = nas.pap("carol", "wrong", true);
        assert_eq!(nas.exchange(&wrong).code(), Code::AccessReject);
    }
    let right = nas.pap("carol", "chap-secret", true);
    let reply = nas.exchange(&right);
    assert_eq!(reply.code(), Code::AccessReject);
    assert!(
        reply.reply_message().starts_with("E2533"),
        "{}",
        reply.reply_message()
    );
}
