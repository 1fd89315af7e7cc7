//! Settlement when a write fails: the batch's transaction rolls back whole, the run fails
//! with the step's code (E7002 claiming the due instances, E7004 writing the settlement
//! records, E7005 deducting), nothing
//! partial remains, and the next run, once the store works again, settles once.
//!
//! The failures are made by triggers that abort the statement, on a real store (the
//! SQLite file, or a PostgreSQL database when the suite runs on one), driven through the
//! library's settlement runner.

mod common;

use std::sync::Arc;

use turnstile::account::{Holding, Profile};
use turnstile::billing::meter::Meter;
use turnstile::billing::settle::Settler;
use turnstile::catalog::{
    BillingKind, BillingPolicy, CatalogKind, CatalogRow, ControlPolicy, CycleUnit, Product,
};
use turnstile::codes::ECode;
use turnstile::store::billing::{ListPage, SettleScope};
use turnstile::store::postgres::PgStore;
use turnstile::store::sqlite::SqliteStore;
use turnstile::store::{Put, Store, UserRecord};

const DAY: i64 = 86_400;

struct Setup {
    _dir: tempfile::TempDir,
    db: Database,
    store: Arc<dyn Store>,
    now: i64,
}

/// The store's database, for statements behind its back.
enum Database {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Database {
    async fn sql(&self, statement: &str) {
        match self {
            Database::Sqlite(pool) => sqlx::query(statement).execute(pool).await.map(drop),
            Database::Postgres(pool) => sqlx::raw_sql(statement).execute(pool).await.map(drop),
        }
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }

    /// Makes every `event` (`INSERT`, `UPDATE OF column`) on `table` fail with "disk full".
    async fn fail(&self, event: &str, table: &str) {
        self.sql(&match self {
            Database::Sqlite(_) => format!(
                "CREATE TRIGGER fail BEFORE {event} ON {table} \
                 BEGIN SELECT RAISE(ABORT, 'disk full'); END"
            ),
            Database::Postgres(_) => format!(
                "CREATE OR REPLACE FUNCTION fail() RETURNS trigger LANGUAGE plpgsql \
                 AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$; \
                 CREATE TRIGGER fail BEFORE {event} ON {table} \
                 FOR EACH ROW EXECUTE FUNCTION fail()"
            ),
        })
        .await;
    }

    async fn heal(&self, table: &str) {
        self.sql(&match self {
            Database::Sqlite(_) => "DROP TRIGGER fail".to_string(),
            Database::Postgres(_) => format!("DROP TRIGGER fail ON {table}"),
        })
        .await;
    }
}

/// A store with user `bob` holding a daily product (fee 2000 fen) with 5000 fen on it,
/// started three days before `now`.
async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let (db, store): (Database, Arc<dyn Store>) = match common::postgres_server() {
        Some(server) => {
            let url = tokio::task::spawn_blocking(move || common::fresh_postgres_database(&server))
                .await
                .unwrap();
            let store = PgStore::open(&url).await.unwrap();
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            (Database::Postgres(pool), Arc::new(store))
        }
        None => {
            let path = dir.path().join("t.db");
            let store = SqliteStore::open(&path).await.unwrap();
            // One connection: each statement sees the schema the previous one left.
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect(&format!("sqlite://{}", path.display()))
                .await
                .unwrap();
            (Database::Sqlite(pool), Arc::new(store))
        }
    };
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
    let now = turnstile::clock::now() + 3 * DAY;
    db.sql("UPDATE user_products SET balance_fen = 5000").await;
    Setup {
        _dir: dir,
        db,
        store,
        now,
    }
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
    let bob = ListPage {
        user: Some("bob".into()),
        limit: 100,
        ..ListPage::default()
    };
    (
        account.holdings[0].0.balance_fen,
        store.settlements(&bob).await.unwrap().1.len(),
        store.ledger(&bob).await.unwrap().1.len(),
        store.settlement_log(&bob).await.unwrap().1.len(),
    )
}

#[tokio::test]
async fn a_failed_write_leaves_nothing_partial_and_the_next_run_settles_once() {
    let s = setup().await;
    let scope = SettleScope::default();
    for (event, table, code) in [
        ("INSERT", "settlements", ECode::SettledQueueFailed),
        (
            "UPDATE OF balance_fen",
            "user_products",
            ECode::SettleDeductFailed,
        ),
        ("INSERT", "ledger", ECode::SettleDeductFailed),
    ] {
        s.db.fail(event, table).await;
        let e = settler(&s.store)
            .run(&scope, s.now, false)
            .await
            .unwrap_err();
        assert_eq!(e.code(), code, "{e}");
        assert!(e.to_string().contains("disk full"), "{e}");
        assert_eq!(
            state(&s.store).await,
            (5000, 0, 0, 0),
            "nothing partial after {code}"
        );
        let newest = ListPage {
            limit: 1,
            ..ListPage::default()
        };
        let (_, log) = s.store.settlement_log(&newest).await.unwrap();
        assert_eq!(
            (log[0].code, log[0].user.as_str()),
            (code.number(), "*"),
            "{log:?}"
        );
        s.db.heal(table).await;
    }
    // A row that cannot be read fails the claim of the due instances (E7002).
    s.db.sql("UPDATE user_products SET used_secs = -1").await;
    let e = settler(&s.store)
        .run(&scope, s.now, false)
        .await
        .unwrap_err();
    assert_eq!(e.code(), ECode::SettlePendingQueueFailed, "{e}");
    s.db.sql("UPDATE user_products SET used_secs = 0").await;
    assert_eq!(state(&s.store).await, (5000, 0, 0, 0));

    let report = settler(&s.store).run(&scope, s.now, false).await.unwrap();
    assert_eq!(report.settled, 1);
    assert_eq!(state(&s.store).await, (3000, 1, 1, 1));
    let again = settler(&s.store).run(&scope, s.now, false).await.unwrap();
    assert_eq!(again.settled, 0);
    assert_eq!(state(&s.store).await, (3000, 1, 1, 1));

    // Should an instance ever show a settled cycle as due again, the unique key's record
    // keeps it from being charged twice.
    let newest = ListPage {
        user: Some("bob".into()),
        limit: 1,
        ..ListPage::default()
    };
    let done = &s.store.settlements(&newest).await.unwrap().1[0];
    let rewind = format!(
        "UPDATE user_products SET cycle_start = {}, cycle_end = {}",
        done.cycle_start, done.cycle_end
    );
    s.db.sql(&rewind).await;
    let again = settler(&s.store).run(&scope, s.now, false).await.unwrap();
    assert_eq!(again.settled, 0);
    assert_eq!(state(&s.store).await, (3000, 1, 1, 1));
}
