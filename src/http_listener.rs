//! The HTTP listener under the portal, the operator API and `/metrics`, with the limits
//! that keep slow, idle or half-open clients from exhausting it (`[http]`):
//!
//! - at most `max_connections` at once, and `max_connections_per_address` from one
//!   address; a connection over a limit is closed at once and counted;
//! - the request head (and the TLS handshake) must arrive within `header_timeout_secs`,
//!   and so must the next one on a kept-alive connection;
//! - a connection is served for at most `connection_secs`: then it is closed once its
//!   request in progress is answered, and cut `header_timeout_secs` later if that
//!   request is still not done. A client that sends its body slowly, or never reads the
//!   reply, holds its slot no longer than that.
//!
//! Each connection costs a task and hyper's buffers (a few KiB), so memory is bounded by
//! the connection limit; request bodies are bounded by each router's own body limit.

use axum::extract::ConnectInfo;
use dashmap::DashMap;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;

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
/// turns true; `name` labels the metrics (`portal`, `api`, `metrics`).
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    tls: Option<TlsAcceptor>,
    limits: HttpSettings,
    name: &'static str,
    mut shutdown: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let per_address = Arc::new(PerAddress::default());
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
            _ = shutdown.changed() => return,
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
        let (app, tls) = (app.clone(), tls.clone());
        tokio::spawn(async move {
            match tls {
                None => serve_connection(tcp, app, peer, &limits, name).await,
                Some(acceptor) => {
                    let header = Duration::from_secs(limits.header_timeout_secs);
                    match tokio::time::timeout(header, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => serve_connection(stream, app, peer, &limits, name).await,
                        _ => metrics::counter!("turnstile_api_tls_failures_total").increment(1),
                    }
                }
            }
            drop((permit, address_slot));
        });
    }
}

async fn serve_connection<S>(
    stream: S,
    app: axum::Router,
    peer: SocketAddr,
    limits: &HttpSettings,
    name: &'static str,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // The portal's handlers read the client's address from ConnectInfo.
    let app = app.layer(axum::Extension(ConnectInfo(peer)));
    let header = Duration::from_secs(limits.header_timeout_secs);
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header)
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
    tokio::pin!(connection);
    let lifetime = Duration::from_secs(limits.connection_secs);
    let ended = tokio::select! {
        ended = connection.as_mut() => ended,
        _ = tokio::time::sleep(lifetime) => {
            connection.as_mut().graceful_shutdown();
            match tokio::time::timeout(header, connection).await {
                Ok(ended) => ended,
                Err(_) => {
                    metrics::counter!("turnstile_http_timed_out_total", "listener" => name)
                        .increment(1);
                    tracing::debug!(listener = name, %peer, "connection cut at its deadline");
                    return;
                }
            }
        }
    };
    if let Err(e) = ended {
        tracing::debug!(listener = name, %peer, error = %e, "HTTP connection ended");
    }
}
