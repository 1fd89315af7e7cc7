//! The HTTP listener under the portal, the operator API and `/metrics`, with the limits
//! that keep slow, idle or half-open clients from exhausting it (`[http]`):
//!
//! - at most `max_connections` at once, and `max_connections_per_address` from one
//!   address; a connection over a limit is closed at once and counted;
//! - the request head (and the TLS handshake) must arrive within `header_timeout_secs`,
//!   and so must the next one on a kept-alive connection (an idle connection is closed
//!   then);
//! - a request must be answered within `request_timeout_secs` of its head, its body
//!   included: a body sent too slowly gets `408 Request Timeout`;
//! - a reply the client does not read for `header_timeout_secs` closes the connection.
//!
//! Kept-alive connections live as long as they are used: closing a busy one at some age
//! would race with the client's next request on it.
//!
//! Each connection costs a task and hyper's buffers (a few KiB), so memory is bounded by
//! the connection limit; request bodies are bounded by each router's own body limit.

use axum::extract::ConnectInfo;
use axum::response::IntoResponse;
use dashmap::DashMap;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::HttpSettings;

/// Connections open per client address.
#[derive(Debug, Default)]
struct PerAddress {
    open: DashMap<IpAddr, usize>,
}

/// One address's share of the connections, given back on drop.
struct AddressSlot {
    owner: Arc<PerAddress>,
    ip: IpAddr,
}

impl PerAddress {
    fn take(self: &Arc<Self>, ip: IpAddr, limit: usize) -> Option<AddressSlot> {
        let mut open = self.open.entry(ip).or_insert(0);
        if *open >= limit {
            return None;
        }
        *open += 1;
        Some(AddressSlot {
            owner: self.clone(),
            ip,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        // Forget the address with its last connection, so the map holds only open ones.
        self.owner.open.remove_if_mut(&self.ip, |_, open| {
            *open -= 1;
            *open == 0
        });
    }
}

/// Serves `app` on `listener` (over TLS with `tls`) within `limits` until `shutdown`
/// is cancelled, then lets each connection finish the request it is serving and waits for
/// them (an idle kept-alive connection closes at once); `name` labels the metrics
/// (`portal`, `api`, `metrics`).
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    tls: Option<TlsAcceptor>,
    limits: HttpSettings,
    name: &'static str,
    shutdown: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let per_address = Arc::new(PerAddress::default());
    let connections = TaskTracker::new();
    let refused = |reason: &'static str| {
        metrics::counter!("turnstile_http_refused_total", "listener" => name, "reason" => reason)
            .increment(1);
    };
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, most likely: wait rather than spin.
                    tracing::warn!(listener = name, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            refused("max_connections");
            continue;
        };
        let Some(address_slot) = per_address.take(peer.ip(), limits.max_connections_per_address)
        else {
            refused("max_connections_per_address");
            continue;
        };
        let (app, tls, shutdown) = (app.clone(), tls.clone(), shutdown.clone());
        connections.spawn(async move {
            match tls {
                None => serve_connection(tcp, app, peer, &limits, name, &shutdown).await,
                Some(acceptor) => {
                    let header = Duration::from_secs(limits.header_timeout_secs);
                    match tokio::time::timeout(header, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => {
                            serve_connection(stream, app, peer, &limits, name, &shutdown).await
                        }
                        _ => metrics::counter!("turnstile_api_tls_failures_total").increment(1),
                    }
                }
            }
            drop((permit, address_slot));
        });
    }
    connections.close();
    connections.wait().await;
}

/// Serves HTTP/1.1 on `stream` until the client closes it, a limit ends it, or
/// `shutdown` (after the request in progress).
async fn serve_connection<S>(
    stream: S,
    app: axum::Router,
    peer: SocketAddr,
    limits: &HttpSettings,
    name: &'static str,
    shutdown: &CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let header = Duration::from_secs(limits.header_timeout_secs);
    let deadline = Duration::from_secs(limits.request_timeout_secs);
    let app = app
        // The portal's handlers read the client's address from ConnectInfo.
        .layer(axum::Extension(ConnectInfo(peer)))
        .layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| async move {
                match tokio::time::timeout(deadline, next.run(request)).await {
                    Ok(response) => response,
                    Err(_) => {
                        metrics::counter!("turnstile_http_timed_out_total", "listener" => name)
                            .increment(1);
                        axum::http::StatusCode::REQUEST_TIMEOUT.into_response()
                    }
                }
            },
        ));
    let stream = WriteStall::new(stream, header);
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header)
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
    tokio::pin!(connection);
    let ended = tokio::select! {
        ended = connection.as_mut() => ended,
        () = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = ended {
        tracing::debug!(listener = name, %peer, error = %e, "HTTP connection ended");
    }
}

/// A stream whose writes fail once they have made no progress for a while: a client that
/// does not read its replies cannot hold a connection.
struct WriteStall<S> {
    inner: S,
    limit: Duration,
    /// Running while a write waits.
    waiting: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> WriteStall<S> {
    fn new(inner: S, limit: Duration) -> Self {
        WriteStall {
            inner,
            limit,
            waiting: None,
        }
    }

    /// Pending while the write waits, an error once it has waited too long.
    fn stalled<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>> {
        if poll.is_ready() {
            self.waiting = None;
            return poll;
        }
        let limit = self.limit;
        let sleep = self
            .waiting
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(std::io::ErrorKind::TimedOut.into())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteStall<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteStall<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.stalled(cx, poll)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.stalled(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.stalled(cx, poll)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn a_reply_nobody_reads_fails_after_the_limit() {
        // A pipe of 64 bytes that the other end never reads.
        let (near, _far) = tokio::io::duplex(64);
        let mut stream = WriteStall::new(near, Duration::from_millis(200));
        let start = std::time::Instant::now();
        let error = stream.write_all(&[7u8; 1024]).await.unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(200) && waited < Duration::from_secs(2),
            "{waited:?}"
        );
    }

    #[tokio::test]
    async fn a_reply_read_slowly_but_steadily_goes_through() {
        let (near, mut far) = tokio::io::duplex(64);
        let mut stream = WriteStall::new(near, Duration::from_millis(200));
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut buf = [0u8; 64];
            while got.len() < 1024 {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let n = tokio::io::AsyncReadExt::read(&mut far, &mut buf)
                    .await
                    .unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            got
        });
        stream.write_all(&[7u8; 1024]).await.unwrap();
        assert_eq!(reader.await.unwrap(), vec![7u8; 1024]);
    }
}
