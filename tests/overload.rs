//! Overload: clients that hold HTTP connections without finishing a request, and more
//! RADIUS traffic than the daemon can answer.

mod common;

use common::{Daemon, Nas};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A TCP connection to `to` from the loopback address `from`.
fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let local: SocketAddr = format!("{from}:0").parse().unwrap();
    socket.bind(&local.into()).unwrap();
    socket.connect(&to.into()).unwrap();
    let stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// How long until the server closes `stream` (reads until end of stream).
fn closed_after(mut stream: TcpStream) -> Duration {
    let start = Instant::now();
    let mut rest = Vec::new();
    // A reset is a close too.
    let _ = stream.read_to_end(&mut rest);
    start.elapsed()
}

/// Opens three idle portal connections from `fill`, then checks that one more from `next`
/// is closed at once and counted under `reason`; returns the three.
fn fill_then_refused(d: &Daemon, fill: &str, next: &str, reason: &str) -> Vec<TcpStream> {
    let open: Vec<_> = (0..3).map(|_| connect_from(fill, d.portal)).collect();
    // Accepts are asynchronous: wait until the three are counted before the next.
    std::thread::sleep(Duration::from_millis(200));
    let refused = closed_after(connect_from(next, d.portal));
    assert!(refused < Duration::from_millis(500), "{refused:?}");
    d.wait_metric(
        &format!(r#"turnstile_http_refused_total{{listener="portal",reason="{reason}"}}"#),
        1.0,
    );
    open
}

#[test]
fn idle_slow_and_excess_http_clients_are_cut_off_and_counted() {
    let d = Daemon::start_with(
        "\n[http]\nmax_connections = 6\nmax_connections_per_address = 3\nheader_timeout_secs = 1\nrequest_timeout_secs = 2\n\n[dynauth]\ntotal_ms = 1000\n",
        &[],
    );
    // Three idle connections from one address fill its share: the fourth is closed at once.
    let idle = fill_then_refused(&d, "127.0.0.1", "127.0.0.1", "max_connections_per_address");
    // Three more from another address fill the listener: a third address is refused.
    let more = fill_then_refused(&d, "127.0.0.2", "127.0.0.3", "max_connections");
    // Idle connections are closed once the head is late (1 s), freeing the slots.
    for stream in idle.into_iter().chain(more) {
        let held = closed_after(stream);
        assert!(
            held < Duration::from_secs(3),
            "idle connection held {held:?}"
        );
    }
    let (status, _, _) = common::http("GET", &format!("http://{}/", d.portal), None);
    assert_eq!(status, 303, "the portal answers again");

    // A head sent a byte at a time (slowloris) is cut at the header deadline.
    let mut slow = connect_from("127.0.0.1", d.portal);
    let start = Instant::now();
    let head = b"GET /cgi-bin/get_challenge?username=alice HTTP/1.1\r\nHost: x\r\n";
    for byte in head.iter().cycle() {
        if slow.write_all(&[*byte]).is_err() || start.elapsed() > Duration::from_secs(5) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let held = start.elapsed();
    assert!(
        held > Duration::from_millis(900) && held < Duration::from_secs(3),
        "slow head held {held:?}"
    );

    // A kept-alive connection left idle after its request is closed at the header
    // deadline (1 s) too.
    let mut kept = connect_from("127.0.0.1", d.portal);
    kept.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut reply = [0u8; 12];
    kept.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"HTTP/1.1 303");
    let held = closed_after(kept);
    assert!(
        held < Duration::from_millis(1500),
        "idle kept-alive connection held {held:?}"
    );

    // A body sent too slowly gets 408 at the request deadline (2 s). The token is valid,
    // so the handler waits for the body.
    let mut body = connect_from("127.0.0.1", d.api);
    write!(
        body,
        "POST /api/v1/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"name\":",
        d.admin_token()
    )
    .unwrap();
    let start = Instant::now();
    let mut status = [0u8; 12];
    body.read_exact(&mut status).unwrap();
    let held = start.elapsed();
    assert_eq!(&status, b"HTTP/1.1 408");
    assert!(
        held > Duration::from_millis(1900) && held < Duration::from_secs(4),
        "slow body held {held:?}"
    );
    let closed = closed_after(body);
    assert!(
        closed < Duration::from_secs(2),
        "closed {closed:?} after the 408"
    );
    d.wait_metric(r#"turnstile_http_timed_out_total{listener="api"}"#, 1.0);
    assert_eq!(
        common::http("GET", &format!("http://{}/metrics", d.metrics), None).0,
        200
    );
}

/// Datagrams sent from one socket at a steady rate, with the replies that came back.
struct Flood {
    sent: u64,
    /// Replies received while sending.
    answered_in_time: u64,
    /// Replies received in all.
    answered: u64,
}

/// The share of all CPUs' time the hypervisor gave to other guests (steal) since
/// `start`, from `/proc/stat`: on a shared VM it moves the rates measured here.
struct StealMeter {
    began: Instant,
    ticks: u64,
}

impl StealMeter {
    fn ticks() -> u64 {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        stat.lines()
            .find(|l| l.starts_with("cpu "))
            .and_then(|l| l.split_whitespace().nth(8))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    fn start() -> Self {
        StealMeter {
            began: Instant::now(),
            ticks: Self::ticks(),
        }
    }

    /// Percent of the CPUs' time stolen since `start` (ticks of 10 ms, the kernel's
    /// USER_HZ of 100).
    fn percent(&self) -> f64 {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let stolen = Self::ticks().saturating_sub(self.ticks) as f64 / 100.0;
        100.0 * stolen / (self.began.elapsed().as_secs_f64() * cpus)
    }
}

/// Sends `packets` in turn from `from` to `to` at `rate` a second for `duration`,
/// counting the datagrams that come back.
fn flood(
    from: &str,
    to: SocketAddr,
    packets: Arc<Vec<Vec<u8>>>,
    rate: u64,
    duration: Duration,
) -> std::thread::JoinHandle<Flood> {
    let socket = UdpSocket::bind((from, 0)).unwrap();
    socket.connect(to).unwrap();
    std::thread::spawn(move || {
        let reader = socket.try_clone().unwrap();
        reader
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicU64::new(0));
        let counting = {
            let (done, answered) = (done.clone(), answered.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                // Replies still on their way when sending stops count too.
                loop {
                    match reader.recv(&mut buf) {
                        Ok(_) => answered.fetch_add(1, Ordering::Relaxed),
                        Err(_) if done.load(Ordering::Relaxed) => return,
                        Err(_) => 0,
                    };
                }
            })
        };
        let start = Instant::now();
        let mut sent = 0u64;
        while start.elapsed() < duration {
            let due = (rate as f64 * start.elapsed().as_secs_f64()) as u64;
            while sent < due {
                let _ = socket.send(&packets[sent as usize % packets.len()]);
                sent += 1;
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        let answered_in_time = answered.load(Ordering::Relaxed);
        done.store(true, Ordering::Relaxed);
        counting.join().unwrap();
        Flood {
            sent,
            answered_in_time,
            answered: answered.load(Ordering::Relaxed),
        }
    })
}

#[test]
fn accounting_yields_to_authentication_at_twice_its_capacity() {
    let d = Daemon::start_with(
        "",
        &[
            // Packets repeat after a second: they must not be answered from the cache.
            ("TURNSTILE__RADIUS__REPLY_CACHE_SECS", "1"),
            ("TURNSTILE__RADIUS__REPLY_CACHE_MAX_ENTRIES", "50000"),
            ("TURNSTILE__RADIUS__OVERLOAD_ACCOUNTING_PER_SEC", "200"),
        ],
    );
    let mut nas = Nas::new("127.0.0.1", &d);
    let logins: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..40_000)
            .map(|_| nas.pap("alice", "wonderland", true).bytes)
            .collect(),
    );
    let interims: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..40_000u32)
            .map(|i| {
                let time = (i / 100 + 1).to_be_bytes();
                nas.acct_with(3, &format!("ov-{}", i % 100), "alice", &[(46, &time)])
                    .bytes
            })
            .collect(),
    );
    let second = Duration::from_secs(3);
    let rss_before = d.rss_kib();

    // Capacity: what authentication answers when offered more than it can.
    let probe = flood("127.0.0.1", d.auth, logins.clone(), 40_000, second)
        .join()
        .unwrap();
    let capacity = probe.answered / 3;
    assert!(
        probe.answered < probe.sent,
        "not saturated: {} of {}",
        probe.answered,
        probe.sent
    );
    eprintln!("auth capacity {capacity}/s");

    // Twice that, alone, then with accounting at twice that too.
    let steal = StealMeter::start();
    let alone = flood("127.0.0.1", d.auth, logins.clone(), 2 * capacity, second)
        .join()
        .unwrap();
    let steal_alone = steal.percent();
    let steal = StealMeter::start();
    let auth = flood("127.0.0.1", d.auth, logins.clone(), 2 * capacity, second);
    let acct = flood("127.0.0.1", d.acct, interims, 2 * capacity, second);
    let (auth, acct) = (auth.join().unwrap(), acct.join().unwrap());
    let steal_with = steal.percent();
    eprintln!(
        "alone {}/{}; with accounting {}/{}, accounting {}/{} ({} in time); \
         steal {steal_alone:.0} % and {steal_with:.0} %",
        alone.answered,
        alone.sent,
        auth.answered,
        auth.sent,
        acct.answered,
        acct.sent,
        acct.answered_in_time
    );
    // The generator's own threads and the kernel's work on the accounting datagrams
    // share the two CPUs, so authentication keeps most of its rate, not all of it.
    assert!(
        auth.answered * 4 >= alone.answered * 3,
        "authentication fell from {} to {} answers with accounting \
         (CPU time taken by other guests meanwhile: {steal_alone:.0} % and {steal_with:.0} %)",
        alone.answered,
        auth.answered
    );
    // Accounting read 200 a second while authentication was behind, plus what it read
    // in the first samples before that was seen; without yielding it answers as many as
    // authentication does.
    assert!(
        acct.answered_in_time <= 3 * 200 + capacity / 2,
        "accounting answered {} during the overload",
        acct.answered_in_time
    );
    assert!(d.metric("turnstile_auth_behind_total") >= 1.0);

    // Load gone: both answer at once again, and memory stayed bounded.
    let mut login = Nas::new("127.0.0.1", &d);
    common::wait_until(
        Duration::from_secs(2),
        || "authentication did not recover".into(),
        || {
            let request = login.pap("alice", "wonderland", true);
            login.try_exchange(&request).map(|r| r.code())
        },
    );
    let mut acct_nas = Nas::accounting("127.0.0.1", &d);
    let stop = acct_nas.acct(2, "ov-1", "alice");
    assert!(
        acct_nas.try_exchange(&stop).is_some(),
        "accounting did not recover"
    );
    common::wait_until(
        Duration::from_secs(2),
        || "accounting still yielding".into(),
        || (d.metric("turnstile_accounting_yielding") == 0.0).then_some(()),
    );
    let grown = d.rss_kib().saturating_sub(rss_before);
    assert!(grown < 100 * 1024, "resident memory grew by {grown} KiB");
}
