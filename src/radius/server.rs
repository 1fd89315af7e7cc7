//! The RADIUS authentication listener: sockets, a bounded queue and a fixed pool of
//! workers.
//!
//! Readers (one per socket, all sharing the port through SO_REUSEPORT) do only what
//! must happen before queuing: drop unknown sources, answer retransmissions from the
//! [`ReplyCache`], and register new requests in it. Workers do the rest. When the queue
//! is full a request is dropped and counted: memory stays bounded under any load.

use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::watch;

use super::access::{self, Discard};
use super::clients::NasClient;
use super::packet::{HEADER_LEN, MAX_PACKET_LEN};
use super::reply_cache::{Lookup, ReplyCache, RequestKey};
use crate::codes::Lang;
use crate::directory::Directory;
use crate::telemetry::RadiusMetrics;
use radius::core::code::Code;

/// What the workers share.
pub struct AuthContext {
    /// Users and NAS clients.
    pub directory: Arc<Directory>,
    /// Replies of recent requests.
    pub cache: ReplyCache,
    /// Language of Reply-Message.
    pub lang: Lang,
    /// Hot-path counters.
    pub metrics: RadiusMetrics,
}

struct Job {
    socket: Arc<UdpSocket>,
    source: SocketAddr,
    datagram: Vec<u8>,
    client: Arc<NasClient>,
    key: Option<RequestKey>,
    received: Instant,
}

/// Bound authentication sockets, ready to serve.
pub struct AuthServer {
    sockets: Vec<Arc<UdpSocket>>,
    workers: usize,
    queue_capacity: usize,
}

fn reuseport_socket(addr: SocketAddr, recv_buffer: usize) -> io::Result<std::net::UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    // The kernel may cap this at net.core.rmem_max; a smaller buffer still works.
    let _ = socket.set_recv_buffer_size(recv_buffer);
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

impl AuthServer {
    /// Binds `sockets` sockets to `addr` (port 0 picks one port for all of them).
    pub fn bind(
        addr: SocketAddr,
        sockets: usize,
        recv_buffer: usize,
        workers: usize,
        queue_capacity: usize,
    ) -> io::Result<AuthServer> {
        let first = reuseport_socket(addr, recv_buffer)?;
        let addr = first.local_addr()?;
        let mut all = vec![first];
        for _ in 1..sockets.max(1) {
            all.push(reuseport_socket(addr, recv_buffer)?);
        }
        let sockets = all
            .into_iter()
            .map(|s| UdpSocket::from_std(s).map(Arc::new))
            .collect::<io::Result<_>>()?;
        Ok(AuthServer {
            sockets,
            workers: workers.max(1),
            queue_capacity,
        })
    }

    /// The address the sockets are bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sockets[0].local_addr()
    }

    /// Serves until `shutdown` turns true.
    pub async fn run(self, ctx: Arc<AuthContext>, shutdown: watch::Receiver<bool>) {
        let (tx, rx) = async_channel::bounded::<Job>(self.queue_capacity);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..self.workers {
            tasks.spawn(work(ctx.clone(), rx.clone()));
        }
        for socket in &self.sockets {
            tasks.spawn(read(socket.clone(), ctx.clone(), tx.clone(), shutdown.clone()));
        }
        tasks.spawn(purge_cache(ctx.clone(), tx.clone(), shutdown.clone()));
        drop((tx, rx));
        while tasks.join_next().await.is_some() {}
    }
}

async fn read(
    socket: Arc<UdpSocket>,
    ctx: Arc<AuthContext>,
    queue: async_channel::Sender<Job>,
    mut shutdown: watch::Receiver<bool>,
) {
    // One byte more than the largest packet, to tell an oversized datagram.
    let mut buf = vec![0u8; MAX_PACKET_LEN + 1];
    loop {
        let (len, source) = tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok(r) => r,
                Err(e) => {
                    tracing::debug!(error = %e, "recv failed");
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let received = Instant::now();
        ctx.metrics.received.increment(1);
        let Some(client) = ctx.directory.clients().lookup(source.ip()).cloned() else {
            ctx.metrics.dropped("unknown_client");
            continue;
        };
        let datagram = &buf[..len];
        // Status-Server is never cached (RFC 5997 §3); malformed headers are left to the
        // worker, which drops them.
        let key = (len >= HEADER_LEN && datagram[0] == Code::AccessRequest as u8).then(|| {
            RequestKey {
                source,
                identifier: datagram[1],
                authenticator: datagram[4..HEADER_LEN].try_into().expect("length checked"),
            }
        });
        if let Some(key) = key {
            match ctx.cache.begin(key, received) {
                Lookup::New | Lookup::Untracked => {}
                Lookup::InProgress => {
                    ctx.metrics.in_progress.increment(1);
                    continue;
                }
                Lookup::Cached(reply) => {
                    ctx.metrics.resent.increment(1);
                    let _ = socket.send_to(&reply, source).await;
                    continue;
                }
            }
        }
        let job = Job {
            socket: socket.clone(),
            source,
            datagram: datagram.to_vec(),
            client,
            key,
            received,
        };
        if queue.try_send(job).is_err() {
            if let Some(key) = key {
                ctx.cache.abandon(&key);
            }
            ctx.metrics.dropped("queue_full");
        }
    }
}

async fn work(ctx: Arc<AuthContext>, queue: async_channel::Receiver<Job>) {
    while let Ok(job) = queue.recv().await {
        match access::handle(&job.datagram, &job.client, &ctx.directory, ctx.lang) {
            Ok(reply) => {
                let bytes: Arc<[u8]> = reply.bytes.into();
                if let Some(key) = &job.key {
                    ctx.cache.complete(key, bytes.clone(), Instant::now());
                }
                if let Err(e) = job.socket.send_to(&bytes, job.source).await {
                    tracing::warn!(error = %e, to = %job.source, "reply not sent");
                }
                let elapsed = job.received.elapsed();
                ctx.metrics.latency.record(elapsed.as_secs_f64());
                if reply.status {
                    ctx.metrics.status_server.increment(1);
                    ctx.metrics.status_reply();
                } else {
                    ctx.metrics.access_requests.increment(1);
                    let code = reply.decision.code();
                    ctx.metrics.access_reply(code);
                    tracing::info!(
                        user = %reply.user,
                        nas = %job.client.name,
                        code = %code,
                        us = elapsed.as_micros() as u64,
                        "access decision"
                    );
                }
            }
            Err(reason) => {
                if let Some(key) = &job.key {
                    ctx.cache.abandon(key);
                }
                ctx.metrics.dropped(reason.reason());
                if reason == Discard::MissingMessageAuthenticator && job.client.should_warn() {
                    tracing::warn!(
                        nas = %job.client.name,
                        from = %job.source,
                        "dropping Access-Request without Message-Authenticator (required for this NAS; warned once a minute)"
                    );
                } else {
                    tracing::debug!(nas = %job.client.name, from = %job.source, reason = reason.reason(), "request dropped");
                }
            }
        }
    }
}

async fn purge_cache(
    ctx: Arc<AuthContext>,
    queue: async_channel::Sender<Job>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let left = ctx.cache.purge(Instant::now());
        metrics::gauge!("turnstile_reply_cache_entries").set(left as f64);
        metrics::gauge!("turnstile_radius_queue_depth").set(queue.len() as f64);
    }
}
