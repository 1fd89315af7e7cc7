//! The audit log: every mutating call (who, from where, what, when, the result code) is
//! written before its reply leaves. Writes are group-committed: one writer takes
//! everything queued, stores it in one transaction and then releases the replies, so a
//! burst of calls costs one commit, not one each.
//!
//! Calls refused for a missing or unknown token are written too (actor `-`), but at most
//! [`REFUSED_BURST`] at once and [`REFUSED_PER_SEC`] a second after that, so that a flood
//! of them cannot fill the disk; the rest are counted
//! (`turnstile_audit_unauthenticated_unwritten_total`).

use axum::extract::{ConnectInfo, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

use super::access::Caller;
use super::reply::Outcome;
use super::AdminState;
use crate::clock;
use crate::store::access::AuditRecord;
use crate::store::Store;

/// Most entries queued before callers wait for room.
const QUEUE: usize = 4096;

/// Calls refused for their token that are written at once before the rate applies.
pub const REFUSED_BURST: f64 = 100.0;

/// Calls refused for their token written per second, past the burst.
pub const REFUSED_PER_SEC: f64 = 1.0;

/// Longest path written; a longer one is cut (a caller chooses it, token or not).
const PATH_CHARS: usize = 256;

type Entry = (AuditRecord, oneshot::Sender<()>);

/// A handle to the audit writer.
#[derive(Clone)]
pub struct AuditLog {
    queue: mpsc::Sender<Entry>,
    refused: Arc<Mutex<Allowance>>,
}

/// A token bucket: how many more refused calls may be written now.
struct Allowance {
    left: f64,
    at: Instant,
}

impl Allowance {
    /// Takes one if there is one, after adding what the time since the last call earned.
    fn take(&mut self, now: Instant) -> bool {
        let earned = now.duration_since(self.at).as_secs_f64() * REFUSED_PER_SEC;
        self.left = (self.left + earned).min(REFUSED_BURST);
        self.at = now;
        if self.left >= 1.0 {
            self.left -= 1.0;
            true
        } else {
            false
        }
    }
}

impl AuditLog {
    /// Starts the writer; it stops when every handle is dropped.
    pub fn start(store: Arc<dyn Store>) -> AuditLog {
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(write(store, rx));
        AuditLog {
            queue,
            refused: Arc::new(Mutex::new(Allowance {
                left: REFUSED_BURST,
                at: Instant::now(),
            })),
        }
    }

    /// Whether a call refused for its token is written: false past the rate.
    fn admit_refused(&self) -> bool {
        self.refused
            .lock()
            .map(|mut a| a.take(Instant::now()))
            .unwrap_or(false)
    }

    /// Records an entry; returns once it is stored (or its write failed, which is
    /// logged and counted).
    pub async fn record(&self, entry: AuditRecord) {
        let (done, stored) = oneshot::channel();
        if self.queue.send((entry, done)).await.is_ok() {
            let _ = stored.await;
        }
    }
}

async fn write(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Entry>) {
    let mut batch: Vec<Entry> = Vec::new();
    while rx.recv_many(&mut batch, QUEUE).await > 0 {
        let records: Vec<AuditRecord> = batch.iter().map(|(r, _)| r.clone()).collect();
        match store.append_audit(&records).await {
            Ok(()) => {
                metrics::counter!("turnstile_audit_entries_total").increment(records.len() as u64)
            }
            Err(e) => {
                metrics::counter!("turnstile_audit_errors_total").increment(records.len() as u64);
                tracing::error!(error = %e, entries = records.len(), "audit log write failed");
            }
        }
        for (_, done) in batch.drain(..) {
            let _ = done.send(());
        }
    }
}

/// Writes an audit entry for every call that is not a read (reads are not audited),
/// those refused for their token included, within [`REFUSED_PER_SEC`].
pub async fn audit(State(state): State<Arc<AdminState>>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    if method == Method::GET || method == Method::HEAD {
        return next.run(req).await;
    }
    let source = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.to_string())
        .unwrap_or_default();
    let path: String = req.uri().path().chars().take(PATH_CHARS).collect();
    let response = next.run(req).await;
    // The caller is known once authentication passed (it leaves it on the response).
    let actor = match response.extensions().get::<Caller>() {
        Some(caller) => caller.name.clone(),
        None => {
            metrics::counter!("turnstile_audit_unauthenticated_total").increment(1);
            if !state.audit.admit_refused() {
                metrics::counter!("turnstile_audit_unauthenticated_unwritten_total").increment(1);
                return response;
            }
            "-".into()
        }
    };
    let code = response.extensions().get::<Outcome>().map_or(0, |o| o.0);
    state
        .audit
        .record(AuditRecord {
            at: clock::now(),
            actor,
            method: method.to_string(),
            path,
            source,
            status: response.status().as_u16(),
            code,
        })
        .await;
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn refused_calls_are_written_in_a_burst_then_at_the_rate() {
        let start = Instant::now();
        let mut a = Allowance {
            left: REFUSED_BURST,
            at: start,
        };
        let burst = (0..1000).filter(|_| a.take(start)).count();
        assert_eq!(burst, REFUSED_BURST as usize);
        // Ten seconds later, ten more.
        let later = start + Duration::from_secs(10);
        let more = (0..1000).filter(|_| a.take(later)).count();
        assert_eq!(more, (10.0 * REFUSED_PER_SEC) as usize);
        // An hour of silence refills the burst, no more.
        let hour = later + Duration::from_secs(3600);
        assert_eq!((0..1000).filter(|_| a.take(hour)).count(), burst);
    }
}
