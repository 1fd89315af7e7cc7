//! The journal's planner, pure: from a batch of changes and the sessions as the store
//! holds them, the store's changes in order and the usage they add to product
//! instances. Counters only move forward, and 32-bit counters that wrap are placed in
//! the round the stored total is in.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use super::{Change, Op};
use crate::account::Usage;
use crate::codes::ECode;
use crate::session::event::{AccountingEvent, AcctStatus};
use crate::session::online::SessionKey;
use crate::store::billing::UsageDelta;
use crate::store::{
    HistoryRecord, OnlineChange, OnlinePlan, OnlineRecord, SessionRef, StoredSessions,
};

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
pub(super) fn plan(
    product_of: &dyn Fn(&str) -> Option<String>,
    batch: &[Change],
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
            let batch: Vec<Change> = steps
                .into_iter()
                .map(|step| Change {
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
