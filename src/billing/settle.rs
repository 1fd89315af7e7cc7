//! Settlement (结算): every product instance whose cycle has ended is charged its cycle's
//! fee and beyond-quota usage, once.
//!
//! [`plan`] is pure: from an instance as the store reads it, the catalog and the clock,
//! it decides the outcome code (E7003, E7009–E7013, E7018), the money that moves, the
//! next cycle and a reserved package purchase (E7016/E7017). The store writes the plan in
//! the transaction it read the instance in, with the settlement record whose unique key
//! (user, product, cycle start) makes a second settlement of the same cycle impossible —
//! after a kill -9, with a timer run racing a manual one, or with two daemons.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;
use thiserror::Error;
use tokio::sync::mpsc;

use super::cycle::CycleRule;
use super::meter::Meter;
use super::package::purchase;
use super::rating::{self, Extra};
use crate::catalog::{Catalog, ShortBalance};
use crate::clock::Zone;
use crate::codes::ECode;
use crate::store::billing::{
    DueInstance, InstanceOutcome, LedgerEntry, LedgerKind, LogEntry, SettleFailure, SettleScope,
    SettleStep, SettlementRecord, SettlementWrite,
};
use crate::store::Store;

/// Instances settled per transaction.
pub const BATCH: usize = 1000;

/// What a settlement run needs besides the instances.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Products, billing policies, package plans.
    pub catalog: &'a Catalog,
    /// Where cycles fall on the calendar.
    pub zone: Zone,
    /// Now.
    pub now: i64,
}

fn line(i: &DueInstance, now: i64, code: ECode, amount_fen: i64, detail: String) -> LogEntry {
    LogEntry {
        id: 0,
        at: now,
        user: i.user.clone(),
        product: Some(i.holding.product.clone()),
        cycle_start: Some(i.holding.cycle_start),
        code: code.number(),
        amount_fen,
        detail,
    }
}

/// Decides what settling `i` at `ctx.now` does.
pub fn plan(i: &DueInstance, ctx: &Context<'_>) -> InstanceOutcome {
    let h = &i.holding;
    let now = ctx.now;
    let fail = |detail: String| {
        InstanceOutcome::Failed(line(i, now, ECode::SettlementModeInvalid, 0, detail))
    };
    let Some(product) = ctx.catalog.products.get(&h.product) else {
        return fail(format!("product {:?} does not exist", h.product));
    };
    let Some(policy) = ctx.catalog.billing.get(&product.billing_policy) else {
        return fail(format!(
            "billing policy {:?} does not exist",
            product.billing_policy
        ));
    };
    let rule = CycleRule::of(product);
    let end = if h.cycle_end > 0 {
        h.cycle_end
    } else {
        match rule.end_after(i.started_at, h.cycle_start, ctx.zone) {
            Ok(end) if end > now => return InstanceOutcome::CycleEnd(end),
            Ok(end) => end,
            Err(e) => return fail(format!("cycle: {e}")),
        }
    };
    // The next cycle is the one that holds now: idle cycles are not charged afterwards.
    let next = match rule.cycle_at(i.started_at, now.max(end), ctx.zone) {
        Ok((start, next_end)) => (start.max(end), next_end),
        Err(e) => return fail(format!("cycle: {e}")),
    };
    let (extra_secs, extra_bytes) = h.extra_during(h.cycle_start, end);
    let extra = Extra {
        secs: extra_secs,
        bytes: extra_bytes,
    };
    let charge = rating::charge(policy, &i.usage, extra);
    let below_traffic = product.min_bytes > 0 && i.usage.bytes() < product.min_bytes;
    let below_time = product.min_secs > 0 && i.usage.secs < product.min_secs;
    let amount = if below_traffic || below_time {
        0
    } else {
        charge.total()
    };

    let reference = format!("settle:{}:{}:{}", i.user, h.product, h.cycle_start);
    let mut ledger = Vec::new();
    let mut entry = |product: Option<&str>, amount_fen, balance_fen, kind, suffix: &str| {
        ledger.push(LedgerEntry {
            id: 0,
            at: now,
            user: i.user.clone(),
            product: product.map(str::to_string),
            amount_fen,
            balance_fen,
            kind,
            reference: format!("{reference}{suffix}"),
            note: None,
        });
    };
    let (mut balance, mut wallet) = (h.balance_fen, i.wallet_fen);
    // The wallet pays what the instance's balance cannot, unless that would not be
    // enough and the product says to charge nothing then.
    let short = amount.saturating_sub(balance.max(0)).max(0);
    if short > 0 && wallet > 0 && (wallet >= short || product.short_balance != ShortBalance::Skip) {
        let moved = wallet.min(short);
        wallet -= moved;
        balance += moved;
        entry(None, -moved, wallet, LedgerKind::Transfer, ":from-wallet");
        entry(
            Some(&h.product),
            moved,
            balance,
            LedgerKind::Transfer,
            ":to-product",
        );
    }
    let (code, charged) = if below_traffic {
        (ECode::SettleSkippedLowTraffic, 0)
    } else if below_time {
        (ECode::SettleSkippedLowTime, 0)
    } else if balance >= amount {
        (ECode::Settled, amount)
    } else {
        match product.short_balance {
            ShortBalance::Skip => (ECode::SettleSkippedLowBalance, 0),
            ShortBalance::Zero => (ECode::SettleBalanceToZero, balance.max(0)),
            ShortBalance::Negative => (ECode::SettleBalanceNegative, amount),
        }
    };
    balance -= charged;
    if charged > 0 {
        entry(
            Some(&h.product),
            -charged,
            balance,
            LedgerKind::Settlement,
            "",
        );
    }
    let mut log = vec![line(
        i,
        now,
        code,
        charged,
        format!(
            "fee {} + usage {} = {} fen; charged {charged}; balance {balance}",
            charge.fee_fen,
            charge.usage_fen,
            charge.total()
        ),
    )];
    let package = h.reserved_package.as_deref().and_then(|name| {
        let bought = ctx
            .catalog
            .packages
            .get(name)
            .ok_or_else(|| format!("package plan {name:?} does not exist"))
            .and_then(|plan| {
                let reference = format!("package:{}:{}:{}:{name}", i.user, h.product, next.0);
                purchase(&i.user, h, balance, wallet, name, plan, now, &reference)
            });
        match bought {
            Ok(p) => {
                (balance, wallet) = (p.balance_fen, p.wallet_fen);
                ledger.extend(p.ledger);
                let detail = format!("package {name:?} bought for {} fen", p.package.price_fen);
                log.push(line(
                    i,
                    now,
                    ECode::AutoPurchaseSucceeded,
                    p.package.price_fen,
                    detail,
                ));
                Some(p.package)
            }
            Err(reason) => {
                log.push(line(i, now, ECode::AutoPurchaseFailed, 0, reason));
                None
            }
        }
    });
    InstanceOutcome::Settled(Box::new(SettlementWrite {
        record: SettlementRecord {
            id: 0,
            user: i.user.clone(),
            product: h.product.clone(),
            cycle_start: h.cycle_start,
            cycle_end: end,
            settled_at: now,
            usage: i.usage,
            fee_fen: charge.fee_fen,
            usage_fen: charge.usage_fen,
            charged_fen: charged,
            balance_fen: balance,
            code: code.number(),
        },
        next_cycle: next,
        wallet_fen: wallet,
        ledger,
        log,
        package,
    }))
}

/// A settlement run that could not finish.
#[derive(Debug, Error)]
pub enum SettleError {
    /// A batch's transaction failed; nothing of that batch was written.
    #[error("{code}: {error}")]
    Write {
        /// E7002, E7004 or E7005, by the step that failed.
        code: ECode,
        /// The store's error.
        error: String,
    },
    /// No user of that name (E7001).
    #[error("{0}: {1:?}")]
    NoSuchUser(ECode, String),
    /// The user has no instance of that product (E7006).
    #[error("{0}: {1:?} holds no {2:?}")]
    NoInstance(ECode, String, String),
    /// The store failed outside a batch.
    #[error("store: {0}")]
    Store(String),
}

impl SettleError {
    /// The code the run failed with.
    pub fn code(&self) -> ECode {
        match self {
            SettleError::Write { code, .. } => *code,
            SettleError::NoSuchUser(code, _) | SettleError::NoInstance(code, ..) => *code,
            SettleError::Store(_) => ECode::SettlePendingQueueFailed,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RunReport {
    /// Instances whose cycle was settled.
    pub settled: u64,
    /// Instances whose cycle end was computed (not due yet).
    pub cycle_ends: u64,
    /// Instances that could not be settled (E7018).
    pub failed: u64,
    /// Fen charged.
    pub charged_fen: i64,
    /// Outcomes by code.
    pub codes: BTreeMap<String, u64>,
    /// Expired packages deleted.
    pub expired_packages: u64,
    /// How long it took.
    pub millis: u64,
    /// True when nothing was written.
    pub dry_run: bool,
}

/// Runs settlements against a store, keeping the meter in step.
pub struct Settler {
    /// Where instances, ledger and settlements are.
    pub store: Arc<dyn Store>,
    /// Usage in memory: what a settlement settled is taken off.
    pub meter: Arc<Meter>,
    /// Where cycles fall.
    pub zone: Zone,
    /// Told (user, product) of each settled instance, to split its online sessions.
    pub settled: Option<mpsc::UnboundedSender<(String, String)>>,
}

impl Settler {
    /// Settles every instance in `scope` due at `now`, batch by batch, with the catalog
    /// as stored (not as memory last saw it). A dry run plans and reports without writing.
    pub async fn run(
        &self,
        scope: &SettleScope,
        now: i64,
        dry_run: bool,
    ) -> Result<RunReport, SettleError> {
        let started = Instant::now();
        self.check_scope(scope, now).await?;
        let catalog = self.catalog().await?;
        let ctx = Context {
            catalog: &catalog,
            zone: self.zone,
            now,
        };
        let mut report = RunReport {
            dry_run,
            ..RunReport::default()
        };
        let mut after = None;
        let mut touched: Vec<String> = Vec::new();
        loop {
            let batch = if dry_run {
                self.dry_batch(&ctx, scope, after.clone()).await?
            } else {
                let planner = |i: &DueInstance| plan(i, &ctx);
                match self
                    .store
                    .settle_batch(now, scope, after.clone(), BATCH, &planner)
                    .await
                {
                    Ok(batch) => batch,
                    Err(f) => return Err(self.batch_failed(f, after, now).await),
                }
            };
            let Some(last) = batch.last else { break };
            after = Some(last);
            for (user, product, outcome) in batch.outcomes {
                self.count(&mut report, &user, &product, &outcome, dry_run);
                if matches!(outcome, InstanceOutcome::Settled(_)) && touched.last() != Some(&user) {
                    touched.push(user);
                }
            }
            tracing::info!(
                settled = report.settled,
                charged_fen = report.charged_fen,
                dry_run,
                "settlement batch done"
            );
        }
        if !dry_run && !touched.is_empty() {
            // A failure here leaves memory's balances stale until the next change or
            // restart; the money itself is settled.
            if let Err(e) = self.store.touch_users(&touched).await {
                tracing::error!(error = %e, "settled users not announced to memory");
            }
        }
        if !dry_run {
            let deleted = self
                .store
                .delete_expired_packages(now)
                .await
                .map_err(|e| SettleError::Store(e.to_string()));
            match deleted {
                Ok(users) => report.expired_packages = users.iter().map(|(_, n)| n).sum(),
                Err(e) => {
                    metrics::counter!("turnstile_settlements_total", "code" => ECode::ExpiredPackagesDeleteFailed.to_string())
                        .increment(1);
                    tracing::error!(code = %ECode::ExpiredPackagesDeleteFailed, error = %e, "expired packages not deleted");
                }
            }
        }
        report.millis = started.elapsed().as_millis() as u64;
        metrics::histogram!("turnstile_settlement_run_seconds")
            .record(started.elapsed().as_secs_f64());
        tracing::info!(
            settled = report.settled,
            cycle_ends = report.cycle_ends,
            failed = report.failed,
            charged_fen = report.charged_fen,
            ms = report.millis,
            dry_run,
            "settlement run finished"
        );
        Ok(report)
    }

    /// A batch that wrote nothing: its code by the step that failed, counted, logged and
    /// written to the settlement log (on its own, as far as the store still writes).
    async fn batch_failed(
        &self,
        f: SettleFailure,
        after: Option<(String, String)>,
        now: i64,
    ) -> SettleError {
        let code = match f.step {
            SettleStep::Claim => ECode::SettlePendingQueueFailed,
            SettleStep::Record => ECode::SettledQueueFailed,
            SettleStep::Deduct => ECode::SettleDeductFailed,
        };
        metrics::counter!("turnstile_settlements_total", "code" => code.to_string()).increment(1);
        tracing::error!(code = %code, error = %f.error, "settlement batch not written; the next run retries");
        let from = after.map_or_else(
            || "the first".to_string(),
            |(u, p)| format!("after {u}/{p}"),
        );
        let line = LogEntry {
            id: 0,
            at: now,
            user: "*".into(),
            product: None,
            cycle_start: None,
            code: code.number(),
            amount_fen: 0,
            detail: format!("batch of instances from {from} not written: {}", f.error),
        };
        if let Err(e) = self.store.append_log(&[line]).await {
            tracing::error!(error = %e, "settlement failure not logged");
        }
        SettleError::Write {
            code,
            error: f.error.to_string(),
        }
    }

    /// The catalog as stored; objects that cannot be read are left out and logged.
    pub async fn catalog(&self) -> Result<Catalog, SettleError> {
        let rows = self
            .store
            .catalog()
            .await
            .map_err(|e| SettleError::Store(e.to_string()))?;
        let (catalog, errors) = Catalog::from_rows(rows);
        for e in errors {
            tracing::error!(error = %e, "catalog object cannot be read; left out");
        }
        Ok(catalog)
    }

    /// E7001 / E7006 for a scope naming a user or instance that does not exist; the
    /// refusal is logged.
    async fn check_scope(&self, scope: &SettleScope, now: i64) -> Result<(), SettleError> {
        let Some(user) = &scope.user else {
            return Ok(());
        };
        let store = |e: crate::store::StoreError| SettleError::Store(e.to_string());
        let account = self.store.account(user).await.map_err(store)?;
        let refusal = match (&account, &scope.product) {
            (None, _) => Some((
                ECode::SettleUserNotFound,
                SettleError::NoSuchUser(ECode::SettleUserNotFound, user.clone()),
            )),
            (Some(a), Some(p)) if !a.holdings.iter().any(|(h, _)| &h.product == p) => Some((
                ECode::SettleNoProductInstance,
                SettleError::NoInstance(ECode::SettleNoProductInstance, user.clone(), p.clone()),
            )),
            _ => None,
        };
        let Some((code, error)) = refusal else {
            return Ok(());
        };
        metrics::counter!("turnstile_settlements_total", "code" => code.to_string()).increment(1);
        let entry = LogEntry {
            id: 0,
            at: now,
            user: user.clone(),
            product: scope.product.clone(),
            cycle_start: None,
            code: code.number(),
            amount_fen: 0,
            detail: error.to_string(),
        };
        self.store.append_log(&[entry]).await.map_err(store)?;
        Err(error)
    }

    /// A batch planned but not written: reads the instances as a settlement would.
    async fn dry_batch(
        &self,
        ctx: &Context<'_>,
        scope: &SettleScope,
        after: Option<(String, String)>,
    ) -> Result<crate::store::billing::SettledBatch, SettleError> {
        let mut batch = crate::store::billing::SettledBatch::default();
        let due = self
            .store
            .due_instances(ctx.now, scope, after, BATCH)
            .await
            .map_err(|e| SettleError::Store(e.to_string()))?;
        for i in due {
            batch.last = Some((i.user.clone(), i.holding.product.clone()));
            let outcome = plan(&i, ctx);
            batch
                .outcomes
                .push((i.user.clone(), i.holding.product.clone(), outcome));
        }
        Ok(batch)
    }

    fn count(
        &self,
        report: &mut RunReport,
        user: &str,
        product: &str,
        outcome: &InstanceOutcome,
        dry_run: bool,
    ) {
        let code = match outcome {
            InstanceOutcome::CycleEnd(_) => {
                report.cycle_ends += 1;
                return;
            }
            InstanceOutcome::Failed(line) => {
                report.failed += 1;
                tracing::warn!(user, product, detail = %line.detail, "instance not settled (E7018)");
                line.code
            }
            InstanceOutcome::Settled(w) => {
                report.settled += 1;
                report.charged_fen = report.charged_fen.saturating_add(w.record.charged_fen);
                if !dry_run {
                    self.meter.subtract(user, product, w.record.usage);
                    metrics::counter!("turnstile_charged_fen_total")
                        .increment(u64::try_from(w.record.charged_fen).unwrap_or(0));
                    super::count_ledger(&w.ledger);
                    for l in w.log.iter().skip(1) {
                        metrics::counter!("turnstile_settlements_total", "code" => ECode::name_of(l.code))
                            .increment(1);
                    }
                }
                // Reserved package purchases (E7016 / E7017) follow the settlement's line.
                for l in w.log.iter().skip(1) {
                    *report.codes.entry(ECode::name_of(l.code)).or_default() += 1;
                }
                if !dry_run {
                    if let Some(tx) = &self.settled {
                        let _ = tx.send((user.to_string(), product.to_string()));
                    }
                }
                w.record.code
            }
        };
        if !dry_run {
            metrics::counter!("turnstile_settlements_total", "code" => ECode::name_of(code))
                .increment(1);
        }
        *report.codes.entry(ECode::name_of(code)).or_default() += 1;
    }
}
