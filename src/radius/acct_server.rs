//! The RADIUS accounting listener (UDP 1813). Each request waits for its record to be
//! durable before the Accounting-Response goes out; at most [`MAX_IN_FLIGHT`] requests are
//! handled at once, the rest wait in the socket's receive buffer. While authentication
//! falls behind ([`AuthBacklog`]), it reads no more than `yield_per_sec` requests a
//! second.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::{watch, Semaphore};

use super::accounting;
use super::backlog::AuthBacklog;
use super::packet::{HEADER_LEN, MAX_PACKET_LEN};
use super::reply_cache::{Lookup, ReplyCache, RequestKey};
use crate::directory::Directory;
use crate::session::tracker::SessionTracker;

/// Requests handled concurrently.
pub const MAX_IN_FLIGHT: usize = 256;

/// What the accounting tasks share.
pub struct AcctContext {
    /// NAS clients.
    pub directory: Arc<Directory>,
    /// Replies of recent requests: a retransmitted Stop is answered, never applied twice.
    pub cache: ReplyCache,
    /// The online table and its store.
    pub tracker: SessionTracker,
    /// Whether authentication is behind.
    pub auth_backlog: Arc<AuthBacklog>,
    /// Requests read per second while it is (`[radius] overload_accounting_per_sec`).
    pub yield_per_sec: u32,
}

/// Serves accounting on `socket` until `shutdown` turns true.
pub async fn serve(socket: UdpSocket, ctx: Arc<AcctContext>, mut shutdown: watch::Receiver<bool>) {
    let socket = Arc::new(socket);
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut buf = vec![0u8; MAX_PACKET_LEN + 1];
    let mut rotated = Instant::now();
    let yield_gap = Duration::from_secs(1) / ctx.yield_per_sec.max(1);
    let mut next_read = Instant::now();
    tokio::spawn(export_socket_stats(socket.clone(), shutdown.clone()));
    loop {
        if ctx.auth_backlog.is_behind() {
            let now = Instant::now();
            if now < next_read {
                // Short naps, so that reading resumes soon after authentication catches up.
                let nap = (next_read - now).min(Duration::from_millis(10));
                tokio::select! {
                    _ = tokio::time::sleep(nap) => continue,
                    _ = shutdown.changed() => break,
                }
            }
            next_read = now + yield_gap;
        }
        let (len, source) = tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok(r) => r,
                Err(e) => {
                    tracing::debug!(error = %e, "accounting recv failed");
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        if rotated.elapsed() >= ctx.cache.lifetime() {
            rotated = Instant::now();
            drop(ctx.cache.rotate());
        }
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break;
        };
        let datagram = buf[..len].to_vec();
        let (ctx, socket) = (ctx.clone(), socket.clone());
        tokio::spawn(async move {
            if let Some(reply) = handle(&ctx, &datagram, source).await {
                if let Err(e) = socket.send_to(&reply, source).await {
                    tracing::warn!(error = %e, to = %source, "accounting response not sent");
                }
            }
            drop(permit);
        });
    }
    // Let requests in progress finish (and be answered) before returning.
    let _ = slots.acquire_many(MAX_IN_FLIGHT as u32).await;
}

/// Exports the socket's kernel counters every second until `shutdown`: datagrams the
/// kernel dropped because the receive buffer was full (a flood, or accounting yielding).
async fn export_socket_stats(socket: Arc<UdpSocket>, mut shutdown: watch::Receiver<bool>) {
    let Ok(port) = socket.local_addr().map(|a| a.port()) else {
        return;
    };
    drop(socket);
    let overflow =
        metrics::counter!("turnstile_accounting_dropped_total", "reason" => "socket_overflow");
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        if let Some(stats) = super::socket::socket_stats(port) {
            overflow.absolute(stats.drops);
            metrics::gauge!("turnstile_accounting_socket_queue_bytes")
                .set(stats.queued_bytes as f64);
        }
    }
}

async fn handle(ctx: &AcctContext, datagram: &[u8], source: SocketAddr) -> Option<Arc<[u8]>> {
    let dropped = |reason: &'static str| {
        metrics::counter!("turnstile_accounting_dropped_total", "reason" => reason).increment(1);
    };
    let clients = ctx.directory.clients();
    let Some(client) = clients.lookup(source.ip()).cloned() else {
        dropped("unknown_client");
        return None;
    };
    drop(clients);
    if datagram.len() < HEADER_LEN {
        dropped("truncated");
        return None;
    }
    let key = RequestKey {
        source,
        identifier: datagram[1],
        authenticator: datagram[4..HEADER_LEN].try_into().ok()?,
    };
    match ctx.cache.begin(key, Instant::now()) {
        Lookup::New | Lookup::Untracked => {}
        Lookup::InProgress => return None,
        Lookup::Cached(reply) => {
            metrics::counter!("turnstile_accounting_duplicates_total").increment(1);
            return Some(reply);
        }
    }
    let outcome = async {
        let request = accounting::parse(datagram, &client)?;
        let status = request.status;
        ctx.tracker
            .apply(&client.name, request, source.ip(), crate::store::unix_now())
            .await
            .map_err(|e| {
                tracing::error!(error = %e, nas = %client.name, "accounting record not stored; no response, the NAS will retransmit");
                super::access::Discard::StoreFailed
            })?;
        metrics::counter!("turnstile_accounting_requests_total", "status" => status.label())
            .increment(1);
        accounting::response(datagram, &client)
    }
    .await;
    match outcome {
        Ok(reply) => {
            let reply: Arc<[u8]> = reply.into();
            ctx.cache.complete(&key, reply.clone(), Instant::now());
            Some(reply)
        }
        Err(reason) => {
            ctx.cache.abandon(&key);
            dropped(reason.reason());
            None
        }
    }
}
