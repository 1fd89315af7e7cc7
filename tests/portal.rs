//! The Srun-compatible portal over HTTP: a client doing what login scripts do (challenge,
//! hmd5, info, chksum) against the real daemon.

mod common;

use common::{jsonp, Answer, Daemon, NasSim};
use radius::core::code::Code;
use radius::core::rfc2865::{FRAMED_IP_ADDRESS_TYPE, USER_NAME_TYPE, VENDOR_SPECIFIC_TYPE};
use radius::core::rfc2866::{
    ACCT_INPUT_OCTETS_TYPE, ACCT_OUTPUT_OCTETS_TYPE, ACCT_SESSION_TIME_TYPE,
};
use serde_json::Value;
use turnstile::portal::query_escape;
use turnstile::proto::radius::packet::Packet;
use turnstile::proto::srun::{client_login, dm_sign, hmac_md5_hex};

/// One GET to the portal: (status, headers, body).
fn get(d: &Daemon, path: &str) -> (u16, String, String) {
    common::http("GET", &format!("http://{}{path}", d.portal), None)
}

fn challenge(d: &Daemon, user: &str) -> String {
    let (status, _, body) = get(
        d,
        &format!("/cgi-bin/get_challenge?callback=jsonp&username={user}&ip=127.0.0.1&_=1"),
    );
    assert_eq!(status, 200);
    let v = jsonp(&body);
    // A string (clients parse it so), at most 60 seconds.
    let expire: u64 = v["expire"].as_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&expire), "{v}");
    v["challenge"].as_str().unwrap().to_string()
}

/// A login as the official page does it; `tamper` may change the query before sending.
fn login_with(
    d: &Daemon,
    user: &str,
    password: &str,
    tamper: impl Fn(&mut Vec<(String, String)>),
) -> Value {
    let hmac = |t: &str| hmac_md5_hex(t.as_bytes(), password.as_bytes());
    login_signed(d, user, password, hmac, tamper)
}

/// A login whose `hmd5` is `hmd5_of(challenge)`, signed over as sent.
fn login_signed(
    d: &Daemon,
    user: &str,
    password: &str,
    hmd5_of: impl Fn(&str) -> String,
    tamper: impl Fn(&mut Vec<(String, String)>),
) -> Value {
    let t = challenge(d, user);
    let ip = "127.0.0.1";
    let hmd5 = hmd5_of(&t);
    let (info, sum) = client_login(&t, user, password, ip, "1", &hmd5);
    let mut q: Vec<(String, String)> = [
        ("callback", "jsonp".to_string()),
        ("action", "login".into()),
        ("username", user.into()),
        ("password", format!("{{MD5}}{hmd5}")),
        ("ac_id", "1".into()),
        ("ip", ip.into()),
        ("chksum", sum),
        ("info", info),
        ("n", "200".into()),
        ("type", "1".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    tamper(&mut q);
    let query: Vec<String> = q
        .iter()
        .map(|(k, v)| format!("{k}={}", query_escape(v)))
        .collect();
    let (status, _, body) = get(d, &format!("/cgi-bin/srun_portal?{}", query.join("&")));
    assert_eq!(status, 200, "{body}");
    jsonp(&body)
}

fn login(d: &Daemon, user: &str, password: &str) -> Value {
    login_with(d, user, password, |_| {})
}

#[test]
fn login_status_and_logout() {
    let d = Daemon::start();
    let (status, head, _) = get(&d, "/");
    assert!((300..400).contains(&status), "{head}");
    assert!(head.contains("ac_id=1"), "{head}");
    let (_, _, page) = get(&d, "/srun_portal_pc?ac_id=1");
    assert!(page.contains(r#"id="user_ip" value="127.0.0.1""#), "{page}");

    let (_, _, body) = get(&d, "/cgi-bin/rad_user_info?callback=jsonp");
    let v = jsonp(&body);
    assert_eq!(v["error"], "not_online_error");
    assert_eq!(v["online_ip"], "127.0.0.1");

    let v = login(&d, "alice", "wonderland");
    assert_eq!(v["error"], "ok", "{v}");
    assert_eq!(v["suc_msg"], "login_ok");
    assert_eq!(v["ecode"], 0);
    assert!(v["ploy_msg"].as_str().unwrap().starts_with("E0000"));

    let (_, _, body) = get(&d, "/cgi-bin/rad_user_info?callback=jsonp&_=2");
    let v = jsonp(&body);
    assert_eq!(v["error"], "ok");
    assert_eq!(v["user_name"], "alice");
    assert_eq!(v["online_ip"], "127.0.0.1");
    assert!(v["add_time"].is_i64() && v["user_balance"].is_i64());
    assert!(d.cli_ok(&["online", "--user", "alice"]).contains("portal/"));

    // Already online from this address.
    let v = login(&d, "alice", "wonderland");
    assert_eq!(
        (v["error"].as_str(), v["suc_msg"].as_str()),
        (Some("ok"), Some("ip_already_online_error"))
    );

    // Logout with nothing but the action: the source address is used.
    let (_, _, body) = get(&d, "/cgi-bin/srun_portal?callback=jsonp&action=logout");
    assert_eq!(jsonp(&body)["error"], "ok");
    let (_, _, body) = get(&d, "/cgi-bin/srun_portal?callback=jsonp&action=logout");
    assert_eq!(jsonp(&body)["error"], "not_online_error");
    let history = d.cli_ok(&["sessions", "--user", "alice"]);
    assert!(history.contains("E2401: User-Request"), "{history}");
    // Without a callback: the legacy text.
    let (_, _, body) = get(&d, "/cgi-bin/rad_user_info");
    assert_eq!(body, "not_online_error");
}

#[test]
fn refusals_carry_the_code() {
    let d = Daemon::start();
    let v = login(&d, "alice", "nope");
    assert_eq!(v["error"], "login_error");
    assert_eq!(v["ecode"], "E2553");
    assert_eq!(v["error_msg"], "E2553: 帐号或密码错误");
    let v = login(&d, "ghost", "x");
    assert_eq!(v["ecode"], "E2531");
    d.cli_ok(&["user", "set", "carol", "--portal", "no"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let v = login(&d, "carol", "chap-secret");
        if v["ecode"] == "E2607" {
            break;
        }
        // Logged in before the change arrived: out again, and retry.
        get(&d, "/cgi-bin/srun_portal?callback=jsonp&action=logout");
        assert!(std::time::Instant::now() < deadline, "{v}");
    }
}

#[test]
fn protocol_errors() {
    let d = Daemon::start();
    // A wrong chksum.
    let v = login_with(&d, "alice", "wonderland", |q| {
        q.iter_mut().find(|(k, _)| k == "chksum").unwrap().1 = "0".repeat(40);
    });
    assert_eq!(v["error"], "sign_error");
    // A trailing newline and upper case in chksum are tolerated (BitSrunLoginGo).
    let v = login_with(&d, "alice", "wonderland", |q| {
        let c = &mut q.iter_mut().find(|(k, _)| k == "chksum").unwrap().1;
        *c = format!("{}\n", c.to_uppercase());
    });
    assert_eq!(v["error"], "ok", "{v}");
    get(&d, "/cgi-bin/srun_portal?callback=jsonp&action=logout");
    // Garbage info.
    let v = login_with(&d, "alice", "wonderland", |q| {
        q.iter_mut().find(|(k, _)| k == "info").unwrap().1 = "{SRBX1}abc".into();
    });
    assert_eq!(v["error"], "auth_info_error");
    // No {MD5} tag.
    let v = login_with(&d, "alice", "wonderland", |q| {
        let p = &mut q.iter_mut().find(|(k, _)| k == "password").unwrap().1;
        *p = p.trim_start_matches("{MD5}").to_string();
    });
    assert_eq!(v["error"], "password_algo_error");
    // A challenge serves one login: the same login sent twice fails the second time.
    let v = login_with(&d, "alice", "wonderland", |q| {
        // Send it once here (logged in, then out), before the helper sends it again.
        let query: Vec<String> = q
            .iter()
            .map(|(k, v)| format!("{k}={}", query_escape(v)))
            .collect();
        let path = format!("/cgi-bin/srun_portal?{}", query.join("&"));
        let _ = get(&d, &path);
        get(&d, "/cgi-bin/srun_portal?callback=jsonp&action=logout");
    });
    assert_eq!(v["error"], "challenge_expire_error");
    // An unknown ac_id.
    let v = login_with(&d, "alice", "wonderland", |q| {
        q.iter_mut().find(|(k, _)| k == "ac_id").unwrap().1 = "99".into();
    });
    assert_eq!(v["error"], "no_acid_error");
    // Broken escapes, bytes that are not UTF-8, repeated keys: a protocol answer, HTTP 200.
    for query in [
        "action=login&username=%zz&x=%ff%fe",
        "action=logout&ip=%",
        "action=login&action=login&a=1&a=2",
    ] {
        let (status, _, body) = get(&d, &format!("/cgi-bin/srun_portal?callback=jsonp&{query}"));
        assert_eq!(status, 200, "{query}");
        let v = jsonp(&body);
        assert!(
            v["error"].as_str().unwrap().ends_with("_error"),
            "{query}: {v}"
        );
        assert!(v["client_ip"].is_string() && v["online_ip"].is_string());
    }
    // Callback injection is refused and never reflected.
    let (status, _, body) = get(&d, "/cgi-bin/rad_user_info?callback=alert(1)//");
    assert_eq!(status, 400);
    assert!(!body.contains("alert"));
}

#[test]
fn signed_logout() {
    let d = Daemon::start();
    assert_eq!(login(&d, "alice", "wonderland")["error"], "ok");
    let time = turnstile::clock::now().to_string();
    let bad = format!(
        "/cgi-bin/rad_user_dm?callback=jsonp&ip=127.0.0.1&username=alice&time={time}&unbind=1&sign=00"
    );
    assert_eq!(jsonp(&get(&d, &bad).2)["error"], "sign_error");
    let sign = dm_sign(&time, "alice", "127.0.0.1", "1");
    let ok = format!(
        "/cgi-bin/rad_user_dm?callback=jsonp&ip=127.0.0.1&username=alice&time={time}&unbind=1&sign={sign}"
    );
    let v = jsonp(&get(&d, &ok).2);
    assert_eq!(v["error"], "logout_ok");
    assert!(v["client_ip"].is_string() && v["online_ip"].is_string());
    let history = d.cli_ok(&["sessions", "--user", "alice"]);
    assert!(history.contains("E4104"), "{history}");
}

#[test]
fn login_attempts_per_address_are_limited() {
    let d = Daemon::start_with("", &[("TURNSTILE__PORTAL__LOGINS_PER_MINUTE", "3")]);
    for _ in 0..3 {
        assert_eq!(login(&d, "alice", "bad")["ecode"], "E2553");
    }
    let v = login(&d, "alice", "wonderland");
    assert_eq!(v["error"], "speed_limit_error", "{v}");
    assert_eq!(v["ecode"], 0);
    d.wait_metric("turnstile_portal_rate_limited_total", 1.0);
}

/// A daemon whose logins on ac_id 1 are activated on a NAS simulator at 127.0.0.7.
fn with_activation(answer: Answer, env: &[(&str, &str)]) -> (Daemon, NasSim) {
    let sim = NasSim::start("127.0.0.7", answer);
    let extra = sim.client_entry("bras", "standard")
        + "[[portal.activation]]\nac_id = \"1\"\nnas = \"bras\"\nservice = \"web-authenticated\"\n";
    (Daemon::start_with(&extra, env), sim)
}

/// The Juniper service VSA of a CoA-Request: (attribute 65 activate | 66 deactivate, name).
fn service_switch(request: &[u8]) -> (u8, String) {
    let p = Packet::parse(request).unwrap();
    assert_eq!(p.code(), Code::CoARequest);
    assert_eq!(p.first(USER_NAME_TYPE), Some(&b"alice"[..]));
    assert_eq!(p.first(FRAMED_IP_ADDRESS_TYPE), Some(&[127, 0, 0, 1][..]));
    let vsa = p.first(VENDOR_SPECIFIC_TYPE).unwrap();
    assert_eq!(vsa[..4], 4874u32.to_be_bytes(), "Juniper ERX");
    assert_eq!(usize::from(vsa[5]), vsa.len() - 4);
    (vsa[4], String::from_utf8_lossy(&vsa[6..]).into_owned())
}

fn last_end(d: &Daemon) -> Vec<Option<String>> {
    d.history(&["user", "cause", "via"]).pop().unwrap()
}

#[test]
fn logins_are_activated_on_the_nas_by_coa() {
    let (d, sim) = with_activation(Answer::Ack, &[]);
    assert_eq!(login(&d, "alice", "wonderland")["error"], "ok");
    let requests = sim.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        service_switch(&requests[0]),
        (65, "web-authenticated".into())
    );
    d.wait_metric(
        r#"turnstile_portal_activations_total{action="activate",result="ack"}"#,
        1.0,
    );
    d.wait_log(&["portal service switched by CoA", "code=E4003"]);

    // Logout deactivates: E2401, by way of E4004.
    let (_, _, body) = get(&d, "/cgi-bin/srun_portal?callback=jsonp&action=logout");
    assert_eq!(jsonp(&body)["error"], "ok");
    assert_eq!(
        service_switch(&sim.requests()[1]),
        (66, "web-authenticated".into())
    );
    let e = |c: &str| Some(c.to_string());
    assert_eq!(last_end(&d), vec![e("alice"), e("2401"), e("4004")]);

    // An operator's kick of a portal session deactivates too.
    assert_eq!(login(&d, "alice", "wonderland")["error"], "ok");
    d.cli_ok(&["kick", "--user", "alice"]);
    assert_eq!(service_switch(&sim.requests()[3]).0, 66);
    assert_eq!(last_end(&d), vec![e("alice"), e("4103"), e("4004")]);
}

/// A second login from an address while the NAS has not yet confirmed the first (a
/// double click) waits for it and finds the address online: one session, one CoA.
#[test]
fn two_logins_from_one_address_make_one_session() {
    let late = Answer::AckAfter(std::time::Duration::from_millis(800));
    let (d, sim) = with_activation(late, &[]);
    let (first, second) = std::thread::scope(|s| {
        let first = s.spawn(|| login(&d, "alice", "wonderland"));
        sim.wait_requests(1);
        let second = login(&d, "alice", "wonderland");
        (first.join().unwrap(), second)
    });
    assert_eq!(first["suc_msg"], "login_ok", "{first}");
    assert_eq!(second["suc_msg"], "ip_already_online_error", "{second}");
    assert_eq!(sim.requests().len(), 1);
    let online = d.online(&["user"]);
    assert_eq!(online, vec![vec![Some("alice".to_string())]]);
}

#[test]
fn a_login_the_nas_does_not_confirm_is_refused() {
    let quick = [
        ("TURNSTILE__DYNAUTH__INITIAL_RETRY_MS", "100"),
        ("TURNSTILE__DYNAUTH__TOTAL_MS", "300"),
    ];
    let (d, sim) = with_activation(Answer::Silence, &quick);
    let v = login(&d, "alice", "wonderland");
    assert_eq!(v["error"], "login_error", "{v}");
    assert_eq!(v["error_msg"], "INFO failed, BAS respond timeout.");
    assert!(!sim.requests().is_empty());
    assert!(!d.cli_ok(&["online"]).contains("alice"));
    let (_, _, body) = get(&d, "/cgi-bin/rad_user_info?callback=jsonp");
    assert_eq!(jsonp(&body)["error"], "not_online_error");
}

/// An activation naming no NAS client is reported at start, and its logins are refused
/// rather than let through unactivated.
#[test]
fn an_activation_without_its_nas_is_reported_and_refuses() {
    let d = Daemon::start_with(
        "[[portal.activation]]\nac_id = \"1\"\nnas = \"nowhere\"\nservice = \"web\"\n",
        &[],
    );
    d.wait_log(&[
        "portal.activation names no single-address NAS client",
        "nowhere",
    ]);
    let v = login(&d, "alice", "wonderland");
    assert_eq!(v["error_msg"], "INFO failed, BAS respond timeout.", "{v}");
    d.wait_metric(
        r#"turnstile_portal_activations_total{action="activate",result="no_nas"}"#,
        1.0,
    );
    assert!(!d.cli_ok(&["online"]).contains("alice"));
}

#[test]
fn a_kick_ends_a_portal_session_without_activation() {
    let d = Daemon::start();
    assert_eq!(login(&d, "alice", "wonderland")["error"], "ok");
    d.cli_ok(&["kick", "--user", "alice"]);
    let e = |c: &str| Some(c.to_string());
    assert_eq!(last_end(&d), vec![e("alice"), e("4103"), None]);
    let (_, _, body) = get(&d, "/cgi-bin/rad_user_info?callback=jsonp");
    assert_eq!(jsonp(&body)["error"], "not_online_error");
}

/// A RADIUS session (say, a BRAS's web authentication) at the caller's own address is
/// logged out by Disconnect-Request to its NAS, and its user sees `rad_user_info` until
/// then; another address's is not.
#[test]
fn logout_disconnects_a_radius_session_at_the_address() {
    let (d, sim) = with_activation(Answer::Ack, &[]);
    let mut nas = common::Nas::accounting("127.0.0.7", &d);
    let start = nas.acct_with(
        1,
        "bras-77",
        "alice",
        &[(FRAMED_IP_ADDRESS_TYPE, &[127, 0, 0, 1])],
    );
    assert_eq!(nas.exchange(&start).code(), Code::AccountingResponse);
    // rad_user_info reports the session's figures: Srun's bytes_in is the download.
    let int = |v: u32| v.to_be_bytes();
    let interim = nas.acct_with(
        3,
        "bras-77",
        "alice",
        &[
            (FRAMED_IP_ADDRESS_TYPE, &[127, 0, 0, 1]),
            (ACCT_SESSION_TIME_TYPE, &int(120)),
            (ACCT_INPUT_OCTETS_TYPE, &int(1000)),
            (ACCT_OUTPUT_OCTETS_TYPE, &int(5000)),
        ],
    );
    assert_eq!(nas.exchange(&interim).code(), Code::AccountingResponse);
    d.cli_ok(&["user", "set", "alice", "--balance", "1250"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    let v = loop {
        let (_, _, body) = get(&d, "/cgi-bin/rad_user_info?callback=jsonp");
        let v = jsonp(&body);
        if v["user_balance"] == 12 {
            break v;
        }
        assert!(std::time::Instant::now() < deadline, "{v}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(v["user_name"], "alice");
    assert_eq!(
        (v["bytes_in"].as_i64(), v["bytes_out"].as_i64()),
        (Some(5000), Some(1000))
    );
    assert_eq!(v["sum_bytes"], 6000);
    assert!(v["sum_seconds"].as_i64().unwrap() >= 120, "{v}");
    assert_eq!(v["online_device_total"], "1");
    // Not from another address, though.
    let mut other = common::Nas::accounting("127.0.0.7", &d);
    let start = other.acct_with(
        1,
        "bras-78",
        "carol",
        &[(FRAMED_IP_ADDRESS_TYPE, &[10, 9, 9, 9])],
    );
    assert_eq!(other.exchange(&start).code(), Code::AccountingResponse);
    let (_, _, body) = get(
        &d,
        "/cgi-bin/srun_portal?callback=jsonp&action=logout&ip=10.9.9.9",
    );
    assert_eq!(jsonp(&body)["error"], "not_online_error");
    assert!(sim.requests().is_empty());
    let (_, _, body) = get(&d, "/cgi-bin/srun_portal?callback=jsonp&action=logout");
    assert_eq!(jsonp(&body)["error"], "ok");
    let requests = sim.requests();
    assert_eq!(
        Packet::parse(&requests[0]).unwrap().code(),
        Code::DisconnectRequest
    );
    let e = |c: &str| Some(c.to_string());
    assert_eq!(last_end(&d), vec![e("alice"), e("2401"), e("4104")]);
}

/// After a portal login that the NAS activated, the NAS's own accounting for the address
/// is what `rad_user_info` reports: it knows the traffic.
#[test]
fn user_info_prefers_the_nas_accounting_of_the_address() {
    let (d, _sim) = with_activation(Answer::Ack, &[]);
    assert_eq!(login(&d, "alice", "wonderland")["suc_msg"], "login_ok");
    let mut nas = common::Nas::accounting("127.0.0.7", &d);
    let int = |v: u32| v.to_be_bytes();
    let start = nas.acct_with(
        1,
        "bras-90",
        "alice",
        &[
            (FRAMED_IP_ADDRESS_TYPE, &[127, 0, 0, 1]),
            (ACCT_INPUT_OCTETS_TYPE, &int(700)),
            (ACCT_OUTPUT_OCTETS_TYPE, &int(9000)),
        ],
    );
    assert_eq!(nas.exchange(&start).code(), Code::AccountingResponse);
    let (_, _, body) = get(&d, "/cgi-bin/rad_user_info?callback=jsonp");
    let v = jsonp(&body);
    assert_eq!(
        (v["bytes_in"].as_i64(), v["bytes_out"].as_i64()),
        (Some(9000), Some(700)),
        "{v}"
    );
    assert_eq!(v["online_device_total"], "2");
}

/// Checklist items 3 and 5: any hmd5 variant is taken as sent (the password travels in
/// `info`), and a name with `@domain` logs in as the account.
#[test]
fn any_hmd5_variant_and_a_domain_suffix() {
    let d = Daemon::start();
    let variants: [fn(&str) -> String; 3] = [
        // Keyed by the password (vector A), plain MD5-looking, and anything at all.
        |t| hmac_md5_hex(b"wonderland", t.as_bytes()),
        |_| "0123456789abcdef0123456789abcdef".into(),
        |_| "whatever".into(),
    ];
    for hmd5_of in variants {
        let v = login_signed(&d, "alice@cmcc", "wonderland", hmd5_of, |_| {});
        assert_eq!(v["error"], "ok", "{v}");
        assert_eq!(v["username"], "alice@cmcc");
        let (_, _, body) = get(&d, "/cgi-bin/rad_user_info?callback=jsonp");
        assert_eq!(jsonp(&body)["user_name"], "alice");
        get(&d, "/cgi-bin/srun_portal?callback=jsonp&action=logout");
    }
}

/// The wrong-password lock is one for RADIUS and the portal; a disabled user is refused
/// at the portal with the code RADIUS gives.
#[test]
fn lock_shared_with_radius_and_disabled_user() {
    let d = Daemon::start();
    for _ in 0..5 {
        assert_eq!(login(&d, "alice", "guess")["ecode"], "E2553");
    }
    let v = login(&d, "alice", "wonderland");
    assert_eq!(v["ecode"], "E2533", "{v}");
    assert_eq!(
        v["error_msg"],
        "E2533: 密码错误次数超过限制，请5分钟后再重试登录"
    );
    let mut nas = common::Nas::new("127.0.0.1", &d);
    let request = nas.pap("alice", "wonderland", true);
    let reply = nas.exchange(&request);
    assert_eq!(reply.code(), Code::AccessReject);
    assert!(
        reply.reply_message().starts_with("E2533"),
        "{}",
        reply.reply_message()
    );

    d.cli_ok(&["user", "set", "carol", "--disabled"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        let v = login(&d, "carol", "chap-secret");
        if v["ecode"] == "E2606" {
            assert_eq!(v["error_msg"], "E2606: 用户被禁用");
            break;
        }
        // Logged in before the change arrived: out again, and retry.
        get(&d, "/cgi-bin/srun_portal?callback=jsonp&action=logout");
        assert!(std::time::Instant::now() < deadline, "{v}");
    }
}

/// A challenge is good for its lifetime only (set to 1 s here; 60 s by default).
#[test]
fn an_expired_challenge_is_refused() {
    let d = Daemon::start_with("", &[("TURNSTILE__PORTAL__CHALLENGE_SECS", "1")]);
    let v = login_with(&d, "alice", "wonderland", |_| {
        // The challenge was issued just before; let its second pass.
        std::thread::sleep(std::time::Duration::from_millis(1100));
    });
    assert_eq!(v["error"], "challenge_expire_error", "{v}");
    assert_eq!(login(&d, "alice", "wonderland")["error"], "ok");
}
