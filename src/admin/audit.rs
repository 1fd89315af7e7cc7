//! The audit log: every mutating call (who, what, when, the result code) is written
//! before its reply leaves. Writes are group-committed: one writer takes everything
//! queued, stores it in one transaction and then releases the replies, so a burst of
//! calls costs one commit, not one each.

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

use super::access::Caller;
use super::reply::Outcome;
use super::AdminState;
use crate::store::access::AuditRecord;
use crate::store::{unix_now, Store};

/// Most entries queued before callers wait for room.
const QUEUE: usize = 4096;

type Entry = (AuditRecord, oneshot::Sender<()>);

/// A handle to the audit writer.
#[derive(Clone)]
pub struct AuditLog {
    queue: mpsc::Sender<Entry>,
}

impl AuditLog {
    /// Starts the writer; it stops when every handle is dropped.
    pub fn start(store: Arc<dyn Store>) -> AuditLog {
        let (queue, rx) = mpsc::channel(QUEUE);
        tokio::spawn(write(store, rx));
        AuditLog { queue }
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

/// Writes an audit entry for every call that is not a read (reads are not audited).
pub async fn audit(State(state): State<Arc<AdminState>>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    if method == Method::GET || method == Method::HEAD {
        return next.run(req).await;
    }
    let caller = req.extensions().get::<Caller>().map(|c| c.name.clone());
    let path = req.uri().path().to_string();
    let response = next.run(req).await;
    let code = response.extensions().get::<Outcome>().map_or(0, |o| o.0);
    state
        .audit
        .record(AuditRecord {
            at: unix_now(),
            actor: caller.unwrap_or_else(|| "-".into()),
            method: method.to_string(),
            path,
            status: response.status().as_u16(),
            code,
        })
        .await;
    response
}
