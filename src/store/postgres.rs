//! The cluster store: one PostgreSQL database shared by every node.
//!
//! The queries are those of [`super::sqlite`] (`sql/`), compiled here against
//! PostgreSQL. What SQLite gets from having one writer at a time, PostgreSQL gets from
//! one transaction-level advisory lock ([`WRITE_LOCK`]): money transactions take it
//! before they read, and the schema's trigger on `changes` takes it before a change-log
//! entry is numbered, so entries become visible in the order of their numbers and a node
//! following the log never skips one that committed late.

use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Transaction};
use std::str::FromStr;
use std::sync::{Arc, Once};
use std::time::Duration;
use tokio::sync::{mpsc, Notify};

use super::StoreError;

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
#[path = "sql/sessions.rs"]
mod sessions;
#[path = "sql/users.rs"]
mod users;

type Db = Postgres;
type DbRow = PgRow;
type DbPool = PgPool;
type SqlStore = PgStore;

/// The advisory lock that serializes writers which read before they write; the same
/// key as in the `changes` trigger of `migrations/postgres`.
pub const WRITE_LOCK: i64 = 0x7475_726e_0001;

/// The channel the `changes` trigger notifies on.
const CHANGES_CHANNEL: &str = "turnstile_changes";

/// A PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// New users go through one writer that commits whatever is queued together.
    new_users: mpsc::Sender<users::NewUser>,
    /// Signalled on every notification of [`CHANGES_CHANNEL`] (and when the listening
    /// connection is lost, since notifications may then have been missed).
    changed: Arc<Notify>,
    /// Starts the listening task the first time someone waits for changes.
    listening: Arc<Once>,
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`) and migrates.
    pub async fn open(url: &str) -> Result<PgStore, StoreError> {
        let options = PgConnectOptions::from_str(url)?
            .application_name("turnstile")
            // An Accounting-Response promises the record is on disk: never let a
            // server or role setting turn that off.
            .options([("synchronous_commit", "on")]);
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        // Nodes starting together: sqlx's migrator holds an advisory lock while it runs.
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PgStore {
            new_users: users::start_user_writer(pool.clone()),
            pool,
            changed: Arc::new(Notify::new()),
            listening: Arc::new(Once::new()),
        })
    }

    /// Waits for the next notification that the change log grew.
    async fn notified(&self) {
        self.listening.call_once(|| {
            tokio::spawn(listen(self.pool.clone(), self.changed.clone()));
        });
        self.changed.notified().await;
    }
}

/// Listens on [`CHANGES_CHANNEL`] for as long as the process runs, reconnecting when the
/// connection drops; every notification (and every loss, since some may have been missed
/// meanwhile) wakes the follower.
async fn listen(pool: PgPool, changed: Arc<Notify>) {
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for changes; polling meanwhile");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(CHANGES_CHANNEL).await {
            tracing::warn!(error = %e, "cannot listen for changes; polling meanwhile");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        loop {
            match listener.try_recv().await {
                Ok(Some(_)) => changed.notify_one(),
                // The connection was lost; the next call reconnects and listens again.
                Ok(None) => changed.notify_one(),
                Err(e) => {
                    tracing::warn!(error = %e, "listening for changes failed; polling meanwhile");
                    changed.notify_one();
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    break;
                }
            }
        }
    }
}

/// Begins a transaction that reads what it is about to write, holding [`WRITE_LOCK`]
/// until it ends.
async fn begin_write(pool: &PgPool) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(WRITE_LOCK)
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}
