//! Billing end to end: objects made with the CLI, usage sent as real Accounting-Requests,
//! logins as real Access-Requests, payments and settlement through the operator API, and
//! what the ledger, the settlement records and the settlement log say afterwards.
//!
//! The daemon's clock is moved with `[general] clock_offset_secs` (the CLI's is not): an
//! instance the CLI creates has then lived through its first daily cycle.

mod common;

use common::{Answer, Daemon, Nas, NasSim, Reply};
use radius::core::code::Code;
use radius::core::rfc2865::SESSION_TIMEOUT_TYPE;
use radius::core::rfc2866::{
    ACCT_INPUT_OCTETS_TYPE, ACCT_OUTPUT_OCTETS_TYPE, ACCT_SESSION_TIME_TYPE,
    ACCT_TERMINATE_CAUSE_TYPE,
};
use radius::core::rfc2869::ACCT_INTERIM_INTERVAL_TYPE;
use serde_json::Value;

/// Two days, in seconds: the daemon's clock runs this far ahead in settlement tests.
const AHEAD: &str = "172800";

/// A daemon whose settlement runs only when asked, `ahead` seconds ahead of the CLI.
fn daemon(ahead: &str, extra: &str, env: &[(&str, &str)]) -> Daemon {
    let extra = format!("\n[billing]\nsettle_at = \"\"\n{extra}");
    let mut env = env.to_vec();
    env.push(("TURNSTILE__GENERAL__CLOCK_OFFSET_SECS", ahead));
    Daemon::start_with(&extra, &env)
}

/// A billing policy, a control policy and a product of the same name.
fn product(d: &Daemon, name: &str, billing: &[&str], control: &[&str], settle: &[&str]) {
    let mut args = vec!["billing-policy", "add", name];
    args.extend_from_slice(billing);
    d.cli_ok(&args);
    let mut args = vec!["control-policy", "add", name];
    args.extend_from_slice(control);
    d.cli_ok(&args);
    let mut args = vec![
        "product",
        "add",
        name,
        "--billing-policy",
        name,
        "--control-policy",
        name,
    ];
    args.extend_from_slice(settle);
    d.cli_ok(&args);
}

fn int(v: u32) -> [u8; 4] {
    v.to_be_bytes()
}

/// An Accounting-Request with usage; the reply must come.
fn acct(nas: &mut Nas, status: u32, session: &str, user: &str, secs: u32, input: u32) {
    let (t, i, o) = (int(secs), int(input), int(0));
    let mut extra: Vec<(u8, &[u8])> = vec![
        (ACCT_SESSION_TIME_TYPE, &t),
        (ACCT_INPUT_OCTETS_TYPE, &i),
        (ACCT_OUTPUT_OCTETS_TYPE, &o),
    ];
    let cause = int(1);
    if status == 2 {
        extra.push((ACCT_TERMINATE_CAUSE_TYPE, &cause));
    }
    let r = nas.acct_with(status, session, user, &extra);
    assert_eq!(nas.exchange(&r).code(), Code::AccountingResponse);
}

/// Logs in (until the reply satisfies `check`: CLI changes arrive within a sync interval).
fn login_until(nas: &mut Nas, user: &str, check: impl Fn(&Reply) -> bool) -> Reply {
    nas.eventually(|n| n.pap(user, "pw", true), check)
}

fn refused_with(nas: &mut Nas, user: &str, code: &str) {
    let r = login_until(nas, user, |r| r.reply_message().starts_with(code));
    assert_eq!(r.code(), Code::AccessReject);
}

fn accepted(nas: &mut Nas, user: &str) -> Reply {
    login_until(nas, user, |r| r.code() == Code::AccessAccept)
}

/// The settlement record of `user`'s newest cycle.
fn settlement(d: &Daemon, user: &str) -> Value {
    d.cli_json(&["settlements", "--user", user, "--json"])[0].clone()
}

fn settle(d: &Daemon) -> Value {
    d.cli_json(&["settle", "--json"])
}

#[test]
fn a_cycle_is_charged_once_and_the_ledger_adds_up() {
    let d = daemon(AHEAD, "", &[]);
    product(
        &d,
        "daily",
        &["--kind", "monthly", "--cycle-fee-fen", "2000"],
        &[],
        &["--cycle", "day"],
    );
    d.cli_ok(&[
        "user",
        "add",
        "bob",
        "--password",
        "pw",
        "--product",
        "daily",
    ]);
    let paid = d.cli_ok(&[
        "pay",
        "bob",
        "--amount",
        "5000",
        "--to",
        "daily",
        "--reference",
        "desk-1",
    ]);
    assert!(paid.contains("E6001: 用户缴费成功"), "{paid}");
    // The same receipt again is not taken twice.
    let again = d.cli_err(&[
        "pay",
        "bob",
        "--amount",
        "5000",
        "--to",
        "daily",
        "--reference",
        "desk-1",
    ]);
    assert!(
        again.contains("E6002: 用户缴费失败") && again.contains("already recorded"),
        "{again}"
    );

    let dry = d.cli_json(&["settle", "--dry-run", "--json"]);
    assert_eq!(
        (dry["settled"].as_u64(), dry["charged_fen"].as_i64()),
        (Some(1), Some(2000))
    );
    assert_eq!(d.cli_json(&["settlements", "--json"]), Value::Array(vec![]));

    let run = settle(&d);
    assert_eq!(run["settled"], 1, "{run}");
    assert_eq!(run["codes"]["E7003"], 1, "{run}");
    assert_eq!(run["charged_fen"], 2000);
    // A second run finds nothing due: the next cycle has not ended.
    assert_eq!(settle(&d)["settled"], 0);

    let s = settlement(&d, "bob");
    assert_eq!(
        (
            &s["code"],
            &s["fee_fen"],
            &s["charged_fen"],
            &s["balance_fen"]
        ),
        (
            &Value::from(7003),
            &Value::from(2000),
            &Value::from(2000),
            &Value::from(3000)
        )
    );
    let ledger = d.cli_json(&["ledger", "--user", "bob", "--json"]);
    let entries = ledger.as_array().unwrap();
    assert_eq!(entries.len(), 2, "{ledger}");
    let sum: i64 = entries
        .iter()
        .map(|e| e["amount_fen"].as_i64().unwrap())
        .sum();
    assert_eq!(sum, 3000);
    assert_eq!(entries[0]["kind"], "settlement");
    assert_eq!(entries[0]["balance_fen"], 3000);
    let log = d.cli_ok(&["settlement-log", "--user", "bob"]);
    for text in [
        "E7003: 结算成功",
        "E6001: 用户缴费成功",
        "E6002: 用户缴费失败",
    ] {
        assert!(log.contains(text), "{text} in {log}");
    }
    d.wait_metric("turnstile_settlements_total{code=\"E7003\"}", 1.0);
    d.wait_metric("turnstile_ledger_fen_total{kind=\"settlement\"}", 2000.0);
    d.wait_metric("turnstile_ledger_fen_total{kind=\"payment\"}", 5000.0);
}

#[test]
fn a_short_balance_skips_zeroes_or_goes_negative_and_a_payment_clears_arrears() {
    let d = daemon(AHEAD, "", &[]);
    let mut nas = Nas::new("127.0.0.1", &d);
    for (name, rule) in [("skip", "skip"), ("zero", "zero"), ("neg", "negative")] {
        let fee = ["--kind", "monthly", "--cycle-fee-fen", "2000"];
        product(
            &d,
            name,
            &fee,
            &[],
            &["--cycle", "day", "--short-balance", rule],
        );
        let user = format!("u-{name}");
        d.cli_ok(&["user", "add", &user, "--password", "pw", "--product", name]);
        d.cli_ok(&["pay", &user, "--amount", "500", "--to", name]);
    }
    let run = settle(&d);
    for code in ["E7011", "E7012", "E7013"] {
        assert_eq!(run["codes"][code], 1, "{code}: {run}");
    }
    let balance = |user: &str| {
        let s = settlement(&d, user);
        (
            s["charged_fen"].as_i64().unwrap(),
            s["balance_fen"].as_i64().unwrap(),
        )
    };
    assert_eq!(balance("u-skip"), (0, 500));
    assert_eq!(balance("u-zero"), (500, 0));
    assert_eq!(balance("u-neg"), (2000, -1500));

    accepted(&mut nas, "u-zero");
    refused_with(&mut nas, "u-neg", "E2616: 用户已欠费");
    // Paid into the wallet, money goes to the arrears first.
    d.cli_ok(&["pay", "u-neg", "--amount", "1000"]);
    let list = d.cli_json(&["package", "list", "u-neg", "--json"]);
    assert_eq!(list["wallet_fen"], 0);
    assert_eq!(list["instances"][0]["balance_fen"], -500);
    refused_with(&mut nas, "u-neg", "E2616");
    d.cli_ok(&["pay", "u-neg", "--amount", "600"]);
    accepted(&mut nas, "u-neg");
    let list = d.cli_json(&["package", "list", "u-neg", "--json"]);
    assert_eq!(
        (&list["wallet_fen"], &list["instances"][0]["balance_fen"]),
        (&Value::from(100), &Value::from(0))
    );

    // Refused payments change nothing and say why.
    let e = d.cli_err(&["pay", "u-neg", "--amount", "0"]);
    assert!(e.contains("E6002") && e.contains("above 0"), "{e}");
    let e = d.cli_err(&["pay", "u-neg", "--amount", "5", "--to", "skip"]);
    assert!(
        e.contains("E6002") && e.contains("holds no instance"),
        "{e}"
    );
    let e = d.cli_err(&["pay", "nobody", "--amount", "5"]);
    assert!(e.contains("E6002") && e.contains("no user"), "{e}");
    assert_eq!(
        d.cli_json(&["package", "list", "u-neg", "--json"])["wallet_fen"],
        100
    );
}

#[test]
fn usage_below_a_threshold_is_not_charged() {
    let d = daemon(AHEAD, "", &[]);
    let mut acct_nas = Nas::accounting("127.0.0.1", &d);
    let fee = ["--kind", "monthly", "--cycle-fee-fen", "1000"];
    product(
        &d,
        "traffic-min",
        &fee,
        &[],
        &["--cycle", "day", "--min-mib", "10"],
    );
    product(
        &d,
        "time-min",
        &fee,
        &[],
        &["--cycle", "day", "--min-minutes", "60"],
    );
    for (user, p) in [
        ("light", "traffic-min"),
        ("heavy", "traffic-min"),
        ("brief", "time-min"),
    ] {
        d.cli_ok(&["user", "add", user, "--password", "pw", "--product", p]);
    }
    // A login first, as a NAS does: the daemon then knows the user's product.
    let mut nas = Nas::new("127.0.0.1", &d);
    for user in ["light", "heavy", "brief"] {
        accepted(&mut nas, user);
    }
    acct(&mut acct_nas, 1, "s1", "light", 0, 0);
    acct(&mut acct_nas, 2, "s1", "light", 600, (10 << 20) - 1);
    acct(&mut acct_nas, 1, "s2", "heavy", 0, 0);
    acct(&mut acct_nas, 2, "s2", "heavy", 600, 10 << 20);
    acct(&mut acct_nas, 1, "s3", "brief", 0, 0);
    acct(&mut acct_nas, 2, "s3", "brief", 3599, 50 << 20);
    let run = settle(&d);
    assert_eq!(run["codes"]["E7009"], 1, "{run}");
    assert_eq!(run["codes"]["E7010"], 1, "{run}");
    // At the threshold it is charged (with no money, into arrears).
    assert_eq!(run["codes"]["E7013"], 1, "{run}");
    assert_eq!(settlement(&d, "light")["charged_fen"], 0);
    assert_eq!(settlement(&d, "heavy")["charged_fen"], 1000);
    let brief = settlement(&d, "brief");
    assert_eq!(
        (&brief["code"], &brief["charged_fen"]),
        (&Value::from(7010), &Value::from(0))
    );
    assert_eq!(brief["usage"]["secs"], 3599);
}

#[test]
fn settlement_errors_name_their_code() {
    let d = daemon(AHEAD, "", &[]);
    product(
        &d,
        "p",
        &["--kind", "monthly", "--cycle-fee-fen", "100"],
        &[],
        &["--cycle", "day"],
    );
    product(
        &d,
        "broken",
        &["--kind", "monthly"],
        &[],
        &["--cycle", "day"],
    );
    d.cli_ok(&["user", "add", "bob", "--password", "pw", "--product", "p"]);
    d.cli_ok(&[
        "user",
        "add",
        "eve",
        "--password",
        "pw",
        "--product",
        "broken",
    ]);
    d.cli_ok(&["billing-policy", "del", "broken", "--force"]);

    let e = d.cli_err(&["settle", "--user", "nobody"]);
    assert!(e.contains("E7001: 用户不存在"), "{e}");
    let e = d.cli_err(&["settle", "--user", "bob", "--product", "broken"]);
    assert!(e.contains("E7006: 没有找到产品实例"), "{e}");
    let run = settle(&d);
    assert_eq!(
        (&run["settled"], &run["failed"]),
        (&Value::from(1), &Value::from(1)),
        "{run}"
    );
    assert_eq!(run["codes"]["E7018"], 1);
    let log = d.cli_ok(&["settlement-log"]);
    for text in [
        "E7001: 用户不存在",
        "E7006: 没有找到产品实例",
        "E7018: 产品结算模式错误",
    ] {
        assert!(log.contains(text), "{text} in {log}");
    }
    // Nothing of eve's changed: no settlement, no ledger entry.
    assert_eq!(
        d.cli_json(&["settlements", "--user", "eve", "--json"]),
        Value::Array(vec![])
    );
    assert_eq!(
        d.cli_json(&["ledger", "--user", "eve", "--json"]),
        Value::Array(vec![])
    );
}

/// A daemon with a NAS simulator at 127.0.0.6 taking Disconnect requests, sweeping
/// every 100 ms, with its clock where the CLI's is.
fn enforcing(answer: Answer) -> (Daemon, NasSim, Nas) {
    let sim = NasSim::start("127.0.0.6", answer);
    let extra = sim.client_entry("sim-nas", "standard");
    let d = daemon(
        "0",
        &extra,
        &[("TURNSTILE__SESSIONS__SWEEP_INTERVAL_MS", "100")],
    );
    let nas = Nas::accounting("127.0.0.6", &d);
    (d, sim, nas)
}

/// Waits until `user`'s history has `n` rows; returns them.
fn history(d: &Daemon, user: &str, n: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let rows = d.cli_json(&["sessions", "--user", user, "--json"]);
        let rows = rows.as_array().cloned().unwrap_or_default();
        if rows.len() >= n {
            return rows;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "history of {user}: {rows:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn a_used_up_quota_disconnects_every_session_of_the_product() {
    let (d, sim, mut acct_nas) = enforcing(Answer::Ack);
    let mut nas = Nas::new("127.0.0.1", &d);
    product(
        &d,
        "capped",
        &["--kind", "monthly", "--included-mib", "1"],
        &["--max-online", "2"],
        &[],
    );
    d.cli_ok(&[
        "user",
        "add",
        "q",
        "--password",
        "pw",
        "--product",
        "capped",
    ]);
    accepted(&mut nas, "q");
    acct(&mut acct_nas, 1, "s1", "q", 0, 0);
    acct(&mut acct_nas, 1, "s2", "q", 0, 0);
    acct(&mut acct_nas, 3, "s1", "q", 60, 600 << 10);
    // A retransmission and an Interim arriving late add nothing.
    let (t, i) = (int(60), int(600 << 10));
    let r = acct_nas.acct_with(
        3,
        "s1",
        "q",
        &[(ACCT_SESSION_TIME_TYPE, &t), (ACCT_INPUT_OCTETS_TYPE, &i)],
    );
    acct_nas.exchange(&r);
    acct_nas.exchange(&r);
    acct(&mut acct_nas, 3, "s1", "q", 30, 300 << 10);
    let used = d.cli_json(&["package", "list", "q", "--json"]);
    assert_eq!(
        used["instances"][0]["usage"]["bytes_in"],
        600 << 10,
        "{used}"
    );
    assert!(sim.requests().is_empty());
    // Together the two sessions cross the included MiB.
    acct(&mut acct_nas, 3, "s2", "q", 60, 500 << 10);
    sim.wait_requests(2);
    let rows = history(&d, "q", 2);
    for row in &rows {
        assert_eq!(row["cause"], "E3001: 流量或时长已用尽", "{row}");
        assert_eq!(
            row["via"], "E4101: 来自radius模块的DM下线（挤出在线表）",
            "{row}"
        );
    }
    refused_with(&mut nas, "q", "E2617: 消费额度已满");
}

#[test]
fn money_running_out_disconnects_with_e3004() {
    let (d, sim, mut acct_nas) = enforcing(Answer::Ack);
    let mut nas = Nas::new("127.0.0.1", &d);
    // One fen a second, nothing included.
    product(
        &d,
        "metered",
        &[
            "--kind",
            "by-time",
            "--included-hours",
            "0",
            "--fen-per-hour",
            "3600",
        ],
        &[],
        &[],
    );
    // The money comes with the user, so that once the daemon accepts the user it knows
    // the money too (a payment made after could reach it later than the usage below).
    d.cli_ok(&[
        "user",
        "add",
        "r",
        "--password",
        "pw",
        "--product",
        "metered",
        "--balance",
        "100",
    ]);
    accepted(&mut nas, "r");
    acct(&mut acct_nas, 1, "s1", "r", 0, 0);
    acct(&mut acct_nas, 3, "s1", "r", 99, 0);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        sim.requests().is_empty(),
        "99 fen of 100 used: still online"
    );
    acct(&mut acct_nas, 3, "s1", "r", 100, 0);
    sim.wait_requests(1);
    let rows = history(&d, "r", 1);
    assert_eq!(rows[0]["cause"], "E3004: 余额不足", "{rows:?}");
    refused_with(&mut nas, "r", "E2616");

    // The consumption limit ends a session with money left.
    d.cli_ok(&[
        "user",
        "add",
        "s",
        "--password",
        "pw",
        "--product",
        "metered",
    ]);
    d.cli_ok(&["pay", "s", "--amount", "10000"]);
    d.cli_ok(&["user", "set", "s", "--consumption-limit", "50"]);
    accepted(&mut nas, "s");
    acct(&mut acct_nas, 1, "s2", "s", 0, 0);
    acct(&mut acct_nas, 3, "s2", "s", 50, 0);
    sim.wait_requests(2);
    assert_eq!(history(&d, "s", 1)[0]["cause"], "E3004: 余额不足");
    refused_with(&mut nas, "s", "E2617");
}

#[test]
fn concurrent_sessions_share_the_time_left_and_get_an_interim_interval() {
    let d = daemon("0", "", &[]);
    let mut nas = Nas::new("127.0.0.1", &d);
    let mut acct_nas = Nas::accounting("127.0.0.1", &d);
    product(
        &d,
        "hour",
        &["--kind", "monthly", "--included-hours", "1"],
        &["--max-online", "2"],
        &[],
    );
    d.cli_ok(&["user", "add", "v", "--password", "pw", "--product", "hour"]);
    let first = accepted(&mut nas, "v");
    assert_eq!(first.integer(SESSION_TIMEOUT_TYPE), Some(3600));
    // The control policy sets no interim: the configured default (300 s) is sent.
    assert_eq!(first.integer(ACCT_INTERIM_INTERVAL_TYPE), Some(300));
    acct(&mut acct_nas, 1, "s1", "v", 0, 0);
    acct(&mut acct_nas, 3, "s1", "v", 600, 0);
    let second = accepted(&mut nas, "v");
    assert_eq!(second.integer(SESSION_TIMEOUT_TYPE), Some(1500));
}

#[test]
fn a_session_across_settlement_is_split_not_kicked_and_counted_once() {
    let d = daemon(AHEAD, "", &[]);
    let mut acct_nas = Nas::accounting("127.0.0.1", &d);
    product(
        &d,
        "by-traffic",
        &[
            "--kind",
            "by-traffic",
            "--included-mib",
            "0",
            "--fen-per-gib",
            "1024",
        ],
        &[],
        &["--cycle", "day"],
    );
    d.cli_ok(&[
        "user",
        "add",
        "w",
        "--password",
        "pw",
        "--product",
        "by-traffic",
    ]);
    d.cli_ok(&["pay", "w", "--amount", "1000"]);
    let mut nas = Nas::new("127.0.0.1", &d);
    accepted(&mut nas, "w");
    acct(&mut acct_nas, 1, "s1", "w", 0, 0);
    acct(&mut acct_nas, 3, "s1", "w", 100, 3 << 20);
    let run = settle(&d);
    assert_eq!(run["codes"]["E7003"], 1, "{run}");
    // 3 MiB at 1024 fen a GiB: 3 fen.
    let s = settlement(&d, "w");
    assert_eq!(
        (&s["usage_fen"], &s["usage"]["bytes_in"]),
        (&Value::from(3), &Value::from(3 << 20))
    );
    let split = history(&d, "w", 1);
    assert_eq!(split[0]["cause"], "E4011: 结算时虚拟下线", "{split:?}");
    assert_eq!(split[0]["input_octets"], 3 << 20);
    assert!(
        d.cli_ok(&["online", "--user", "w"]).contains("s1"),
        "still online"
    );
    // The Stop reports the whole session; only what came after the split is new.
    acct(&mut acct_nas, 2, "s1", "w", 200, 5 << 20);
    let rows = history(&d, "w", 2);
    assert_eq!(rows[0]["input_octets"], 2 << 20, "{rows:?}");
    assert_eq!(rows[0]["cause"], "E2401: User-Request");
    let used = d.cli_json(&["package", "list", "w", "--json"]);
    assert_eq!(used["instances"][0]["usage"]["bytes_in"], 2 << 20, "{used}");
}

#[test]
fn packages_are_bought_reserved_and_deleted_when_expired() {
    let mut d = daemon(AHEAD, "", &[]);
    let mut nas = Nas::new("127.0.0.1", &d);
    let mut acct_nas = Nas::accounting("127.0.0.1", &d);
    product(
        &d,
        "capped",
        &["--kind", "monthly", "--included-mib", "1"],
        &[],
        &["--cycle", "day"],
    );
    d.cli_ok(&[
        "package-plan",
        "add",
        "gig",
        "--price-fen",
        "300",
        "--extra-mib",
        "1024",
        "--valid-days",
        "1",
    ]);
    d.cli_ok(&[
        "user",
        "add",
        "p1",
        "--password",
        "pw",
        "--product",
        "capped",
    ]);
    d.cli_ok(&[
        "user",
        "add",
        "p2",
        "--password",
        "pw",
        "--product",
        "capped",
    ]);
    d.cli_ok(&["pay", "p1", "--amount", "1000"]);

    accepted(&mut nas, "p1");
    acct(&mut acct_nas, 1, "s1", "p1", 0, 0);
    acct(&mut acct_nas, 2, "s1", "p1", 60, 2 << 20);
    refused_with(&mut nas, "p1", "E2617");
    let out = d.cli_ok(&["package", "buy", "p1", "gig"]);
    assert!(out.contains("E5040: 购买套餐成功"), "{out}");
    accepted(&mut nas, "p1");
    let e = d.cli_err(&["package", "buy", "p1", "nope"]);
    assert!(e.contains("E5042: 找不到套餐"), "{e}");
    let e = d.cli_err(&["package", "buy", "p2", "gig"]);
    assert!(
        e.contains("E5041: 购买套餐失败") && e.contains("300 fen needed"),
        "{e}"
    );

    d.cli_ok(&["package", "reserve", "p1", "gig"]);
    d.cli_ok(&["package", "reserve", "p2", "gig"]);
    let run = settle(&d);
    assert_eq!(
        (&run["codes"]["E7016"], &run["codes"]["E7017"]),
        (&Value::from(1), &Value::from(1)),
        "{run}"
    );
    let log = d.cli_ok(&["settlement-log"]);
    assert!(log.contains("E7016: 自动购买套餐成功"), "{log}");
    assert!(log.contains("E7017: 自动购买套餐失败"), "{log}");
    let p1 = d.cli_json(&["package", "list", "p1", "--json"]);
    assert_eq!(p1["wallet_fen"], 400, "{p1}");
    assert_eq!(p1["packages"].as_array().unwrap().len(), 2);
    let p2 = d.cli_json(&["package", "list", "p2", "--json"]);
    assert_eq!(
        (&p2["wallet_fen"], p2["packages"].as_array().unwrap().len()),
        (&Value::from(0), 0)
    );

    // Five days on, both packages have expired: deleted once, logged once.
    d.cli_ok(&["package", "reserve", "p1", "--cancel"]);
    d.kill9();
    d.respawn_with(&[("TURNSTILE__GENERAL__CLOCK_OFFSET_SECS", "432000")]);
    let run = settle(&d);
    assert_eq!(run["expired_packages"], 2, "{run}");
    assert_eq!(settle(&d)["expired_packages"], 0);
    let log = d.cli_ok(&["settlement-log", "--user", "p1"]);
    assert_eq!(
        log.matches("E7014: 删除过期套餐操作成功").count(),
        1,
        "{log}"
    );
    assert_eq!(
        d.cli_json(&["package", "list", "p1", "--json"])["packages"],
        Value::Array(vec![])
    );
}

#[test]
fn a_plan_change_reaches_live_sessions_by_coa_or_dm() {
    use turnstile::proto::radius::packet::Packet;
    let sim = NasSim::start("127.0.0.6", Answer::Ack);
    let d = daemon("0", &sim.client_entry("sim-nas", "huawei"), &[]);
    let mut acct_nas = Nas::accounting("127.0.0.6", &d);
    let mut nas = Nas::new("127.0.0.1", &d);
    product(
        &d,
        "slow",
        &["--kind", "free"],
        &["--up", "1M", "--down", "2M"],
        &[],
    );
    product(
        &d,
        "fast",
        &["--kind", "monthly", "--included-hours", "10"],
        &["--up", "10M", "--down", "20M"],
        &[],
    );
    // Nothing included and nothing beyond: used up from the start.
    product(
        &d,
        "none-left",
        &["--kind", "monthly", "--included-mib", "0"],
        &[],
        &[],
    );
    d.cli_ok(&[
        "control-policy",
        "add",
        "night",
        "--up",
        "512k",
        "--down",
        "512k",
    ]);
    d.cli_ok(&["group", "add", "dorm", "--control-policy", "night"]);
    d.cli_ok(&["user", "add", "x", "--password", "pw", "--product", "slow"]);
    accepted(&mut nas, "x");
    acct(&mut acct_nas, 1, "s1", "x", 0, 0);
    acct(&mut acct_nas, 3, "s1", "x", 3600, 2 << 20);

    // Another product: CoA with its bandwidth and the time left (10 h), E3005 via E4009.
    d.cli_ok(&[
        "user",
        "set",
        "x",
        "--product",
        "fast",
        "--remove-product",
        "slow",
    ]);
    sim.wait_requests(1);
    let coa = Packet::parse(&sim.requests()[0]).unwrap().code();
    assert_eq!(coa, Code::CoARequest);
    let bytes = sim.requests()[0].clone();
    let p = Packet::parse(&bytes).unwrap();
    assert_eq!(p.first(SESSION_TIMEOUT_TYPE), Some(&int(36_000)[..]));
    assert!(p.first(26).is_some(), "Huawei bandwidth attributes");
    let rows = history(&d, "x", 1);
    assert_eq!(rows[0]["cause"], "E3005: 在线变更计费策略", "{rows:?}");
    assert_eq!(rows[0]["via"], "E4009: 策略切换时下发COA");
    assert_eq!(rows[0]["input_octets"], 2 << 20);
    let online = d.cli_json(&["online", "--user", "x", "--json"]);
    assert_eq!(online[0]["product"], "fast", "{online}");
    // The NAS still echoes the Class of the Accept: the session stays on the new product.
    let (t, i) = (int(3650), int(3 << 20));
    let r = acct_nas.acct_with(
        3,
        "s1",
        "x",
        &[
            (25, b"ts1:slow:x"),
            (ACCT_SESSION_TIME_TYPE, &t),
            (ACCT_INPUT_OCTETS_TYPE, &i),
        ],
    );
    assert_eq!(acct_nas.exchange(&r).code(), Code::AccountingResponse);
    let online = d.cli_json(&["online", "--user", "x", "--json"]);
    assert_eq!(online[0]["product"], "fast", "{online}");
    let used = d.cli_json(&["package", "list", "x", "--json"]);
    assert_eq!(used["instances"][0]["product"], "fast", "{used}");
    assert_eq!(used["instances"][0]["usage"]["bytes_in"], 1 << 20, "{used}");

    // Another control policy only (a group's override): E3006.
    d.cli_ok(&["user", "set", "x", "--group", "dorm"]);
    sim.wait_requests(2);
    assert_eq!(history(&d, "x", 2)[0]["cause"], "E3006: 在线变更控制策略");

    // The control policy itself edited: its sessions get the new bandwidth (E3006).
    d.cli_ok(&["control-policy", "set", "night", "--up", "256k"]);
    sim.wait_requests(3);
    assert_eq!(history(&d, "x", 3)[0]["cause"], "E3006: 在线变更控制策略");
    // Editing what governs no session online sends nothing.
    d.cli_ok(&["control-policy", "set", "slow", "--up", "3M"]);

    // A product whose quota is used up already: disconnected (E3001).
    acct(&mut acct_nas, 3, "s1", "x", 3700, 4 << 20);
    d.cli_ok(&[
        "user",
        "set",
        "x",
        "--product",
        "none-left",
        "--remove-product",
        "fast",
    ]);
    sim.wait_requests(4);
    let p = Packet::parse(&sim.requests()[3].clone()).unwrap().code();
    assert_eq!(p, Code::DisconnectRequest);
    assert_eq!(sim.requests().len(), 4);
    let rows = history(&d, "x", 4);
    assert_eq!(rows[0]["cause"], "E3001: 流量或时长已用尽", "{rows:?}");
}

#[test]
fn gigawords_count_and_a_nas_reboot_adds_nothing() {
    use radius::core::rfc2869::ACCT_INPUT_GIGAWORDS_TYPE;
    let d = daemon("0", "", &[]);
    let mut nas = Nas::new("127.0.0.1", &d);
    let mut acct_nas = Nas::accounting("127.0.0.1", &d);
    product(&d, "flat", &["--kind", "free"], &[], &[]);
    d.cli_ok(&["user", "add", "g", "--password", "pw", "--product", "flat"]);
    accepted(&mut nas, "g");
    acct(&mut acct_nas, 1, "s1", "g", 0, 0);
    // 2^32 × 1 + 5 octets: past what a 32-bit counter holds.
    let (t, i, gw) = (int(60), int(5), int(1));
    let r = acct_nas.acct_with(
        3,
        "s1",
        "g",
        &[
            (ACCT_SESSION_TIME_TYPE, &t),
            (ACCT_INPUT_OCTETS_TYPE, &i),
            (ACCT_INPUT_GIGAWORDS_TYPE, &gw),
        ],
    );
    assert_eq!(acct_nas.exchange(&r).code(), Code::AccountingResponse);
    let usage = || d.cli_json(&["package", "list", "g", "--json"])["instances"][0]["usage"].clone();
    assert_eq!(usage()["bytes_in"], (1u64 << 32) + 5);
    // The NAS restarts: its sessions close at their last counters, nothing is added.
    let on = acct_nas.acct(7, "", "");
    assert_eq!(acct_nas.exchange(&on).code(), Code::AccountingResponse);
    assert_eq!(history(&d, "g", 1)[0]["cause"], "E2411: NAS-Reboot");
    let u = usage();
    assert_eq!(
        (&u["bytes_in"], &u["secs"], &u["logins"]),
        (
            &Value::from((1u64 << 32) + 5),
            &Value::from(60),
            &Value::from(1)
        )
    );
}

#[test]
fn the_timer_settles_at_start_what_ended_while_the_daemon_was_down() {
    // The timer on (the default settle_at), the clock where the CLI's is.
    let mut d = Daemon::start_with("", &[]);
    product(
        &d,
        "daily",
        &["--kind", "monthly", "--cycle-fee-fen", "100"],
        &[],
        &["--cycle", "day"],
    );
    d.cli_ok(&["user", "add", "t", "--password", "pw", "--product", "daily"]);
    assert_eq!(d.cli_json(&["settlements", "--json"]), Value::Array(vec![]));
    // Down for two days: the cycle ended meanwhile, and the start's run settles it.
    d.kill9();
    d.respawn_with(&[("TURNSTILE__GENERAL__CLOCK_OFFSET_SECS", AHEAD)]);
    d.wait_log(&["settlement run finished", "settled=1"]);
    assert_eq!(settlement(&d, "t")["code"], 7013);
}

#[test]
fn billing_lists_page_past_a_thousand_rows_and_user_rows_carry_balances() {
    use turnstile::store::billing::LogEntry;
    let d = daemon("0", "", &[]);
    // 2,600 settlement log lines written behind the daemon's back, in its own store.
    let settings = turnstile::config::Settings::load(&d.config).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let backend = turnstile::store::Backend::open(
            &turnstile::store::OpenOptions::for_settings(&settings).unwrap(),
        )
        .await
        .unwrap();
        let lines: Vec<LogEntry> = (0..2600)
            .map(|i| LogEntry {
                id: 0,
                at: 1_800_000_000 + i,
                user: if i % 13 == 0 { "eve" } else { "bob" }.into(),
                product: None,
                cycle_start: None,
                code: 7003,
                amount_fen: i,
                detail: format!("line {i}"),
            })
            .collect();
        backend.store.append_log(&lines).await.unwrap();
    });
    let api = d.api();
    let get = |path: &str| {
        let reply = api.request("GET", path, None).unwrap();
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        reply.body
    };

    // A limit over 1,000 is capped, and the reply says so.
    let first = get("/api/v1/settlement-log?limit=100000");
    assert_eq!(first["data"]["limit"], 1000);
    assert_eq!(first["data"]["total"], 2600);
    assert!(
        first["warnings"][0]
            .as_str()
            .unwrap()
            .contains("capped to 1000"),
        "{}",
        first["warnings"]
    );
    // Walked with `before`: every line once, newest first, the last page says so.
    let mut seen: Vec<i64> = Vec::new();
    let mut before = None::<i64>;
    let mut pages = 0;
    loop {
        let path = match before {
            None => "/api/v1/settlement-log?limit=1000".to_string(),
            Some(b) => format!("/api/v1/settlement-log?limit=1000&before={b}"),
        };
        let page = get(&path);
        assert!(page["warnings"].is_null());
        let rows = page["data"]["rows"].as_array().unwrap();
        seen.extend(rows.iter().map(|r| r["id"].as_i64().unwrap()));
        pages += 1;
        match page["data"]["next_before"].as_i64() {
            Some(b) => before = Some(b),
            None => break,
        }
    }
    assert_eq!((pages, seen.len()), (3, 2600));
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first, no repeat"
    );
    // Page numbers give the same rows.
    let third = get("/api/v1/settlement-log?limit=1000&page=3");
    let third: Vec<i64> = third["data"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(third, seen[2000..]);
    // One user's: the total is theirs.
    let eve = get("/api/v1/settlement-log?user=eve&limit=1000");
    assert_eq!(eve["data"]["total"], 200);
    assert!(eve["data"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["user"] == "eve"));
    assert!(eve["data"]["next_before"].is_null());
    // Nonsense is refused.
    for bad in ["limit=0", "page=0", "before=x", "offset=3"] {
        let reply = api
            .request("GET", &format!("/api/v1/settlement-log?{bad}"), None)
            .unwrap();
        assert_eq!(
            (reply.status, reply.body["code"].as_u64()),
            (400, Some(5991)),
            "{bad}"
        );
    }
    // The CLI pages on by itself.
    let all = d.cli_json(&["settlement-log", "--limit", "100000", "--json"]);
    assert_eq!(all.as_array().unwrap().len(), 2600);
    let some = d.cli_json(&["settlement-log", "--limit", "1500", "--json"]);
    assert_eq!(some.as_array().unwrap().len(), 1500);
    let ledger = get("/api/v1/ledger");
    assert_eq!(ledger["data"]["total"], 0);
    assert_eq!(
        get("/api/v1/settlements")["data"]["rows"],
        Value::Array(vec![])
    );

    // The user list carries the wallet and each instance's balance.
    product(&d, "day", &["--kind", "free"], &[], &[]);
    d.cli_ok(&[
        "user",
        "add",
        "payer",
        "--password",
        "pw",
        "--product",
        "day",
    ]);
    d.cli_ok(&["pay", "payer", "--amount", "300", "--to", "day"]);
    d.cli_ok(&["pay", "payer", "--amount", "70"]);
    let users = get("/api/v1/users?name=payer");
    let payer = &users["data"]["users"][0];
    assert_eq!(payer["balance_fen"], 70);
    assert_eq!(payer["product_balances"], serde_json::json!({"day": 300}));
}
