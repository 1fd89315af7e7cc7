//! Two nodes on one PostgreSQL database: a change made on one is enforced on the other
//! within a second, a session started on one is stopped, limited and kicked on the
//! other, a retransmission that reaches the other node is applied once, and when a node
//! dies under accounting load nothing it acknowledged is lost and the survivor takes the
//! once-only work over.
//!
//! These run when the suite runs on PostgreSQL (`scripts/test.sh` does, second);
//! on SQLite there is no cluster, and each test says it was skipped.

mod common;

use common::{Answer, Daemon, Nas, NasSim};
use radius::core::code::Code;
use radius::core::rfc2866::{ACCT_INPUT_OCTETS_TYPE, ACCT_SESSION_TIME_TYPE};
use std::time::{Duration, Instant};

/// The first node, or None (and a note) when the suite runs on SQLite.
fn first_node(extra: &str, env: &[(&str, &str)]) -> Option<Daemon> {
    if common::postgres_server().is_none() {
        eprintln!("skipped: a cluster needs PostgreSQL (TURNSTILE_TEST_POSTGRES)");
        return None;
    }
    Some(Daemon::start_with(extra, env))
}

/// Sends PAP logins of `user` to `nas` until `check` holds ([`Nas::eventually`]); the
/// time it took.
fn until(
    nas: &mut Nas,
    user: &str,
    password: &str,
    check: impl Fn(&common::Reply) -> bool,
) -> Duration {
    let began = Instant::now();
    nas.eventually(|nas| nas.pap(user, password, true), check);
    began.elapsed()
}

/// Polls `check` for up to 3 s.
fn eventually(what: &str, check: impl Fn() -> bool) {
    common::wait_until(
        Duration::from_secs(3),
        || format!("{what}: not so after 3 s"),
        || check().then_some(()),
    )
}

#[test]
fn a_change_on_one_node_is_enforced_on_the_other_within_a_second() {
    let Some(a) = first_node("", &[]) else { return };
    // Polling every 2 s could not make it in time: only the notification can.
    let b = a.join(&[("TURNSTILE__STORE__SYNC_INTERVAL_MS", "2000")]);
    let mut nas_b = Nas::new("127.0.0.1", &b);

    let created = a.api().call(
        "POST",
        "/api/v1/users",
        Some(&serde_json::json!({"name": "dave", "password": "d4ve-pw"})),
    );
    assert_eq!(created.expect("created")["code"], 0);
    let took = until(&mut nas_b, "dave", "d4ve-pw", |r| {
        r.code() == Code::AccessAccept
    });
    assert!(
        took < Duration::from_secs(1),
        "new user live on B after {took:?}"
    );

    a.cli_ok(&["user", "disable", "dave"]);
    let took = until(&mut nas_b, "dave", "d4ve-pw", |r| {
        r.reply_message().starts_with("E2606")
    });
    assert!(
        took < Duration::from_secs(1),
        "disabled on B after {took:?}"
    );
}

#[test]
fn a_session_started_on_one_node_ends_once_on_the_other() {
    let Some(a) = first_node("", &[]) else { return };
    let b = a.join(&[]);
    let mut acct_a = Nas::accounting("127.0.0.1", &a);
    let mut acct_b = Nas::accounting("127.0.0.1", &b);

    let start = acct_a.acct(1, "s1", "alice");
    assert_eq!(acct_a.exchange(&start).code(), Code::AccountingResponse);
    eventually("B sees the session", || {
        b.online(&["session_id"]).len() == 1
    });

    let stop = acct_b.acct_with(
        2,
        "s1",
        "alice",
        &[(ACCT_SESSION_TIME_TYPE, &60u32.to_be_bytes())],
    );
    let first = acct_b.exchange(&stop);
    assert_eq!(first.code(), Code::AccountingResponse);
    eventually("A sees it gone", || a.online(&["session_id"]).is_empty());

    // The NAS gave up on B and sent the Stop to A: acknowledged, and nothing changes.
    acct_a.send(&stop.bytes);
    let again = acct_a.verify(&stop, acct_a.recv().expect("an answer"));
    assert_eq!(again.code(), Code::AccountingResponse);
    let history = a.history(&["session_id", "session_time"]);
    assert_eq!(history, vec![vec![Some("s1".into()), Some("60".into())]]);
    assert_eq!(b.history(&["session_id"]).len(), 1);
    assert!(a.online(&["session_id"]).is_empty() && b.online(&["session_id"]).is_empty());
}

#[test]
fn the_online_limit_counts_sessions_on_every_node() {
    let Some(a) = first_node("", &[]) else { return };
    let b = a.join(&[]);
    a.cli_ok(&["user", "set", "alice", "--max-online", "1"]);
    let mut acct_a = Nas::accounting("127.0.0.1", &a);
    let mut nas_b = Nas::new("127.0.0.1", &b);
    let login = nas_b.pap("alice", "wonderland", true);
    assert_eq!(nas_b.exchange(&login).code(), Code::AccessAccept);

    let start = acct_a.acct(1, "on-a", "alice");
    assert_eq!(acct_a.exchange(&start).code(), Code::AccountingResponse);
    until(&mut nas_b, "alice", "wonderland", |r| {
        r.reply_message().starts_with("E2620")
    });

    let stop = acct_a.acct(2, "on-a", "alice");
    assert_eq!(acct_a.exchange(&stop).code(), Code::AccountingResponse);
    until(&mut nas_b, "alice", "wonderland", |r| {
        r.code() == Code::AccessAccept
    });
}

#[test]
fn a_session_started_on_one_node_is_kicked_from_the_other() {
    let sim = NasSim::start("127.0.0.6", Answer::Ack);
    let Some(a) = first_node(&sim.client_entry("sim-nas", "standard"), &[]) else {
        return;
    };
    let b = a.join(&[]);
    let mut acct_a = Nas::accounting("127.0.0.6", &a);
    let start = acct_a.acct(1, "k1", "alice");
    assert_eq!(acct_a.exchange(&start).code(), Code::AccountingResponse);
    eventually("B sees the session", || {
        b.online(&["session_id"]).len() == 1
    });

    let out = b.cli_ok(&["kick", "--user", "alice"]);
    assert!(out.contains("sim-nas/k1\tended\tE4103"), "{out}");
    assert_eq!(sim.requests().len(), 1, "one Disconnect-Request");
    eventually("A sees it gone", || a.online(&["session_id"]).is_empty());
    assert_eq!(
        a.history(&["session_id", "cause"]),
        vec![vec![Some("k1".into()), Some("4103".into())]]
    );
}

#[test]
fn a_node_killed_under_load_loses_nothing_and_the_survivor_takes_the_duties() {
    let lease = [("TURNSTILE__STORE__LEASE_SECS", "2")];
    let Some(mut a) = first_node("", &lease) else {
        return;
    };
    let b = a.join(&lease);
    a.wait_metric("turnstile_duties_held", 1.0);
    assert_eq!(b.metric("turnstile_duties_held"), 0.0);

    let load = common::StartLoad::start(&[a.acct, b.acct, a.acct, b.acct]);
    load.wait_for(2000);
    a.kill9();
    // B goes on taking its share for a moment after A died.
    std::thread::sleep(Duration::from_millis(300));
    let (sent, acked) = load.finish();
    let stored = common::assert_acknowledged_stored(&b, &acked, sent);
    // The lease of the dead node expires (2 s) and B takes the duties.
    let took_over = Instant::now();
    b.wait_metric("turnstile_duties_held", 1.0);
    eprintln!(
        "sent {sent}, acknowledged {}, stored {stored}, duties taken over after {:?}",
        acked.len(),
        took_over.elapsed()
    );
}

/// A PostgreSQL cluster of the test's own (scripts/pg-cluster.sh), stopped when dropped.
struct PrivateServer {
    dir: tempfile::TempDir,
    url: String,
}

impl PrivateServer {
    fn start() -> PrivateServer {
        let dir = tempfile::tempdir().unwrap();
        let out = Self::script("start", dir.path());
        let url = String::from_utf8_lossy(&out.stdout).trim().to_string();
        PrivateServer { dir, url }
    }

    fn restart(&self) {
        Self::script("restart", self.dir.path());
    }

    fn script(command: &str, dir: &std::path::Path) -> std::process::Output {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/pg-cluster.sh");
        let out = std::process::Command::new(script)
            .arg(command)
            .arg(dir)
            .output()
            .expect("run pg-cluster.sh");
        assert!(
            out.status.success(),
            "pg-cluster.sh {command}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/pg-cluster.sh");
        let _ = std::process::Command::new(script)
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }
}

#[test]
fn a_postgresql_restart_under_load_loses_nothing_acknowledged() {
    if common::postgres_server().is_none() {
        eprintln!("skipped: needs PostgreSQL (TURNSTILE_TEST_POSTGRES)");
        return;
    }
    // A server of its own: restarting the shared one would break the other tests.
    let server = PrivateServer::start();
    let url = common::fresh_postgres_database(&server.url);
    let d = Daemon::start_with("", &[("TURNSTILE__STORE__URL", url.as_str())]);
    let mut nas = Nas::new("127.0.0.1", &d);

    let load = common::StartLoad::start(&[d.acct, d.acct]);
    load.wait_for(1000);
    server.restart();
    // Logins are answered from memory whatever the database does.
    let login = nas.pap("alice", "wonderland", true);
    assert_eq!(nas.exchange(&login).code(), Code::AccessAccept);
    // Accounting recovers without a restart of the daemon.
    load.wait_for(load.acknowledged() + 1000);
    let (sent, acked) = load.finish();
    let stored = common::assert_acknowledged_stored(&d, &acked, sent);
    // What could not be stored while the server was down was refused, and counted (a
    // quick restart may leave nothing to refuse: the requests wait for a connection).
    let refused = d.metric("turnstile_accounting_dropped_total{reason=\"store_failed\"}");
    eprintln!(
        "sent {sent}, acknowledged {}, stored {stored}, refused while down {refused}",
        acked.len()
    );
}

#[test]
fn a_settlement_on_one_node_resets_the_usage_the_other_enforces() {
    // The daemons' clock runs two days ahead: the users' daily cycles are due.
    let ahead = [("TURNSTILE__GENERAL__CLOCK_OFFSET_SECS", "172800")];
    let manual = "\n[billing]\nsettle_at = \"\"\n";
    let Some(a) = first_node(manual, &ahead) else {
        return;
    };
    let b = a.join(&ahead);
    a.cli_ok(&[
        "billing-policy",
        "add",
        "capped",
        "--kind",
        "monthly",
        "--included-mib",
        "1",
    ]);
    a.cli_ok(&["control-policy", "add", "capped"]);
    a.cli_ok(&[
        "product",
        "add",
        "capped",
        "--billing-policy",
        "capped",
        "--control-policy",
        "capped",
        "--cycle",
        "day",
    ]);
    a.cli_ok(&[
        "user",
        "add",
        "q",
        "--password",
        "pw",
        "--product",
        "capped",
    ]);
    let mut nas_b = Nas::new("127.0.0.1", &b);
    until(&mut nas_b, "q", "pw", |r| r.code() == Code::AccessAccept);

    // The included MiB used up in a session on B: B refuses the next login.
    let mut acct_b = Nas::accounting("127.0.0.1", &b);
    let start = acct_b.acct(1, "q1", "q");
    assert_eq!(acct_b.exchange(&start).code(), Code::AccountingResponse);
    let used = (2u32 << 20).to_be_bytes();
    let stop = acct_b.acct_with(2, "q1", "q", &[(ACCT_INPUT_OCTETS_TYPE, &used)]);
    assert_eq!(acct_b.exchange(&stop).code(), Code::AccountingResponse);
    let login = nas_b.pap("q", "pw", true);
    let refused = nas_b.exchange(&login);
    assert_eq!(
        refused.code(),
        Code::AccessReject,
        "{}",
        refused.reply_message()
    );

    // A settles the cycle (B does not hold the duties): B's meter follows within a second.
    let settled = a.cli_json(&["settle", "--json"]);
    assert!(settled["settled"].as_u64().unwrap_or(0) >= 1, "{settled}");
    let took = until(&mut nas_b, "q", "pw", |r| r.code() == Code::AccessAccept);
    assert!(
        took < Duration::from_secs(1),
        "usage reset on B after {took:?}"
    );
}
