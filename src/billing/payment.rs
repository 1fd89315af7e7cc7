//! Payments (缴费): money paid in lands on the wallet or on a product instance
//! (`[billing] pay_to`, or the payer's choice); a payment to the wallet first clears the
//! arrears of instances below zero. E6001 on success; E6002, with the reason, when nothing
//! was written.

use crate::codes::ECode;
use crate::store::billing::{Account, LedgerEntry, LedgerKind, LogEntry, MoneyWrite, Refusal};
use crate::store::{Store, StoreError};

/// A payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    /// Fen, above zero.
    pub amount_fen: i64,
    /// A product instance, or None for the wallet.
    pub product: Option<String>,
    /// Idempotency key: a payment whose key is recorded already is not taken twice.
    pub reference: String,
    /// For people.
    pub note: Option<String>,
    /// Unix second.
    pub at: i64,
}

fn refuse(reason: String) -> Refusal {
    Refusal {
        code: ECode::PaymentFailed,
        reason,
    }
}

/// What taking `p` into `account` writes.
pub fn plan(account: &Account, p: &Payment) -> Result<MoneyWrite, Refusal> {
    if p.amount_fen <= 0 {
        return Err(refuse(format!(
            "the amount must be above 0 fen, not {}",
            p.amount_fen
        )));
    }
    let mut w = MoneyWrite {
        wallet_fen: account.wallet_fen,
        ..MoneyWrite::default()
    };
    let entry = |product: Option<&str>, amount_fen: i64, balance_fen: i64, kind, suffix: &str| {
        LedgerEntry {
            id: 0,
            at: p.at,
            user: account.user.clone(),
            product: product.map(str::to_string),
            amount_fen,
            balance_fen,
            kind,
            reference: format!("{}{suffix}", p.reference),
            note: p.note.clone(),
        }
    };
    match &p.product {
        Some(product) => {
            let Some((h, _)) = account.holdings.iter().find(|(h, _)| &h.product == product) else {
                return Err(refuse(format!(
                    "{} holds no instance of product {product:?}",
                    account.user
                )));
            };
            let balance = h.balance_fen.saturating_add(p.amount_fen);
            w.balances.push((product.clone(), balance));
            w.ledger.push(entry(
                Some(product),
                p.amount_fen,
                balance,
                LedgerKind::Payment,
                "",
            ));
        }
        None => {
            w.wallet_fen = w.wallet_fen.saturating_add(p.amount_fen);
            w.ledger.push(entry(
                None,
                p.amount_fen,
                w.wallet_fen,
                LedgerKind::Payment,
                "",
            ));
            // Arrears first: each instance below zero is brought back as far as the
            // wallet allows.
            for (h, _) in account.holdings.iter().filter(|(h, _)| h.balance_fen < 0) {
                let moved = w.wallet_fen.min(-h.balance_fen);
                if moved <= 0 {
                    break;
                }
                w.wallet_fen -= moved;
                let balance = h.balance_fen + moved;
                w.balances.push((h.product.clone(), balance));
                let suffix = format!(":arrears:{}", h.product);
                w.ledger.push(entry(
                    None,
                    -moved,
                    w.wallet_fen,
                    LedgerKind::Transfer,
                    &suffix,
                ));
                w.ledger.push(entry(
                    Some(&h.product),
                    moved,
                    balance,
                    LedgerKind::Transfer,
                    &format!("{suffix}:in"),
                ));
            }
        }
    }
    w.log.push(LogEntry {
        id: 0,
        at: p.at,
        user: account.user.clone(),
        product: p.product.clone(),
        cycle_start: None,
        code: ECode::PaymentSucceeded.number(),
        amount_fen: p.amount_fen,
        detail: format!(
            "{} fen to {}",
            p.amount_fen,
            p.product.as_deref().unwrap_or("the wallet")
        ),
    });
    Ok(w)
}

/// Takes a payment for `user` in one transaction (E6001). A refusal, a user that does
/// not exist or a store failure writes nothing but an E6002 log line, and comes back as
/// the refusal. A payment whose reference is recorded already is reported as such and
/// not taken again.
pub async fn pay(store: &dyn Store, user: &str, p: &Payment) -> Result<MoneyWrite, Refusal> {
    let planner = |a: &Account| plan(a, p);
    let outcome = match store.transact(user, &planner).await {
        Ok(Some(Ok(w))) => {
            metrics::counter!("turnstile_payments_total", "code" => ECode::PaymentSucceeded.to_string())
                .increment(1);
            metrics::counter!("turnstile_paid_fen_total")
                .increment(u64::try_from(p.amount_fen).unwrap_or(0));
            super::count_ledger(&w.ledger);
            tracing::info!(user, amount_fen = p.amount_fen, to = ?p.product, reference = %p.reference, "payment taken");
            return Ok(w);
        }
        Ok(Some(Err(refusal))) => refusal,
        Ok(None) => refuse(format!("no user {user:?}")),
        Err(StoreError::DuplicateReference(r)) => refuse(format!(
            "a payment with reference {r:?} is already recorded; not taken twice"
        )),
        Err(e) => refuse(format!("store: {e}")),
    };
    metrics::counter!("turnstile_payments_total", "code" => ECode::PaymentFailed.to_string())
        .increment(1);
    tracing::warn!(user, amount_fen = p.amount_fen, reason = %outcome.reason, "payment refused");
    let line = LogEntry {
        id: 0,
        at: p.at,
        user: user.to_string(),
        product: p.product.clone(),
        cycle_start: None,
        code: ECode::PaymentFailed.number(),
        amount_fen: p.amount_fen,
        detail: outcome.reason.clone(),
    };
    if let Err(e) = store.append_log(&[line]).await {
        tracing::error!(error = %e, "E6002 log line not written");
    }
    Err(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::{Holding, Usage};

    fn account(wallet: i64, balances: &[(&str, i64)]) -> Account {
        Account {
            user: "u".into(),
            wallet_fen: wallet,
            holdings: balances
                .iter()
                .map(|(p, b)| {
                    let mut h = Holding::new(p, 0);
                    h.balance_fen = *b;
                    (h, Usage::default())
                })
                .collect(),
            packages: Vec::new(),
        }
    }

    fn pay(amount: i64, product: Option<&str>) -> Payment {
        Payment {
            amount_fen: amount,
            product: product.map(str::to_string),
            reference: "r1".into(),
            note: None,
            at: 100,
        }
    }

    #[test]
    fn a_wallet_payment_clears_arrears_first() {
        let w = plan(&account(0, &[("a", -300), ("b", 50)]), &pay(1000, None)).unwrap();
        assert_eq!(w.wallet_fen, 700);
        assert_eq!(w.balances, vec![("a".to_string(), 0)]);
        // The ledger adds up: +1000 in, -300 out of the wallet, +300 into "a".
        let sum: i64 = w.ledger.iter().map(|e| e.amount_fen).sum();
        assert_eq!(sum, 1000);
        let partly = plan(&account(0, &[("a", -3000)]), &pay(1000, None)).unwrap();
        assert_eq!((partly.wallet_fen, partly.balances[0].1), (0, -2000));
    }

    #[test]
    fn refusals_name_the_reason() {
        let e = plan(&account(0, &[]), &pay(0, None)).unwrap_err();
        assert_eq!(e.code, ECode::PaymentFailed);
        assert!(e.reason.contains("above 0"));
        let e = plan(&account(0, &[("a", 0)]), &pay(5, Some("b"))).unwrap_err();
        assert!(e.reason.contains("\"b\""), "{}", e.reason);
        let ok = plan(&account(0, &[("a", -10)]), &pay(5, Some("a"))).unwrap();
        assert_eq!(ok.balances, vec![("a".to_string(), -5)]);
    }
}
