//! The RADIUS authentication listener: a fixed pool of worker threads, each owning one
//! socket on the shared port (SO_REUSEPORT), handing every datagram to its
//! [`RequestHandler`].
//!
//! Authentication is CPU work on in-memory data, so each worker reads the datagrams
//! waiting on its socket ([`super::batch`]: up to 32 per system call) and has them
//! answered in place, sending the replies together: no hand-off between threads, no
//! allocation per queue slot. Work too slow for that (a TLS handshake) can be answered
//! later, from another thread, through [`Datagram::responder`].
//! The bounded queue is each socket's kernel receive buffer (`recv_buffer_bytes`); when
//! it is full the kernel drops the datagram, and that count is exported as
//! `turnstile_radius_dropped_total{reason="socket_overflow"}`. Memory cannot grow with
//! load.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::backlog::AuthBacklog;
use super::batch::{Received, Replies};
use crate::udp_socket::socket_stats;

/// How often an idle worker looks at the stop flag.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// How often the sockets' kernel queues are sampled (how soon accounting yields to a
/// surge of logins, and resumes after it) and the handler's upkeep runs.
const SAMPLE_INTERVAL: Duration = Duration::from_millis(100);

/// One datagram as a worker read it.
pub struct Datagram<'a> {
    /// Its bytes.
    pub bytes: &'a [u8],
    /// Where it came from.
    pub source: SocketAddr,
    /// When the worker read it.
    pub received: Instant,
    socket: &'a Arc<UdpSocket>,
}

impl Datagram<'_> {
    /// A way to answer this datagram later, from any thread.
    pub fn responder(&self) -> Responder {
        Responder {
            socket: self.socket.clone(),
            to: self.source,
        }
    }
}

/// Sends one deferred reply from the socket its request came in on.
pub struct Responder {
    socket: Arc<UdpSocket>,
    to: SocketAddr,
}

impl Responder {
    /// Sends `reply` to the request's source.
    pub fn send(self, reply: &[u8]) -> io::Result<()> {
        self.socket.send_to(reply, self.to).map(drop)
    }
}

/// What the listener hands each datagram to: the listener owns the sockets, the batches
/// and the upkeep; the handler decides what, if anything, to answer.
pub trait RequestHandler: Send + Sync + 'static {
    /// The reply to send now, if any (none: dropped, or answered later through
    /// [`Datagram::responder`]).
    fn handle(&self, datagram: &Datagram<'_>) -> Option<Arc<[u8]>>;

    /// Periodic upkeep of what the handler keeps (expiry, pruning), on the runtime.
    fn upkeep(&self) {}
}

/// Bound authentication sockets, one per worker.
pub struct AuthServer {
    sockets: Vec<UdpSocket>,
}

/// Running workers; [`AuthWorkers::stop`] ends them.
pub struct AuthWorkers {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    upkeep: tokio::task::JoinHandle<()>,
}

fn reuseport_socket(addr: SocketAddr, recv_buffer: usize) -> io::Result<UdpSocket> {
    let socket = crate::udp_socket::open(addr, recv_buffer, true)?;
    socket.set_read_timeout(Some(POLL_INTERVAL))?;
    Ok(socket.into())
}

impl AuthServer {
    /// Binds one socket per worker to `addr` (port 0 picks one port for all of them).
    pub fn bind(addr: SocketAddr, workers: usize, recv_buffer: usize) -> io::Result<AuthServer> {
        let first = reuseport_socket(addr, recv_buffer)?;
        let addr = first.local_addr()?;
        let mut sockets = vec![first];
        for _ in 1..workers.max(1) {
            sockets.push(reuseport_socket(addr, recv_buffer)?);
        }
        Ok(AuthServer { sockets })
    }

    /// The address the sockets are bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sockets[0].local_addr()
    }

    /// Bytes the sockets' kernel receive buffers hold in all (as the kernel granted them).
    pub fn receive_capacity(&self) -> u64 {
        self.sockets
            .iter()
            .map(|s| socket2::SockRef::from(s).recv_buffer_size().unwrap_or(0) as u64)
            .sum()
    }

    /// Starts the workers, each handing its datagrams to `handler`, and on the current
    /// tokio runtime the upkeep task: the handler's, the sockets' counters and `backlog`.
    pub fn start<H: RequestHandler>(
        self,
        handler: Arc<H>,
        backlog: Arc<AuthBacklog>,
    ) -> io::Result<AuthWorkers> {
        let port = self.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let threads = self
            .sockets
            .into_iter()
            .enumerate()
            .map(|(i, socket)| {
                let (handler, stop) = (handler.clone(), stop.clone());
                std::thread::Builder::new()
                    .name(format!("radius-auth-{i}"))
                    .spawn(move || work(&Arc::new(socket), &*handler, &stop))
            })
            .collect::<io::Result<_>>()?;
        let upkeep = tokio::spawn(upkeep(handler, port, backlog, stop.clone()));
        Ok(AuthWorkers {
            stop,
            threads,
            upkeep,
        })
    }
}

impl AuthWorkers {
    /// Stops the workers and waits for them.
    pub async fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let threads = self.threads;
        let _ = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        })
        .await;
        self.upkeep.abort();
    }
}

fn work(socket: &Arc<UdpSocket>, handler: &impl RequestHandler, stop: &AtomicBool) {
    let mut received = Received::default();
    let mut replies = Replies::default();
    while !stop.load(Ordering::Relaxed) {
        if let Err(e) = received.recv(socket) {
            if !matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
            ) {
                tracing::debug!(error = %e, "recv failed");
            }
            continue;
        }
        let now = Instant::now();
        for (bytes, source) in received.datagrams() {
            let datagram = Datagram {
                bytes,
                source,
                received: now,
                socket,
            };
            if let Some(reply) = handler.handle(&datagram) {
                replies.push(reply, source);
            }
        }
        replies.flush(&**socket);
    }
}

/// Runs the handler's upkeep and samples the sockets' kernel counters: exported, and fed
/// to `backlog`.
async fn upkeep(
    handler: Arc<impl RequestHandler>,
    port: u16,
    backlog: Arc<AuthBacklog>,
    stop: Arc<AtomicBool>,
) {
    let mut tick = tokio::time::interval(SAMPLE_INTERVAL);
    let overflow =
        metrics::counter!("turnstile_radius_dropped_total", "reason" => "socket_overflow");
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        handler.upkeep();
        let Some(stats) = socket_stats(port) else {
            continue;
        };
        overflow.absolute(stats.drops);
        metrics::gauge!("turnstile_radius_socket_queue_bytes").set(stats.queued_bytes as f64);
        match backlog.observe(&stats) {
            Some(true) => {
                metrics::counter!("turnstile_auth_behind_total").increment(1);
                metrics::gauge!("turnstile_accounting_yielding").set(1.0);
                tracing::warn!(
                    queued_bytes = stats.queued_bytes,
                    drops = stats.drops,
                    "authentication is falling behind: accounting yields until it catches up"
                );
            }
            Some(false) => {
                metrics::gauge!("turnstile_accounting_yielding").set(0.0);
                tracing::info!("authentication caught up: accounting runs at full speed");
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Answers a datagram starting with `n` at once, any other later from a thread of
    /// its own, as a handler with slow work would.
    #[derive(Default)]
    struct Echo {
        upkeeps: AtomicUsize,
    }

    impl RequestHandler for Echo {
        fn handle(&self, datagram: &Datagram<'_>) -> Option<Arc<[u8]>> {
            if datagram.bytes.first() == Some(&b'n') {
                return Some([b"now:", datagram.bytes].concat().into());
            }
            let (responder, bytes) = (datagram.responder(), datagram.bytes.to_vec());
            std::thread::spawn(move || responder.send(&[b"later:", &bytes[..]].concat()));
            None
        }

        fn upkeep(&self) {
            self.upkeeps.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_handler_answers_now_or_later_and_gets_its_upkeep() {
        let server = AuthServer::bind("127.0.0.1:0".parse().unwrap(), 2, 1 << 16).unwrap();
        let address = server.local_addr().unwrap();
        let handler = Arc::new(Echo::default());
        let backlog = Arc::new(AuthBacklog::new(server.receive_capacity()));
        let workers = server.start(handler.clone(), backlog).unwrap();

        let nas = UdpSocket::bind("127.0.0.1:0").unwrap();
        nas.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        nas.send_to(b"n1", address).unwrap();
        nas.send_to(b"l2", address).unwrap();
        let mut replies = Vec::new();
        let mut buf = [0u8; 64];
        for _ in 0..2 {
            let (n, from) = nas.recv_from(&mut buf).unwrap();
            assert_eq!(from, address, "answered from the port it was sent to");
            replies.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        replies.sort();
        assert_eq!(replies, ["later:l2", "now:n1"]);

        let waited = Instant::now();
        while handler.upkeeps.load(Ordering::Relaxed) == 0 {
            assert!(waited.elapsed() < Duration::from_secs(5), "no upkeep");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        workers.stop().await;
    }
}
