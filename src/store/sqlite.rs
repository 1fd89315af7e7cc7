//! The embedded store: one SQLite file in WAL mode.
//!
//! The queries live in `sql/`, one file per table group, and are shared with
//! [`super::postgres`]: each backend compiles them against its own `Db`, `DbRow`,
//! `DbPool`, `SqlStore` and `begin_write`, declared here, and passes a batch's rows its
//! own way (`push_rows`: `VALUES` lists here, arrays on PostgreSQL).

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Sqlite, Transaction};
use std::path::Path;
use std::time::Duration;
use tokio::sync::mpsc;

use super::{OnlineChange, SessionsTouched, StoreError};

#[path = "sql/access.rs"]
mod access;
#[path = "sql/billing.rs"]
mod billing;
#[path = "sql/catalog.rs"]
mod catalog;
#[path = "sql/changes.rs"]
mod changes;
#[path = "sql/lease.rs"]
mod lease;
#[path = "sql/nas.rs"]
mod nas;
#[path = "sql/rows.rs"]
mod rows;
#[path = "sql/seal.rs"]
mod seal;
#[path = "sql/sessions.rs"]
mod sessions;
#[path = "sql/users.rs"]
mod users;

type Db = Sqlite;
type DbRow = SqliteRow;
type DbPool = SqlitePool;
type SqlStore = SqliteStore;

/// A SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// New users go through one writer that commits whatever is queued together.
    new_users: mpsc::Sender<users::NewUser>,
}

impl SqliteStore {
    /// Opens the file (creating it and its directory), enables WAL and migrates.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Database(e.into()))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            // 16 MiB of page cache per connection (the default is 2 MiB): the online and
            // history tables' pages stay in memory under load.
            .pragma("cache_size", "-16384")
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(16)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore {
            new_users: users::start_user_writer(pool.clone()),
            pool,
        })
    }
}

impl super::StoreGauges for SqliteStore {
    fn record_gauges(&self) {
        super::record_pool_gauges(self.pool.size(), self.pool.num_idle());
        metrics::gauge!("turnstile_sqlite_memory_bytes").set(memory_used() as f64);
    }
}

/// Bytes of heap SQLite holds in this process now: page caches, prepared statements.
#[allow(unsafe_code)]
fn memory_used() -> i64 {
    // SAFETY: reads a counter; SQLite allows it from any thread at any time.
    unsafe { libsqlite3_sys::sqlite3_memory_used() }
}

/// SQLite's transactions are serialized already: nothing to lock row by row.
const LOCK_ROWS: &str = "";

/// `items` as the rows of one statement each: SQLite binds every value on its own, so a
/// batch is cut into chunks of a few sizes only (powers of two up to 512). The
/// statements then come in a few shapes, which stay prepared instead of being parsed and
/// planned again at every length.
fn row_chunks<T>(items: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = 1usize << rest.len().min(512).ilog2();
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        Some(chunk)
    })
}

/// Pushes `items` (one chunk of [`row_chunks`]) as a `VALUES` list, its columns named
/// `column1`, `column2`, … as SQLite names them.
fn push_rows<T>(q: &mut QueryBuilder<'_, Sqlite>, items: &[T], columns: &[rows::Column<T>]) {
    q.push_values(items, |mut row, item| {
        for column in columns {
            match column {
                rows::Column::Text(value) => row.push_bind(value(item)),
                rows::Column::Int(value) => row.push_bind(value(item)),
            };
        }
    });
}

impl SqliteStore {
    /// SQLite tells no one about changes: followers poll.
    async fn notified(&self) {
        std::future::pending::<()>().await
    }

    /// No other node shares the file: there is no one to tell.
    fn announce_sessions(&self, _writes: &mut Writes, _changes: &[OnlineChange]) {}

    /// No other node shares the file: there is no one to tell.
    async fn announce_usage(
        &self,
        _tx: &mut Transaction<'_, Sqlite>,
        _users: &[String],
    ) -> Result<(), StoreError> {
        Ok(())
    }

    /// No other node shares the file: nothing changes elsewhere.
    async fn sessions_touched(&self) -> SessionsTouched {
        std::future::pending().await
    }
}

/// The writes of one transaction, run one statement after the other at each flush: SQLite
/// is in the process, so a statement costs no round trip.
#[derive(Default)]
struct Writes {
    statements: Vec<QueryBuilder<'static, Sqlite>>,
}

impl Writes {
    /// Adds the statement `build` writes.
    fn statement(&mut self, build: impl FnOnce(&mut QueryBuilder<'static, Sqlite>)) {
        let mut q = QueryBuilder::new("");
        build(&mut q);
        self.statements.push(q);
    }

    /// Runs what was added since the last flush, in order.
    async fn flush(&mut self, tx: &mut Transaction<'_, Sqlite>) -> Result<(), sqlx::Error> {
        for mut q in self.statements.drain(..) {
            q.build().execute(&mut **tx).await?;
        }
        Ok(())
    }
}

/// Begins an accounting batch, which reads the sessions it then writes.
async fn begin_sessions(pool: &SqlitePool) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
    begin_write(pool).await
}

/// Begins a transaction that reads what it is about to write: IMMEDIATE takes SQLite's
/// write lock first, so no other writer comes between the read and the write (and the
/// busy timeout applies while waiting).
async fn begin_write(pool: &SqlitePool) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
    pool.begin_with("BEGIN IMMEDIATE").await
}

#[cfg(test)]
mod tests {
    use super::row_chunks;

    #[test]
    fn chunks_come_in_powers_of_two_and_cover_everything_in_order() {
        let sizes = |n: usize| {
            let items: Vec<usize> = (0..n).collect();
            let chunks: Vec<&[usize]> = row_chunks(&items).collect();
            assert_eq!(chunks.concat(), items, "{n}");
            chunks.iter().map(|c| c.len()).collect::<Vec<_>>()
        };
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(300), vec![256, 32, 8, 4]);
        assert_eq!(sizes(1100), vec![512, 512, 64, 8, 4]);
        for n in 0..2000 {
            assert!(sizes(n).iter().all(|s| s.is_power_of_two() && *s <= 512));
        }
    }
}
