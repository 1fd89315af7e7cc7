//! The authorization policy end to end: objects created with the CLI, Access-Requests
//! over UDP, refusal codes read from Reply-Message and Accept attributes from the reply.

mod common;

use common::{Daemon, Nas, Reply};
use radius::core::code::Code;
use radius::core::rfc2865::{
    CALLING_STATION_ID_TYPE, CLASS_TYPE, FRAMED_IP_ADDRESS_TYPE, IDLE_TIMEOUT_TYPE,
    NAS_IDENTIFIER_TYPE, SESSION_TIMEOUT_TYPE, VENDOR_SPECIFIC_TYPE,
};
use radius::core::rfc2869::{ACCT_INTERIM_INTERVAL_TYPE, NAS_PORT_ID_TYPE};
use std::time::Duration;

/// What a request carries besides user and password.
#[derive(Default, Clone, Copy)]
struct Via {
    mac: Option<&'static str>,
    ip: Option<[u8; 4]>,
    port: Option<&'static str>,
}

impl Via {
    fn attributes(&self) -> Vec<(u8, Vec<u8>)> {
        let mut out = Vec::new();
        if let Some(m) = self.mac {
            out.push((CALLING_STATION_ID_TYPE, m.as_bytes().to_vec()));
        }
        if let Some(ip) = self.ip {
            out.push((FRAMED_IP_ADDRESS_TYPE, ip.to_vec()));
        }
        if let Some(p) = self.port {
            out.push((NAS_PORT_ID_TYPE, p.as_bytes().to_vec()));
        }
        out.push((NAS_IDENTIFIER_TYPE, b"bras-test".to_vec()));
        out
    }
}

fn login(nas: &mut Nas, user: &str, password: &str, via: Via) -> Reply {
    let attrs = via.attributes();
    let extra: Vec<(u8, &[u8])> = attrs.iter().map(|(t, v)| (*t, v.as_slice())).collect();
    let r = nas.pap_with(user, password, true, &extra);
    nas.exchange(&r)
}

/// Waits until `user` gets `want` (the CLI's changes arrive within a sync interval).
fn expect_code(nas: &mut Nas, user: &str, password: &str, via: Via, want: &str) {
    let attrs = via.attributes();
    let reply = nas.eventually(
        |nas| {
            let extra: Vec<(u8, &[u8])> = attrs.iter().map(|(t, v)| (*t, v.as_slice())).collect();
            nas.pap_with(user, password, true, &extra)
        },
        |r| {
            if want == "accept" {
                r.code() == Code::AccessAccept
            } else {
                r.reply_message().starts_with(want)
            }
        },
    );
    if want != "accept" {
        assert_eq!(reply.code(), Code::AccessReject, "{user}");
    }
}

#[test]
fn every_refusal_code_from_its_condition() {
    let d = Daemon::start();
    let mut nas = Nas::new("127.0.0.1", &d);
    let add = |name: &str, extra: &[&str]| {
        let mut args = vec!["user", "add", name, "--password", "pw"];
        args.extend_from_slice(extra);
        d.cli_ok(&args);
    };
    let set = |name: &str, extra: &[&str]| {
        let mut args = vec!["user", "set", name];
        args.extend_from_slice(extra);
        d.cli_ok(&args);
    };

    // Account state.
    add("disabled", &[]);
    set("disabled", &["--disabled"]);
    add("banned", &[]);
    set("banned", &["--ban-until", "1h"]);
    add("expired", &["--expire", "2020-01-31"]);
    add("portal-only", &[]);
    set("portal-only", &["--radius", "no"]);
    // Bindings.
    add("mac-bound", &[]);
    set("mac-bound", &["--bind-mac", "AA-BB-CC-00-00-01"]);
    add("ip-bound", &[]);
    set("ip-bound", &["--bind-ip", "10.50.0.1"]);
    add("port-bound", &[]);
    set("port-bound", &["--bind-nas-port", "0/1/0:100.200"]);
    add("vlan-bound", &[]);
    set("vlan-bound", &["--bind-vlan", "300"]);
    add("nas-bound", &[]);
    set("nas-bound", &["--bind-nas", "bras-elsewhere"]);
    add("device-bound", &[]);
    set("device-bound", &["--bind-device", "356938035643809"]);
    add("all-bound", &[]);
    set(
        "all-bound",
        &[
            "--bind-mac",
            "aabb.cc00.0002",
            "--bind-ip",
            "10.50.0.2",
            "--bind-vlan",
            "100",
            "--bind-nas",
            "bras-test",
        ],
    );
    // Money.
    add("in-debt", &["--balance", "-1"]);
    add("capped", &[]);
    set("capped", &["--consumption-limit", "0"]);
    // Products and policies.
    add("no-product", &["--product", "nothing"]);
    d.cli_ok(&[
        "product",
        "add",
        "no-billing",
        "--billing-policy",
        "missing",
        "--control-policy",
        "unlimited",
    ]);
    add("no-billing", &["--product", "no-billing"]);
    d.cli_ok(&[
        "product",
        "add",
        "no-control",
        "--billing-policy",
        "free",
        "--control-policy",
        "missing",
    ]);
    add("no-control", &["--product", "no-control"]);
    d.cli_ok(&[
        "billing-policy",
        "add",
        "ten-hours",
        "--kind",
        "by-time",
        "--included-hours",
        "0",
    ]);
    d.cli_ok(&[
        "product",
        "add",
        "used-up",
        "--billing-policy",
        "ten-hours",
        "--control-policy",
        "unlimited",
    ]);
    add("used-up", &["--product", "used-up"]);
    // Addresses.
    d.cli_ok(&["blacklist", "add", "--mac", "aa:bb:cc:00:00:66"]);
    d.cli_ok(&["blacklist", "add", "--ip", "10.50.9.9"]);
    d.cli_ok(&["ip-table", "add", "10.50.0.0/16"]);
    d.cli_ok(&["ip-table", "add", "10.99.0.0/16", "--no-auth"]);
    add("last", &[]);
    // Everything above is live once the last user is.
    expect_code(&mut nas, "last", "pw", Via::default(), "accept");

    let plain = Via::default();
    let at = |mac: &'static str, ip: [u8; 4], port: &'static str| Via {
        mac: Some(mac),
        ip: Some(ip),
        port: Some(port),
    };
    let home = at("aa-bb-cc-00-00-02", [10, 50, 0, 2], "0/1/0:100.200");
    let cases: &[(&str, &str, Via, &str)] = &[
        ("ghost", "pw", plain, "E2531: 用户不存在"),
        ("last", "wrong", plain, "E2553: 帐号或密码错误"),
        ("disabled", "pw", plain, "E2606: 用户被禁用"),
        ("banned", "pw", plain, "E2534: 有代理行为被暂时禁用"),
        ("expired", "pw", plain, "E2536: 授权已过期"),
        ("portal-only", "pw", plain, "E2607: 接口被禁用"),
        ("mac-bound", "pw", home, "E2614: MAC地址绑定错误"),
        ("mac-bound", "pw", plain, "E2614: MAC地址绑定错误"),
        ("ip-bound", "pw", home, "E2615: IP地址绑定错误"),
        (
            "port-bound",
            "pw",
            at("x", [10, 50, 0, 2], "0/1/0:100.201"),
            "E2613: NAS PORT绑定错误",
        ),
        ("port-bound", "pw", home, "accept"),
        ("vlan-bound", "pw", home, "E2613: NAS PORT绑定错误"),
        ("nas-bound", "pw", home, "E2613: NAS PORT绑定错误"),
        (
            "device-bound",
            "pw",
            home,
            "E2611: 您当前使用的设备非该账号绑定设备",
        ),
        (
            "device-bound",
            "pw",
            Via {
                mac: Some("356938035643809"),
                ..plain
            },
            "accept",
        ),
        ("all-bound", "pw", home, "accept"),
        (
            "all-bound",
            "pw",
            at("AA:BB:CC:00:00:02", [10, 50, 0, 2], "vlanid=100;vlanid2=7;"),
            "accept",
        ),
        (
            "last",
            "pw",
            at("aa:bb:cc:00:00:66", [10, 50, 0, 3], "p"),
            "E2612: MAC在黑名单中",
        ),
        ("in-debt", "pw", plain, "E2616: 用户已欠费"),
        ("capped", "pw", plain, "E2617: 消费额度已满"),
        ("used-up", "pw", plain, "E2617: 消费额度已满"),
        ("no-product", "pw", plain, "E2806: 找不到符合条件的产品"),
        ("no-billing", "pw", plain, "E2807: 找不到符合条件的计费策略"),
        ("no-control", "pw", plain, "E2808: 找不到符合条件的控制策略"),
        (
            "last",
            "pw",
            Via {
                ip: Some([10, 99, 1, 1]),
                ..plain
            },
            "E2842: IP地址无需认证可直接上网",
        ),
        (
            "last",
            "pw",
            Via {
                ip: Some([10, 77, 0, 1]),
                ..plain
            },
            "E2843: IP地址不在IP表中",
        ),
        (
            "last",
            "pw",
            Via {
                ip: Some([10, 50, 9, 9]),
                ..plain
            },
            "E2844: IP地址在黑名单中",
        ),
        (
            "last",
            "pw",
            Via {
                ip: Some([10, 50, 9, 8]),
                ..plain
            },
            "accept",
        ),
    ];
    for (user, password, via, want) in cases {
        let reply = login(&mut nas, user, password, *via);
        if *want == "accept" {
            assert_eq!(
                reply.code(),
                Code::AccessAccept,
                "{user}: {}",
                reply.reply_message()
            );
        } else {
            assert_eq!(reply.code(), Code::AccessReject, "{user}");
            assert!(
                reply.reply_message().starts_with(want),
                "{user}: got {:?}, want {want:?}",
                reply.reply_message()
            );
        }
    }

    // Unbinding lets the user in from anywhere again.
    set("mac-bound", &["--unbind-all"]);
    expect_code(&mut nas, "mac-bound", "pw", home, "accept");
    // Every refusal is counted by its code.
    assert!(
        d.metric("turnstile_radius_replies_total{type=\"access_reject\",code=\"E2614\"}") >= 2.0
    );
}

#[test]
fn time_window_closed_is_no_matching_control_policy() {
    let d = Daemon::start();
    let mut nas = Nas::new("127.0.0.1", &d);
    // A window of one minute that is not now (it is at least 12 hours away).
    let hour = (chrono_hour() + 12) % 24;
    let window = format!("{hour:02}:00-{hour:02}:01");
    d.cli_ok(&["control-policy", "set", "unlimited", "--window", &window]);
    expect_code(
        &mut nas,
        "alice",
        "wonderland",
        Via::default(),
        "E2808: 找不到符合条件的控制策略",
    );
    d.cli_ok(&["control-policy", "set", "unlimited", "--no-windows"]);
    expect_code(&mut nas, "alice", "wonderland", Via::default(), "accept");
}

fn chrono_hour() -> u32 {
    let out = std::process::Command::new("date")
        .arg("+%H")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn authentication_switched_off_system_wide() {
    let d = Daemon::start();
    let mut nas = Nas::new("127.0.0.1", &d);
    d.cli_ok(&["system", "set", "--auth-enabled", "false"]);
    expect_code(
        &mut nas,
        "alice",
        "wonderland",
        Via::default(),
        "E2535: 认证系统已经被禁用",
    );
    // Everyone, even unknown users.
    let r = login(&mut nas, "ghost", "x", Via::default());
    assert_eq!(r.reply_message(), "E2535: 认证系统已经被禁用");
    d.cli_ok(&["system", "set", "--auth-enabled", "true"]);
    expect_code(&mut nas, "alice", "wonderland", Via::default(), "accept");
}

#[test]
fn too_soon_after_an_accept() {
    let d = Daemon::start_with("", &[("TURNSTILE__POLICY__MIN_AUTH_INTERVAL_SECS", "10")]);
    let mut nas = Nas::new("127.0.0.1", &d);
    let first = nas.pap("alice", "wonderland", true);
    let accepted = nas.exchange(&first);
    assert_eq!(accepted.code(), Code::AccessAccept);
    // A retransmission is answered from the reply cache, not refused.
    nas.send(&first.bytes);
    assert_eq!(nas.recv().unwrap(), accepted.bytes);
    // A new request is refused.
    let again = login(&mut nas, "alice", "wonderland", Via::default());
    assert_eq!(
        again.reply_message(),
        "E2532: 您的两次认证的间隔太短,请稍候10秒后再重试登录"
    );
    // Refusals do not start the interval.
    assert_eq!(
        login(&mut nas, "carol", "nope", Via::default()).reply_message(),
        "E2553: 帐号或密码错误"
    );
    assert_eq!(
        login(&mut nas, "carol", "chap-secret", Via::default()).code(),
        Code::AccessAccept
    );
}

#[test]
fn lockout_after_wrong_passwords_survives_a_restart() {
    let mut d = Daemon::start();
    let mut nas = Nas::new("127.0.0.1", &d);
    for _ in 0..5 {
        assert_eq!(
            login(&mut nas, "alice", "guess", Via::default()).reply_message(),
            "E2553: 帐号或密码错误"
        );
    }
    let locked = "E2533: 密码错误次数超过限制，请5分钟后再重试登录";
    assert_eq!(
        login(&mut nas, "alice", "wonderland", Via::default()).reply_message(),
        locked
    );
    // Another user is not affected.
    assert_eq!(
        login(&mut nas, "carol", "chap-secret", Via::default()).code(),
        Code::AccessAccept
    );

    d.restart();
    let mut nas = Nas::new("127.0.0.1", &d);
    assert_eq!(
        login(&mut nas, "alice", "wonderland", Via::default()).reply_message(),
        locked
    );
}

#[test]
fn a_shutdown_closes_idle_connections_at_once_and_stores_what_was_queued() {
    use std::io::{Read, Write};
    let mut d = Daemon::start();
    // Kept-alive connections left idle, as browsers and API clients leave them: they
    // hold the listeners' state, and once made shutdown wait out a timeout.
    let idle: Vec<std::net::TcpStream> = [d.portal, d.api]
        .into_iter()
        .map(|address| {
            let mut s = std::net::TcpStream::connect(address).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s.write_all(b"GET /metrics HTTP/1.1\r\nHost: turnstile\r\n\r\n")
                .unwrap();
            let mut head = [0u8; 12];
            s.read_exact(&mut head).unwrap();
            assert!(head.starts_with(b"HTTP/1.1 "), "{head:?}");
            s
        })
        .collect();
    let mut nas = Nas::new("127.0.0.1", &d);
    for _ in 0..5 {
        login(&mut nas, "alice", "guess", Via::default());
    }
    let took = d.terminate();
    assert!(took < Duration::from_secs(3), "shutdown took {took:?}");
    drop(idle);

    d.restart();
    let mut nas = Nas::new("127.0.0.1", &d);
    assert_eq!(
        login(&mut nas, "alice", "wonderland", Via::default()).reply_message(),
        "E2533: 密码错误次数超过限制，请5分钟后再重试登录"
    );
}

#[test]
fn lockout_turned_off_with_zero() {
    let d = Daemon::start_with("", &[("TURNSTILE__POLICY__LOCKOUT_FAILURES", "0")]);
    let mut nas = Nas::new("127.0.0.1", &d);
    for _ in 0..8 {
        login(&mut nas, "alice", "guess", Via::default());
    }
    assert_eq!(
        login(&mut nas, "alice", "wonderland", Via::default()).code(),
        Code::AccessAccept
    );
}

/// NAS clients of each vendor dialect, on their own loopback addresses.
const VENDOR_CLIENTS: &str = r#"
[[radius.clients]]
name = "huawei-bras"
address = "127.0.0.3"
secret = "s3cret-test"
vendor = "huawei"

[[radius.clients]]
name = "h3c-bras"
address = "127.0.0.4"
secret = "s3cret-test"
vendor = "h3c"

[[radius.clients]]
name = "mikrotik"
address = "127.0.0.5"
secret = "s3cret-test"
vendor = "mikrotik"
"#;

#[test]
fn accept_attributes_in_each_vendor_dialect() {
    let d = Daemon::start_with(VENDOR_CLIENTS, &[]);
    d.cli_ok(&[
        "control-policy",
        "add",
        "campus",
        "--up",
        "2M",
        "--down",
        "10M",
        "--idle-timeout",
        "600",
        "--session-timeout",
        "7200",
        "--interim",
        "300",
    ]);
    d.cli_ok(&[
        "product",
        "add",
        "campus-20",
        "--billing-policy",
        "free",
        "--control-policy",
        "campus",
    ]);
    d.cli_ok(&[
        "user",
        "add",
        "dave",
        "--password",
        "pw",
        "--product",
        "campus-20",
    ]);

    let mut standard = Nas::new("127.0.0.1", &d);
    let reply = standard.eventually(
        |nas| nas.pap("dave", "pw", true),
        |r| r.code() == Code::AccessAccept,
    );
    assert_eq!(reply.integer(SESSION_TIMEOUT_TYPE), Some(7200));
    assert_eq!(reply.integer(IDLE_TIMEOUT_TYPE), Some(600));
    assert_eq!(reply.integer(ACCT_INTERIM_INTERVAL_TYPE), Some(300));
    assert_eq!(
        reply.values(CLASS_TYPE),
        vec![b"ts1:campus-20:dave".to_vec()]
    );
    assert!(reply.values(VENDOR_SPECIFIC_TYPE).is_empty());

    let vsas = |ip: &str| {
        let mut nas = Nas::new(ip, &d);
        let r = nas.pap("dave", "pw", true);
        let reply = nas.exchange(&r);
        assert_eq!(reply.code(), Code::AccessAccept, "{ip}");
        reply.values(VENDOR_SPECIFIC_TYPE)
    };
    let two_m = [0x00, 0x1e, 0x84, 0x80];
    let ten_m = [0x00, 0x98, 0x96, 0x80];
    let vsa = |vendor: [u8; 4], typ: u8, value: &[u8]| {
        let mut v = vendor.to_vec();
        v.extend_from_slice(&[typ, 2 + value.len() as u8]);
        v.extend_from_slice(value);
        v
    };
    let huawei = [0, 0, 0x07, 0xdb];
    assert_eq!(
        vsas("127.0.0.3"),
        vec![
            vsa(huawei, 2, &two_m),
            vsa(huawei, 3, &two_m),
            vsa(huawei, 5, &ten_m),
            vsa(huawei, 6, &ten_m),
        ]
    );
    let h3c = [0, 0, 0x63, 0xa2];
    assert_eq!(
        vsas("127.0.0.4"),
        vec![
            vsa(h3c, 1, &two_m),
            vsa(h3c, 2, &two_m),
            vsa(h3c, 3, &two_m),
            vsa(h3c, 4, &ten_m),
            vsa(h3c, 5, &ten_m),
            vsa(h3c, 6, &ten_m),
        ]
    );
    assert_eq!(
        vsas("127.0.0.5"),
        vec![vsa([0, 0, 0x3a, 0x8c], 8, b"2000000/10000000")]
    );
}

#[test]
fn session_timeout_is_capped_by_expiry() {
    let d = Daemon::start();
    let mut nas = Nas::new("127.0.0.1", &d);
    // Valid through today: the session may last until local midnight at the latest.
    let today = String::from_utf8(
        std::process::Command::new("date")
            .arg("+%Y-%m-%d")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    d.cli_ok(&["user", "set", "alice", "--expire", today.trim()]);
    let reply = nas.eventually(
        |nas| nas.pap("alice", "wonderland", true),
        |r| r.integer(SESSION_TIMEOUT_TYPE).is_some(),
    );
    let timeout = reply.integer(SESSION_TIMEOUT_TYPE).unwrap();
    assert!((1..=86_400).contains(&timeout), "{timeout}");
}

/// Starts a session with an Accounting-Request Start and waits for its response.
fn start_session(acct: &mut Nas, session: &str, user: &str) {
    let r = acct.acct(1, session, user);
    assert_eq!(acct.exchange(&r).code(), Code::AccountingResponse);
}

#[test]
fn already_online_at_the_limit() {
    let d = Daemon::start();
    let mut nas = Nas::new("127.0.0.1", &d);
    let mut acct = Nas::accounting("127.0.0.1", &d);
    start_session(&mut acct, "s-1", "alice");
    assert_eq!(
        login(&mut nas, "alice", "wonderland", Via::default()).code(),
        Code::AccessAccept
    );
    d.cli_ok(&["user", "set", "alice", "--max-online", "1"]);
    expect_code(
        &mut nas,
        "alice",
        "wonderland",
        Via::default(),
        "E2620: 已经在线了",
    );
    // The limit follows the user's sessions: after the Stop the login is accepted again.
    let r = acct.acct(2, "s-1", "alice");
    assert_eq!(acct.exchange(&r).code(), Code::AccountingResponse);
    assert_eq!(
        login(&mut nas, "alice", "wonderland", Via::default()).code(),
        Code::AccessAccept
    );
}

#[test]
fn kick_the_oldest_instead_of_refusing() {
    let d = Daemon::start();
    let mut nas = Nas::new("127.0.0.1", &d);
    let mut acct = Nas::accounting("127.0.0.1", &d);
    start_session(&mut acct, "old", "alice");
    start_session(&mut acct, "new", "alice");
    d.cli_ok(&["control-policy", "set", "unlimited", "--max-online", "2"]);
    expect_code(
        &mut nas,
        "alice",
        "wonderland",
        Via::default(),
        "E2620: 已经在线了",
    );
    d.cli_ok(&[
        "control-policy",
        "set",
        "unlimited",
        "--over-limit",
        "kick-oldest",
    ]);
    let reply = nas.eventually(
        |nas| nas.pap("alice", "wonderland", true),
        |r| r.code() == Code::AccessAccept,
    );
    assert_eq!(reply.code(), Code::AccessAccept);
    d.wait_metric("turnstile_kicks_scheduled_total{cause=\"E3008\"}", 1.0);
    d.wait_log(&[
        "oldest session scheduled for disconnection",
        "session=\"old\"",
        "cause=E3008",
    ]);
}

#[test]
fn licensed_online_limit_and_sessions_surviving_a_restart() {
    let mut d = Daemon::start();
    let mut acct = Nas::accounting("127.0.0.1", &d);
    start_session(&mut acct, "a", "carol");
    start_session(&mut acct, "b", "dave");
    d.cli_ok(&["system", "set", "--licensed-online", "2"]);
    let mut nas = Nas::new("127.0.0.1", &d);
    expect_code(
        &mut nas,
        "alice",
        "wonderland",
        Via::default(),
        "E2621: 已经达到授权人数",
    );

    // The online table is restored from the store: still two sessions after a restart.
    d.restart();
    let mut nas = Nas::new("127.0.0.1", &d);
    assert_eq!(
        login(&mut nas, "alice", "wonderland", Via::default()).reply_message(),
        "E2621: 已经达到授权人数"
    );
    // Accounting-On from the NAS closes its sessions.
    let mut acct = Nas::accounting("127.0.0.1", &d);
    let r = acct.acct(7, "", "");
    assert_eq!(acct.exchange(&r).code(), Code::AccountingResponse);
    assert_eq!(
        login(&mut nas, "alice", "wonderland", Via::default()).code(),
        Code::AccessAccept
    );
}
