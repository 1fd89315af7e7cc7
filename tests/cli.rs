//! The command line: live changes reaching a running daemon, import, config checks,
//! the catalog.

mod common;

use common::{Daemon, Nas};
use radius::core::code::Code;
use std::time::{Duration, Instant};

/// Sends fresh requests until `check` holds for a reply; panics after 2 s, the promised
/// propagation time of a CLI change.
fn within_two_seconds(
    nas: &mut Nas,
    user: &str,
    password: &str,
    check: impl Fn(&common::Reply) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(2);
    nas.socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    loop {
        let r = nas.pap(user, password, true);
        let reply = nas.try_exchange(&r);
        if reply.as_ref().is_some_and(&check) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "change not live after 2 s: {:?}",
            reply.map(|r| (r.code(), r.reply_message()))
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn cli_changes_reach_the_running_daemon() {
    let d = Daemon::start();
    let mut nas = Nas::new("127.0.0.1", &d);

    let r = nas.pap("bob", "builder", true);
    assert_eq!(nas.exchange(&r).reply_message(), "E2531: 用户不存在");

    d.cli_ok(&["user", "add", "bob", "--password", "builder"]);
    within_two_seconds(&mut nas, "bob", "builder", |r| {
        r.code() == Code::AccessAccept
    });

    d.cli_ok(&["user", "set", "bob", "--disabled"]);
    within_two_seconds(&mut nas, "bob", "builder", |r| {
        r.reply_message() == "E2606: 用户被禁用"
    });
    d.cli_ok(&["user", "set", "bob", "--enabled"]);
    within_two_seconds(&mut nas, "bob", "builder", |r| {
        r.code() == Code::AccessAccept
    });

    d.cli_ok(&["user", "passwd", "bob", "--password", "digger"]);
    within_two_seconds(&mut nas, "bob", "digger", |r| {
        r.code() == Code::AccessAccept
    });
    let r = nas.pap("bob", "builder", true);
    assert_eq!(nas.exchange(&r).reply_message(), "E2553: 帐号或密码错误");

    d.cli_ok(&["user", "del", "bob"]);
    within_two_seconds(&mut nas, "bob", "digger", |r| {
        r.reply_message() == "E2531: 用户不存在"
    });

    // A NAS added at run time is served; deleted, it is dropped again.
    let mut new_nas = Nas::new("127.0.0.4", &d);
    new_nas.secret = b"fresh-secret".to_vec();
    d.cli_ok(&[
        "nas",
        "add",
        "bras-4",
        "--address",
        "127.0.0.4",
        "--secret",
        "fresh-secret",
        "--vendor",
        "huawei",
    ]);
    within_two_seconds(&mut new_nas, "alice", "wonderland", |r| {
        r.code() == Code::AccessAccept
    });
    let listed = d.cli_ok(&["nas", "list"]);
    assert!(
        listed.contains("bras-4") && listed.contains("huawei"),
        "{listed}"
    );
    assert!(!listed.contains("fresh-secret"), "secret printed: {listed}");
    d.cli_ok(&["nas", "del", "bras-4"]);
    let before = d.metric("turnstile_radius_dropped_total{reason=\"unknown_client\"}");
    let deadline = Instant::now() + Duration::from_secs(2);
    new_nas
        .socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    loop {
        let r = new_nas.pap("alice", "wonderland", true);
        new_nas.send(&r.bytes);
        if new_nas.recv().is_none()
            && d.metric("turnstile_radius_dropped_total{reason=\"unknown_client\"}") > before
        {
            break;
        }
        assert!(Instant::now() < deadline, "deleted NAS still served");
    }
}

#[test]
fn user_commands_report_errors_with_codes() {
    let d = Daemon::start();
    let out = d.cli(&["user", "add", "alice", "--password", "x"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("E5993: 用户已存在: alice"));
    let out = d.cli(&["user", "del", "ghost"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("E5992: 找不到这个用户"));
    let shown = d.cli_ok(&["user", "show", "alice", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(v["name"], "alice");
    assert_eq!(v["enabled"], true);
    assert!(!shown.contains("wonderland"));
    let list = d.cli_ok(&["user", "list"]);
    assert!(list.contains("alice") && list.contains("carol"), "{list}");
    let out = d.cli(&["user", "add", "eve", "--password", &"x".repeat(129)]);
    assert!(!out.status.success());
}

#[test]
fn import_is_all_or_nothing_and_names_the_bad_line() {
    let d = Daemon::start();
    let csv = d.dir.path().join("users.csv");
    let mut text = String::from("username,password\n");
    for i in 0..2000 {
        text.push_str(&format!("student{i},pw{i}\n"));
    }
    std::fs::write(&csv, format!("{text}broken-line-without-comma\n")).unwrap();
    let out = d.cli(&["user", "import", csv.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2002"), "{err}");

    // A clash with an existing user is named by its line, and nothing is written.
    std::fs::write(&csv, format!("{text}alice,again\n")).unwrap();
    let out = d.cli(&["user", "import", csv.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2002") && err.contains("alice"), "{err}");
    assert!(!d.cli_ok(&["user", "list"]).contains("student0"));

    std::fs::write(&csv, &text).unwrap();
    let out = d.cli_ok(&["user", "import", csv.to_str().unwrap()]);
    assert!(out.contains("imported 2000 users"), "{out}");
    d.wait_metric("turnstile_directory_users", 2002.0);
    let mut nas = Nas::new("127.0.0.1", &d);
    let r = nas.pap("student1999", "pw1999", true);
    assert_eq!(nas.exchange(&r).code(), Code::AccessAccept);
}

#[test]
fn check_config_names_the_bad_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    let run = |toml: &str, env: &[(&str, &str)]| {
        std::fs::write(&path, toml).unwrap();
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_turnstile"));
        cmd.arg("--config").arg(&path).arg("check-config");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let out = run("[radius]\nauth_port = 70000\n", &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("radius.auth_port"));
    let out = run("[telemetry]\nmetrics_listen = \"nowhere\"\n", &[]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("telemetry.metrics_listen"));
    // The store's own rules for its URL, checked with the rest.
    let out = run("[store]\nurl = \"mysql://db/turnstile\"\n", &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("store.url"));
    let out = run("", &[("TURNSTILE__STORE__BACKEND", "oracle")]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("store.backend"));
    let out = run("[general]\nlanguage = \"en\"\n", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/turnstile.toml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_turnstile"))
        .arg("--config")
        .arg(shipped)
        .arg("check-config")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn codes_prints_the_whole_catalog() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_turnstile"))
        .args(["codes", "--json"])
        .output()
        .unwrap();
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    // The 159 codes of the Srun tables, and E2403 marked as the catalog's own.
    assert_eq!(rows.len(), 160);
    assert_eq!(rows.iter().filter(|r| r["from_seed"] == true).count(), 159);
    assert!(rows
        .iter()
        .any(|r| r["code"] == "E2403" && r["from_seed"] == false));
    assert!(rows
        .iter()
        .any(|r| r["code"] == "E2616" && r["zh"] == "用户已欠费"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_turnstile"))
        .args(["codes", "--lang", "en"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("E2531: User does not exist"));
    assert_eq!(text.lines().count(), 160);
}

#[test]
fn catalog_commands_name_what_is_wrong() {
    let d = Daemon::start();
    let fails = |args: &[&str], want: &str| {
        let out = d.cli(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    };
    // The starter objects exist and refer to each other.
    let products = d.cli_ok(&["product", "list", "--json"]);
    assert!(products.contains("\"standard\""), "{products}");
    fails(
        &["billing-policy", "del", "free"],
        "billing_policy \"free\" is used by product \"standard\"",
    );
    fails(
        &["product", "del", "standard"],
        "product \"standard\" is used by group \"default\"",
    );
    fails(
        &[
            "product",
            "add",
            "standard",
            "--billing-policy",
            "free",
            "--control-policy",
            "unlimited",
        ],
        "already exists",
    );
    fails(
        &[
            "product",
            "add",
            "p:1",
            "--billing-policy",
            "free",
            "--control-policy",
            "unlimited",
        ],
        "must not contain",
    );
    fails(
        &["product", "add", "p", "--control-policy", "unlimited"],
        "E5990: 数据不完整: missing field `billing_policy`",
    );
    fails(
        &["control-policy", "add", "c", "--window", "25:00-26:00"],
        "HH:MM-HH:MM",
    );
    fails(
        &["control-policy", "add", "c", "--up", "fast"],
        "expected bit/s",
    );
    fails(
        &["billing-policy", "add", "b", "--kind", "weekly"],
        "unknown billing kind",
    );
    fails(
        &["control-policy", "set", "ghost", "--up", "1M"],
        "no control_policy \"ghost\"",
    );
    fails(&["blacklist", "add", "--mac", "aa:bb"], "not a MAC address");
    fails(&["blacklist", "add"], "--mac");
    fails(&["ip-table", "add", "10.0.0.0/33"], "10.0.0.0/33");
    fails(&["user", "set", "alice", "--bind-vlan", "x"], "--bind-vlan");
    fails(
        &["user", "set", "alice", "--expire", "tomorrow"],
        "YYYY-MM-DD",
    );
    fails(
        &["user", "set", "ghost", "--balance", "5"],
        "E5992: 找不到这个用户",
    );

    // A forced delete is allowed and leaves the product refusing with E2807.
    d.cli_ok(&["billing-policy", "del", "free", "--force"]);
    // Changes are shown back.
    d.cli_ok(&[
        "control-policy",
        "set",
        "unlimited",
        "--up",
        "2M",
        "--window",
        "08:00-23:00",
    ]);
    let shown = d.cli_ok(&["control-policy", "list", "--json"]);
    assert!(
        shown.contains("\"up_bps\": 2000000") && shown.contains("\"08:00-23:00\""),
        "{shown}"
    );
    d.cli_ok(&[
        "user",
        "set",
        "alice",
        "--bind-mac",
        "AABB.CC00.0001",
        "--balance",
        "-5",
        "--product",
        "standard",
    ]);
    let user = d.cli_json(&["user", "show", "alice", "--json"]);
    assert_eq!(
        user["bindings"],
        serde_json::json!([{"kind": "mac", "value": "aa:bb:cc:00:00:01"}])
    );
    assert_eq!(user["balance_fen"], -5);
    assert_eq!(user["products"], serde_json::json!(["standard"]));
    let warned = d.cli(&["user", "set", "alice", "--product", "gold"]);
    assert!(String::from_utf8_lossy(&warned.stderr).contains("no product \"gold\" exists yet"));
}
