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

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Duration, Instant};

use super::online::{OnlineTable, Session, SessionKey};
use crate::account::Usage;
use crate::billing::meter::Meter;
use crate::codes::ECode;
use crate::directory::Directory;
use crate::session::event::{AccountingEvent, AcctStatus};
use crate::store::billing::UsageDelta;
use crate::store::{
    HistoryRecord, OnlineChange, OnlinePlan, OnlineRecord, SessionRef, SessionsTouched, Store,
    StoreError, StoredSessions,
};

/// Most requests written in one transaction.
const MAX_BATCH: usize = 1024;
/// An Interim-Update or Stop for a session that ended this recently (and is not online)
/// is a late copy of one already recorded, say a Stop retransmitted to another node: it
/// changes nothing.
const RECENT_END_SECS: i64 = 600;
/// Requests waiting for the journal; senders wait beyond this.
const QUEUE: usize = 4096;
/// The shortest time between two readings of what other nodes changed: their notices
/// come once per batch, and reading them together costs the journal (which waits for
/// it) and the database one look-up instead of one per batch.
const REFRESH_GAP: Duration = Duration::from_millis(50);

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

struct Pending {
    nas: Box<str>,
    op: Op,
    now: i64,
    done: oneshot::Sender<Result<(), TrackerError>>,
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

/// The online table and the journal that keeps it durable.
#[derive(Clone)]
pub struct SessionTracker {
    pending: mpsc::Sender<Pending>,
}

/// What the journal writes to and reads from.
pub struct Journal {
    /// Where records are made durable.
    pub store: Arc<dyn Store>,
    /// Sessions online.
    pub online: Arc<OnlineTable>,
    /// Usage of product instances.
    pub meter: Arc<Meter>,
    /// Users, for the product of a session that names none.
    pub directory: Arc<Directory>,
}

impl SessionTracker {
    /// Restores the online table and the meter from the store and starts the journal,
    /// which ends when every tracker clone is dropped.
    pub async fn restore(
        journal: Journal,
    ) -> Result<(SessionTracker, tokio::task::JoinHandle<()>), StoreError> {
        for r in journal.store.online_sessions().await? {
            let (key, session) = Session::from_record(r);
            journal.online.insert(key, session);
        }
        for (user, product, usage) in journal.store.instance_usage(None).await? {
            journal.meter.set(&user, &product, usage);
        }
        metrics::gauge!("turnstile_online_sessions").set(journal.online.len() as f64);
        let (pending, rx) = mpsc::channel(QUEUE);
        let task = tokio::spawn(run(journal, rx));
        Ok((SessionTracker { pending }, task))
    }

    /// Records one Accounting-Request from `nas` (sent from `source`) at unix second
    /// `now`; returns once the change is durable and applied to the online table.
    pub async fn apply(
        &self,
        nas: &str,
        request: AccountingEvent,
        source: IpAddr,
        now: i64,
    ) -> Result<(), TrackerError> {
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
    ) -> Result<Queued, TrackerError> {
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
    ) -> Result<(), TrackerError> {
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
    ) -> Result<(), TrackerError> {
        let op = Op::Split {
            session_id: key.id.to_string(),
            cause,
            via,
            product,
        };
        self.submit(&key.nas, op, now).await
    }

    async fn submit(&self, nas: &str, op: Op, now: i64) -> Result<(), TrackerError> {
        self.enqueue(nas, op, now).await?.durable().await
    }

    async fn enqueue(&self, nas: &str, op: Op, now: i64) -> Result<Queued, TrackerError> {
        let (done, result) = oneshot::channel();
        self.pending
            .send(Pending {
                nas: nas.into(),
                op,
                now,
                done,
            })
            .await
            .map_err(|_| TrackerError::Stopped)?;
        Ok(Queued(result))
    }
}

/// A change in the journal's queue.
pub struct Queued(oneshot::Receiver<Result<(), TrackerError>>);

impl Queued {
    /// Waits until the change is durable and applied to the online table.
    pub async fn durable(self) -> Result<(), TrackerError> {
        self.0.await.unwrap_or(Err(TrackerError::Stopped))
    }
}

async fn run(journal: Journal, mut rx: mpsc::Receiver<Pending>) {
    let batches = metrics::histogram!("turnstile_accounting_batch_size");
    // Sessions other nodes changed, not read yet: read together once `next_read` comes.
    let mut unread = SessionsTouched::default();
    let mut next_read = Instant::now();
    loop {
        let first = tokio::select! {
            first = rx.recv() => match first {
                Some(p) => p,
                None => return,
            },
            touched = journal.store.changed_elsewhere() => {
                unread.merge(touched);
                continue;
            }
            _ = tokio::time::sleep_until(next_read), if !unread.is_empty() => {
                refresh(&journal, &mut unread).await;
                // What could not be read is tried again a second later.
                let gap = if unread.is_empty() { REFRESH_GAP } else { Duration::from_secs(1) };
                next_read = Instant::now() + gap;
                continue;
            }
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        batches.record(batch.len() as f64);
        let key = |p: &Pending| (p.nas.to_string(), p.op.session_id().to_string());
        let keys: Vec<SessionRef> = batch.iter().map(key).collect();
        // A Start may reuse an ended session's id: only the others can be late copies,
        // and not those of a session the batch itself starts first.
        let mut started = HashSet::new();
        let late: Vec<SessionRef> = batch
            .iter()
            .filter_map(|p| {
                let k = key(p);
                if p.op.is_start() {
                    started.insert(k);
                    None
                } else {
                    (!started.contains(&k)).then_some(k)
                }
            })
            .collect();
        let ended_since = batch.iter().map(|p| p.now).min().unwrap_or(0) - RECENT_END_SECS;
        let outcome = journal
            .store
            .apply_online(&keys, &late, ended_since, &mut |stored| {
                plan(
                    &|user| journal.directory.product_of(user),
                    &batch,
                    &keys,
                    stored,
                )
            })
            .await;
        if let Ok(planned) = &outcome {
            for change in &planned.changes {
                count(change, apply(&journal.online, change));
            }
            for d in &planned.usage {
                journal.meter.add(&d.user, &d.product, d.usage);
            }
        }
        for p in batch {
            let result = match &outcome {
                Ok(_) => Ok(()),
                Err(e) => Err(TrackerError::Store(e.to_string())),
            };
            // The requester may have given up; nothing to do then.
            let _ = p.done.send(result);
        }
    }
}

/// Reads again the sessions other nodes changed, and the usage of their users' product
/// instances; memory follows the store. What cannot be read stays in `unread`.
async fn refresh(journal: &Journal, unread: &mut SessionsTouched) {
    let touched = std::mem::take(unread);
    let records = match journal.store.online_of(&touched).await {
        Ok(records) => records,
        Err(e) => {
            tracing::warn!(error = %e, "sessions changed on another node cannot be read; retrying");
            *unread = touched;
            return;
        }
    };
    let online = &journal.online;
    let mut users: HashSet<String> = HashSet::new();
    let present: HashSet<SessionKey> = records.iter().map(SessionKey::of).collect();
    // Gone from the store: ended elsewhere.
    let mut gone: Vec<SessionKey> = touched
        .sessions
        .iter()
        .map(|(nas, id)| SessionKey::new(nas, id))
        .filter(|k| !present.contains(k))
        .collect();
    if touched.all || !touched.nases.is_empty() {
        let nases: HashSet<&str> = touched.nases.iter().map(String::as_str).collect();
        gone.extend(online.scan(|k, _| {
            let swept = touched.all || nases.contains(&*k.nas);
            (swept && !present.contains(k)).then(|| k.clone())
        }));
    }
    for key in gone {
        if let Some(s) = online.remove(&key) {
            users.insert(s.user.to_string());
        }
    }
    for record in records {
        users.insert(record.user.clone());
        apply(online, &OnlineChange::Put(record));
    }
    metrics::gauge!("turnstile_online_sessions").set(online.len() as f64);
    users.extend(touched.users);
    let users: Vec<String> = users.into_iter().collect();
    let read = journal
        .store
        .instance_usage((!touched.all).then_some(users.as_slice()))
        .await;
    match read {
        Ok(rows) if touched.all => journal.meter.reset(rows),
        Ok(rows) => {
            for (user, product, usage) in rows {
                journal.meter.set(&user, &product, usage);
            }
        }
        Err(e) => tracing::warn!(error = %e, "usage changed on another node cannot be read"),
    }
}

/// What a session used between two of its records: the watermark is the earlier one.
/// A session seen for the first time counts a login and everything it reports.
pub fn delta(prior: Option<&OnlineRecord>, next: &OnlineRecord) -> Usage {
    let grown = |new: i64, old: i64| u64::try_from(new.saturating_sub(old)).unwrap_or(0);
    match prior {
        Some(p) => Usage {
            secs: grown(next.session_time, p.session_time),
            bytes_in: grown(next.input_octets, p.input_octets),
            bytes_out: grown(next.output_octets, p.output_octets),
            logins: 0,
        },
        None => Usage {
            secs: grown(next.session_time, 0),
            bytes_in: grown(next.input_octets, 0),
            bytes_out: grown(next.output_octets, 0),
            logins: 1,
        },
    }
}

/// The store changes for a batch, in order, and the usage they add to product instances.
/// Each request is merged into the session as the store holds it (whichever node wrote
/// it), or as the earlier requests of the same batch left it: what an update does not
/// say (the start, the address) is kept.
/// `keys` are the batch's sessions as stored, request by request.
fn plan(
    product_of: &dyn Fn(&str) -> Option<String>,
    batch: &[Pending],
    keys: &[SessionRef],
    stored: &StoredSessions,
) -> OnlinePlan {
    let mut seen: HashMap<SessionKey, Option<OnlineRecord>> = HashMap::new();
    let mut cleared: HashSet<&str> = HashSet::new();
    let mut changes = Vec::with_capacity(batch.len());
    let mut usage: HashMap<(String, String), UsageDelta> = HashMap::new();
    let mut charge = |prior: Option<&OnlineRecord>, record: &OnlineRecord, now: i64| {
        if record.user.is_empty() {
            return;
        }
        let Some(product) = record.product.clone() else {
            return;
        };
        let d = delta(prior, record);
        if d.is_zero() {
            return;
        }
        let entry = usage
            .entry((record.user.clone(), product.clone()))
            .or_insert_with(|| UsageDelta {
                user: record.user.clone(),
                product,
                usage: Usage::default(),
                at: now,
            });
        entry.usage = entry.usage.plus(d);
    };
    for (p, stored_as) in batch.iter().zip(keys) {
        let key = SessionKey::new(&p.nas, p.op.session_id());
        let prior = match seen.get(&key) {
            Some(s) => s.clone(),
            None if cleared.contains(&*p.nas) => None,
            // A Start may reuse the id of an ended session; anything else for one is a
            // late copy of what was recorded before it ended.
            None if stored.ended.contains(stored_as) && !p.op.is_start() => continue,
            None => stored.online.get(stored_as).cloned(),
        };
        let (r, source) = match &p.op {
            Op::Accounting { request, source } => (request, *source),
            Op::End { cause, via, .. } => {
                if let Some(mut session) = prior {
                    session.updated_at = p.now;
                    seen.insert(key, None);
                    changes.push(OnlineChange::End(HistoryRecord {
                        session,
                        cause: Some(cause.number()),
                        terminate_cause: None,
                        via: via.map(ECode::number),
                    }));
                }
                continue;
            }
            Op::Split {
                cause,
                via,
                product,
                ..
            } => {
                if let Some(session) = prior {
                    let part = OnlineRecord {
                        updated_at: p.now,
                        ..session.clone()
                    };
                    let next = OnlineRecord {
                        product: product.clone().or(session.product),
                        split_at: p.now,
                        split_time: session.session_time,
                        split_input: session.input_octets,
                        split_output: session.output_octets,
                        ..session
                    };
                    seen.insert(key, Some(next.clone()));
                    changes.push(OnlineChange::Split {
                        history: Box::new(HistoryRecord {
                            session: part,
                            cause: Some(cause.number()),
                            terminate_cause: None,
                            via: via.map(ECode::number),
                        }),
                        session: next,
                    });
                }
                continue;
            }
        };
        let merge = |prior: Option<OnlineRecord>| {
            let mut record = merge(prior, &p.nas, r, source, p.now);
            // Without a Class from the Accept, the session is charged to the user's product.
            if record.product.is_none() {
                record.product = product_of(&record.user);
            }
            record
        };
        match r.status {
            AcctStatus::Start | AcctStatus::InterimUpdate => {
                let record = merge(prior.clone());
                charge(prior.as_ref(), &record, p.now);
                seen.insert(key, Some(record.clone()));
                changes.push(OnlineChange::Put(record));
            }
            AcctStatus::Stop => {
                // A Stop for a session never seen is recorded all the same.
                let session = merge(prior.clone());
                charge(prior.as_ref(), &session, p.now);
                seen.insert(key, None);
                changes.push(OnlineChange::End(HistoryRecord {
                    session,
                    cause: r
                        .terminate_cause
                        .and_then(ECode::from_terminate_cause)
                        .map(ECode::number),
                    terminate_cause: r.terminate_cause,
                    via: None,
                }));
            }
            AcctStatus::AccountingOn | AcctStatus::AccountingOff => {
                seen.retain(|k, _| k.nas != p.nas);
                cleared.insert(&p.nas);
                changes.push(OnlineChange::EndNas {
                    nas: p.nas.to_string(),
                    at: p.now,
                    cause: ECode::NasReboot.number(),
                });
            }
            AcctStatus::Other(_) => {}
        }
    }
    OnlinePlan {
        changes,
        usage: usage.into_values().collect(),
    }
}

/// The session after `r`: the request's values where it has them, the prior ones where not.
fn merge(
    prior: Option<OnlineRecord>,
    nas: &str,
    r: &AccountingEvent,
    source: IpAddr,
    now: i64,
) -> OnlineRecord {
    let prior = prior.unwrap_or_default();
    let session_time = r.session_time.map(i64::from);
    let started_at = if prior.started_at > 0 {
        prior.started_at
    } else {
        now - session_time.unwrap_or(0)
    };
    // Counters only move forward. A NAS without Gigawords reports the low 32 bits only:
    // the value is placed in the 4 GiB round the stored total is in, and a smaller value
    // reported with more session time is the counter gone round once (an older report
    // arriving late has less session time, and changes nothing).
    let later = r
        .session_time
        .is_some_and(|t| i64::from(t) > prior.session_time);
    // In i128, clamped to what the store holds: a counter near i64::MAX (a Gigawords
    // value no link reaches, or a damaged row) must not overflow.
    let octets = |new: u64, old: i64| {
        const ROUND: i128 = 1 << 32;
        let (new, old) = (i128::from(new), i128::from(old.max(0)));
        let total = if r.gigawords || new >= ROUND {
            new.max(old)
        } else {
            let same_round = old - old % ROUND + new;
            if same_round >= old {
                same_round
            } else if later {
                same_round + ROUND
            } else {
                old
            }
        };
        i64::try_from(total).unwrap_or(i64::MAX)
    };
    OnlineRecord {
        nas: nas.to_string(),
        session_id: r.session_id.clone(),
        user: if r.user.is_empty() {
            prior.user
        } else {
            r.user.clone()
        },
        // The Class names the product the Accept granted; a NAS echoes it all session
        // long, but a plan change since then (a split) decides.
        product: prior.product.or_else(|| r.class_product.clone()),
        framed_ip: r.framed_ip.map(|ip| ip.to_string()).or(prior.framed_ip),
        station: r.station.clone().or(prior.station),
        nas_port: r.nas_port.clone().or(prior.nas_port),
        nas_addr: Some(r.nas_ip.map_or(source, IpAddr::V4).to_string()),
        started_at,
        updated_at: now,
        session_time: session_time
            .unwrap_or(now - started_at)
            .max(prior.session_time),
        input_octets: octets(r.input_octets, prior.input_octets),
        output_octets: octets(r.output_octets, prior.output_octets),
        split_at: prior.split_at,
        split_time: prior.split_time,
        split_input: prior.split_input,
        split_output: prior.split_output,
    }
}

/// Sessions that came online and left it through one change.
#[derive(Debug, Default)]
struct Moved {
    began: bool,
    ended: usize,
}

/// Applies a stored change to memory.
fn apply(online: &OnlineTable, change: &OnlineChange) -> Moved {
    let mut moved = Moved::default();
    match change {
        OnlineChange::Put(r) => {
            let (key, mut session) = Session::from_record(r.clone());
            match online.get(&key) {
                Some(prior) => {
                    session.pending_end = prior.pending_end;
                    let traffic = (prior.record.input_octets, prior.record.output_octets)
                        != (r.input_octets, r.output_octets);
                    if !traffic {
                        session.traffic_at = prior.traffic_at;
                    }
                }
                None => moved.began = true,
            }
            online.insert(key, session);
        }
        OnlineChange::Split { session, .. } => {
            online.update(&SessionKey::of(session), |s| s.record = session.clone());
        }
        OnlineChange::End(h) => {
            let gone = online.remove(&SessionKey::of(&h.session));
            moved.ended = usize::from(gone.is_some());
        }
        OnlineChange::EndNas { nas, .. } => {
            moved.ended = online.remove_nas(nas);
            tracing::info!(nas = %nas, sessions = moved.ended, "NAS sessions closed (Accounting-On/Off)");
        }
    }
    metrics::gauge!("turnstile_online_sessions").set(online.len() as f64);
    moved
}

/// Counts what this node's journal changed: sessions begun, and ended by cause.
fn count(change: &OnlineChange, moved: Moved) {
    if moved.began {
        metrics::counter!("turnstile_sessions_started_total").increment(1);
    }
    if moved.ended > 0 {
        let cause = match change {
            OnlineChange::End(h) => h.cause.map(ECode::name_of),
            OnlineChange::EndNas { cause, .. } => Some(ECode::name_of(*cause)),
            _ => None,
        };
        let cause = cause.unwrap_or_else(|| "none".into());
        metrics::counter!("turnstile_sessions_ended_total", "cause" => cause)
            .increment(moved.ended as u64);
    }
}

/// The journal's planning for the fuzz target `journal_plan` (cargo-fuzz builds with
/// `--cfg fuzzing`): batches planned over a stored state that follows their changes.
#[cfg(fuzzing)]
pub mod fuzzing {
    use super::*;

    /// One thing a batch holds.
    pub enum Step {
        /// An Accounting-Request from `nas`.
        Accounting(AccountingEvent),
        /// The server ends the session.
        End(String),
        /// The session is split onto `product`.
        Split(String, Option<String>),
    }

    /// The stored sessions a run of batches has left.
    #[derive(Default)]
    pub struct Store {
        online: HashMap<SessionRef, OnlineRecord>,
        ended: HashSet<SessionRef>,
    }

    impl Store {
        /// Plans `steps` from `nas` at `now` as one batch, as the journal does, and keeps
        /// its changes; returns the plan.
        pub fn plan(&mut self, nas: &str, now: i64, steps: Vec<Step>) -> OnlinePlan {
            let batch: Vec<Pending> = steps
                .into_iter()
                .map(|step| Pending {
                    nas: nas.into(),
                    op: match step {
                        Step::Accounting(request) => Op::Accounting {
                            request,
                            source: IpAddr::from([127, 0, 0, 1]),
                        },
                        Step::End(session_id) => Op::End {
                            session_id,
                            cause: ECode::DmFromAdminConsole,
                            via: None,
                        },
                        Step::Split(session_id, product) => Op::Split {
                            session_id,
                            cause: ECode::DmFromAdminConsole,
                            via: None,
                            product,
                        },
                    },
                    now,
                    done: oneshot::channel().0,
                })
                .collect();
            let keys: Vec<SessionRef> = batch
                .iter()
                .map(|p| (p.nas.to_string(), p.op.session_id().to_string()))
                .collect();
            let stored = StoredSessions {
                online: self.online.clone(),
                ended: self.ended.clone(),
            };
            let plan = plan(&|_| Some("standard".into()), &batch, &keys, &stored);
            for change in &plan.changes {
                match change {
                    OnlineChange::Put(r) | OnlineChange::Split { session: r, .. } => {
                        let key = (r.nas.clone(), r.session_id.clone());
                        self.ended.remove(&key);
                        self.online.insert(key, r.clone());
                    }
                    OnlineChange::End(h) => {
                        let key = (h.session.nas.clone(), h.session.session_id.clone());
                        self.online.remove(&key);
                        self.ended.insert(key);
                    }
                    OnlineChange::EndNas { nas, .. } => self.online.retain(|k, _| &k.0 != nas),
                }
            }
            plan
        }

        /// The sessions online.
        pub fn online(&self) -> impl Iterator<Item = &OnlineRecord> {
            self.online.values()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::rating;
    use crate::catalog::{BillingKind, BillingPolicy};
    use proptest::prelude::*;

    fn interim(secs: u32, input: u64, output: u64) -> AccountingEvent {
        AccountingEvent {
            status: AcctStatus::InterimUpdate,
            session_id: "s".into(),
            user: "u".into(),
            terminate_cause: None,
            session_time: Some(secs),
            input_octets: input,
            output_octets: output,
            gigawords: true,
            framed_ip: None,
            nas_ip: None,
            station: None,
            nas_port: None,
            class_product: None,
        }
    }

    /// What the journal charges for `reports` arriving in this order: each merged into
    /// the session as the one before left it, its delta added.
    fn charged(reports: &[(u32, u64, u64)]) -> Usage {
        let source = "192.0.2.1".parse().unwrap();
        let mut prior: Option<OnlineRecord> = None;
        let mut total = Usage::default();
        for (i, &(secs, input, output)) in reports.iter().enumerate() {
            let record = merge(
                prior.clone(),
                "nas",
                &interim(secs, input, output),
                source,
                i as i64,
            );
            total = total.plus(delta(prior.as_ref(), &record));
            prior = Some(record);
        }
        total
    }

    #[test]
    fn counters_at_the_top_of_the_range_do_not_overflow() {
        // Found by the journal_plan fuzz target: a Gigawords report beyond i64, then a
        // later one without Gigawords, took the counter one round past i64::MAX.
        let source = "192.0.2.1".parse().unwrap();
        let huge = merge(None, "nas", &interim(60, u64::MAX, u64::MAX), source, 0);
        assert_eq!(huge.input_octets, i64::MAX);
        let low = AccountingEvent {
            gigawords: false,
            ..interim(120, 1000, 5)
        };
        let next = merge(Some(huge.clone()), "nas", &low, source, 60);
        assert_eq!(
            (next.input_octets, next.output_octets),
            (i64::MAX, i64::MAX)
        );
        let d = delta(Some(&huge), &next);
        assert_eq!((d.bytes_in, d.bytes_out), (0, 0));
        // A damaged row with negative counters counts from zero.
        let damaged = OnlineRecord {
            input_octets: -5,
            output_octets: i64::MIN,
            ..huge
        };
        let next = merge(Some(damaged), "nas", &low, source, 60);
        assert_eq!((next.input_octets, next.output_octets), (1000, 5));
    }

    /// Cumulative counters of a session: each report at least the one before.
    fn session() -> impl Strategy<Value = Vec<(u32, u64, u64)>> {
        prop::collection::vec((0u32..10_000, 0u64..1 << 40, 0u64..1 << 40), 1..40).prop_map(
            |steps| {
                let mut at = (0u32, 0u64, 0u64);
                steps
                    .into_iter()
                    .map(|(s, i, o)| {
                        at = (at.0.saturating_add(s), at.1 + i, at.2 + o);
                        at
                    })
                    .collect()
            },
        )
    }

    proptest! {
        /// Retransmitted and reordered Interims add nothing: the session is charged
        /// exactly its last counters, once, however they arrive.
        #[test]
        fn retransmissions_and_reordering_add_nothing(
            reports in session(),
            shuffles in prop::collection::vec(any::<prop::sample::Index>(), 0..60),
        ) {
            let last = *reports.last().unwrap();
            let mut arrived = reports.clone();
            for pick in shuffles {
                // A copy of a random report arrives again, at a random place.
                let copy = arrived[pick.index(arrived.len())];
                arrived.insert(pick.index(arrived.len() + 1), copy);
            }
            let total = charged(&arrived);
            // Arrivals after the last report cannot lower what it said.
            let max = arrived.iter().fold((0, 0, 0), |m, r| (m.0.max(r.0), m.1.max(r.1), m.2.max(r.2)));
            prop_assert_eq!(max, last);
            prop_assert_eq!(total, Usage { secs: u64::from(last.0), bytes_in: last.1, bytes_out: last.2, logins: 1 });
        }

        /// A NAS without Gigawords: its 32-bit counters wrap, and each wrap is counted.
        #[test]
        fn wrapped_32_bit_counters_are_counted(steps in prop::collection::vec(1u64..3 << 30, 1..30)) {
            let source = "192.0.2.1".parse().unwrap();
            let (mut prior, mut total, mut real) = (None::<OnlineRecord>, Usage::default(), 0u64);
            for (i, step) in steps.iter().enumerate() {
                real += step;
                let mut r = interim(i as u32 + 1, real % (1 << 32), 0);
                r.gigawords = false;
                let record = merge(prior.clone(), "nas", &r, source, i as i64);
                total = total.plus(delta(prior.as_ref(), &record));
                prior = Some(record);
            }
            prop_assert_eq!(total.bytes_in, real);
        }

        /// The charge of a cycle depends on its usage, not on how the usage was reported.
        #[test]
        fn the_charge_does_not_depend_on_how_usage_was_split(
            a in session(),
            b in session(),
            fen_per_hour in 0i64..100_000,
            fen_per_gib in 0i64..100_000,
            included in 0u64..1 << 36,
        ) {
            // Two ways of reporting the same final counters.
            let last = *a.last().unwrap();
            let mut b: Vec<_> = b.into_iter().filter(|r| r.0 <= last.0 && r.1 <= last.1 && r.2 <= last.2).collect();
            b.push(last);
            let policy = BillingPolicy {
                kind: BillingKind::ByTraffic,
                included_secs: Some(included % 100_000),
                included_bytes: Some(included),
                fen_per_hour,
                fen_per_gib,
                ..BillingPolicy::default()
            };
            let (ua, ub) = (charged(&a), charged(&b));
            prop_assert_eq!(ua, ub);
            let extra = rating::Extra::default();
            prop_assert_eq!(rating::charge(&policy, &ua, extra), rating::charge(&policy, &ub, extra));
        }
    }
}
