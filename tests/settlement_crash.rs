//! Settlement exactly once, for 10,000 product instances: a kill -9 in the middle of a
//! run followed by another run, and two runs started at once. Every instance is charged
//! once, every charge has one ledger entry and one settlement record, and the balances
//! are what the ledger says.

mod common;

use common::{Daemon, Nas};
use radius::core::code::Code;
use serde_json::Value;
use std::collections::HashSet;
use std::process::{Command, Stdio};

const USERS: usize = 10_000;
const FEE: i64 = 100;

/// A daemon with 10,000 users whose instance of the daily product (their group's
/// default) was created by an accounting Start; returned two days later, when every
/// first cycle has ended.
fn ten_thousand_instances() -> Daemon {
    let extra = "\n[billing]\nsettle_at = \"\"\n";
    // The sessions outlive the clock's jump: no heartbeat check.
    let mut d = Daemon::start_with(extra, &[("TURNSTILE__SESSIONS__HEARTBEAT_INTERVALS", "0")]);
    d.cli_ok(&[
        "billing-policy",
        "add",
        "daily",
        "--kind",
        "monthly",
        "--cycle-fee-fen",
        "100",
    ]);
    d.cli_ok(&["control-policy", "add", "daily"]);
    d.cli_ok(&[
        "product",
        "add",
        "daily",
        "--billing-policy",
        "daily",
        "--control-policy",
        "daily",
        "--cycle",
        "day",
    ]);
    d.cli_ok(&["group", "set", "default", "--default-product", "daily"]);
    let csv = d.dir.path().join("users.csv");
    let lines: Vec<String> = (0..USERS).map(|i| format!("u{i:05},pw")).collect();
    std::fs::write(&csv, lines.join("\n")).unwrap();
    d.cli_ok(&["user", "import", csv.to_str().unwrap()]);
    // Wait until the daemon has the users (a login succeeds), then start a session each.
    let mut nas = Nas::new("127.0.0.1", &d);
    nas.eventually(
        |n| n.pap("u09999", "pw", true),
        |r| r.code() == Code::AccessAccept,
    );
    std::thread::scope(|s| {
        for t in 0..8 {
            let d = &d;
            s.spawn(move || {
                let mut acct = Nas::accounting("127.0.0.1", d);
                for i in (t..USERS).step_by(8) {
                    let r = acct.acct(1, &format!("s{i}"), &format!("u{i:05}"));
                    assert_eq!(acct.exchange(&r).code(), Code::AccountingResponse);
                }
            });
        }
    });
    d.kill9();
    d.respawn_with(&[("TURNSTILE__GENERAL__CLOCK_OFFSET_SECS", "172800")]);
    d
}

fn settle_in_background(d: &Daemon) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_turnstile"))
        .arg("--config")
        .arg(&d.config)
        .args(["settle", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run turnstile settle")
}

/// Every instance charged once: one settlement record per (user, cycle), one ledger
/// entry per charge, balances as the ledger says, one E7013 line each.
fn charged_exactly_once(d: &Daemon) {
    let records = d.cli_json(&["settlements", "--limit", "10000", "--json"]);
    let records = records.as_array().unwrap();
    assert_eq!(records.len(), USERS);
    let keys: HashSet<(String, i64)> = records
        .iter()
        .map(|r| {
            (
                r["user"].as_str().unwrap().to_string(),
                r["cycle_start"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(keys.len(), USERS, "one record per user and cycle");
    assert!(records
        .iter()
        .all(|r| r["charged_fen"] == FEE && r["balance_fen"] == -FEE));
    let ledger = d.cli_json(&["ledger", "--limit", "10000", "--json"]);
    let ledger = ledger.as_array().unwrap();
    assert_eq!(ledger.len(), USERS);
    let users: HashSet<&str> = ledger.iter().map(|e| e["user"].as_str().unwrap()).collect();
    assert_eq!(users.len(), USERS, "one entry per user");
    assert!(ledger
        .iter()
        .all(|e| e["amount_fen"] == -FEE && e["balance_fen"] == -FEE && e["kind"] == "settlement"));
    let log = d.cli_json(&["settlement-log", "--limit", "10000", "--json"]);
    let lines = log.as_array().unwrap();
    assert!(lines.iter().all(|l| l["code"] == 7013), "only E7013 lines");
    assert_eq!(lines.len(), USERS);
    // Nothing is left to settle.
    assert_eq!(d.cli_json(&["settle", "--json"])["settled"], 0);
}

#[test]
fn kill_9_in_the_middle_of_a_settlement_run_charges_each_instance_once() {
    let mut d = ten_thousand_instances();
    let mut run = settle_in_background(&d);
    d.wait_log(&["settlement batch done"]);
    d.kill9();
    let _ = run.wait();
    d.respawn_with(&[]);
    let done = d.cli_json(&["settlements", "--limit", "10000", "--json"]);
    let before = done.as_array().map_or(0, Vec::len);
    assert!(before > 0, "the first run settled at least one batch");
    let second: Value = d.cli_json(&["settle", "--json"]);
    assert_eq!(
        second["settled"].as_u64().unwrap() as usize + before,
        USERS,
        "the second run settles the rest: {second}"
    );
    charged_exactly_once(&d);
}

#[test]
fn two_settlement_runs_at_once_charge_each_instance_once() {
    let d = ten_thousand_instances();
    let runs = [settle_in_background(&d), settle_in_background(&d)];
    let settled: u64 = runs
        .into_iter()
        .map(|r| {
            let out = r.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let v: Value = serde_json::from_slice(&out.stdout).unwrap();
            v["settled"].as_u64().unwrap()
        })
        .sum();
    assert_eq!(settled as usize, USERS);
    charged_exactly_once(&d);
}
