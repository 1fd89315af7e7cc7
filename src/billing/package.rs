//! Packages (套餐): extra time and traffic bought onto a product instance, valid for some
//! days. Bought by hand (E5040, or E5041 / E5042 with nothing written), automatically at
//! settlement when reserved (E7016 / E7017), and taken back — refunded when unused.
//! A package is paid from the instance's balance first, then from the wallet; it is never
//! bought on credit.

use crate::account::{Grant, Holding, Usage};
use crate::catalog::{Catalog, PackagePlan};
use crate::codes::ECode;
use crate::store::billing::{
    Account, LedgerEntry, LedgerKind, LogEntry, MoneyPlan, MoneyWrite, PackageRecord, Refusal,
};
use crate::store::Store;

/// Balances after a purchase and what it wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purchase {
    /// The package.
    pub package: PackageRecord,
    /// The instance's balance after.
    pub balance_fen: i64,
    /// The wallet after.
    pub wallet_fen: i64,
    /// Ledger entries (one or two).
    pub ledger: Vec<LedgerEntry>,
}

/// Buys `plan` (named `name`) onto `holding` of `user` at `now`; `reference` keys its
/// ledger entries. On failure, why (nothing is bought).
#[allow(clippy::too_many_arguments)]
pub fn purchase(
    user: &str,
    holding: &Holding,
    balance_fen: i64,
    wallet_fen: i64,
    name: &str,
    plan: &PackagePlan,
    now: i64,
    reference: &str,
) -> Result<Purchase, String> {
    if plan
        .product
        .as_deref()
        .is_some_and(|p| p != holding.product)
    {
        return Err(format!(
            "package plan {name:?} is for product {:?}, not {:?}",
            plan.product.as_deref().unwrap_or_default(),
            holding.product
        ));
    }
    let price = plan.price_fen.max(0);
    let from_balance = balance_fen.max(0).min(price);
    let from_wallet = price - from_balance;
    if from_wallet > wallet_fen.max(0) {
        return Err(format!(
            "{price} fen needed, {} fen available",
            balance_fen.max(0) + wallet_fen.max(0)
        ));
    }
    let (balance, wallet) = (balance_fen - from_balance, wallet_fen - from_wallet);
    let entry = |product: Option<&str>, amount_fen: i64, balance_fen, suffix: &str| LedgerEntry {
        id: 0,
        at: now,
        user: user.to_string(),
        product: product.map(str::to_string),
        amount_fen,
        balance_fen,
        kind: LedgerKind::Package,
        reference: format!("{reference}{suffix}"),
        note: Some(format!("package {name}")),
    };
    let mut ledger = Vec::new();
    if from_balance > 0 {
        ledger.push(entry(Some(&holding.product), -from_balance, balance, ""));
    }
    if from_wallet > 0 {
        ledger.push(entry(None, -from_wallet, wallet, ":wallet"));
    }
    Ok(Purchase {
        package: PackageRecord {
            id: 0,
            user: user.to_string(),
            product: holding.product.clone(),
            package: name.to_string(),
            price_fen: price,
            grant: Grant {
                extra_secs: plan.extra_secs,
                extra_bytes: plan.extra_bytes,
                bought_at: now,
                expires_at: now.saturating_add(i64::from(plan.valid_days) * 86_400),
            },
        },
        balance_fen: balance,
        wallet_fen: wallet,
        ledger,
    })
}

fn refuse(code: ECode, reason: String) -> Refusal {
    Refusal { code, reason }
}

/// The instance a command names: `product`, or the user's only (or first) one.
fn instance<'a>(
    account: &'a Account,
    product: Option<&str>,
) -> Result<&'a (Holding, Usage), Refusal> {
    match product {
        Some(p) => account.holdings.iter().find(|(h, _)| h.product == p),
        None => account.holdings.first(),
    }
    .ok_or_else(|| {
        refuse(
            ECode::PackagePurchaseFailed,
            format!(
                "{} holds no instance{}",
                account.user,
                product
                    .map(|p| format!(" of product {p:?}"))
                    .unwrap_or_default()
            ),
        )
    })
}

fn plan_of<'a>(catalog: &'a Catalog, name: &str) -> Result<&'a PackagePlan, Refusal> {
    catalog
        .packages
        .get(name)
        .ok_or_else(|| refuse(ECode::PackageNotFound, format!("no package plan {name:?}")))
}

/// What buying package plan `name` onto `account`'s instance of `product` writes.
pub fn plan_buy(
    account: &Account,
    catalog: &Catalog,
    product: Option<&str>,
    name: &str,
    now: i64,
    reference: &str,
) -> Result<MoneyWrite, Refusal> {
    let plan = plan_of(catalog, name)?;
    let (h, _) = instance(account, product)?;
    let p = purchase(
        &account.user,
        h,
        h.balance_fen,
        account.wallet_fen,
        name,
        plan,
        now,
        reference,
    )
    .map_err(|reason| refuse(ECode::PackagePurchaseFailed, reason))?;
    Ok(MoneyWrite {
        wallet_fen: p.wallet_fen,
        balances: vec![(h.product.clone(), p.balance_fen)],
        ledger: p.ledger,
        log: vec![LogEntry {
            id: 0,
            at: now,
            user: account.user.clone(),
            product: Some(h.product.clone()),
            cycle_start: Some(h.cycle_start),
            code: ECode::PackagePurchased.number(),
            amount_fen: p.package.price_fen,
            detail: format!("package {name:?} bought"),
        }],
        new_packages: vec![p.package],
        ..MoneyWrite::default()
    })
}

/// What reserving `name` (or, with None, cancelling the reservation) for automatic
/// purchase at each settlement writes.
pub fn plan_reserve(
    account: &Account,
    catalog: &Catalog,
    product: Option<&str>,
    name: Option<&str>,
) -> Result<MoneyWrite, Refusal> {
    if let Some(name) = name {
        plan_of(catalog, name)?;
    }
    let (h, _) = instance(account, product)?;
    Ok(MoneyWrite {
        wallet_fen: account.wallet_fen,
        reservations: vec![(h.product.clone(), name.map(str::to_string))],
        ..MoneyWrite::default()
    })
}

/// What taking back package `id` writes: it is refunded to where it was paid from when it
/// is unexpired and unused (the instance has not used more than its policy includes
/// without packages), else removed without a refund.
pub fn plan_remove(
    account: &Account,
    catalog: &Catalog,
    id: i64,
    now: i64,
) -> Result<MoneyWrite, Refusal> {
    let p = account
        .packages
        .iter()
        .find(|p| p.id == id)
        .ok_or_else(|| {
            refuse(
                ECode::PackageNotFound,
                format!("{} has no package {id}", account.user),
            )
        })?;
    let mut w = MoneyWrite {
        wallet_fen: account.wallet_fen,
        removed_packages: vec![id],
        ..MoneyWrite::default()
    };
    let instance = account
        .holdings
        .iter()
        .find(|(h, _)| h.product == p.product);
    let unused = instance.is_some_and(|(h, usage)| {
        let policy = catalog
            .products
            .get(&h.product)
            .and_then(|prod| catalog.billing.get(&prod.billing_policy));
        policy.is_some_and(|b| {
            b.included_secs.is_none_or(|inc| usage.secs <= inc)
                && b.included_bytes.is_none_or(|inc| usage.bytes() <= inc)
        }) && p.grant.bought_at >= h.cycle_start
    });
    if let (Some((h, _)), true) = (instance, unused && p.grant.expires_at > now) {
        let balance = h.balance_fen.saturating_add(p.price_fen);
        w.balances.push((h.product.clone(), balance));
        w.ledger.push(LedgerEntry {
            id: 0,
            at: now,
            user: account.user.clone(),
            product: Some(h.product.clone()),
            amount_fen: p.price_fen,
            balance_fen: balance,
            kind: LedgerKind::Reversal,
            reference: format!("refund:package:{id}"),
            note: Some(format!("package {} taken back unused", p.package)),
        });
    }
    Ok(w)
}

/// Runs a package plan for `user` in one transaction; a user that does not exist is
/// E5992, a store failure `failure`.
pub async fn transact(
    store: &dyn Store,
    user: &str,
    failure: ECode,
    plan: &MoneyPlan<'_>,
) -> Result<MoneyWrite, Refusal> {
    match store.transact(user, plan).await {
        Ok(Some(outcome)) => outcome,
        Ok(None) => Err(refuse(ECode::UserNotFound, format!("no user {user:?}"))),
        Err(e) => Err(refuse(failure, format!("store: {e}"))),
    }
}
