//! Settlement when a write fails: the batch's transaction rolls back whole, the run fails
//! with the step's code (E7002 claiming the due instances, E7004 writing the settlement
//! records, E7005 deducting), nothing
//! partial remains, and the next run, once the store works again, settles once.
//!
//! The failures are made by SQLite triggers that abort the statement, on a real store
//! file, driven through the library's settlement runner.

use std::sync::Arc;

use turnstile::account::{Holding, Profile};
use turnstile::billing::meter::Meter;
use turnstile::billing::settle::Settler;
use turnstile::catalog::{
    BillingKind, BillingPolicy, CatalogKind, CatalogRow, ControlPolicy, CycleUnit, Product,
};
use turnstile::codes::ECode;
use turnstile::store::billing::SettleScope;
use turnstile::store::sqlite::SqliteStore;
use turnstile::store::{Put, Store, UserRecord};

const DAY: i64 = 86_400;

struct Setup {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    store: Arc<dyn Store>,
    now: i64,
}

/// A store with user `bob` holding a daily product (fee 2000 fen) with 5000 fen on it,
/// started three days before `now`.
async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.unwrap());
    let billing = BillingPolicy {
        kind: BillingKind::Monthly,
        cycle_fee_fen: 2000,
        ..BillingPolicy::default()
    };
    let mut product = Product::new("fee", "ctl");
    product.cycle = CycleUnit::Day;
    for row in [
        CatalogRow::new(CatalogKind::BillingPolicy, "fee", &billing),
        CatalogRow::new(CatalogKind::ControlPolicy, "ctl", &ControlPolicy::default()),
        CatalogRow::new(CatalogKind::Product, "daily", &product),
    ] {
        store.put_catalog(&row, Put::Create).await.unwrap();
    }
    let user = UserRecord {
        name: "bob".into(),
        password_sealed: vec![0; 40],
        enabled: true,
        created_at: 0,
        updated_at: 0,
        profile: Profile::default(),
        bindings: Vec::new(),
        holdings: vec![Holding::new("daily", 0)],
    };
    store.add_user(&user).await.unwrap();
    let now = turnstile::store::unix_now() + 3 * DAY;
    sql(&path, "UPDATE user_products SET balance_fen = 5000").await;
    Setup {
        _dir: dir,
        path,
        store,
        now,
    }
}

async fn sql(path: &std::path::Path, statement: &str) {
    let url = format!("sqlite://{}", path.display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query(statement).execute(&pool).await.unwrap();
    pool.close().await;
}

fn settler(store: &Arc<dyn Store>) -> Settler {
    Settler {
        store: store.clone(),
        meter: Arc::new(Meter::default()),
        zone: turnstile::clock::Zone::Local,
        settled: None,
    }
}

/// Balance, settlement records, ledger entries and log lines of bob.
async fn state(store: &Arc<dyn Store>) -> (i64, usize, usize, usize) {
    let account = store.account("bob").await.unwrap().unwrap();
    (
        account.holdings[0].0.balance_fen,
        store.settlements(Some("bob"), 100).await.unwrap().len(),
        store.ledger(Some("bob"), 100).await.unwrap().len(),
        store.settlement_log(Some("bob"), 100).await.unwrap().len(),
    )
}

#[tokio::test]
async fn a_failed_write_leaves_nothing_partial_and_the_next_run_settles_once() {
    let s = setup().await;
    let scope = SettleScope::default();
    for (trigger, code) in [
        (
            "CREATE TRIGGER fail BEFORE INSERT ON settlements BEGIN SELECT RAISE(ABORT, 'disk full'); END",
            ECode::SettledQueueFailed,
        ),
        (
            "CREATE TRIGGER fail BEFORE UPDATE OF balance_fen ON user_products BEGIN SELECT RAISE(ABORT, 'disk full'); END",
            ECode::SettleDeductFailed,
        ),
        (
            "CREATE TRIGGER fail BEFORE INSERT ON ledger BEGIN SELECT RAISE(ABORT, 'disk full'); END",
            ECode::SettleDeductFailed,
        ),
    ] {
        sql(&s.path, trigger).await;
        let e = settler(&s.store).run(&scope, s.now, false).await.unwrap_err();
        assert_eq!(e.code(), code, "{e}");
        assert!(e.to_string().contains("disk full"), "{e}");
        assert_eq!(state(&s.store).await, (5000, 0, 0, 0), "nothing partial after {code}");
        let log = s.store.settlement_log(None, 1).await.unwrap();
        assert_eq!((log[0].code, log[0].user.as_str()), (code.number(), "*"), "{log:?}");
        sql(&s.path, "DROP TRIGGER fail").await;
    }
    // A row that cannot be read fails the claim of the due instances (E7002).
    sql(&s.path, "UPDATE user_products SET used_secs = -1").await;
    let e = settler(&s.store)
        .run(&scope, s.now, false)
        .await
        .unwrap_err();
    assert_eq!(e.code(), ECode::SettlePendingQueueFailed, "{e}");
    sql(&s.path, "UPDATE user_products SET used_secs = 0").await;
    assert_eq!(state(&s.store).await, (5000, 0, 0, 0));

    let report = settler(&s.store).run(&scope, s.now, false).await.unwrap();
    assert_eq!(report.settled, 1);
    assert_eq!(state(&s.store).await, (3000, 1, 1, 1));
    let again = settler(&s.store).run(&scope, s.now, false).await.unwrap();
    assert_eq!(again.settled, 0);
    assert_eq!(state(&s.store).await, (3000, 1, 1, 1));

    // Should an instance ever show a settled cycle as due again, the unique key's record
    // keeps it from being charged twice.
    let done = &s.store.settlements(Some("bob"), 1).await.unwrap()[0];
    let rewind = format!(
        "UPDATE user_products SET cycle_start = {}, cycle_end = {}",
        done.cycle_start, done.cycle_end
    );
    sql(&s.path, &rewind).await;
    let again = settler(&s.store).run(&scope, s.now, false).await.unwrap();
    assert_eq!(again.settled, 0);
    assert_eq!(state(&s.store).await, (3000, 1, 1, 1));
}
