//! Applies accounting to the online table through a journal: requests queue up, the
//! journal writes everything queued in one transaction (group commit: one fsync for many
//! requests), then applies the same changes to memory in the same order, and only then
//! releases the requests, whose Accounting-Responses may go out. What a NAS was told is
//! recorded survives a crash, and memory never runs ahead of the store.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

use super::online::{OnlineTable, Session, SessionKey};
use crate::radius::accounting::{AccountingRequest, AcctStatus};
use crate::store::{OnlineChange, OnlineRecord, Store, StoreError};

/// Most requests written in one transaction.
const MAX_BATCH: usize = 1024;
/// Requests waiting for the journal; senders wait beyond this.
const QUEUE: usize = 4096;

/// Why a request was not recorded.
#[derive(Debug, Error)]
pub enum TrackerError {
    /// The store failed; nothing of the batch was recorded.
    #[error("store: {0}")]
    Store(String),
    /// The journal has stopped (shutdown).
    #[error("the session journal has stopped")]
    Stopped,
}

struct Pending {
    nas: Box<str>,
    request: AccountingRequest,
    now: i64,
    done: oneshot::Sender<Result<(), TrackerError>>,
}

/// The online table and the journal that keeps it durable.
#[derive(Clone)]
pub struct SessionTracker {
    queue: mpsc::Sender<Pending>,
}

impl SessionTracker {
    /// Restores the online table from the store and starts the journal, which ends when
    /// every tracker clone is dropped.
    pub async fn restore(
        store: Arc<dyn Store>,
        online: Arc<OnlineTable>,
    ) -> Result<(SessionTracker, tokio::task::JoinHandle<()>), StoreError> {
        for r in store.online_sessions().await? {
            online.insert(
                SessionKey {
                    nas: r.nas.into(),
                    id: r.session_id.into(),
                },
                Session {
                    user: r.user.into(),
                    started_at: r.started_at,
                    pending_end: None,
                },
            );
        }
        metrics::gauge!("turnstile_online_sessions").set(online.len() as f64);
        let (queue, rx) = mpsc::channel(QUEUE);
        let journal = tokio::spawn(journal(store, online, rx));
        Ok((SessionTracker { queue }, journal))
    }

    /// Records one Accounting-Request from `nas` at unix second `now`; returns once the
    /// change is durable and applied to the online table.
    pub async fn apply(
        &self,
        nas: &str,
        request: AccountingRequest,
        now: i64,
    ) -> Result<(), TrackerError> {
        let (done, result) = oneshot::channel();
        self.queue
            .send(Pending {
                nas: nas.into(),
                request,
                now,
                done,
            })
            .await
            .map_err(|_| TrackerError::Stopped)?;
        result.await.unwrap_or(Err(TrackerError::Stopped))
    }
}

async fn journal(store: Arc<dyn Store>, online: Arc<OnlineTable>, mut rx: mpsc::Receiver<Pending>) {
    let batches = metrics::histogram!("turnstile_accounting_batch_size");
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        batches.record(batch.len() as f64);
        let changes = plan(&online, &batch);
        let outcome = store.apply_online(&changes).await;
        if outcome.is_ok() {
            for change in &changes {
                apply(&online, change);
            }
        }
        for p in batch {
            let result = match &outcome {
                Ok(()) => Ok(()),
                Err(e) => Err(TrackerError::Store(e.to_string())),
            };
            // The requester may have given up; nothing to do then.
            let _ = p.done.send(result);
        }
    }
}

/// The store changes for a batch, in order. A repeated Start or an Interim-Update keeps
/// the session's start, as seen after the earlier requests of the same batch.
fn plan(online: &OnlineTable, batch: &[Pending]) -> Vec<OnlineChange> {
    let mut started: HashMap<SessionKey, Option<i64>> = HashMap::new();
    let mut cleared: HashSet<&str> = HashSet::new();
    let mut changes = Vec::with_capacity(batch.len());
    for p in batch {
        let r = &p.request;
        let key = SessionKey {
            nas: p.nas.clone(),
            id: r.session_id.as_str().into(),
        };
        match r.status {
            AcctStatus::Start | AcctStatus::InterimUpdate => {
                let known = match started.get(&key) {
                    Some(s) => *s,
                    None if cleared.contains(&*p.nas) => None,
                    None => online.get(&key).map(|s| s.started_at),
                };
                let started_at = known.unwrap_or(p.now);
                started.insert(key, Some(started_at));
                changes.push(OnlineChange::Put(OnlineRecord {
                    nas: p.nas.to_string(),
                    session_id: r.session_id.clone(),
                    user: r.user.clone(),
                    started_at,
                    updated_at: p.now,
                }));
            }
            AcctStatus::Stop => {
                started.insert(key, None);
                changes.push(OnlineChange::Remove {
                    nas: p.nas.to_string(),
                    session_id: r.session_id.clone(),
                });
            }
            AcctStatus::AccountingOn | AcctStatus::AccountingOff => {
                started.retain(|k, _| k.nas != p.nas);
                cleared.insert(&p.nas);
                changes.push(OnlineChange::RemoveNas(p.nas.to_string()));
            }
            AcctStatus::Other(_) => {}
        }
    }
    changes
}

/// Applies a stored change to memory.
fn apply(online: &OnlineTable, change: &OnlineChange) {
    match change {
        OnlineChange::Put(r) => {
            let key = SessionKey {
                nas: r.nas.as_str().into(),
                id: r.session_id.as_str().into(),
            };
            let pending_end = online.get(&key).and_then(|s| s.pending_end);
            online.insert(
                key,
                Session {
                    user: r.user.as_str().into(),
                    started_at: r.started_at,
                    pending_end,
                },
            );
        }
        OnlineChange::Remove { nas, session_id } => {
            online.remove(&SessionKey {
                nas: nas.as_str().into(),
                id: session_id.as_str().into(),
            });
        }
        OnlineChange::RemoveNas(nas) => {
            let n = online.remove_nas(nas);
            tracing::info!(nas = %nas, sessions = n, "NAS sessions closed (Accounting-On/Off)");
        }
    }
    metrics::gauge!("turnstile_online_sessions").set(online.len() as f64);
}
