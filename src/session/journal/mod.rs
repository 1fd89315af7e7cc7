//! Applies accounting to the online table through a journal: requests queue up, the
//! journal writes everything queued in one transaction (group commit: one fsync for many
//! requests), then applies the same changes to memory in the same order, and only then
//! releases the requests, whose Accounting-Responses may go out. What a NAS was told is
//! recorded survives a crash, and memory never runs ahead of the store.
//!
//! Rating rides along: each Start, Interim-Update and Stop adds the session's usage since
//! its last stored counters (the watermark) to its product instance, in the same
//! transaction, then to the meter. Counters only move forward, so a retransmitted or
//! reordered Interim adds nothing, and a session split for settlement (E4011) or a policy
//! change keeps its counters: its later Stop adds only what is new.
//!
//! Three parts under one name: [`Journal`] (here) is the handle requesters hold and
//! queue changes through; [`writer`] is the loop that takes what is queued, writes it in
//! one transaction and applies it to memory; [`plan`] is the pure planner that turns a
//! batch and the sessions as stored into the store's changes and the usage they add —
//! the twin of `auth::policy`: a pure core with the plumbing around it.

use std::net::IpAddr;
use std::sync::Arc;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

use super::online::{OnlineTable, Session, SessionKey};
use crate::billing::meter::Meter;
use crate::codes::ECode;
use crate::directory::Directory;
use crate::session::event::{AccountingEvent, AcctStatus};
use crate::store::{Store, StoreError};

mod plan;
mod writer;

#[cfg(fuzzing)]
pub use plan::fuzzing;

/// Requests waiting for the journal; senders wait beyond this.
const QUEUE: usize = 4096;

/// Why a request was not recorded.
#[derive(Debug, Error)]
pub enum JournalError {
    /// The store failed; nothing of the batch was recorded.
    #[error("store: {0}")]
    Store(String),
    /// The journal has stopped (shutdown).
    #[error("the session journal has stopped")]
    Stopped,
}

/// What a queued change is.
enum Op {
    /// An Accounting-Request from `source`.
    Accounting {
        request: AccountingEvent,
        source: IpAddr,
    },
    /// The server ends a session (DM acknowledged, local offline…) with `cause`,
    /// reached `via` a DM or offline code when that differs.
    End {
        session_id: String,
        cause: ECode,
        via: Option<ECode>,
    },
    /// The session's part so far goes to the history with `cause` (`via`); it stays
    /// online, charged to `product` from now on when that is given.
    Split {
        session_id: String,
        cause: ECode,
        via: Option<ECode>,
        product: Option<String>,
    },
}

/// A queued change as the planner sees it: from `nas`, at unix second `now`.
struct Change {
    nas: Box<str>,
    op: Op,
    now: i64,
}

/// A change and the requester waiting for it to be durable.
struct Pending {
    change: Change,
    done: oneshot::Sender<Result<(), JournalError>>,
}

impl Op {
    /// True for an Accounting-Request Start.
    fn is_start(&self) -> bool {
        matches!(self, Op::Accounting { request, .. } if request.status == AcctStatus::Start)
    }

    /// The Acct-Session-Id of the session the change is about.
    fn session_id(&self) -> &str {
        match self {
            Op::Accounting { request, .. } => &request.session_id,
            Op::End { session_id, .. } | Op::Split { session_id, .. } => session_id,
        }
    }
}

/// The handle to the journal that keeps the online table durable; clones share it.
#[derive(Clone)]
pub struct Journal {
    pending: mpsc::Sender<Pending>,
}

/// What the journal writes to and reads from.
pub struct Backing {
    /// Where records are made durable.
    pub store: Arc<dyn Store>,
    /// Sessions online.
    pub online: Arc<OnlineTable>,
    /// Usage of product instances.
    pub meter: Arc<Meter>,
    /// Users, for the product of a session that names none.
    pub directory: Arc<Directory>,
}

impl Journal {
    /// Restores the online table and the meter from the store and starts the journal,
    /// which ends when every handle is dropped.
    pub async fn restore(
        journal: Backing,
    ) -> Result<(Journal, tokio::task::JoinHandle<()>), StoreError> {
        for r in journal.store.online_sessions().await? {
            let (key, session) = Session::from_record(r);
            journal.online.insert(key, session);
        }
        for (user, product, usage) in journal.store.instance_usage(None).await? {
            journal.meter.set(&user, &product, usage);
        }
        metrics::gauge!("turnstile_online_sessions").set(journal.online.len() as f64);
        let (pending, rx) = mpsc::channel(QUEUE);
        let task = tokio::spawn(writer::run(journal, rx));
        Ok((Journal { pending }, task))
    }

    /// Records one Accounting-Request from `nas` (sent from `source`) at unix second
    /// `now`; returns once the change is durable and applied to the online table.
    pub async fn apply(
        &self,
        nas: &str,
        request: AccountingEvent,
        source: IpAddr,
        now: i64,
    ) -> Result<(), JournalError> {
        self.queue(nas, request, source, now).await?.durable().await
    }

    /// Queues one Accounting-Request, as [`apply`](Self::apply) does, and returns once
    /// it is queued: requests queued one after the other are applied in that order
    /// (a Stop right behind its Start ends the session). Waits only for room in the
    /// queue.
    pub async fn queue(
        &self,
        nas: &str,
        request: AccountingEvent,
        source: IpAddr,
        now: i64,
    ) -> Result<Queued, JournalError> {
        self.enqueue(nas, Op::Accounting { request, source }, now)
            .await
    }

    /// Ends a session on the server's side with `cause` (reached `via` a DM or offline
    /// code, when that is not the cause itself): it moves to the history. A session
    /// already gone is left alone.
    pub async fn end(
        &self,
        key: &SessionKey,
        cause: ECode,
        via: Option<ECode>,
        now: i64,
    ) -> Result<(), JournalError> {
        let op = Op::End {
            session_id: key.id.to_string(),
            cause,
            via,
        };
        self.submit(&key.nas, op, now).await
    }

    /// Splits a session: its part so far goes to the history with `cause` (reached
    /// `via`), and it stays online — charged to `product` from now on when given. A
    /// session already gone is left alone.
    pub async fn split(
        &self,
        key: &SessionKey,
        cause: ECode,
        via: Option<ECode>,
        product: Option<String>,
        now: i64,
    ) -> Result<(), JournalError> {
        let op = Op::Split {
            session_id: key.id.to_string(),
            cause,
            via,
            product,
        };
        self.submit(&key.nas, op, now).await
    }

    async fn submit(&self, nas: &str, op: Op, now: i64) -> Result<(), JournalError> {
        self.enqueue(nas, op, now).await?.durable().await
    }

    async fn enqueue(&self, nas: &str, op: Op, now: i64) -> Result<Queued, JournalError> {
        let (done, result) = oneshot::channel();
        self.pending
            .send(Pending {
                change: Change {
                    nas: nas.into(),
                    op,
                    now,
                },
                done,
            })
            .await
            .map_err(|_| JournalError::Stopped)?;
        Ok(Queued(result))
    }
}

/// A change in the journal's queue.
pub struct Queued(oneshot::Receiver<Result<(), JournalError>>);

impl Queued {
    /// Waits until the change is durable and applied to the online table.
    pub async fn durable(self) -> Result<(), JournalError> {
        self.0.await.unwrap_or(Err(JournalError::Stopped))
    }
}
