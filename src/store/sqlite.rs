//! The embedded store: one SQLite file in WAL mode.

mod access;
mod billing;

use async_trait::async_trait;
use futures_util::TryStreamExt;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, Transaction};
use std::path::Path;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

use super::billing::UsageDelta;
use super::{
    catalog_key, unix_now, Change, Entity, HistoryRecord, NasRecord, OnlineChange, OnlineRecord,
    Put, Store, StoreError, UserQuery, UserRecord, ALL_KEYS,
};
use crate::account::{Binding, Grant, Holding, Profile, UserChange};
use crate::catalog::{CatalogKind, CatalogRow};
use std::collections::HashMap;

/// Rows per INSERT statement in bulk imports (SQLite allows 32766 bound values).
const IMPORT_BATCH: usize = 1000;

/// A SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// New users go through one writer that commits whatever is queued together.
    new_users: mpsc::Sender<NewUser>,
}

/// A user to create, and who waits for the outcome.
type NewUser = (UserRecord, oneshot::Sender<Result<(), StoreError>>);

/// Most users created in one transaction.
const NEW_USER_BATCH: usize = 512;

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
        let (new_users, queue) = mpsc::channel(NEW_USER_BATCH * 4);
        tokio::spawn(create_users(pool.clone(), queue));
        Ok(SqliteStore { pool, new_users })
    }
}

/// Group commit of new users: everything queued goes into one transaction, each user
/// behind a savepoint so that a taken name fails that user alone. One commit (and one
/// fsync) then serves every caller waiting, which is what lets the API create users at
/// thousands a second on a disk that takes a millisecond to sync.
async fn create_users(pool: SqlitePool, mut queue: mpsc::Receiver<NewUser>) {
    let mut batch: Vec<NewUser> = Vec::new();
    while queue.recv_many(&mut batch, NEW_USER_BATCH).await > 0 {
        match insert_users(&pool, &batch).await {
            Ok(results) => {
                for ((_, reply), result) in batch.drain(..).zip(results) {
                    let _ = reply.send(result);
                }
            }
            Err(e) => {
                let reason = e.to_string();
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Err(StoreError::CommitFailed(reason.clone())));
                }
            }
        }
    }
}

/// Inserts a batch of users in one transaction; each user's own outcome. Names taken
/// already (or twice in the batch) fail alone; the others go in with one statement per
/// table.
async fn insert_users(
    pool: &SqlitePool,
    batch: &[NewUser],
) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    // IMMEDIATE: the write lock is taken before the check, so no other writer can come
    // between the check and the insert (and the busy timeout applies while waiting).
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT name FROM users WHERE name IN (");
    let mut list = q.separated(", ");
    for (u, _) in batch {
        list.push_bind(u.name.as_str());
    }
    q.push(")");
    let mut taken: std::collections::HashSet<String> = q
        .build_query_scalar::<String>()
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
    let mut results = Vec::with_capacity(batch.len());
    let mut fresh = Vec::with_capacity(batch.len());
    for (u, _) in batch {
        if taken.insert(u.name.clone()) {
            results.push(Ok(()));
            fresh.push(u);
        } else {
            results.push(Err(StoreError::UserExists(u.name.clone())));
        }
    }
    if fresh.is_empty() {
        return Ok(results);
    }
    let mut q: QueryBuilder<Sqlite> =
        QueryBuilder::new(format!("INSERT INTO users ({USER_COLUMNS}) "));
    q.push_values(fresh.iter().copied(), push_user);
    q.build().execute(&mut *tx).await?;
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new("INSERT INTO changes (entity, key) ");
    q.push_values(fresh.iter(), |mut row, u| {
        row.push_bind(Entity::User.as_str())
            .push_bind(u.name.clone());
    });
    q.build().execute(&mut *tx).await?;
    for u in fresh {
        for b in &u.bindings {
            insert_binding(&mut tx, &u.name, b).await?;
        }
        for h in &u.holdings {
            insert_holding(&mut tx, &u.name, &h.product).await?;
        }
    }
    tx.commit().await?;
    Ok(results)
}

async fn log_change(
    tx: &mut Transaction<'_, Sqlite>,
    entity: Entity,
    key: &str,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO changes (entity, key) VALUES ($1, $2)")
        .bind(entity.as_str())
        .bind(key)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn corrupt(row: String, reason: impl ToString) -> StoreError {
    StoreError::Corrupt {
        row,
        reason: reason.to_string(),
    }
}

fn user_from_row(row: &SqliteRow) -> Result<UserRecord, StoreError> {
    let name: String = row.try_get("name")?;
    let max_online: Option<i64> = row.try_get("max_online")?;
    let max_online = max_online
        .map(u32::try_from)
        .transpose()
        .map_err(|e| corrupt(format!("users/{name}"), format!("max_online: {e}")))?;
    Ok(UserRecord {
        password_sealed: row.try_get("password_sealed")?,
        enabled: row.try_get("enabled")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        profile: Profile {
            group: row.try_get("group_name")?,
            expires_at: row.try_get("expires_at")?,
            balance_fen: row.try_get("balance_fen")?,
            phone: row.try_get("phone")?,
            max_online,
            allow_radius: row.try_get("allow_radius")?,
            allow_portal: row.try_get("allow_portal")?,
            banned_until: row.try_get("banned_until")?,
            consumption_limit_fen: row.try_get("consumption_limit_fen")?,
        },
        bindings: Vec::new(),
        holdings: Vec::new(),
        name,
    })
}

fn binding_from_row(row: &SqliteRow) -> Result<(String, Binding), StoreError> {
    let user: String = row.try_get("user_name")?;
    let kind: String = row.try_get("kind")?;
    let value: String = row.try_get("value")?;
    let binding =
        Binding::parse(&kind, &value).map_err(|e| corrupt(format!("user_bindings/{user}"), e))?;
    Ok((user, binding))
}

/// A column that holds a count (never below zero).
fn unsigned(row: &SqliteRow, table: &str, column: &str) -> Result<u64, StoreError> {
    let v: i64 = row.try_get(column)?;
    u64::try_from(v).map_err(|e| corrupt(table.into(), format!("{column}: {e}")))
}

fn holding_from_row(row: &SqliteRow) -> Result<(String, Holding), StoreError> {
    let user: String = row.try_get("user_name")?;
    let holding = Holding {
        product: row.try_get("product")?,
        balance_fen: row.try_get("balance_fen")?,
        cycle_start: row.try_get("cycle_start")?,
        cycle_end: row.try_get("cycle_end")?,
        reserved_package: row.try_get("reserved_package")?,
        packages: Vec::new(),
    };
    Ok((user, holding))
}

fn catalog_from_row(row: &SqliteRow) -> Result<CatalogRow, StoreError> {
    let kind: String = row.try_get("kind")?;
    let name: String = row.try_get("name")?;
    Ok(CatalogRow {
        kind: kind
            .parse()
            .map_err(|e| corrupt(format!("catalog/{kind}/{name}"), e))?,
        name,
        body: row.try_get("body")?,
    })
}

fn nas_from_row(row: &SqliteRow) -> Result<NasRecord, StoreError> {
    let name: String = row.try_get("name")?;
    let vendor: String = row.try_get("vendor")?;
    Ok(NasRecord {
        vendor: vendor.parse().map_err(|e| StoreError::Corrupt {
            row: format!("nas_devices/{name}"),
            reason: format!("{e}"),
        })?,
        address: row.try_get("address")?,
        secret_sealed: row.try_get("secret_sealed")?,
        require_message_authenticator: row.try_get("require_message_authenticator")?,
        coa_port: u16::try_from(row.try_get::<i64, _>("coa_port")?)
            .map_err(|e| corrupt(format!("nas_devices/{name}"), format!("coa_port: {e}")))?,
        alias: row.try_get("alias")?,
        created_at: row.try_get("created_at")?,
        name,
    })
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

const USER_COLUMNS: &str = "name, password_sealed, enabled, created_at, updated_at, \
    group_name, expires_at, balance_fen, phone, max_online, allow_radius, allow_portal, \
    banned_until, consumption_limit_fen";

/// Columns of `online_sessions`, in [`push_session`] order.
const SESSION_COLUMNS: &str = "nas, session_id, user_name, product, framed_ip, station, \
    nas_port, nas_addr, started_at, updated_at, session_time, input_octets, output_octets";
/// Where an online session was last split, in [`push_split`] order.
const SPLIT_COLUMNS: &str = "split_at, split_time, split_input, split_output";
/// The same columns of `session_history`, where the last update is the end.
const HISTORY_COLUMNS: &str = "nas, session_id, user_name, product, framed_ip, station, \
    nas_port, nas_addr, started_at, ended_at, session_time, input_octets, output_octets";

fn push_session(
    row: &mut sqlx::query_builder::Separated<'_, '_, Sqlite, &'static str>,
    s: &OnlineRecord,
) {
    row.push_bind(s.nas.clone())
        .push_bind(s.session_id.clone())
        .push_bind(s.user.clone())
        .push_bind(s.product.clone())
        .push_bind(s.framed_ip.clone())
        .push_bind(s.station.clone())
        .push_bind(s.nas_port.clone())
        .push_bind(s.nas_addr.clone())
        .push_bind(s.started_at)
        .push_bind(s.updated_at)
        .push_bind(s.session_time)
        .push_bind(s.input_octets)
        .push_bind(s.output_octets);
}

fn push_split(
    row: &mut sqlx::query_builder::Separated<'_, '_, Sqlite, &'static str>,
    s: &OnlineRecord,
) {
    row.push_bind(s.split_at)
        .push_bind(s.split_time)
        .push_bind(s.split_input)
        .push_bind(s.split_output);
}

fn session_from_row(r: &SqliteRow) -> Result<OnlineRecord, StoreError> {
    Ok(OnlineRecord {
        nas: r.try_get("nas")?,
        session_id: r.try_get("session_id")?,
        user: r.try_get("user_name")?,
        product: r.try_get("product")?,
        framed_ip: r.try_get("framed_ip")?,
        station: r.try_get("station")?,
        nas_port: r.try_get("nas_port")?,
        nas_addr: r.try_get("nas_addr")?,
        started_at: r.try_get("started_at")?,
        updated_at: r.try_get("updated_at")?,
        session_time: r.try_get("session_time")?,
        input_octets: r.try_get("input_octets")?,
        output_octets: r.try_get("output_octets")?,
        ..OnlineRecord::default()
    })
}

fn online_from_row(r: &SqliteRow) -> Result<OnlineRecord, StoreError> {
    Ok(OnlineRecord {
        split_at: r.try_get("split_at")?,
        split_time: r.try_get("split_time")?,
        split_input: r.try_get("split_input")?,
        split_output: r.try_get("split_output")?,
        ..session_from_row(r)?
    })
}

/// Writes puts, splits and ends of sessions (no NAS-wide end among them) in three
/// statements.
async fn write_sessions(
    tx: &mut Transaction<'_, Sqlite>,
    changes: &[OnlineChange],
) -> Result<(), StoreError> {
    // The last state of each session: Some(record) online, None gone.
    let mut last: HashMap<(&str, &str), Option<&OnlineRecord>> = HashMap::new();
    let mut ended: Vec<&HistoryRecord> = Vec::new();
    for c in changes {
        match c {
            OnlineChange::Put(r) => {
                last.insert((&r.nas, &r.session_id), Some(r));
            }
            OnlineChange::End(h) => {
                last.insert((&h.session.nas, &h.session.session_id), None);
                ended.push(h);
            }
            OnlineChange::Split { history, session } => {
                last.insert((&session.nas, &session.session_id), Some(session));
                ended.push(history);
            }
            OnlineChange::EndNas { .. } => {}
        }
    }
    let gone: Vec<(&str, &str)> = last
        .iter()
        .filter(|(_, r)| r.is_none())
        .map(|(k, _)| *k)
        .collect();
    let online: Vec<&OnlineRecord> = last.values().filter_map(|r| *r).collect();
    // Below SQLite's 32,766 bound values per statement.
    const ROWS: usize = 1000;
    for chunk in gone.chunks(ROWS) {
        let mut q: QueryBuilder<Sqlite> =
            QueryBuilder::new("DELETE FROM online_sessions WHERE (nas, session_id) IN (VALUES ");
        let mut list = q.separated(", ");
        for (nas, id) in chunk {
            list.push("(");
            list.push_bind_unseparated(nas.to_string());
            list.push_unseparated(", ");
            list.push_bind_unseparated(id.to_string());
            list.push_unseparated(")");
        }
        q.push(")");
        q.build().execute(&mut **tx).await?;
    }
    for chunk in ended.chunks(ROWS) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
            "INSERT INTO session_history ({HISTORY_COLUMNS}, cause, terminate_cause, via) "
        ));
        q.push_values(chunk, |mut row, h| {
            push_session(&mut row, &h.session.part());
            row.push_bind(h.cause.map(i64::from))
                .push_bind(h.terminate_cause.map(i64::from))
                .push_bind(h.via.map(i64::from));
        });
        q.build().execute(&mut **tx).await?;
    }
    for chunk in online.chunks(ROWS) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
            "INSERT INTO online_sessions ({SESSION_COLUMNS}, {SPLIT_COLUMNS}) "
        ));
        q.push_values(chunk, |mut row, r| {
            push_session(&mut row, r);
            push_split(&mut row, r);
        });
        q.push(
            " ON CONFLICT (nas, session_id) DO UPDATE SET user_name = excluded.user_name, \
             product = excluded.product, framed_ip = excluded.framed_ip, \
             station = excluded.station, nas_port = excluded.nas_port, \
             nas_addr = excluded.nas_addr, updated_at = excluded.updated_at, session_time = excluded.session_time, \
             input_octets = excluded.input_octets, output_octets = excluded.output_octets, \
             split_at = excluded.split_at, split_time = excluded.split_time, \
             split_input = excluded.split_input, split_output = excluded.split_output",
        );
        q.build().execute(&mut **tx).await?;
    }
    Ok(())
}

/// A counter as SQLite's signed 64-bit integer (saturating).
fn counter(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Adds usage to product instances, creating those a user does not have yet (a group's
/// default product); usage of a user who does not exist is dropped.
async fn add_usage(
    tx: &mut Transaction<'_, Sqlite>,
    usage: &[UsageDelta],
) -> Result<(), StoreError> {
    const ROWS: usize = 1000;
    for chunk in usage.chunks(ROWS) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO user_products \
             (user_name, product, started_at, cycle_start, used_secs, used_in, used_out, logins) \
             SELECT v.column1, v.column2, v.column3, v.column3, v.column4, v.column5, v.column6, \
             v.column7 FROM (",
        );
        q.push_values(chunk, |mut row, d| {
            row.push_bind(d.user.clone())
                .push_bind(d.product.clone())
                .push_bind(d.at)
                .push_bind(counter(d.usage.secs))
                .push_bind(counter(d.usage.bytes_in))
                .push_bind(counter(d.usage.bytes_out))
                .push_bind(counter(d.usage.logins));
        });
        // "WHERE true" tells SQLite's parser that ON CONFLICT belongs to the INSERT.
        q.push(
            ") AS v JOIN users ON users.name = v.column1 WHERE true \
             ON CONFLICT (user_name, product) DO UPDATE SET \
             used_secs = used_secs + excluded.used_secs, used_in = used_in + excluded.used_in, \
             used_out = used_out + excluded.used_out, logins = logins + excluded.logins",
        );
        q.build().execute(&mut **tx).await?;
    }
    Ok(())
}

const BINDINGS_QUERY: &str = "SELECT user_name, kind, value FROM user_bindings";
const BINDINGS_ORDER: &str = "ORDER BY user_name, kind, value";
const HOLDINGS_QUERY: &str = "SELECT user_name, product, balance_fen, cycle_start, \
    cycle_end, reserved_package FROM user_products";
const HOLDINGS_ORDER: &str = "ORDER BY user_name, product";
const GRANTS_QUERY: &str = "SELECT user_name, product, extra_secs, extra_bytes, bought_at, \
    expires_at FROM user_packages";

/// A package's grant, and the (user, product) it is on.
fn grant_from_row(row: &SqliteRow) -> Result<((String, String), Grant), StoreError> {
    Ok((
        (row.try_get("user_name")?, row.try_get("product")?),
        Grant {
            extra_secs: unsigned(row, "user_packages", "extra_secs")?,
            extra_bytes: unsigned(row, "user_packages", "extra_bytes")?,
            bought_at: row.try_get("bought_at")?,
            expires_at: row.try_get("expires_at")?,
        },
    ))
}

/// Binds a user's columns in the order of [`USER_COLUMNS`].
fn push_user(
    mut row: sqlx::query_builder::Separated<'_, '_, Sqlite, &'static str>,
    u: &UserRecord,
) {
    let p = &u.profile;
    row.push_bind(u.name.clone())
        .push_bind(u.password_sealed.clone())
        .push_bind(u.enabled)
        .push_bind(u.created_at)
        .push_bind(u.updated_at)
        .push_bind(p.group.clone())
        .push_bind(p.expires_at)
        .push_bind(p.balance_fen)
        .push_bind(p.phone.clone())
        .push_bind(p.max_online.map(i64::from))
        .push_bind(p.allow_radius)
        .push_bind(p.allow_portal)
        .push_bind(p.banned_until)
        .push_bind(p.consumption_limit_fen);
}

async fn insert_binding(
    tx: &mut Transaction<'_, Sqlite>,
    name: &str,
    b: &Binding,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO user_bindings (user_name, kind, value) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(name)
    .bind(b.kind())
    .bind(b.value())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_holding(
    tx: &mut Transaction<'_, Sqlite>,
    name: &str,
    product: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO user_products (user_name, product, started_at, cycle_start) \
         VALUES ($1, $2, $3, $3) ON CONFLICT DO NOTHING",
    )
    .bind(name)
    .bind(product)
    .bind(unix_now())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl SqliteStore {
    /// Reads the bindings, product instances and packages of `users`.
    async fn fill(&self, users: &mut [UserRecord]) -> Result<(), StoreError> {
        if users.is_empty() {
            return Ok(());
        }
        let index: HashMap<String, usize> = users
            .iter()
            .enumerate()
            .map(|(i, u)| (u.name.clone(), i))
            .collect();
        // `users` is a page (at most a few thousand names), well inside SQLite's limit
        // of bound values.
        let names: Vec<String> = users.iter().map(|u| u.name.clone()).collect();
        let select = |query: &str, order: &str| {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(query);
            q.push(" WHERE user_name IN (");
            let mut list = q.separated(", ");
            for name in &names {
                list.push_bind(name.clone());
            }
            q.push(") ").push(order);
            q
        };
        for row in select(BINDINGS_QUERY, BINDINGS_ORDER)
            .build()
            .fetch_all(&self.pool)
            .await?
        {
            let (user, b) = binding_from_row(&row)?;
            if let Some(&i) = index.get(&user) {
                users[i].bindings.push(b);
            }
        }
        for row in select(HOLDINGS_QUERY, HOLDINGS_ORDER)
            .build()
            .fetch_all(&self.pool)
            .await?
        {
            let (user, h) = holding_from_row(&row)?;
            if let Some(&i) = index.get(&user) {
                users[i].holdings.push(h);
            }
        }
        for row in select(GRANTS_QUERY, "ORDER BY id")
            .build()
            .fetch_all(&self.pool)
            .await?
        {
            let ((user, product), grant) = grant_from_row(&row)?;
            if let Some(h) = index
                .get(&user)
                .and_then(|&i| users[i].holdings.iter_mut().find(|h| h.product == product))
            {
                h.packages.push(grant);
            }
        }
        Ok(())
    }

    /// Runs an UPDATE or DELETE of one row and logs the change when a row was touched.
    async fn touch<'q>(
        &self,
        entity: Entity,
        name: &str,
        query: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let touched = query.execute(&mut *tx).await?.rows_affected() > 0;
        if touched {
            log_change(&mut tx, entity, name).await?;
        }
        tx.commit().await?;
        Ok(touched)
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE name = $1");
        let Some(row) = sqlx::query(&sql)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let mut users = vec![user_from_row(&row)?];
        self.fill(&mut users).await?;
        Ok(users.pop())
    }

    async fn users(&self, names: &[String]) -> Result<Vec<UserRecord>, StoreError> {
        let mut found = Vec::with_capacity(names.len());
        // Well inside SQLite's limit of bound values per statement.
        for chunk in names.chunks(1000) {
            let mut q: QueryBuilder<Sqlite> =
                QueryBuilder::new(format!("SELECT {USER_COLUMNS} FROM users WHERE name IN ("));
            let mut list = q.separated(", ");
            for name in chunk {
                list.push_bind(name.as_str());
            }
            q.push(")");
            let mut users = q
                .build()
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(user_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            self.fill(&mut users).await?;
            found.extend(users);
        }
        Ok(found)
    }

    async fn users_page(&self, query: &UserQuery) -> Result<(u64, Vec<UserRecord>), StoreError> {
        fn filter<'a>(q: &mut QueryBuilder<'a, Sqlite>, query: &'a UserQuery) {
            q.push(" WHERE 1 = 1");
            if let Some(text) = &query.name_contains {
                q.push(" AND instr(name, ")
                    .push_bind(text.as_str())
                    .push(") > 0");
            }
            if let Some(group) = &query.group {
                q.push(" AND group_name = ").push_bind(group.as_str());
            }
            if let Some(enabled) = query.enabled {
                q.push(" AND enabled = ").push_bind(enabled);
            }
            if let Some(product) = &query.product {
                q.push(" AND name IN (SELECT user_name FROM user_products WHERE product = ")
                    .push_bind(product.as_str())
                    .push(")");
            }
        }
        let mut count: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT COUNT(*) FROM users");
        filter(&mut count, query);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;
        let mut page: QueryBuilder<Sqlite> =
            QueryBuilder::new(format!("SELECT {USER_COLUMNS} FROM users"));
        filter(&mut page, query);
        page.push(" ORDER BY name LIMIT ")
            .push_bind(i64::from(query.limit))
            .push(" OFFSET ")
            .push_bind(i64::try_from(query.offset).unwrap_or(i64::MAX));
        let mut users = page
            .build()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(user_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        self.fill(&mut users).await?;
        Ok((u64::try_from(total).unwrap_or(0), users))
    }

    async fn for_each_user(
        &self,
        visit: &mut (dyn FnMut(UserRecord) + Send),
    ) -> Result<(), StoreError> {
        // Bindings and holdings are few; gather them first, then stream the users.
        let mut bindings: HashMap<String, Vec<Binding>> = HashMap::new();
        let sql = format!("{BINDINGS_QUERY} {BINDINGS_ORDER}");
        let mut rows = sqlx::query(&sql).fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            let (user, b) = binding_from_row(&row)?;
            bindings.entry(user).or_default().push(b);
        }
        drop(rows);
        let mut grants: HashMap<(String, String), Vec<Grant>> = HashMap::new();
        let sql = format!("{GRANTS_QUERY} ORDER BY id");
        let mut rows = sqlx::query(&sql).fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            let (key, grant) = grant_from_row(&row)?;
            grants.entry(key).or_default().push(grant);
        }
        drop(rows);
        let mut holdings: HashMap<String, Vec<Holding>> = HashMap::new();
        let sql = format!("{HOLDINGS_QUERY} {HOLDINGS_ORDER}");
        let mut rows = sqlx::query(&sql).fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            let (user, mut h) = holding_from_row(&row)?;
            if let Some(g) = grants.remove(&(user.clone(), h.product.clone())) {
                h.packages = g;
            }
            holdings.entry(user).or_default().push(h);
        }
        drop(rows);
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY name");
        let mut rows = sqlx::query(&sql).fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            let mut user = user_from_row(&row)?;
            user.bindings = bindings.remove(&user.name).unwrap_or_default();
            user.holdings = holdings.remove(&user.name).unwrap_or_default();
            visit(user);
        }
        Ok(())
    }

    async fn add_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        let (reply, outcome) = oneshot::channel();
        let closed = || StoreError::CommitFailed("the user writer has stopped".into());
        self.new_users
            .send((user.clone(), reply))
            .await
            .map_err(|_| closed())?;
        outcome.await.map_err(|_| closed())?
    }

    async fn import_users(&self, users: &[UserRecord]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for batch in users.chunks(IMPORT_BATCH) {
            let mut q: QueryBuilder<Sqlite> =
                QueryBuilder::new(format!("INSERT INTO users ({USER_COLUMNS}) "));
            q.push_values(batch, push_user);
            if let Err(e) = q.build().execute(&mut *tx).await {
                if !is_unique_violation(&e) {
                    return Err(e.into());
                }
                // Name the first clash so the caller can point at its line.
                for u in batch {
                    let exists = sqlx::query("SELECT 1 FROM users WHERE name = $1")
                        .bind(&u.name)
                        .fetch_optional(&mut *tx)
                        .await?
                        .is_some();
                    if exists {
                        return Err(StoreError::UserExists(u.name.clone()));
                    }
                }
                return Err(e.into());
            }
        }
        log_change(&mut tx, Entity::User, ALL_KEYS).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_user(&self, name: &str) -> Result<bool, StoreError> {
        self.touch(
            Entity::User,
            name,
            sqlx::query("DELETE FROM users WHERE name = $1").bind(name),
        )
        .await
    }

    async fn set_password(&self, name: &str, sealed: &[u8]) -> Result<bool, StoreError> {
        let q =
            sqlx::query("UPDATE users SET password_sealed = $1, updated_at = $2 WHERE name = $3")
                .bind(sealed)
                .bind(unix_now())
                .bind(name);
        self.touch(Entity::User, name, q).await
    }

    async fn change_user(&self, name: &str, change: &UserChange) -> Result<bool, StoreError> {
        let patch = &change.profile;
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new("UPDATE users SET updated_at = ");
        q.push_bind(unix_now());
        // Each given field: name the column, then bind the value.
        macro_rules! field {
            ($value:expr, $column:literal) => {
                if let Some(v) = $value.clone() {
                    q.push(concat!(", ", $column, " = "));
                    q.push_bind(v);
                }
            };
        }
        field!(patch.enabled, "enabled");
        field!(patch.group, "group_name");
        field!(patch.expires_at, "expires_at");
        field!(patch.balance_fen, "balance_fen");
        field!(patch.phone, "phone");
        field!(patch.max_online.map(|m| m.map(i64::from)), "max_online");
        field!(patch.allow_radius, "allow_radius");
        field!(patch.allow_portal, "allow_portal");
        field!(patch.banned_until, "banned_until");
        field!(patch.consumption_limit_fen, "consumption_limit_fen");
        q.push(" WHERE name = ");
        q.push_bind(name);
        let mut tx = self.pool.begin().await?;
        if q.build().execute(&mut *tx).await?.rows_affected() == 0 {
            return Ok(false);
        }
        if change.clear_bindings {
            sqlx::query("DELETE FROM user_bindings WHERE user_name = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        for b in &change.remove_bindings {
            sqlx::query(
                "DELETE FROM user_bindings WHERE user_name = $1 AND kind = $2 AND value = $3",
            )
            .bind(name)
            .bind(b.kind())
            .bind(b.value())
            .execute(&mut *tx)
            .await?;
        }
        for b in &change.add_bindings {
            insert_binding(&mut tx, name, b).await?;
        }
        for p in &change.add_products {
            insert_holding(&mut tx, name, p).await?;
        }
        for p in &change.remove_products {
            sqlx::query("DELETE FROM user_products WHERE user_name = $1 AND product = $2")
                .bind(name)
                .bind(p)
                .execute(&mut *tx)
                .await?;
        }
        log_change(&mut tx, Entity::User, name).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn catalog(&self) -> Result<Vec<CatalogRow>, StoreError> {
        sqlx::query("SELECT kind, name, body FROM catalog ORDER BY kind, name")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(catalog_from_row)
            .collect()
    }

    async fn put_catalog(&self, row: &CatalogRow, put: Put) -> Result<bool, StoreError> {
        let sql = match put {
            Put::Create => {
                "INSERT INTO catalog (kind, name, body, updated_at) VALUES ($1, $2, $3, $4)"
            }
            Put::Replace => {
                "UPDATE catalog SET kind = $1, name = $2, body = $3, updated_at = $4 \
                 WHERE kind = $1 AND name = $2"
            }
            Put::Upsert => {
                "INSERT INTO catalog (kind, name, body, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (kind, name) DO UPDATE SET body = $3, updated_at = $4"
            }
        };
        let q = sqlx::query(sql)
            .bind(row.kind.as_str())
            .bind(&row.name)
            .bind(&row.body)
            .bind(unix_now());
        match self
            .touch(Entity::Catalog, &catalog_key(row.kind, &row.name), q)
            .await
        {
            Err(StoreError::Database(e)) if is_unique_violation(&e) => {
                Err(StoreError::CatalogExists(row.kind, row.name.clone()))
            }
            other => other,
        }
    }

    async fn delete_catalog(&self, kind: CatalogKind, name: &str) -> Result<bool, StoreError> {
        let q = sqlx::query("DELETE FROM catalog WHERE kind = $1 AND name = $2")
            .bind(kind.as_str())
            .bind(name);
        self.touch(Entity::Catalog, &catalog_key(kind, name), q)
            .await
    }

    async fn online_sessions(&self) -> Result<Vec<OnlineRecord>, StoreError> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS}, {SPLIT_COLUMNS} FROM online_sessions ORDER BY started_at"
        );
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter().map(online_from_row).collect()
    }

    async fn apply_online(
        &self,
        changes: &[OnlineChange],
        usage: &[UsageDelta],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        add_usage(&mut tx, usage).await?;
        // Each statement is a round trip to SQLite's thread, so a batch is collapsed into
        // a few statements: between two NAS-wide ends, only the last state of each
        // session matters, and the order of different sessions does not.
        for segment in changes.split_inclusive(|c| matches!(c, OnlineChange::EndNas { .. })) {
            let (last, rest) = match segment.split_last() {
                Some((end @ OnlineChange::EndNas { .. }, rest)) => (Some(end), rest),
                _ => (None, segment),
            };
            write_sessions(&mut tx, rest).await?;
            if let Some(OnlineChange::EndNas { nas, at, cause }) = last {
                // The sessions end now; their usage is what the last update said, since
                // their last split.
                let select = SESSION_COLUMNS
                    .replace(
                        "started_at",
                        "CASE WHEN split_at > started_at THEN split_at ELSE started_at END",
                    )
                    .replace("updated_at", "$1")
                    .replace("session_time", "session_time - split_time")
                    .replace("input_octets", "input_octets - split_input")
                    .replace("output_octets", "output_octets - split_output");
                let sql = format!(
                    "INSERT INTO session_history ({HISTORY_COLUMNS}, cause) \
                     SELECT {select}, $2 FROM online_sessions WHERE nas = $3"
                );
                sqlx::query(&sql)
                    .bind(at)
                    .bind(i64::from(*cause))
                    .bind(nas)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM online_sessions WHERE nas = $1")
                    .bind(nas)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn history(
        &self,
        user: Option<&str>,
        limit: u32,
    ) -> Result<Vec<HistoryRecord>, StoreError> {
        let columns = HISTORY_COLUMNS.replace("ended_at", "ended_at AS updated_at");
        let sql = format!(
            "SELECT {columns}, cause, terminate_cause, via FROM session_history \
             WHERE $1 IS NULL OR user_name = $1 ORDER BY id DESC LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(user)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let code = |column: &str| -> Result<Option<u32>, StoreError> {
                    let v: Option<i64> = r.try_get(column)?;
                    v.map(u32::try_from)
                        .transpose()
                        .map_err(|e| corrupt("session_history".into(), format!("{column}: {e}")))
                };
                Ok(HistoryRecord {
                    session: session_from_row(r)?,
                    cause: code("cause")?,
                    terminate_cause: code("terminate_cause")?,
                    via: code("via")?,
                })
            })
            .collect()
    }

    async fn lockouts(&self, now: i64) -> Result<Vec<(String, i64)>, StoreError> {
        let rows =
            sqlx::query("SELECT user_name, locked_until FROM lockouts WHERE locked_until > $1")
                .bind(now)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("user_name")?, r.try_get("locked_until")?)))
            .collect()
    }

    async fn set_lockout(&self, name: &str, until: i64) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        // Expired locks are of no use; forget them while here.
        sqlx::query("DELETE FROM lockouts WHERE locked_until <= $1")
            .bind(unix_now())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO lockouts (user_name, locked_until) VALUES ($1, $2) \
             ON CONFLICT (user_name) DO UPDATE SET locked_until = $2",
        )
        .bind(name)
        .bind(until)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn nas_devices(&self) -> Result<Vec<NasRecord>, StoreError> {
        sqlx::query(
            "SELECT name, address, secret_sealed, vendor, require_message_authenticator, \
             coa_port, alias, created_at FROM nas_devices ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(nas_from_row)
        .collect()
    }

    async fn add_nas(&self, nas: &NasRecord) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO nas_devices \
             (name, address, secret_sealed, vendor, require_message_authenticator, coa_port, \
             alias, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&nas.name)
        .bind(&nas.address)
        .bind(&nas.secret_sealed)
        .bind(nas.vendor.name())
        .bind(nas.require_message_authenticator)
        .bind(i64::from(nas.coa_port))
        .bind(&nas.alias)
        .bind(nas.created_at)
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::NasExists(nas.name.clone()))
            }
            other => other?,
        };
        log_change(&mut tx, Entity::Nas, &nas.name).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_nas(&self, name: &str) -> Result<bool, StoreError> {
        let q = sqlx::query("DELETE FROM nas_devices WHERE name = $1").bind(name);
        self.touch(Entity::Nas, name, q).await
    }

    async fn changes_since(&self, seq: i64) -> Result<Vec<Change>, StoreError> {
        let rows = sqlx::query("SELECT seq, entity, key FROM changes WHERE seq > $1 ORDER BY seq")
            .bind(seq)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let seq: i64 = row.try_get("seq")?;
                let entity: String = row.try_get("entity")?;
                let entity = Entity::parse(&entity).ok_or_else(|| {
                    corrupt(
                        format!("changes/{seq}"),
                        format!("unknown entity {entity:?}"),
                    )
                })?;
                Ok(Change {
                    seq,
                    entity,
                    key: row.try_get("key")?,
                })
            })
            .collect()
    }

    async fn last_change(&self) -> Result<i64, StoreError> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM changes")
            .fetch_one(&self.pool)
            .await?;
        Ok(seq.unwrap_or(0))
    }

    async fn prune_changes(&self, seq: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM changes WHERE seq <= $1")
            .bind(seq)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn claim_once(&self, key: &str) -> Result<bool, StoreError> {
        let claimed = sqlx::query(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(format!("claimed:{key}"))
        .bind(unix_now().to_string())
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1;
        Ok(claimed)
    }
}
