//! The RADIUS accounting listener (UDP 1813). Datagrams are read in batches and their
//! records queued to the journal in the order they came; each waits for its record to be
//! durable before the Accounting-Response goes out, and a batch's responses go out
//! together. At most [`MAX_IN_FLIGHT`] requests are handled at once, the rest wait in the
//! socket's receive buffer. While authentication falls behind ([`AuthBacklog`]), it
//! reads no more than `yield_per_sec` requests a second.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::access::Discard;
use super::accounting;
use super::backlog::AuthBacklog;
use super::batch::{Received, Replies, BATCH};
use super::reply_cache::{Lookup, ReplyCache, RequestKey};
use crate::directory::clients::NasClient;
use crate::directory::Directory;
use crate::proto::radius::packet::HEADER_LEN;
use crate::session::event::AcctStatus;
use crate::session::journal::{Journal, JournalError, Queued};

/// Requests handled concurrently.
pub const MAX_IN_FLIGHT: usize = 256;

/// What the accounting tasks share.
pub struct AcctContext {
    /// NAS clients.
    pub directory: Arc<Directory>,
    /// Replies of recent requests: a retransmitted Stop is answered, never applied twice.
    pub cache: ReplyCache,
    /// The online table and its store.
    pub journal: Journal,
    /// Whether authentication is behind.
    pub auth_backlog: Arc<AuthBacklog>,
    /// Requests read per second while it is (`[radius] overload_accounting_per_sec`).
    pub yield_per_sec: u32,
}

/// Serves accounting on `socket` until `shutdown` is cancelled.
pub async fn serve(socket: UdpSocket, ctx: Arc<AcctContext>, shutdown: CancellationToken) {
    let socket = Arc::new(socket);
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut received = Received::default();
    let mut rotated = Instant::now();
    let yield_gap = Duration::from_secs(1) / ctx.yield_per_sec.max(1);
    let mut next_read = Instant::now();
    tokio::spawn(export_socket_stats(socket.clone(), shutdown.clone()));
    loop {
        // While authentication is behind, one datagram at a time, spaced out.
        let mut most = BATCH;
        if ctx.auth_backlog.is_behind() {
            let now = Instant::now();
            if now < next_read {
                // Short naps, so that reading resumes soon after authentication catches up.
                let nap = (next_read - now).min(Duration::from_millis(10));
                tokio::select! {
                    _ = tokio::time::sleep(nap) => continue,
                    _ = shutdown.cancelled() => break,
                }
            }
            next_read = now + yield_gap;
            most = 1;
        }
        let count = tokio::select! {
            r = socket.async_io(Interest::READABLE, || received.recv_at_most(&*socket, most)) => match r {
                Ok(count) => count,
                Err(e) => {
                    tracing::debug!(error = %e, "accounting recv failed");
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        if rotated.elapsed() >= ctx.cache.lifetime() {
            rotated = Instant::now();
            drop(ctx.cache.rotate());
        }
        let Ok(permits) = slots.clone().acquire_many_owned(count as u32).await else {
            break;
        };
        // Queued here, in the order the datagrams came: a NAS flushing what it buffered
        // sends a session's Start and Stop back to back.
        let mut replies = Replies::default();
        let mut waiting = Vec::new();
        for (datagram, source) in received.datagrams() {
            match admit(&ctx, datagram, source).await {
                Admission::Answer(reply) => replies.push(reply, source),
                Admission::Drop => {}
                Admission::Queued(w) => waiting.push((w, source)),
            }
        }
        // What needs no commit (a retransmission answered from the cache) goes now.
        replies.flush(&*socket);
        if waiting.is_empty() {
            continue;
        }
        // The batch's records were queued together and are mostly committed together:
        // their replies go out in one call.
        let (ctx, socket) = (ctx.clone(), socket.clone());
        tokio::spawn(async move {
            let mut replies = Replies::default();
            for (w, source) in waiting {
                if let Some(reply) = w.answer(&ctx).await {
                    replies.push(reply, source);
                }
            }
            replies.flush(&*socket);
            drop(permits);
        });
    }
    // Let requests in progress finish (and be answered) before returning.
    let _ = slots.acquire_many(MAX_IN_FLIGHT as u32).await;
}

/// Exports the socket's kernel counters every second until `shutdown`: datagrams the
/// kernel dropped because the receive buffer was full (a flood, or accounting yielding).
async fn export_socket_stats(socket: Arc<UdpSocket>, shutdown: CancellationToken) {
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
            _ = shutdown.cancelled() => return,
        }
        if let Some(stats) = crate::udp_socket::socket_stats(port) {
            overflow.absolute(stats.drops);
            metrics::gauge!("turnstile_accounting_socket_queue_bytes")
                .set(stats.queued_bytes as f64);
        }
    }
}

fn dropped(reason: &'static str) {
    metrics::counter!("turnstile_accounting_dropped_total", "reason" => reason).increment(1);
}

/// What becomes of a datagram once read.
enum Admission {
    /// A retransmission of a request answered already: its reply.
    Answer(Arc<[u8]>),
    /// Nothing to send: dropped (and counted), or the original is in progress.
    Drop,
    /// In the journal's queue; answered once durable.
    Queued(Waiting),
}

/// A request in the journal's queue.
struct Waiting {
    datagram: Vec<u8>,
    client: Arc<NasClient>,
    key: RequestKey,
    status: AcctStatus,
    queued: Queued,
}

/// Checks a datagram and queues its record; waits only for room in the journal's queue.
async fn admit(ctx: &AcctContext, datagram: &[u8], source: SocketAddr) -> Admission {
    let clients = ctx.directory.clients();
    let Some(client) = clients.lookup(source.ip()).cloned() else {
        dropped("unknown_client");
        return Admission::Drop;
    };
    drop(clients);
    let Some(authenticator) = datagram
        .get(4..HEADER_LEN)
        .and_then(|a| <[u8; 16]>::try_from(a).ok())
    else {
        dropped("truncated");
        return Admission::Drop;
    };
    let key = RequestKey {
        source,
        identifier: datagram[1],
        authenticator,
    };
    match ctx.cache.begin(key, Instant::now()) {
        Lookup::New | Lookup::Untracked => {}
        Lookup::InProgress => return Admission::Drop,
        Lookup::Cached(reply) => {
            metrics::counter!("turnstile_accounting_duplicates_total").increment(1);
            return Admission::Answer(reply);
        }
    }
    let request = match accounting::parse(datagram, &client) {
        Ok(request) => request,
        Err(reason) => return abandon(ctx, &key, reason),
    };
    let status = request.status;
    let now = crate::clock::now();
    match ctx
        .journal
        .queue(&client.name, request, source.ip(), now)
        .await
    {
        Ok(queued) => Admission::Queued(Waiting {
            datagram: datagram.to_vec(),
            client,
            key,
            status,
            queued,
        }),
        Err(e) => {
            not_stored(&e, &client);
            abandon(ctx, &key, Discard::StoreFailed)
        }
    }
}

fn not_stored(e: &JournalError, client: &NasClient) {
    tracing::error!(error = %e, nas = %client.name, "accounting record not stored; no response, the NAS will retransmit");
}

/// Forgets a request that gets no answer, so that its retransmission is tried again.
fn abandon(ctx: &AcctContext, key: &RequestKey, reason: Discard) -> Admission {
    ctx.cache.abandon(key);
    dropped(reason.reason());
    Admission::Drop
}

impl Waiting {
    /// The Accounting-Response once the record is durable; None when it could not be
    /// stored.
    async fn answer(self, ctx: &AcctContext) -> Option<Arc<[u8]>> {
        if let Err(e) = self.queued.durable().await {
            not_stored(&e, &self.client);
            abandon(ctx, &self.key, Discard::StoreFailed);
            return None;
        }
        metrics::counter!("turnstile_accounting_requests_total", "status" => self.status.label())
            .increment(1);
        match accounting::response(&self.datagram, &self.client) {
            Ok(reply) => {
                let reply: Arc<[u8]> = reply.into();
                ctx.cache.complete(&self.key, reply.clone(), Instant::now());
                Some(reply)
            }
            Err(reason) => {
                abandon(ctx, &self.key, reason);
                None
            }
        }
    }
}
