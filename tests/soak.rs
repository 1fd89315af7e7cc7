//! Soak: mixed traffic at a steady rate for a while (`TURNSTILE_SOAK_SECS`, 120 s by
//! default): logins, accounting Start / Interim-Update / Stop, portal logins and logouts,
//! and kicks through the API that the NAS acknowledges. At every sample the daemon's
//! resident memory and open files must stay flat and its online table must hold exactly
//! the sessions the traffic left online; at the end every session started must have ended
//! once. `scripts/soak.sh` runs it for an hour on a release build, with more traffic
//! (`TURNSTILE_SOAK_SCALE`) and bulk logins and accounting from `turnstile-bench` at a
//! fixed rate beside it (`TURNSTILE_SOAK_BULK_AUTH`, `TURNSTILE_SOAK_BULK_ACCT`, requests
//! a second).

mod common;

use common::{Answer, Daemon, Nas, NasSim, SECRET};
use radius::core::code::Code;
use std::collections::VecDeque;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use turnstile::portal::query_escape;
use turnstile::proto::srun::{client_login, hmac_md5_hex};

/// One tick of traffic every this often.
const TICK: Duration = Duration::from_millis(100);
/// RADIUS sessions kept online by the traffic (per unit of scale).
const ONLINE: usize = 40;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What the daemon's process holds.
#[derive(Debug, Clone, Copy)]
struct Footprint {
    rss_kib: u64,
    /// What SQLite holds of it, by the daemon's gauge (refreshed every 5 s).
    sqlite_kib: u64,
    open_files: usize,
}

fn portal_get(d: &Daemon, path: &str) -> serde_json::Value {
    let (status, _, body) = common::http("GET", &format!("http://{}{path}", d.portal), None);
    assert_eq!(status, 200, "{body}");
    common::jsonp(&body)
}

/// A portal login of carol at `ip`, as the official page does it.
fn portal_login(d: &Daemon, ip: &str) {
    let v = portal_get(
        d,
        &format!("/cgi-bin/get_challenge?callback=jsonp&username=carol&ip={ip}"),
    );
    let challenge = v["challenge"].as_str().unwrap().to_string();
    let hmd5 = hmac_md5_hex(challenge.as_bytes(), b"chap-secret");
    let (info, sum) = client_login(&challenge, "carol", "chap-secret", ip, "1", &hmd5);
    let v = portal_get(
        d,
        &format!(
            "/cgi-bin/srun_portal?callback=jsonp&action=login&username=carol&password=%7BMD5%7D{hmd5}&ac_id=1&ip={ip}&chksum={sum}&info={}&n=200&type=1",
            query_escape(&info)
        ),
    );
    assert_eq!(v["error"], "ok", "portal login at {ip}: {v}");
}

fn portal_logout(d: &Daemon, ip: &str) {
    let v = portal_get(
        d,
        &format!("/cgi-bin/srun_portal?callback=jsonp&action=logout&ip={ip}"),
    );
    assert_eq!(v["error"], "ok", "portal logout at {ip}: {v}");
}

/// The sum of every series of `name` in the Prometheus text.
fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// `turnstile-bench` sending `mode` traffic to `server` at `rate` a second for `secs`.
fn bulk(mode: &str, server: std::net::SocketAddr, rate: u64, secs: u64) -> Child {
    let user = if mode == "access" { "alice" } else { "bulk{}" };
    Command::new(env!("CARGO_BIN_EXE_turnstile-bench"))
        .args([
            "--mode",
            mode,
            "--server",
            &server.to_string(),
            "--secret",
            SECRET,
        ])
        .args([
            "--users",
            "1000",
            "--user-format",
            user,
            "--password-format",
            "wonderland",
        ])
        .args([
            "--rate",
            &rate.to_string(),
            "--in-flight",
            "256",
            "--sockets",
            "2",
        ])
        .args([
            "--seconds",
            &secs.to_string(),
            "--warmup-seconds",
            "0",
            "--json",
        ])
        .args(["--label", &format!("soak-{mode}")])
        .stdout(Stdio::piped())
        .spawn()
        .expect("turnstile-bench")
}

/// Waits for a bulk sender; its summary, which must show nothing lost.
fn finish_bulk(child: Child) -> serde_json::Value {
    let out = child.wait_with_output().unwrap();
    let summary = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let v: serde_json::Value =
        serde_json::from_str(&summary).unwrap_or_else(|e| panic!("{e}: {summary}"));
    assert_eq!(v["lost"], 0, "bulk traffic lost requests: {summary}");
    assert_eq!(v["invalid"], 0, "{summary}");
    v
}

/// Sessions of `user` online, through the API.
fn online_of(api: &turnstile::admin::client::ApiClient, user: &str) -> usize {
    let reply = api
        .request("GET", &format!("/api/v1/online?user={user}"), None)
        .unwrap();
    reply.body["data"].as_array().map_or(0, Vec::len)
}

/// The traffic's own account of what it did.
#[derive(Default)]
struct Tally {
    logins: u64,
    starts: u64,
    interims: u64,
    stops: u64,
    kicks: u64,
    portal_logins: u64,
    portal_logouts: u64,
}

#[test]
fn mixed_traffic_keeps_memory_files_and_sessions_flat() {
    let secs = env_or("TURNSTILE_SOAK_SECS", 120);
    let scale = env_or("TURNSTILE_SOAK_SCALE", 1) as usize;
    let sample_every = Duration::from_secs(env_or("TURNSTILE_SOAK_SAMPLE_SECS", 10));
    let (bulk_auth, bulk_acct) = (
        env_or("TURNSTILE_SOAK_BULK_AUTH", 0),
        env_or("TURNSTILE_SOAK_BULK_ACCT", 0),
    );
    let sim = NasSim::start("127.0.0.9", Answer::Ack);
    // Warnings only: the harness keeps every log line, and a line per login for an hour
    // would grow the test process by gigabytes.
    let d = Daemon::start_with(
        &sim.client_entry("soak-nas", "standard"),
        &[("TURNSTILE__TELEMETRY__LOG_LEVEL", "warn")],
    );
    let bulk_senders: Vec<Child> = [
        ("access", d.auth, bulk_auth),
        ("accounting", d.acct, bulk_acct),
    ]
    .into_iter()
    .filter(|(_, _, rate)| *rate > 0)
    .map(|(mode, server, rate)| bulk(mode, server, rate, secs))
    .collect();
    let mut auth = Nas::new("127.0.0.9", &d);
    let mut acct = Nas::accounting("127.0.0.9", &d);
    let api = d.api();

    let mut online: VecDeque<(String, u32)> = VecDeque::new();
    let mut portal_online: VecDeque<String> = VecDeque::new();
    let mut t = Tally::default();
    let (mut serial, mut tick) = (0u64, 0u64);
    let started = Instant::now();
    let mut next_sample = started + sample_every;
    let mut samples: Vec<Footprint> = Vec::new();
    while started.elapsed() < Duration::from_secs(secs) {
        let tick_started = Instant::now();
        tick += 1;
        for _ in 0..10 * scale {
            let request = auth.pap("alice", "wonderland", true);
            assert_eq!(auth.exchange(&request).code(), Code::AccessAccept);
            t.logins += 1;
        }
        for _ in 0..2 * scale {
            serial += 1;
            let id = format!("soak-{serial}");
            let start = acct.acct(1, &id, "alice");
            assert_eq!(acct.exchange(&start).code(), Code::AccountingResponse);
            t.starts += 1;
            online.push_back((id, 0));
        }
        for _ in 0..4 * scale {
            // The oldest session reports and goes to the back.
            let (id, time) = online.pop_front().expect("sessions online");
            let time = time + 60;
            let interim = acct.acct_with(3, &id, "alice", &[(46, &time.to_be_bytes())]);
            assert_eq!(acct.exchange(&interim).code(), Code::AccountingResponse);
            t.interims += 1;
            online.push_back((id, time));
        }
        while online.len() > ONLINE * scale {
            let (id, time) = online.pop_front().unwrap();
            let stop = acct.acct_with(2, &id, "alice", &[(46, &(time + 1).to_be_bytes())]);
            assert_eq!(acct.exchange(&stop).code(), Code::AccountingResponse);
            t.stops += 1;
        }
        if tick % 20 == 0 {
            // An operator's kick: the NAS acknowledges the Disconnect-Request and then
            // sends its Stop, which must not end the session a second time.
            let (id, time) = online.pop_front().unwrap();
            let reply = api
                .request(
                    "POST",
                    "/api/v1/kick",
                    Some(&serde_json::json!({ "session": format!("soak-nas/{id}") })),
                )
                .unwrap();
            assert_eq!(reply.body["code"], 0, "{}", reply.body);
            t.kicks += 1;
            let stop = acct.acct_with(2, &id, "alice", &[(46, &(time + 1).to_be_bytes())]);
            assert_eq!(acct.exchange(&stop).code(), Code::AccountingResponse);
        }
        let ip = format!("10.77.{}.{}", tick / 250 % 250, tick % 250 + 1);
        portal_login(&d, &ip);
        t.portal_logins += 1;
        portal_online.push_back(ip);
        if portal_online.len() > 2 * scale {
            portal_logout(&d, &portal_online.pop_front().unwrap());
            t.portal_logouts += 1;
        }

        if Instant::now() >= next_sample {
            next_sample += sample_every;
            let expected = (online.len(), portal_online.len());
            common::wait_until(
                Duration::from_secs(2),
                || {
                    format!(
                        "online (alice, carol): {:?}, the traffic left {expected:?}",
                        (online_of(&api, "alice"), online_of(&api, "carol"))
                    )
                },
                || ((online_of(&api, "alice"), online_of(&api, "carol")) == expected).then_some(()),
            );
            let f = Footprint {
                rss_kib: d.rss_kib(),
                sqlite_kib: (metric_sum(&d.metrics_text(), "turnstile_sqlite_memory_bytes")
                    / 1024.0) as u64,
                open_files: d.open_files(),
            };
            eprintln!(
                "soak {:>5} s: rss {} KiB (SQLite {} KiB), {} open files, {expected:?} online, {} logins, {} accounting, {} portal logins, {} kicks",
                started.elapsed().as_secs(),
                f.rss_kib,
                f.sqlite_kib,
                f.open_files,
                t.logins,
                t.starts + t.interims + t.stops,
                t.portal_logins,
                t.kicks
            );
            samples.push(f);
        }
        if let Some(rest) = TICK.checked_sub(tick_started.elapsed()) {
            std::thread::sleep(rest);
        }
    }

    // What the bulk accounting may leave online: the sessions of its requests in flight.
    let mut bulk_open = 0;
    for child in bulk_senders {
        let v = finish_bulk(child);
        eprintln!("bulk: {v}");
        if v["label"] == "soak-accounting" {
            bulk_open = v["in_flight"].as_u64().unwrap() * v["sockets"].as_u64().unwrap();
        }
    }
    if bulk_acct > 0 {
        // Each bulk session's Start, Interim-Update and Stop are sent back to back: only
        // those cut off at the end stay online.
        let ours = (online.len() + portal_online.len()) as f64;
        let left = d.metric("turnstile_online_sessions") - ours;
        assert!(
            left <= bulk_open as f64,
            "{left} bulk sessions left online; at most {bulk_open} were in flight"
        );
        // The bulk sender stops in the middle of sessions; its NAS restarting ends them.
        // Sent again until answered, as a NAS does.
        let mut nas = Nas::accounting("127.0.0.1", &d);
        let off = nas.acct(8, "", "");
        let answered = (0..5).find_map(|_| nas.try_exchange(&off));
        assert_eq!(answered.map(|r| r.code()), Some(Code::AccountingResponse));
    }

    // Everything ends; every session started ended exactly once.
    for (id, time) in online.drain(..) {
        let stop = acct.acct_with(2, &id, "alice", &[(46, &(time + 1).to_be_bytes())]);
        assert_eq!(acct.exchange(&stop).code(), Code::AccountingResponse);
        t.stops += 1;
    }
    for ip in portal_online.drain(..) {
        portal_logout(&d, &ip);
        t.portal_logouts += 1;
    }
    let begun = (t.starts + t.portal_logins) as f64;
    assert_eq!(
        t.stops + t.kicks + t.portal_logouts,
        t.starts + t.portal_logins
    );
    let counts = || {
        let text = d.metrics_text();
        (
            metric_sum(&text, "turnstile_sessions_started_total"),
            metric_sum(&text, "turnstile_sessions_ended_total"),
            metric_sum(&text, "turnstile_online_sessions"),
        )
    };
    common::wait_until(
        Duration::from_secs(5),
        || {
            format!(
                "{begun} sessions begun here; the daemon counts (started, ended, online) {:?}",
                counts()
            )
        },
        || {
            let (started, ended, online) = counts();
            // Bulk accounting begins sessions of its own.
            let ours = if bulk_acct > 0 {
                started >= begun
            } else {
                started == begun
            };
            (ours && ended == started && online == 0.0).then_some(())
        },
    );
    assert_eq!(
        sim.requests().len() as u64,
        t.kicks,
        "one Disconnect-Request per kick"
    );

    // Flat: from the middle of the run on, no sample may grow much beyond the largest of
    // the first half. The first half warms the bounded caches up: the reply caches, and
    // SQLite's page cache (16 MiB for each of up to 16 connections) as the history grows.
    assert!(samples.len() >= 4, "too few samples: {}", samples.len());
    let (first, second) = samples.split_at(samples.len() / 2);
    let base_rss = first.iter().map(|f| f.rss_kib).max().unwrap();
    let base_files = first.iter().map(|f| f.open_files).max().unwrap();
    for f in second {
        assert!(
            f.rss_kib <= base_rss + base_rss / 10 + 8 * 1024,
            "resident memory grew from {base_rss} to {} KiB: {samples:?}",
            f.rss_kib
        );
        assert!(
            f.open_files <= base_files + 8,
            "open files grew from {base_files} to {}: {samples:?}",
            f.open_files
        );
    }
}
