//! Overload: clients that hold HTTP connections without finishing a request, and more
//! RADIUS traffic than the daemon can answer.

mod common;

use common::Daemon;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
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

#[test]
fn idle_slow_and_excess_http_clients_are_cut_off_and_counted() {
    let d = Daemon::start_with(
        "\n[http]\nmax_connections = 6\nmax_connections_per_address = 3\nheader_timeout_secs = 1\nconnection_secs = 2\n\n[dynauth]\ntotal_ms = 1000\n",
        &[],
    );
    // Three idle connections from one address fill its share: the fourth is closed at once.
    let idle: Vec<_> = (0..3)
        .map(|_| connect_from("127.0.0.1", d.portal))
        .collect();
    // Accepts are asynchronous: wait until the three are counted before the fourth.
    std::thread::sleep(Duration::from_millis(200));
    let fourth = closed_after(connect_from("127.0.0.1", d.portal));
    assert!(fourth < Duration::from_millis(500), "{fourth:?}");
    d.wait_metric(
        r#"turnstile_http_refused_total{listener="portal",reason="max_connections_per_address"}"#,
        1.0,
    );
    // Three more from another address fill the listener: a third address is refused.
    let more: Vec<_> = (0..3)
        .map(|_| connect_from("127.0.0.2", d.portal))
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let excess = closed_after(connect_from("127.0.0.3", d.portal));
    assert!(excess < Duration::from_millis(500), "{excess:?}");
    d.wait_metric(
        r#"turnstile_http_refused_total{listener="portal",reason="max_connections"}"#,
        1.0,
    );
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

    // A body sent too slowly is cut at the deadline: 2 s of connection, then 1 s for the
    // request in progress. The token is valid, so the handler waits for the body.
    let mut body = connect_from("127.0.0.1", d.api);
    write!(
        body,
        "POST /api/v1/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"name\":",
        d.admin_token()
    )
    .unwrap();
    let held = closed_after(body);
    assert!(
        held > Duration::from_millis(2900) && held < Duration::from_secs(5),
        "slow body held {held:?}"
    );
    d.wait_metric(r#"turnstile_http_timed_out_total{listener="api"}"#, 1.0);
    assert_eq!(
        common::http("GET", &format!("http://{}/metrics", d.metrics), None).0,
        200
    );
}
