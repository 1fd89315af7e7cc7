//! Load generator: PAP Access-Requests with Message-Authenticator over UDP, a fixed
//! number in flight spread over several sockets. Prints requests/s, latency percentiles
//! and lost requests. Works against any RADIUS server (turnstile, FreeRADIUS).
//!
//! ```text
//! turnstile-bench --server 127.0.0.1:1812 --secret testing123 \
//!     --users 10000 --user-format 'bench{}' --password-format 'pw{}' \
//!     --in-flight 256 --sockets 4 --seconds 10
//! ```
//!
//! It also loads the portal (`--mode portal`) and the operator API (`--mode api-create`,
//! `--mode api-page`).

use clap::Parser;
use radius::core::code::Code;
use radius::core::rfc2865::{
    CALLING_STATION_ID_TYPE, FRAMED_IP_ADDRESS_TYPE, NAS_IP_ADDRESS_TYPE, USER_NAME_TYPE,
    USER_PASSWORD_TYPE,
};
use radius::core::rfc2866::{
    ACCT_INPUT_OCTETS_TYPE, ACCT_OUTPUT_OCTETS_TYPE, ACCT_SESSION_ID_TYPE, ACCT_SESSION_TIME_TYPE,
    ACCT_STATUS_TYPE_TYPE,
};
use radius::core::rfc2869::NAS_PORT_ID_TYPE;
use rand::RngCore;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use turnstile::proto::radius::crypto::{hide_password, verify_response, SharedSecret};
use turnstile::proto::radius::packet::{Packet, PacketBuilder};

#[derive(Parser, Clone)]
#[command(about = "RADIUS Access-Request load generator")]
struct Opts {
    /// Server address.
    #[arg(long, default_value = "127.0.0.1:1812")]
    server: SocketAddr,
    /// Shared secret.
    #[arg(long, default_value = "testing123")]
    secret: String,
    /// Number of distinct users; user i is `user_format` with `{}` replaced by i.
    #[arg(long, default_value_t = 1)]
    users: usize,
    /// User name pattern.
    #[arg(long, default_value = "demo")]
    user_format: String,
    /// Password pattern.
    #[arg(long, default_value = "demo123")]
    password_format: String,
    /// Requests in flight, in total.
    #[arg(long, default_value_t = 256)]
    in_flight: usize,
    /// Client sockets (each its own thread; at most 256 in flight per socket).
    #[arg(long, default_value_t = 4)]
    sockets: usize,
    /// Measured duration.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Requests per second in all, spread over the sockets (RADIUS modes); 0: as many as
    /// the window in flight allows.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Unmeasured warm-up before it.
    #[arg(long, default_value_t = 1)]
    warmup_seconds: u64,
    /// A request unanswered after this many milliseconds is counted lost.
    #[arg(long, default_value_t = 1000)]
    timeout_ms: u64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Label for the output.
    #[arg(long, default_value = "server")]
    label: String,
    /// `access` sends Access-Requests; `accounting` sends, per session, Start,
    /// Interim-Update and Stop (counted as accepted when answered); `portal` runs
    /// `in-flight` HTTP clients against `--server` (the portal's address), each doing
    /// get_challenge + login (measured), from a new client address each time (as
    /// students arriving), or from one address with a logout after each login
    /// (`--portal-logout`).
    #[arg(long, default_value = "access")]
    mode: Mode,
    /// Portal mode: log out after each login and log in again from the same address.
    #[arg(long)]
    portal_logout: bool,
    /// Also send what a BRAS sends about the subscriber, derived from user i:
    /// Calling-Station-Id 02-00-00-II-II-II, Framed-IP-Address 10.II.II.II and
    /// NAS-Port-Id 0/1/0:100.
    #[arg(long)]
    with_station: bool,
    /// Accounting mode: Interim-Update and Stop report usage (session time and octets),
    /// so a server that rates usage has something to rate.
    #[arg(long)]
    with_usage: bool,
    /// API modes: the bearer token (an operator's or admin's).
    #[arg(long, default_value = "")]
    token: String,
}

#[derive(Default)]
struct Tally {
    sent: u64,
    accepts: u64,
    rejects: u64,
    invalid: u64,
    lost: u64,
    latencies_us: Vec<u32>,
}

struct Slot {
    sent_at: Instant,
    authenticator: [u8; 16],
    measured: bool,
}

/// What the generator sends.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Mode {
    /// PAP Access-Requests.
    Access,
    /// Accounting-Requests: Start, Interim-Update, Stop for each session in turn.
    Accounting,
    /// Srun portal logins over HTTP.
    Portal,
    /// Operator API: `in-flight` clients creating users (`user_format` with `{}`
    /// replaced by a number unique to the client and the request).
    ApiCreate,
    /// Operator API: `in-flight` clients reading random pages of 100 users out of
    /// `--users`.
    ApiPage,
}

/// One HTTP/1.1 GET on a kept-alive connection; returns the body. The request goes out
/// in one write and the reply is read through a buffer, so that the client costs the
/// machine little next to the server it measures.
fn http_get(
    stream: &mut std::io::BufReader<std::net::TcpStream>,
    host: &str,
    path: &str,
) -> std::io::Result<String> {
    use std::io::{BufRead, Read, Write};
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n");
    stream.get_mut().write_all(request.as_bytes())?;
    let mut len = None;
    let mut line = String::new();
    loop {
        line.clear();
        if stream.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                len = value.trim().parse().ok();
            }
        }
    }
    let mut body = vec![0u8; len.ok_or(std::io::ErrorKind::InvalidData)?];
    stream.read_exact(&mut body)?;
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// One portal client (number T): logs in from a new address 10.T.x.y each time, as the
/// next of the users it takes turns through with the other clients; or, with
/// `--portal-logout`, logs in and out as one user from one address.
fn run_portal_client(
    tag: usize,
    opts: Opts,
    measuring: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> Tally {
    use turnstile::portal::query_escape;
    use turnstile::proto::srun::{client_login, hmac_md5_hex};
    let mut tally = Tally::default();
    let host = opts.server.to_string();
    let mut n = 0u32;
    let connect = || {
        let stream = std::net::TcpStream::connect(opts.server)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_millis(opts.timeout_ms)))?;
        Ok::<_, std::io::Error>(std::io::BufReader::new(stream))
    };
    let Ok(mut stream) = connect() else {
        return tally;
    };
    while !stop.load(Ordering::Relaxed) {
        let ip = format!("10.{}.{}.{}", tag % 256, n >> 8 & 255, n & 255);
        // Clients take turns through the users: user tag, tag + in-flight, …
        let i = (tag + opts.in_flight * n as usize) % opts.users.max(1);
        let user = opts.user_format.replace("{}", &i.to_string());
        let password = opts.password_format.replace("{}", &i.to_string());
        if !opts.portal_logout {
            n = (n + 1) % 65536;
        }
        let started = Instant::now();
        let measured = measuring.load(Ordering::Relaxed);
        let result = (|| -> std::io::Result<bool> {
            let body = http_get(
                &mut stream,
                &host,
                &format!("/cgi-bin/get_challenge?callback=jsonp&username={user}&ip={ip}"),
            )?;
            let challenge = body
                .split("\"challenge\":\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or("")
                .to_string();
            let hmd5 = hmac_md5_hex(challenge.as_bytes(), password.as_bytes());
            let (info, sum) = client_login(&challenge, &user, &password, &ip, "1", &hmd5);
            let path = format!(
                "/cgi-bin/srun_portal?callback=jsonp&action=login&username={user}&password=%7BMD5%7D{hmd5}&ac_id=1&ip={ip}&chksum={sum}&info={}&n=200&type=1",
                query_escape(&info)
            );
            let body = http_get(&mut stream, &host, &path)?;
            Ok(body.contains("\"suc_msg\":\"login_ok\""))
        })();
        match result {
            Ok(accepted) => {
                if measured {
                    tally.sent += 1;
                    if accepted {
                        tally.accepts += 1;
                    } else {
                        tally.rejects += 1;
                    }
                    tally
                        .latencies_us
                        .push(started.elapsed().as_micros().min(u32::MAX as u128) as u32);
                }
            }
            Err(_) => {
                tally.lost += u64::from(measured);
                match connect() {
                    Ok(s) => stream = s,
                    Err(_) => return tally,
                }
                continue;
            }
        }
        if opts.portal_logout {
            let _ = http_get(
                &mut stream,
                &host,
                &format!("/cgi-bin/srun_portal?callback=jsonp&action=logout&ip={ip}"),
            );
        }
    }
    tally
}

/// Request `n` of socket `tag` in accounting mode: session n / 3 (named after the label,
/// so generators with different labels never share a session), status Start, Interim,
/// Stop by n % 3. Its authenticator is the signature.
fn build_accounting(opts: &Opts, tag: usize, id: u8, n: usize) -> Vec<u8> {
    let user = opts
        .user_format
        .replace("{}", &(n / 3 % opts.users.max(1)).to_string());
    let session = format!("{}-{tag}-{}", opts.label, n / 3);
    let status = [1u32, 3, 2][n % 3];
    let mut b = PacketBuilder::new(Code::AccountingRequest, id)
        .u32_attribute(ACCT_STATUS_TYPE_TYPE, status)
        .and_then(|b| b.attribute(ACCT_SESSION_ID_TYPE, session.as_bytes()))
        .and_then(|b| b.attribute(USER_NAME_TYPE, user.as_bytes()))
        .and_then(|b| b.attribute(NAS_IP_ADDRESS_TYPE, &[127, 0, 0, 1]))
        .expect("small packet");
    if opts.with_usage && status != 1 {
        // Interim: a minute, 1 MB up, 5 MB down; Stop: twice that.
        let k = if status == 3 { 1 } else { 2 };
        b = b
            .u32_attribute(ACCT_SESSION_TIME_TYPE, 60 * k)
            .and_then(|b| b.u32_attribute(ACCT_INPUT_OCTETS_TYPE, 1_000_000 * k))
            .and_then(|b| b.u32_attribute(ACCT_OUTPUT_OCTETS_TYPE, 5_000_000 * k))
            .expect("small packet");
    }
    b.finish_signed_request(&SharedSecret::new(opts.secret.as_bytes()))
}

fn build(opts: &Opts, id: u8, n: usize, auth: &[u8; 16]) -> Vec<u8> {
    let i = n % opts.users.max(1);
    let user = opts.user_format.replace("{}", &i.to_string());
    let password = opts.password_format.replace("{}", &i.to_string());
    let hidden = hide_password(password.as_bytes(), opts.secret.as_bytes(), auth)
        .expect("password of at most 128 bytes");
    let mut b = PacketBuilder::new(Code::AccessRequest, id)
        .message_authenticator()
        .attribute(USER_NAME_TYPE, user.as_bytes())
        .and_then(|b| b.attribute(USER_PASSWORD_TYPE, &hidden))
        .and_then(|b| b.attribute(NAS_IP_ADDRESS_TYPE, &[127, 0, 0, 1]))
        .expect("small packet");
    if opts.with_station {
        let [_, x, y, z] = (i as u32).to_be_bytes();
        let mac = format!("02-00-00-{x:02x}-{y:02x}-{z:02x}");
        b = b
            .attribute(CALLING_STATION_ID_TYPE, mac.as_bytes())
            .and_then(|b| b.attribute(FRAMED_IP_ADDRESS_TYPE, &[10, x, y, z]))
            .and_then(|b| b.attribute(NAS_PORT_ID_TYPE, b"0/1/0:100"))
            .expect("small packet");
    }
    b.finish_access_request(auth, &SharedSecret::new(opts.secret.as_bytes()))
}

fn run_socket(
    tag: usize,
    opts: Opts,
    window: usize,
    measuring: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> Tally {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)
        .expect("client socket");
    // Room for a full window of replies, so that the client itself never drops one.
    let _ = socket.set_recv_buffer_size(4 << 20);
    socket
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .expect("bind client socket");
    let socket: UdpSocket = socket.into();
    socket.connect(opts.server).expect("connect");
    socket
        .set_read_timeout(Some(Duration::from_millis(2)))
        .expect("timeout");
    let timeout = Duration::from_millis(opts.timeout_ms);
    let mut slots: Vec<Option<Slot>> = (0..256).map(|_| None).collect();
    let mut free: Vec<u8> = (0..=255u8).rev().collect();
    let mut tally = Tally::default();
    let mut rng = rand::thread_rng();
    let mut n = 0usize;
    let mut buf = [0u8; 4096];
    let mut last_sweep = Instant::now();
    let mut outstanding = 0usize;
    let began = Instant::now();
    let per_socket_rate = opts.rate as f64 / opts.sockets.max(1) as f64;
    // With --rate, no more than the rate allows so far.
    let due = || {
        if opts.rate == 0 {
            usize::MAX
        } else {
            (began.elapsed().as_secs_f64() * per_socket_rate) as usize
        }
    };
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        if stopping && outstanding == 0 {
            break;
        }
        while !stopping && outstanding < window && n < due() {
            let Some(id) = free.pop() else { break };
            let mut auth = [0u8; 16];
            let packet = match opts.mode {
                // Portal clients run in run_portal_client.
                Mode::Access | Mode::Portal | Mode::ApiCreate | Mode::ApiPage => {
                    rng.fill_bytes(&mut auth);
                    build(&opts, id, n, &auth)
                }
                Mode::Accounting => {
                    let packet = build_accounting(&opts, tag, id, n);
                    auth.copy_from_slice(&packet[4..20]);
                    packet
                }
            };
            n += 1;
            if socket.send(&packet).is_err() {
                free.push(id);
                break;
            }
            let measured = measuring.load(Ordering::Relaxed);
            tally.sent += u64::from(measured);
            slots[id as usize] = Some(Slot {
                sent_at: Instant::now(),
                authenticator: auth,
                measured,
            });
            outstanding += 1;
        }
        match socket.recv(&mut buf) {
            Ok(len) => {
                let Ok(reply) = Packet::parse(&buf[..len]) else {
                    tally.invalid += 1;
                    continue;
                };
                let id = reply.identifier();
                let Some(slot) = slots[id as usize].take() else {
                    continue; // a late reply to a request already counted lost
                };
                free.push(id);
                outstanding -= 1;
                if !slot.measured {
                    continue;
                }
                if !verify_response(reply.bytes(), &slot.authenticator, opts.secret.as_bytes()) {
                    tally.invalid += 1;
                    continue;
                }
                match reply.code() {
                    Code::AccessAccept | Code::AccountingResponse => tally.accepts += 1,
                    Code::AccessReject => tally.rejects += 1,
                    _ => tally.invalid += 1,
                }
                tally
                    .latencies_us
                    .push(slot.sent_at.elapsed().as_micros().min(u32::MAX as u128) as u32);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => {}
        }
        if last_sweep.elapsed() > Duration::from_millis(50) {
            last_sweep = Instant::now();
            for (id, slot) in slots.iter_mut().enumerate() {
                if slot.as_ref().is_some_and(|s| s.sent_at.elapsed() > timeout) {
                    let s = slot.take().expect("checked");
                    tally.lost += u64::from(s.measured);
                    free.push(id as u8);
                    outstanding -= 1;
                }
            }
        }
    }
    tally
}

/// One operator-API client (number T), creating users or reading pages until stopped.
fn run_api_client(
    tag: usize,
    opts: Opts,
    measuring: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> Tally {
    let mut tally = Tally::default();
    let api = turnstile::admin::client::ApiClient::new(
        &format!("http://{}", opts.server),
        &opts.token,
        Duration::from_millis(opts.timeout_ms),
    );
    let pages = (opts.users / 100).max(1) as u64;
    let mut n = 0usize;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let measured = measuring.load(Ordering::Relaxed);
        let started = Instant::now();
        let reply = match opts.mode {
            Mode::ApiCreate => {
                let id = (tag * 10_000_000 + n).to_string();
                let body = serde_json::json!({
                    "name": opts.user_format.replace("{}", &id),
                    "password": opts.password_format.replace("{}", &id),
                });
                api.request("POST", "/api/v1/users", Some(&body))
            }
            _ => {
                let page = 1 + rand::random::<u64>() % pages;
                api.request("GET", &format!("/api/v1/users?page={page}&limit=100"), None)
            }
        };
        if !measured {
            continue;
        }
        tally.sent += 1;
        match reply {
            Ok(r) if r.body["code"] == 0 => {
                tally.accepts += 1;
                tally
                    .latencies_us
                    .push(started.elapsed().as_micros() as u32);
            }
            Ok(_) => {
                tally.rejects += 1;
                tally
                    .latencies_us
                    .push(started.elapsed().as_micros() as u32);
            }
            Err(_) => tally.lost += 1,
        }
    }
    tally
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

fn main() {
    let opts = Opts::parse();
    let sockets = opts.sockets.max(1);
    let per_socket = opts.in_flight.div_ceil(sockets).min(256);
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let http = matches!(opts.mode, Mode::Portal | Mode::ApiCreate | Mode::ApiPage);
    let clients = if http { opts.in_flight.max(1) } else { sockets };
    let threads: Vec<_> = (0..clients)
        .map(|tag| {
            let (o, m, s) = (opts.clone(), measuring.clone(), stop.clone());
            match o.mode {
                Mode::Portal => std::thread::spawn(move || run_portal_client(tag, o, m, s)),
                Mode::ApiCreate | Mode::ApiPage => {
                    std::thread::spawn(move || run_api_client(tag, o, m, s))
                }
                _ => std::thread::spawn(move || run_socket(tag, o, per_socket, m, s)),
            }
        })
        .collect();
    std::thread::sleep(Duration::from_secs(opts.warmup_seconds));
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(opts.seconds));
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut total = Tally::default();
    for t in threads {
        let t = t.join().expect("bench thread");
        total.sent += t.sent;
        total.accepts += t.accepts;
        total.rejects += t.rejects;
        total.invalid += t.invalid;
        total.lost += t.lost;
        total.latencies_us.extend(t.latencies_us);
    }
    total.latencies_us.sort_unstable();
    let answered = total.latencies_us.len() as f64;
    let rate = answered / elapsed;
    let (p50, p99, p999) = (
        percentile(&total.latencies_us, 0.50),
        percentile(&total.latencies_us, 0.99),
        percentile(&total.latencies_us, 0.999),
    );
    if opts.json {
        println!(
            "{{\"label\":\"{}\",\"requests_per_sec\":{rate:.0},\"sent\":{},\"accepts\":{},\"rejects\":{},\"invalid\":{},\"lost\":{},\"p50_ms\":{p50:.3},\"p99_ms\":{p99:.3},\"p999_ms\":{p999:.3},\"in_flight\":{},\"sockets\":{sockets}}}",
            opts.label, total.sent, total.accepts, total.rejects, total.invalid, total.lost, per_socket * sockets
        );
    } else {
        let concurrency = if http {
            format!("{clients} clients")
        } else {
            format!("{} in flight on {sockets} sockets", per_socket * sockets)
        };
        println!(
            "{}: {rate:.0} requests/s over {elapsed:.1} s, {concurrency}",
            opts.label
        );
        println!(
            "  sent {}  accepted {}  rejected {}  invalid {}  lost {}",
            total.sent, total.accepts, total.rejects, total.invalid, total.lost
        );
        println!("  latency p50 {p50:.3} ms  p99 {p99:.3} ms  p999 {p999:.3} ms");
    }
}
