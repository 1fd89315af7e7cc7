//! The cluster store: one PostgreSQL database shared by every node.
//!
//! The queries are those of [`super::sqlite`] (`sql/`), compiled here against
//! PostgreSQL. What SQLite gets from having one writer at a time, PostgreSQL gets from
//! one transaction-level advisory lock ([`WRITE_LOCK`]): write transactions (money, new
//! users, every change to users, NAS devices and the catalog) take it when they begin,
//! and the schema's trigger on `changes` takes it before a change-log entry is numbered,
//! so entries become visible in the order of their numbers and a node following the log
//! never skips one that committed late. Accounting batches do not take it: they lock the
//! rows of their sessions, so nodes write accounting side by side.
//!
//! Nodes tell each other what changed with NOTIFY: the change log's trigger on
//! [`CHANGES_CHANNEL`], accounting batches and settlements on [`SESSIONS_CHANNEL`] (which
//! sessions, which users' usage); each node listens on one connection.

use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, QueryBuilder, Transaction};
use std::str::FromStr;
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;
use tokio::sync::{mpsc, Notify};

use super::{OnlineChange, SessionRef, SessionsTouched, StoreError};

// The files of `sql/` are compiled a second time here, on purpose: against PostgreSQL.

#[path = "sql/access.rs"]
#[allow(clippy::duplicate_mod)]
mod access;
#[path = "sql/billing.rs"]
#[allow(clippy::duplicate_mod)]
mod billing;
#[path = "sql/catalog.rs"]
#[allow(clippy::duplicate_mod)]
mod catalog;
#[path = "sql/changes.rs"]
#[allow(clippy::duplicate_mod)]
mod changes;
#[path = "sql/lease.rs"]
#[allow(clippy::duplicate_mod)]
mod lease;
#[path = "sql/nas.rs"]
#[allow(clippy::duplicate_mod)]
mod nas;
#[path = "sql/rows.rs"]
#[allow(clippy::duplicate_mod)]
mod rows;
#[path = "sql/seal.rs"]
#[allow(clippy::duplicate_mod)]
mod seal;
#[path = "sql/sessions.rs"]
#[allow(clippy::duplicate_mod)]
mod sessions;
#[path = "sql/users.rs"]
#[allow(clippy::duplicate_mod)]
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
/// The channel accounting batches name the sessions they changed on.
const SESSIONS_CHANNEL: &str = "turnstile_sessions";
/// Longest notice payload (PostgreSQL's limit is 8,000 bytes).
const NOTICE_BYTES: usize = 7_000;
/// Past this many sessions told of and not yet read again, read them all instead.
const TOUCHED_MAX: usize = 100_000;
/// Rows locked by an accounting batch stay locked until it commits.
const LOCK_ROWS: &str = " FOR UPDATE";

/// `items` as the rows of one statement: all of them, since they go as arrays.
fn row_chunks<T>(items: &[T]) -> impl Iterator<Item = &[T]> {
    (!items.is_empty()).then_some(items).into_iter()
}

/// Pushes `items` as `SELECT * FROM UNNEST(…)`, one array parameter a column, the
/// columns named `column1`, `column2`, … as in a `VALUES` list. The statement has the
/// same text for any number of rows: it is parsed and planned once per connection, and
/// a batch is one round trip.
fn push_rows<T>(q: &mut QueryBuilder<'_, Postgres>, items: &[T], columns: &[rows::Column<T>]) {
    q.push("SELECT * FROM UNNEST(");
    let mut list = q.separated(", ");
    for column in columns {
        match column {
            rows::Column::Text(value) => {
                list.push_bind(items.iter().map(value).collect::<Vec<_>>());
                list.push_unseparated("::text[]");
            }
            rows::Column::Int(value) => {
                list.push_bind(items.iter().map(value).collect::<Vec<_>>());
                list.push_unseparated("::int8[]");
            }
        }
    }
    q.push(") AS r(");
    let mut names = q.separated(", ");
    for i in 1..=columns.len() {
        names.push(format!("column{i}"));
    }
    q.push(")");
}

/// What an accounting batch tells the other nodes: which sessions to read again.
#[derive(Debug, Default, Serialize, Deserialize)]
struct SessionNotice {
    /// The node that wrote (which ignores its own notices).
    node: u64,
    /// Sessions changed.
    sessions: Vec<SessionRef>,
    /// NAS clients all of whose sessions ended.
    nases: Vec<String>,
    /// Users whose product instances' usage changed (settled).
    #[serde(default)]
    users: Vec<String>,
}

/// A PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// New users go through one writer that commits whatever is queued together.
    new_users: mpsc::Sender<users::NewUser>,
    /// Signalled on every notification of [`CHANGES_CHANNEL`] (and when the listening
    /// connection is lost, since notifications may then have been missed).
    changed: Arc<Notify>,
    /// Sessions other nodes told of, not yet asked for, and the signal that some were.
    touched: Arc<(Mutex<SessionsTouched>, Notify)>,
    /// Starts the listening task the first time someone waits for changes.
    listening: Arc<Once>,
    /// This process among the nodes, in session notices.
    node: u64,
}

impl super::StoreGauges for PgStore {
    fn record_gauges(&self) {
        super::record_pool_gauges(self.pool.size(), self.pool.num_idle());
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`) and migrates.
    pub async fn open(url: &str) -> Result<PgStore, StoreError> {
        let options = PgConnectOptions::from_str(url)?
            .application_name("turnstile")
            // An Accounting-Response promises the record is on disk: never let a
            // server or role setting turn that off.
            .options([
                ("synchronous_commit", "on"),
                // Every batch looks its sessions up by key in tables that stay in memory;
                // at the default cost of 4 the planner reads the whole online table for
                // each batch of a hundred keys instead.
                ("random_page_cost", "1.1"),
            ]);
        let pool = PgPoolOptions::new()
            .max_connections(16)
            // No ping before each use: it is a round trip that every accounting batch
            // would wait for. A connection lost meanwhile fails its statement instead,
            // which is then not acknowledged (a NAS sends again), and is replaced.
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        // Nodes starting together: sqlx's migrator holds an advisory lock while it runs.
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PgStore {
            new_users: users::start_user_writer(pool.clone()),
            pool,
            changed: Arc::new(Notify::new()),
            touched: Arc::default(),
            listening: Arc::new(Once::new()),
            node: rand::random(),
        })
    }

    /// Starts listening, once.
    fn listen(&self) {
        self.listening.call_once(|| {
            tokio::spawn(listen(
                self.pool.clone(),
                self.node,
                self.changed.clone(),
                self.touched.clone(),
            ));
        });
    }

    /// Waits for the next notification that the change log grew.
    async fn notified(&self) {
        self.listen();
        self.changed.notified().await;
    }

    /// Waits for sessions other nodes changed; everything told since the last call.
    async fn sessions_touched(&self) -> SessionsTouched {
        self.listen();
        loop {
            self.touched.1.notified().await;
            let touched = std::mem::take(&mut *lock(&self.touched.0));
            if !touched.is_empty() {
                return touched;
            }
        }
    }

    /// Tells the other nodes, when `tx` commits, that the usage of `users`' product
    /// instances changed.
    async fn announce_usage(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        users: &[String],
    ) -> Result<(), StoreError> {
        let mut writes = Writes::default();
        self.announce(&mut writes, users.iter().map(|u| Told::User(u.clone())));
        Ok(writes.flush(tx).await?)
    }

    /// Tells the other nodes, when the transaction of `writes` commits, which sessions
    /// `changes` touch.
    fn announce_sessions(&self, writes: &mut Writes, changes: &[OnlineChange]) {
        let told = changes.iter().map(|change| match change {
            OnlineChange::Put(r) | OnlineChange::Split { session: r, .. } => {
                Told::Session((r.nas.clone(), r.session_id.clone()))
            }
            OnlineChange::End(h) => {
                Told::Session((h.session.nas.clone(), h.session.session_id.clone()))
            }
            OnlineChange::EndNas { nas, .. } => Told::Nas(nas.clone()),
        });
        self.announce(writes, told);
    }

    /// Adds to `writes` what `told` names, in notices below the payload limit.
    fn announce(&self, writes: &mut Writes, told: impl Iterator<Item = Told>) {
        let fresh = || SessionNotice {
            node: self.node,
            ..SessionNotice::default()
        };
        let mut notice = fresh();
        let mut bytes = 0;
        for item in told {
            bytes += notice.add(item);
            if bytes > NOTICE_BYTES {
                writes.notify(&std::mem::replace(&mut notice, fresh()));
                bytes = 0;
            }
        }
        if bytes > 0 {
            writes.notify(&notice);
        }
    }
}

/// The writes of one transaction, sent as one statement at each flush: every statement
/// becomes a data-modifying `WITH` clause (PostgreSQL runs each once, all on the same
/// snapshot) and the notices are the statement's `SELECT`. A batch then waits for one
/// round trip instead of one per statement; statements flushed together must therefore
/// not touch the same rows.
#[derive(Default)]
struct Writes {
    /// `WITH w1 AS (…), w2 AS (…)` so far; `None` before the first.
    with: Option<QueryBuilder<'static, Postgres>>,
    clauses: usize,
    /// Payloads for [`SESSIONS_CHANNEL`], delivered when the transaction commits.
    notices: Vec<String>,
}

impl Writes {
    /// Adds the statement `build` writes.
    fn statement(&mut self, build: impl FnOnce(&mut QueryBuilder<'static, Postgres>)) {
        let q = self.with.get_or_insert_with(|| QueryBuilder::new("WITH "));
        if self.clauses > 0 {
            q.push(", ");
        }
        self.clauses += 1;
        q.push(format_args!("w{} AS (", self.clauses));
        build(q);
        q.push(")");
    }

    /// Adds a notice to the other nodes.
    fn notify(&mut self, notice: &SessionNotice) {
        self.notices
            .push(serde_json::to_string(notice).unwrap_or_default());
    }

    /// Runs what was added since the last flush.
    async fn flush(&mut self, tx: &mut Transaction<'_, Postgres>) -> Result<(), sqlx::Error> {
        let notices = std::mem::take(&mut self.notices);
        self.clauses = 0;
        let mut q = match self.with.take() {
            Some(mut q) => {
                q.push(" ");
                q
            }
            None if notices.is_empty() => return Ok(()),
            None => QueryBuilder::new(""),
        };
        q.push("SELECT ");
        if notices.is_empty() {
            q.push("1");
        }
        let mut calls = q.separated(", ");
        for payload in notices {
            calls.push("pg_notify(");
            calls.push_bind_unseparated(SESSIONS_CHANNEL);
            calls.push_unseparated(", ");
            calls.push_bind_unseparated(payload);
            calls.push_unseparated(")");
        }
        q.build().execute(&mut **tx).await?;
        Ok(())
    }
}

/// One thing a notice names.
enum Told {
    Session(SessionRef),
    Nas(String),
    User(String),
}

impl SessionNotice {
    /// Adds `item`; about how many bytes it takes in the payload.
    fn add(&mut self, item: Told) -> usize {
        match item {
            Told::Session((nas, id)) => {
                let bytes = nas.len() + id.len() + 8;
                self.sessions.push((nas, id));
                bytes
            }
            Told::Nas(nas) => {
                let bytes = nas.len() + 4;
                self.nases.push(nas);
                bytes
            }
            Told::User(user) => {
                let bytes = user.len() + 4;
                self.users.push(user);
                bytes
            }
        }
    }
}

fn lock(m: &Mutex<SessionsTouched>) -> std::sync::MutexGuard<'_, SessionsTouched> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Adds what a notice (or a lost connection) says to what waits to be read again.
fn touch(touched: &(Mutex<SessionsTouched>, Notify), more: SessionsTouched) {
    let mut waiting = lock(&touched.0);
    waiting.merge(more);
    if waiting.sessions.len() + waiting.users.len() > TOUCHED_MAX {
        *waiting = SessionsTouched {
            all: true,
            ..SessionsTouched::default()
        };
    }
    drop(waiting);
    touched.1.notify_one();
}

/// Listens on [`CHANGES_CHANNEL`] and [`SESSIONS_CHANNEL`] for as long as the process
/// runs, reconnecting when the connection drops. A lost connection may have lost
/// notifications: the change log is read and every session read again then.
async fn listen(
    pool: PgPool,
    node: u64,
    changed: Arc<Notify>,
    touched: Arc<(Mutex<SessionsTouched>, Notify)>,
) {
    let lost = || {
        changed.notify_one();
        touch(
            &touched,
            SessionsTouched {
                all: true,
                ..SessionsTouched::default()
            },
        );
    };
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen to the other nodes; polling meanwhile");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(e) = listener
            .listen_all([CHANGES_CHANNEL, SESSIONS_CHANNEL])
            .await
        {
            tracing::warn!(error = %e, "cannot listen to the other nodes; polling meanwhile");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        // Whatever happened before listening started is read afresh.
        lost();
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) if n.channel() == SESSIONS_CHANNEL => {
                    match serde_json::from_str::<SessionNotice>(n.payload()) {
                        Ok(notice) if notice.node == node => {}
                        Ok(notice) => touch(
                            &touched,
                            SessionsTouched {
                                sessions: notice.sessions,
                                nases: notice.nases,
                                users: notice.users,
                                all: false,
                            },
                        ),
                        Err(e) => {
                            tracing::warn!(error = %e, "unreadable session notice; reading every session again");
                            lost();
                        }
                    }
                }
                Ok(Some(_)) => changed.notify_one(),
                // The connection was lost; the next call reconnects and listens again.
                Ok(None) => lost(),
                Err(e) => {
                    tracing::warn!(error = %e, "listening to the other nodes failed; polling meanwhile");
                    lost();
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    break;
                }
            }
        }
    }
}

/// Begins an accounting batch: its session rows are locked as it reads them.
async fn begin_sessions(pool: &PgPool) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    pool.begin().await
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
