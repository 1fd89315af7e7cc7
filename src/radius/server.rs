//! The RADIUS authentication listener: a fixed pool of worker threads, each owning one
//! socket on the shared port (SO_REUSEPORT).
//!
//! Authentication is pure CPU work on in-memory data, so each worker reads the datagrams
//! waiting on its socket ([`super::batch`]: up to 32 per system call) and answers them in
//! place, sending the replies together: no hand-off between threads, no allocation per
//! queue slot.
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

use super::access::{self, Discard};
use super::backlog::AuthBacklog;
use super::batch::{Received, Replies};
use super::reply_cache::{Lookup, ReplyCache, RequestKey};
use crate::auth::Service;
use crate::config::Settings;
use crate::proto::radius::packet::HEADER_LEN;
use crate::telemetry::RadiusMetrics;
use crate::udp_socket::socket_stats;
use radius::core::code::Code;

/// How often an idle worker looks at the stop flag.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// How often the sockets' kernel queues are sampled: how soon accounting yields to a
/// surge of logins, and resumes after it.
const SAMPLE_INTERVAL: Duration = Duration::from_millis(100);

/// What the workers share: the login service they hand each request to, and the
/// listener's own reply cache and counters.
pub struct AuthContext {
    /// Checks credentials and decides.
    pub service: Arc<Service>,
    /// Replies of recent requests.
    pub cache: ReplyCache,
    /// Hot-path counters.
    pub metrics: RadiusMetrics,
}

impl AuthContext {
    /// The listener's context for `service`, with the reply cache `settings` size.
    pub fn new(settings: &Settings, service: Arc<Service>) -> AuthContext {
        AuthContext {
            service,
            cache: ReplyCache::for_settings(&settings.radius),
            metrics: RadiusMetrics::default(),
        }
    }
}

/// Bound authentication sockets, one per worker.
pub struct AuthServer {
    sockets: Vec<UdpSocket>,
}

/// Running workers; [`AuthWorkers::stop`] ends them.
pub struct AuthWorkers {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    expiry: tokio::task::JoinHandle<()>,
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

    /// Starts the workers, and on the current tokio runtime the upkeep task: reply-cache
    /// expiry, the sockets' counters and `backlog`.
    pub fn start(
        self,
        ctx: Arc<AuthContext>,
        backlog: Arc<AuthBacklog>,
    ) -> io::Result<AuthWorkers> {
        let port = self.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let threads = self
            .sockets
            .into_iter()
            .enumerate()
            .map(|(i, socket)| {
                let (ctx, stop) = (ctx.clone(), stop.clone());
                std::thread::Builder::new()
                    .name(format!("radius-auth-{i}"))
                    .spawn(move || work(&socket, &ctx, &stop))
            })
            .collect::<io::Result<_>>()?;
        let expiry = tokio::spawn(upkeep(ctx, port, backlog, stop.clone()));
        Ok(AuthWorkers {
            stop,
            threads,
            expiry,
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
        self.expiry.abort();
    }
}

fn work(socket: &UdpSocket, ctx: &AuthContext, stop: &AtomicBool) {
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
        for (datagram, source) in received.datagrams() {
            if let Some(reply) = handle_datagram(ctx, datagram, source) {
                replies.push(reply, source);
            }
        }
        replies.flush(socket);
    }
}

/// Handles one datagram; returns the reply to send, if any.
fn handle_datagram(ctx: &AuthContext, datagram: &[u8], source: SocketAddr) -> Option<Arc<[u8]>> {
    let received = Instant::now();
    ctx.metrics.received.increment(1);
    let clients = ctx.service.directory().clients();
    let Some(client) = clients.lookup(source.ip()) else {
        ctx.metrics.dropped("unknown_client");
        return None;
    };
    // Status-Server is never cached (RFC 5997 §3); a header too short for a key is
    // dropped by the parser below.
    let key = match (datagram.first(), datagram.get(4..HEADER_LEN)) {
        (Some(&code), Some(authenticator)) if code == Code::AccessRequest as u8 => authenticator
            .try_into()
            .ok()
            .map(|authenticator| RequestKey {
                source,
                identifier: datagram[1],
                authenticator,
            }),
        _ => None,
    };
    if let Some(key) = key {
        match ctx.cache.begin(key, received) {
            Lookup::New | Lookup::Untracked => {}
            Lookup::InProgress => {
                ctx.metrics.in_progress.increment(1);
                return None;
            }
            Lookup::Cached(reply) => {
                ctx.metrics.resent.increment(1);
                return Some(reply);
            }
        }
    }
    match access::handle(datagram, client, source.ip(), &ctx.service) {
        Ok(reply) => {
            let bytes: Arc<[u8]> = reply.bytes.into();
            if let Some(key) = &key {
                ctx.cache.complete(key, bytes.clone(), Instant::now());
            }
            // Measured to the decision: the reply leaves with the rest of its batch, tens
            // of microseconds later.
            let elapsed = received.elapsed();
            ctx.metrics.latency.record(elapsed.as_secs_f64());
            if reply.status {
                ctx.metrics.status_server.increment(1);
                ctx.metrics.status_reply();
            } else {
                ctx.metrics.access_requests.increment(1);
                let code = reply.code;
                ctx.metrics.access_reply(code);
                tracing::info!(
                    // Debug quoting: a crafted User-Name cannot forge log lines.
                    user = ?reply.user,
                    nas = %client.name,
                    code = %code,
                    us = elapsed.as_micros() as u64,
                    "access decision"
                );
            }
            Some(bytes)
        }
        Err(reason) => {
            if let Some(key) = &key {
                ctx.cache.abandon(key);
            }
            ctx.metrics.dropped(reason.reason());
            if reason == Discard::MissingMessageAuthenticator && client.should_warn() {
                tracing::warn!(
                    nas = %client.name,
                    from = %source,
                    "dropping Access-Request without Message-Authenticator (required for this NAS; warned once a minute)"
                );
            } else {
                tracing::debug!(nas = %client.name, from = %source, reason = reason.reason(), "request dropped");
            }
            None
        }
    }
}

/// Rotates the reply cache once per lifetime, forgets stale login history, and samples
/// the sockets' kernel counters: exported, and fed to `backlog`.
async fn upkeep(
    ctx: Arc<AuthContext>,
    port: u16,
    backlog: Arc<AuthBacklog>,
    stop: Arc<AtomicBool>,
) {
    let mut tick = tokio::time::interval(SAMPLE_INTERVAL);
    let mut rotated = Instant::now();
    let overflow =
        metrics::counter!("turnstile_radius_dropped_total", "reason" => "socket_overflow");
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        if rotated.elapsed() >= ctx.cache.lifetime() {
            rotated = Instant::now();
            // Freed here, on a blocking thread, not on a packet path.
            let old = ctx.cache.rotate();
            tokio::task::spawn_blocking(move || drop(old));
            ctx.service
                .authenticator
                .throttle
                .prune(crate::clock::now());
        }
        metrics::gauge!("turnstile_reply_cache_entries").set(ctx.cache.len() as f64);
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
