//! Users, their bindings, product instances and lockouts.

use async_trait::async_trait;
use futures_util::TryStreamExt;
use sqlx::{QueryBuilder, Row, Transaction};
use std::collections::HashMap;

use super::changes::log_change;
use super::rows::{corrupt, grant_from_row, holding_from_row, is_unique_violation};
use super::{begin_write, Db, DbPool, DbRow, SqlStore};
use crate::account::{Binding, Grant, Holding, Profile, UserChange};
use crate::clock;
use crate::store::UserStore;
use crate::store::{Entity, StoreError, UserQuery, UserRecord, ALL_KEYS};
use tokio::sync::{mpsc, oneshot};

#[async_trait]
impl UserStore for SqlStore {
    async fn user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        let mut q: QueryBuilder<Db> =
            QueryBuilder::new(format!("SELECT {USER_COLUMNS} FROM users WHERE name = "));
        q.push_bind(name);
        Ok(self.read_users(q).await?.pop())
    }

    async fn users(&self, names: &[String]) -> Result<Vec<UserRecord>, StoreError> {
        let mut found = Vec::with_capacity(names.len());
        // Well inside SQLite's limit of bound values per statement.
        for chunk in names.chunks(1000) {
            let mut q: QueryBuilder<Db> =
                QueryBuilder::new(format!("SELECT {USER_COLUMNS} FROM users WHERE name IN ("));
            let mut list = q.separated(", ");
            for name in chunk {
                list.push_bind(name.as_str());
            }
            q.push(")");
            found.extend(self.read_users(q).await?);
        }
        Ok(found)
    }

    async fn users_page(&self, query: &UserQuery) -> Result<(u64, Vec<UserRecord>), StoreError> {
        fn filter<'a>(q: &mut QueryBuilder<'a, Db>, query: &'a UserQuery) {
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
        let mut count: QueryBuilder<Db> = QueryBuilder::new("SELECT COUNT(*) FROM users");
        filter(&mut count, query);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;
        let mut page: QueryBuilder<Db> =
            QueryBuilder::new(format!("SELECT {USER_COLUMNS} FROM users"));
        filter(&mut page, query);
        page.push(" ORDER BY name LIMIT ")
            .push_bind(i64::from(query.limit))
            .push(" OFFSET ")
            .push_bind(i64::try_from(query.offset).unwrap_or(i64::MAX));
        let users = self.read_users(page).await?;
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
        let mut tx = begin_write(&self.pool).await?;
        for batch in users.chunks(IMPORT_BATCH) {
            let mut q: QueryBuilder<Db> =
                QueryBuilder::new(format!("INSERT INTO users ({USER_COLUMNS}) "));
            q.push_values(batch, push_user);
            // Behind a savepoint: PostgreSQL refuses every statement of a transaction
            // after a failed one until it rolls back to a savepoint.
            let mut attempt = sqlx::Acquire::begin(&mut *tx).await?;
            let inserted = q.build().execute(&mut *attempt).await;
            if let Err(e) = inserted {
                attempt.rollback().await?;
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
            attempt.commit().await?;
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
                .bind(clock::now())
                .bind(name);
        self.touch(Entity::User, name, q).await
    }

    async fn change_user(&self, name: &str, change: &UserChange) -> Result<bool, StoreError> {
        let patch = &change.profile;
        let mut q: QueryBuilder<Db> = QueryBuilder::new("UPDATE users SET updated_at = ");
        q.push_bind(clock::now());
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
        let mut tx = begin_write(&self.pool).await?;
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
            .bind(clock::now())
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
}

/// Rows per INSERT statement in bulk imports (SQLite allows 32766 bound values).
pub(super) const IMPORT_BATCH: usize = 1000;

/// A user to create, and who waits for the outcome.
pub(super) type NewUser = (UserRecord, oneshot::Sender<Result<(), StoreError>>);

/// Most users created in one transaction.
const NEW_USER_BATCH: usize = 512;

/// Starts the group commit of new users: everything queued goes into one transaction;
/// a taken name fails that user alone. One commit (and one
/// fsync) then serves every caller waiting, which is what lets the API create users at
/// thousands a second on a disk that takes a millisecond to sync.
pub(super) fn start_user_writer(pool: DbPool) -> mpsc::Sender<NewUser> {
    let (new_users, queue) = mpsc::channel(NEW_USER_BATCH * 4);
    tokio::spawn(create_users(pool, queue));
    new_users
}

async fn create_users(pool: DbPool, mut queue: mpsc::Receiver<NewUser>) {
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
pub(super) async fn insert_users(
    pool: &DbPool,
    batch: &[NewUser],
) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    // A write transaction: no other writer (on any node) comes between the check and the
    // insert.
    let mut tx = begin_write(pool).await?;
    let mut q: QueryBuilder<Db> = QueryBuilder::new("SELECT name FROM users WHERE name IN (");
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
    let mut q: QueryBuilder<Db> = QueryBuilder::new(format!("INSERT INTO users ({USER_COLUMNS}) "));
    q.push_values(fresh.iter().copied(), push_user);
    q.build().execute(&mut *tx).await?;
    let mut q: QueryBuilder<Db> = QueryBuilder::new("INSERT INTO changes (entity, key) ");
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

pub(super) fn user_from_row(row: &DbRow) -> Result<UserRecord, StoreError> {
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

pub(super) fn binding_from_row(row: &DbRow) -> Result<(String, Binding), StoreError> {
    let user: String = row.try_get("user_name")?;
    let kind: String = row.try_get("kind")?;
    let value: String = row.try_get("value")?;
    let binding =
        Binding::parse(&kind, &value).map_err(|e| corrupt(format!("user_bindings/{user}"), e))?;
    Ok((user, binding))
}

pub(super) const USER_COLUMNS: &str = "name, password_sealed, enabled, created_at, updated_at, \
    group_name, expires_at, balance_fen, phone, max_online, allow_radius, allow_portal, \
    banned_until, consumption_limit_fen";

pub(super) const BINDINGS_QUERY: &str = "SELECT user_name, kind, value FROM user_bindings";
pub(super) const BINDINGS_ORDER: &str = "ORDER BY user_name, kind, value";
pub(super) const HOLDINGS_QUERY: &str = "SELECT user_name, product, balance_fen, cycle_start, \
    cycle_end, reserved_package FROM user_products";
pub(super) const HOLDINGS_ORDER: &str = "ORDER BY user_name, product";
pub(super) const GRANTS_QUERY: &str =
    "SELECT user_name, product, extra_secs, extra_bytes, bought_at, \
    expires_at FROM user_packages";

/// Binds a user's columns in the order of [`USER_COLUMNS`].
pub(super) fn push_user(
    mut row: sqlx::query_builder::Separated<'_, '_, Db, &'static str>,
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

pub(super) async fn insert_binding(
    tx: &mut Transaction<'_, Db>,
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

pub(super) async fn insert_holding(
    tx: &mut Transaction<'_, Db>,
    name: &str,
    product: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO user_products (user_name, product, started_at, cycle_start) \
         VALUES ($1, $2, $3, $3) ON CONFLICT DO NOTHING",
    )
    .bind(name)
    .bind(product)
    .bind(clock::now())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl SqlStore {
    /// The users a `SELECT {USER_COLUMNS} …` query finds, in full.
    async fn read_users(&self, mut q: QueryBuilder<'_, Db>) -> Result<Vec<UserRecord>, StoreError> {
        let mut users = q
            .build()
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(user_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        self.fill(&mut users).await?;
        Ok(users)
    }

    /// Reads the bindings, product instances and packages of `users`.
    pub(super) async fn fill(&self, users: &mut [UserRecord]) -> Result<(), StoreError> {
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
            let mut q: QueryBuilder<Db> = QueryBuilder::new(query);
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
}
