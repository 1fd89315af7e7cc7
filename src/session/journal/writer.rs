//! The journal's loop: takes what is queued (up to a batch), has the store write it in
//! one transaction with the changes the planner makes of it, applies the same changes to
//! the online table and the meter, then releases the requesters. Between batches it
//! reads what other nodes changed.

use std::collections::HashSet;
use tokio::sync::mpsc;
use tokio::time::{Duration, Instant};

use super::plan::plan;
use super::{Backing, JournalError, Pending};
use crate::codes::ECode;
use crate::session::online::{OnlineTable, Session, SessionKey};
use crate::store::{OnlineChange, SessionRef, SessionsTouched};

/// Most requests written in one transaction.
const MAX_BATCH: usize = 1024;
/// An Interim-Update or Stop for a session that ended this recently (and is not online)
/// is a late copy of one already recorded, say a Stop retransmitted to another node: it
/// changes nothing.
const RECENT_END_SECS: i64 = 600;
/// The shortest time between two readings of what other nodes changed: their notices
/// come once per batch, and reading them together costs the journal (which waits for
/// it) and the database one look-up instead of one per batch.
const REFRESH_GAP: Duration = Duration::from_millis(50);

pub(super) async fn run(journal: Backing, mut rx: mpsc::Receiver<Pending>) {
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
        let (batch, waiting): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|p| (p.change, p.done)).unzip();
        let key = |c: &super::Change| (c.nas.to_string(), c.op.session_id().to_string());
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
        for done in waiting {
            let result = match &outcome {
                Ok(_) => Ok(()),
                Err(e) => Err(JournalError::Store(e.to_string())),
            };
            // The requester may have given up; nothing to do then.
            let _ = done.send(result);
        }
    }
}

/// Reads again the sessions other nodes changed, and the usage of their users' product
/// instances; memory follows the store. What cannot be read stays in `unread`.
async fn refresh(journal: &Backing, unread: &mut SessionsTouched) {
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
