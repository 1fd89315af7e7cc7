//! What the store keeps for billing: the cycle usage of product instances, packages, the
//! ledger, settlements and the settlement log — and the transactions that change money.
//!
//! The store decides nothing about money. A transaction reads a view (an [`Account`], a
//! [`DueInstance`]), hands it to a plan that the billing module computes, and writes
//! what the plan says in the same transaction, so a decision and its effects are one.

use async_trait::async_trait;
use serde::Serialize;

use super::StoreError;
use crate::account::{Grant, Holding, Usage};
use crate::codes::ECode;

/// Usage to add to a product instance; the instance is created if the user has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageDelta {
    /// User name.
    pub user: String,
    /// Product name.
    pub product: String,
    /// What to add.
    pub usage: Usage,
    /// Unix second (the cycle start of an instance it creates).
    pub at: i64,
}

/// A package bought onto a product instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageRecord {
    /// Row id (0 before it is written).
    pub id: i64,
    /// User name.
    pub user: String,
    /// Product of the instance.
    pub product: String,
    /// Package plan name.
    pub package: String,
    /// What was paid, fen.
    pub price_fen: i64,
    /// What it adds, and when.
    #[serde(flatten)]
    pub grant: Grant,
}

/// What a ledger entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerKind {
    /// Money paid in.
    Payment,
    /// A cycle's charge.
    Settlement,
    /// Money moved between the wallet and a product instance (two entries).
    Transfer,
    /// A package bought.
    Package,
    /// A correction reversing an earlier entry.
    Reversal,
}

impl LedgerKind {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerKind::Payment => "payment",
            LedgerKind::Settlement => "settlement",
            LedgerKind::Transfer => "transfer",
            LedgerKind::Package => "package",
            LedgerKind::Reversal => "reversal",
        }
    }

    /// Reads a stored kind.
    pub fn parse(s: &str) -> Option<LedgerKind> {
        Some(match s {
            "payment" => LedgerKind::Payment,
            "settlement" => LedgerKind::Settlement,
            "transfer" => LedgerKind::Transfer,
            "package" => LedgerKind::Package,
            "reversal" => LedgerKind::Reversal,
            _ => return None,
        })
    }
}

/// One movement of money. Never edited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerEntry {
    /// Row id (0 before it is written).
    pub id: i64,
    /// Unix second.
    pub at: i64,
    /// User name.
    pub user: String,
    /// Product instance, or None for the wallet.
    pub product: Option<String>,
    /// Signed amount, fen: credit above zero.
    pub amount_fen: i64,
    /// The balance it left, fen.
    pub balance_fen: i64,
    /// What it records.
    pub kind: LedgerKind,
    /// Idempotency key: unique among all entries.
    pub reference: String,
    /// For people.
    pub note: Option<String>,
}

/// One line of the settlement log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogEntry {
    /// Row id (0 before it is written).
    pub id: i64,
    /// Unix second.
    pub at: i64,
    /// User name.
    pub user: String,
    /// Product, when the line is about an instance.
    pub product: Option<String>,
    /// Start of the cycle it is about.
    pub cycle_start: Option<i64>,
    /// The E7xxx code (or E6xxx for payments).
    pub code: u32,
    /// Money involved, fen.
    pub amount_fen: i64,
    /// For people.
    pub detail: String,
}

/// One settled cycle (结算清单).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettlementRecord {
    /// Row id (0 before it is written).
    pub id: i64,
    /// User name.
    pub user: String,
    /// Product.
    pub product: String,
    /// The cycle's start: with user and product, the unique key.
    pub cycle_start: i64,
    /// The cycle's end.
    pub cycle_end: i64,
    /// Unix second of the settlement.
    pub settled_at: i64,
    /// The cycle's usage.
    pub usage: Usage,
    /// The cycle's fee.
    pub fee_fen: i64,
    /// Usage beyond what was included.
    pub usage_fen: i64,
    /// What was taken from the instance's balance.
    pub charged_fen: i64,
    /// The instance's balance after.
    pub balance_fen: i64,
    /// The outcome's code (E7003, E7009–E7013).
    pub code: u32,
}

/// A product instance whose cycle has ended (or whose end is not computed yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueInstance {
    /// User name.
    pub user: String,
    /// The instance, with its packages.
    pub holding: Holding,
    /// Unix second the instance was first given.
    pub started_at: i64,
    /// Its usage in the cycle.
    pub usage: Usage,
    /// The user's wallet, fen.
    pub wallet_fen: i64,
}

/// What settlement writes for one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceOutcome {
    /// The cycle has not ended: only its end becomes known.
    CycleEnd(i64),
    /// The cycle is settled.
    Settled(Box<SettlementWrite>),
    /// It cannot be settled; the log line says why and nothing else changes.
    Failed(LogEntry),
}

/// Everything one settled cycle changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettlementWrite {
    /// The settlement record (its key makes it happen once).
    pub record: SettlementRecord,
    /// The next cycle.
    pub next_cycle: (i64, i64),
    /// The wallet after.
    pub wallet_fen: i64,
    /// Ledger entries.
    pub ledger: Vec<LedgerEntry>,
    /// Log lines.
    pub log: Vec<LogEntry>,
    /// A package bought automatically.
    pub package: Option<PackageRecord>,
}

/// Which instances a settlement run looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettleScope {
    /// Only this user's.
    pub user: Option<String>,
    /// Only instances of this product.
    pub product: Option<String>,
}

/// What a money transaction sees of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// User name.
    pub user: String,
    /// Wallet, fen.
    pub wallet_fen: i64,
    /// Product instances (with their packages) and their usage.
    pub holdings: Vec<(Holding, Usage)>,
    /// Packages bought, as rows (for listing and taking back).
    pub packages: Vec<PackageRecord>,
}

/// What a money transaction writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MoneyWrite {
    /// The wallet after.
    pub wallet_fen: i64,
    /// Product instance balances after: (product, balance).
    pub balances: Vec<(String, i64)>,
    /// Ledger entries.
    pub ledger: Vec<LedgerEntry>,
    /// Packages bought.
    pub new_packages: Vec<PackageRecord>,
    /// Packages taken back, by id.
    pub removed_packages: Vec<i64>,
    /// Reserved purchases set: (product, package plan or None).
    pub reservations: Vec<(String, Option<String>)>,
    /// Log lines.
    pub log: Vec<LogEntry>,
}

/// Why a money transaction wrote nothing: a code and a reason for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The code (E6002, E5040 …).
    pub code: ECode,
    /// Why.
    pub reason: String,
}

/// Plans a settlement for one due instance.
pub type SettlePlan<'a> = dyn Fn(&DueInstance) -> InstanceOutcome + Send + Sync + 'a;
/// Plans a money transaction for an account.
pub type MoneyPlan<'a> = dyn Fn(&Account) -> Result<MoneyWrite, Refusal> + Send + Sync + 'a;

/// A batch of a settlement run: what was written, and where the next batch starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettledBatch {
    /// (user, product, outcome) of each instance looked at.
    pub outcomes: Vec<(String, String, InstanceOutcome)>,
    /// The last instance looked at; None when there were none.
    pub last: Option<(String, String)>,
}

/// Which write of a settlement failed, for its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettleStep {
    /// Reading or claiming the due instances (E7002).
    Claim,
    /// Writing the settlement records (E7004).
    Record,
    /// Deducting and resetting the instances, or the ledger (E7005).
    Deduct,
}

/// A settlement batch that wrote nothing.
#[derive(Debug)]
pub struct SettleFailure {
    /// Where it failed.
    pub step: SettleStep,
    /// The error.
    pub error: StoreError,
}

/// Billing's part of the store.
#[async_trait]
pub trait BillingStore: Send + Sync {
    /// Product instances' usage in their current cycle: (user, product, usage); of
    /// `users`, or every instance with some usage.
    async fn instance_usage(
        &self,
        users: Option<&[String]>,
    ) -> Result<Vec<(String, String, Usage)>, StoreError>;
    /// A user's money, instances, usage and packages; None if there is no such user.
    async fn account(&self, user: &str) -> Result<Option<Account>, StoreError>;
    /// Up to `limit` instances due at `now` in `scope`, after `after` in (user, product)
    /// order, as a settlement would read them (for dry runs).
    async fn due_instances(
        &self,
        now: i64,
        scope: &SettleScope,
        after: Option<(String, String)>,
        limit: usize,
    ) -> Result<Vec<DueInstance>, StoreError>;
    /// Settles up to `limit` instances due at `now` in `scope`, after `after` in (user,
    /// product) order, in one exclusive transaction: each is read, handed to `plan`, and
    /// what the plan says is written. A settlement record that exists already makes the
    /// batch write nothing for that instance.
    async fn settle_batch(
        &self,
        now: i64,
        scope: &SettleScope,
        after: Option<(String, String)>,
        limit: usize,
        plan: &SettlePlan<'_>,
    ) -> Result<SettledBatch, SettleFailure>;
    /// Reads `user`'s account, hands it to `plan` and writes what it says, in one
    /// exclusive transaction; the inner error is the plan's refusal. None: no such user.
    async fn transact(
        &self,
        user: &str,
        plan: &MoneyPlan<'_>,
    ) -> Result<Option<Result<MoneyWrite, Refusal>>, StoreError>;
    /// Writes to the change log that these users changed (balances after a settlement
    /// run), so that every daemon's memory reloads them.
    async fn touch_users(&self, users: &[String]) -> Result<(), StoreError>;
    /// Appends lines to the settlement log on their own.
    async fn append_log(&self, entries: &[LogEntry]) -> Result<(), StoreError>;
    /// Deletes packages expired at `now`, logging E7014 per user in the same transaction;
    /// returns (user, packages deleted).
    async fn delete_expired_packages(&self, now: i64) -> Result<Vec<(String, u64)>, StoreError>;
    /// A page of ledger entries, newest first, and how many match in all.
    async fn ledger(&self, page: &ListPage) -> Result<(u64, Vec<LedgerEntry>), StoreError>;
    /// A page of settlement records, newest first, and how many match in all.
    async fn settlements(
        &self,
        page: &ListPage,
    ) -> Result<(u64, Vec<SettlementRecord>), StoreError>;
    /// A page of settlement log lines, newest first, and how many match in all.
    async fn settlement_log(&self, page: &ListPage) -> Result<(u64, Vec<LogEntry>), StoreError>;
}

/// Which rows of a billing list (ledger, settlements, settlement log), newest first:
/// those of one user or everyone, with an id below `before` (keyset paging: a late page
/// costs what the first does), skipping `offset`, at most `limit`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    /// One user's rows only.
    pub user: Option<String>,
    /// Rows with an id below this one only (the last id of the page before).
    pub before: Option<i64>,
    /// Rows skipped first.
    pub offset: u64,
    /// Most rows.
    pub limit: u32,
}
