//! Billing: what usage costs, and charging it once per cycle.
//!
//! | module | what it owns |
//! | --- | --- |
//! | [`rating`] | pure: a billing policy and a cycle's usage → charge, quota left (one rounding per cycle) |
//! | [`meter`] | every product instance's usage this cycle, in memory (the journal adds, settlement takes off) |
//! | [`standing`] | where a user stands on a product: quota, funds, consumption limit → E2616/E2617 at login, E3001/E3004 online |
//! | [`cycle`] | where cycles fall on the calendar: day/month/year × count, calendar or anniversary, time zone |
//! | [`settle`] | settlement: the pure plan of one instance (E7003, E7009–E7013, E7016–E7018) and the run that writes plans batch by batch |
//! | [`payment`] | payments (E6001/E6002): to the wallet or a product, arrears first |
//! | [`package`] | packages (套餐): buying (E5040–E5042), reserving, taking back |
//!
//! Usage flows in from the accounting journal (`session::journal`), which adds each
//! session's delta since its last counters to the store and the meter in its own
//! transaction. Money moves only in store transactions that read, plan and write at once
//! (`store::billing`), every movement a ledger entry that is never edited.

pub mod cycle;
pub mod meter;
pub mod package;
pub mod payment;
pub mod rating;
pub mod settle;
pub mod standing;

use crate::store::billing::LedgerEntry;

/// Counts ledger entries that were written, by kind: `turnstile_ledger_entries_total` and
/// `turnstile_ledger_fen_total` (the money moved, as an absolute amount).
pub fn count_ledger(entries: &[LedgerEntry]) {
    for e in entries {
        let kind = e.kind.as_str();
        metrics::counter!("turnstile_ledger_entries_total", "kind" => kind).increment(1);
        metrics::counter!("turnstile_ledger_fen_total", "kind" => kind)
            .increment(e.amount_fen.unsigned_abs());
    }
}
