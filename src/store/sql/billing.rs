//! Billing tables: instance usage, packages, the ledger, settlements and their log.
//! Money transactions begin with the backend's `begin_write`, which serializes them, so
//! what a plan is computed from cannot change before it is written.

use async_trait::async_trait;
use sqlx::{QueryBuilder, Row, Transaction};
use std::collections::HashMap;

use super::changes::log_change;
use super::rows::{
    corrupt, counter, grant_from_row, holding_from_row, is_unique_violation, unsigned,
};
use super::{begin_write, Db, DbRow, SqlStore};
use crate::account::{Holding, Usage};
use crate::store::billing::{
    Account, BillingStore, DueInstance, InstanceOutcome, LedgerEntry, LedgerKind, ListPage,
    LogEntry, MoneyPlan, MoneyWrite, PackageRecord, Refusal, SettleFailure, SettlePlan,
    SettleScope, SettleStep, SettledBatch, SettlementRecord,
};
use crate::store::{Entity, StoreError, ALL_KEYS};

/// Rows per multi-row statement (below SQLite's 32,766 bound values and PostgreSQL's 65,535).
const ROWS: usize = 1000;
/// Past this many users, `touch_users` asks for one reload of every user instead.
const TOUCH_ONE_BY_ONE: usize = 2000;

const INSTANCE_COLUMNS: &str = "up.user_name, up.product, up.started_at, up.balance_fen, \
    up.cycle_start, up.cycle_end, up.reserved_package, up.used_secs, up.used_in, \
    up.used_out, up.logins";

const PACKAGE_COLUMNS: &str = "id, user_name, product, package, extra_secs, extra_bytes, \
    price_fen, bought_at, expires_at";

fn usage_from_row(row: &DbRow) -> Result<Usage, StoreError> {
    Ok(Usage {
        secs: unsigned(row, "user_products", "used_secs")?,
        bytes_in: unsigned(row, "user_products", "used_in")?,
        bytes_out: unsigned(row, "user_products", "used_out")?,
        logins: unsigned(row, "user_products", "logins")?,
    })
}

fn instance_from_row(row: &DbRow) -> Result<(String, Holding, i64, Usage), StoreError> {
    let (user, holding) = holding_from_row(row)?;
    Ok((
        user,
        holding,
        row.try_get("started_at")?,
        usage_from_row(row)?,
    ))
}

fn package_from_row(row: &DbRow) -> Result<PackageRecord, StoreError> {
    Ok(PackageRecord {
        id: row.try_get("id")?,
        user: row.try_get("user_name")?,
        product: row.try_get("product")?,
        package: row.try_get("package")?,
        price_fen: row.try_get("price_fen")?,
        grant: grant_from_row(row)?.1,
    })
}

fn ledger_from_row(row: &DbRow) -> Result<LedgerEntry, StoreError> {
    let kind: String = row.try_get("kind")?;
    Ok(LedgerEntry {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        user: row.try_get("user_name")?,
        product: row.try_get("product")?,
        amount_fen: row.try_get("amount_fen")?,
        balance_fen: row.try_get("balance_fen")?,
        kind: LedgerKind::parse(&kind)
            .ok_or_else(|| corrupt("ledger".into(), format!("kind {kind:?}")))?,
        reference: row.try_get("ref")?,
        note: row.try_get("note")?,
    })
}

fn log_from_row(row: &DbRow) -> Result<LogEntry, StoreError> {
    let code: i64 = row.try_get("code")?;
    Ok(LogEntry {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        user: row.try_get("user_name")?,
        product: row.try_get("product")?,
        cycle_start: row.try_get("cycle_start")?,
        code: u32::try_from(code).map_err(|e| corrupt("settlement_log".into(), e))?,
        amount_fen: row.try_get("amount_fen")?,
        detail: row.try_get("detail")?,
    })
}

fn settlement_from_row(row: &DbRow) -> Result<SettlementRecord, StoreError> {
    let code: i64 = row.try_get("code")?;
    Ok(SettlementRecord {
        id: row.try_get("id")?,
        user: row.try_get("user_name")?,
        product: row.try_get("product")?,
        cycle_start: row.try_get("cycle_start")?,
        cycle_end: row.try_get("cycle_end")?,
        settled_at: row.try_get("settled_at")?,
        usage: usage_from_row(row)?,
        fee_fen: row.try_get("fee_fen")?,
        usage_fen: row.try_get("usage_fen")?,
        charged_fen: row.try_get("charged_fen")?,
        balance_fen: row.try_get("balance_fen")?,
        code: u32::try_from(code).map_err(|e| corrupt("settlements".into(), e))?,
    })
}

async fn insert_ledger(
    tx: &mut Transaction<'_, Db>,
    entries: &[&LedgerEntry],
) -> Result<(), StoreError> {
    for chunk in entries.chunks(ROWS) {
        let mut q: QueryBuilder<Db> = QueryBuilder::new(
            "INSERT INTO ledger (at, user_name, product, amount_fen, balance_fen, kind, ref, note) ",
        );
        q.push_values(chunk, |mut row, e| {
            row.push_bind(e.at)
                .push_bind(e.user.clone())
                .push_bind(e.product.clone())
                .push_bind(e.amount_fen)
                .push_bind(e.balance_fen)
                .push_bind(e.kind.as_str())
                .push_bind(e.reference.clone())
                .push_bind(e.note.clone());
        });
        if let Err(e) = q.build().execute(&mut **tx).await {
            if is_unique_violation(&e) {
                let reference = chunk
                    .first()
                    .map(|e| e.reference.clone())
                    .unwrap_or_default();
                return Err(StoreError::DuplicateReference(reference));
            }
            return Err(e.into());
        }
    }
    Ok(())
}

async fn insert_log(tx: &mut Transaction<'_, Db>, entries: &[&LogEntry]) -> Result<(), StoreError> {
    for chunk in entries.chunks(ROWS) {
        let mut q: QueryBuilder<Db> = QueryBuilder::new(
            "INSERT INTO settlement_log (at, user_name, product, cycle_start, code, amount_fen, detail) ",
        );
        q.push_values(chunk, |mut row, e| {
            row.push_bind(e.at)
                .push_bind(e.user.clone())
                .push_bind(e.product.clone())
                .push_bind(e.cycle_start)
                .push_bind(i64::from(e.code))
                .push_bind(e.amount_fen)
                .push_bind(e.detail.clone());
        });
        q.build().execute(&mut **tx).await?;
    }
    Ok(())
}

async fn insert_packages(
    tx: &mut Transaction<'_, Db>,
    packages: &[&PackageRecord],
) -> Result<(), StoreError> {
    for chunk in packages.chunks(ROWS) {
        let mut q: QueryBuilder<Db> = QueryBuilder::new(
            "INSERT INTO user_packages (user_name, product, package, extra_secs, extra_bytes, \
             price_fen, bought_at, expires_at) ",
        );
        q.push_values(chunk, |mut row, p| {
            row.push_bind(p.user.clone())
                .push_bind(p.product.clone())
                .push_bind(p.package.clone())
                .push_bind(counter(p.grant.extra_secs))
                .push_bind(counter(p.grant.extra_bytes))
                .push_bind(p.price_fen)
                .push_bind(p.grant.bought_at)
                .push_bind(p.grant.expires_at);
        });
        q.build().execute(&mut **tx).await?;
    }
    Ok(())
}

async fn packages_of(
    tx: &mut Transaction<'_, Db>,
    first_user: &str,
    last_user: &str,
) -> Result<Vec<PackageRecord>, StoreError> {
    let sql = format!(
        "SELECT {PACKAGE_COLUMNS} FROM user_packages WHERE user_name >= $1 AND user_name <= $2 \
         ORDER BY id"
    );
    sqlx::query(&sql)
        .bind(first_user)
        .bind(last_user)
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(package_from_row)
        .collect()
}

/// Writes the settled instances of a batch; returns the step that failed.
async fn write_settlements(
    tx: &mut Transaction<'_, Db>,
    outcomes: &[(String, String, InstanceOutcome)],
    wallets: &HashMap<String, (i64, i64)>,
) -> Result<(), (SettleStep, StoreError)> {
    let deduct = |e| (SettleStep::Deduct, e);
    let mut records = Vec::new();
    let mut ledger = Vec::new();
    let mut log = Vec::new();
    let mut packages = Vec::new();
    let mut ends = Vec::new();
    for (user, product, outcome) in outcomes {
        match outcome {
            InstanceOutcome::CycleEnd(end) => ends.push((user, product, *end)),
            InstanceOutcome::Failed(line) => log.push(line),
            InstanceOutcome::Settled(w) => {
                records.push(w);
                ledger.extend(w.ledger.iter());
                log.extend(w.log.iter());
                packages.extend(w.package.iter());
            }
        }
    }
    for chunk in records.chunks(ROWS) {
        let mut q: QueryBuilder<Db> = QueryBuilder::new(
            "INSERT INTO settlements (user_name, product, cycle_start, cycle_end, settled_at, \
             used_secs, used_in, used_out, logins, fee_fen, usage_fen, charged_fen, balance_fen, \
             code) ",
        );
        q.push_values(chunk, |mut row, w| {
            let r = &w.record;
            row.push_bind(r.user.clone())
                .push_bind(r.product.clone())
                .push_bind(r.cycle_start)
                .push_bind(r.cycle_end)
                .push_bind(r.settled_at)
                .push_bind(counter(r.usage.secs))
                .push_bind(counter(r.usage.bytes_in))
                .push_bind(counter(r.usage.bytes_out))
                .push_bind(counter(r.usage.logins))
                .push_bind(r.fee_fen)
                .push_bind(r.usage_fen)
                .push_bind(r.charged_fen)
                .push_bind(r.balance_fen)
                .push_bind(i64::from(r.code));
        });
        q.build()
            .execute(&mut **tx)
            .await
            .map_err(|e| (SettleStep::Record, e.into()))?;
        // The cycle's usage leaves the instance; usage added since stays.
        let mut q: QueryBuilder<Db> = QueryBuilder::new(
            "UPDATE user_products SET balance_fen = v.column3, cycle_start = v.column4, \
             cycle_end = v.column5, used_secs = CASE WHEN used_secs > v.column6 THEN used_secs - v.column6 ELSE 0 END, \
             used_in = CASE WHEN used_in > v.column7 THEN used_in - v.column7 ELSE 0 END, used_out = CASE WHEN used_out > v.column8 THEN used_out - v.column8 ELSE 0 END, \
             logins = CASE WHEN logins > v.column9 THEN logins - v.column9 ELSE 0 END FROM (",
        );
        q.push_values(chunk, |mut row, w| {
            let r = &w.record;
            row.push_bind(r.user.clone())
                .push_bind(r.product.clone())
                .push_bind(r.balance_fen)
                .push_bind(w.next_cycle.0)
                .push_bind(w.next_cycle.1)
                .push_bind(counter(r.usage.secs))
                .push_bind(counter(r.usage.bytes_in))
                .push_bind(counter(r.usage.bytes_out))
                .push_bind(counter(r.usage.logins));
        });
        q.push(") AS v WHERE user_products.user_name = v.column1 AND user_products.product = v.column2");
        q.build()
            .execute(&mut **tx)
            .await
            .map_err(|e| deduct(e.into()))?;
    }
    for chunk in ends.chunks(ROWS) {
        let mut q: QueryBuilder<Db> =
            QueryBuilder::new("UPDATE user_products SET cycle_end = v.column3 FROM (");
        q.push_values(chunk, |mut row, (user, product, end)| {
            row.push_bind(user.to_string())
                .push_bind(product.to_string())
                .push_bind(*end);
        });
        q.push(") AS v WHERE user_products.user_name = v.column1 AND user_products.product = v.column2");
        q.build()
            .execute(&mut **tx)
            .await
            .map_err(|e| deduct(e.into()))?;
    }
    let moved: Vec<(&String, i64)> = wallets
        .iter()
        .filter(|(_, (before, after))| before != after)
        .map(|(u, (_, after))| (u, *after))
        .collect();
    for chunk in moved.chunks(ROWS) {
        let mut q: QueryBuilder<Db> =
            QueryBuilder::new("UPDATE users SET balance_fen = v.column2 FROM (");
        q.push_values(chunk, |mut row, (user, wallet)| {
            row.push_bind(user.to_string()).push_bind(*wallet);
        });
        q.push(") AS v WHERE users.name = v.column1");
        q.build()
            .execute(&mut **tx)
            .await
            .map_err(|e| deduct(e.into()))?;
    }
    insert_ledger(tx, &ledger).await.map_err(deduct)?;
    insert_packages(tx, &packages).await.map_err(deduct)?;
    insert_log(tx, &log).await.map_err(deduct)?;
    // Arrears refuse logins at once: the directory learns of them with the batch. Other
    // new balances reach it when the run ends (`touch_users`), in one pass.
    let mut users: Vec<&str> = records
        .iter()
        .filter(|w| {
            w.record.balance_fen < 0 || wallets.get(&w.record.user).is_some_and(|(b, a)| b != a)
        })
        .map(|w| w.record.user.as_str())
        .collect();
    users.dedup();
    for user in users {
        log_change(tx, Entity::User, user).await.map_err(deduct)?;
    }
    Ok(())
}

#[async_trait]
impl BillingStore for SqlStore {
    async fn instance_usage(
        &self,
        users: Option<&[String]>,
    ) -> Result<Vec<(String, String, Usage)>, StoreError> {
        const SELECT: &str =
            "SELECT user_name, product, used_secs, used_in, used_out, logins FROM user_products";
        let mut rows = Vec::new();
        match users {
            None => {
                let sql = format!(
                    "{SELECT} WHERE used_secs > 0 OR used_in > 0 OR used_out > 0 OR logins > 0"
                );
                rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
            }
            Some(users) => {
                for chunk in users.chunks(ROWS) {
                    let mut q: QueryBuilder<Db> = QueryBuilder::new(SELECT);
                    q.push(" WHERE user_name IN (");
                    let mut list = q.separated(", ");
                    for user in chunk {
                        list.push_bind(user.clone());
                    }
                    q.push(")");
                    rows.extend(q.build().fetch_all(&self.pool).await?);
                }
            }
        }
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("user_name")?,
                    r.try_get("product")?,
                    usage_from_row(r)?,
                ))
            })
            .collect()
    }

    async fn account(&self, user: &str) -> Result<Option<Account>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let account = read_account(&mut tx, user).await?;
        tx.commit().await?;
        Ok(account)
    }

    async fn due_instances(
        &self,
        now: i64,
        scope: &SettleScope,
        after: Option<(String, String)>,
        limit: usize,
    ) -> Result<Vec<DueInstance>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let due = read_due(&mut tx, now, scope, after, limit).await?;
        tx.commit().await?;
        Ok(due)
    }

    async fn settle_batch(
        &self,
        now: i64,
        scope: &SettleScope,
        after: Option<(String, String)>,
        limit: usize,
        plan: &SettlePlan<'_>,
    ) -> Result<SettledBatch, SettleFailure> {
        let claim = |e: sqlx::Error| SettleFailure {
            step: SettleStep::Claim,
            error: e.into(),
        };
        let mut tx = begin_write(&self.pool).await.map_err(claim)?;
        let due = read_due(&mut tx, now, scope, after, limit)
            .await
            .map_err(|error| SettleFailure {
                step: SettleStep::Claim,
                error,
            })?;
        let Some(last) = due.last() else {
            return Ok(SettledBatch::default());
        };
        let last_key = (last.user.clone(), last.holding.product.clone());
        // Cycles settled already (the unique key says so) are left alone.
        let mut settled: std::collections::HashSet<(String, String, i64)> = Default::default();
        for chunk in due.chunks(ROWS) {
            // A join from the keys, so that each is one look-up in the unique index.
            let mut q: QueryBuilder<Db> =
                QueryBuilder::new("SELECT s.user_name, s.product, s.cycle_start FROM (");
            q.push_values(chunk, |mut row, i| {
                row.push_bind(i.user.clone())
                    .push_bind(i.holding.product.clone())
                    .push_bind(i.holding.cycle_start);
            });
            q.push(
                ") AS v JOIN settlements s ON s.user_name = v.column1 \
                 AND s.product = v.column2 AND s.cycle_start = v.column3",
            );
            for row in q.build().fetch_all(&mut *tx).await.map_err(claim)? {
                settled.insert((
                    row.try_get("user_name").map_err(claim)?,
                    row.try_get("product").map_err(claim)?,
                    row.try_get("cycle_start").map_err(claim)?,
                ));
            }
        }
        // Wallets as the batch leaves them: (before, after).
        let mut wallets: HashMap<String, (i64, i64)> = HashMap::new();
        let mut outcomes = Vec::with_capacity(due.len());
        for mut instance in due {
            let (user, product) = (instance.user.clone(), instance.holding.product.clone());
            let key = (user.clone(), product.clone(), instance.holding.cycle_start);
            if instance.holding.cycle_end > 0 && settled.contains(&key) {
                tracing::warn!(user = %user, product = %product, cycle_start = key.2, "cycle already settled; left alone");
                continue;
            }
            let wallet = instance.wallet_fen;
            let current = wallets.entry(user.clone()).or_insert((wallet, wallet));
            instance.wallet_fen = current.1;
            let outcome = plan(&instance);
            if let InstanceOutcome::Settled(w) = &outcome {
                current.1 = w.wallet_fen;
            }
            outcomes.push((user, product, outcome));
        }
        if let Err((step, error)) = write_settlements(&mut tx, &outcomes, &wallets).await {
            return Err(SettleFailure { step, error });
        }
        // Settled cycles leave their instances' usage behind: the other nodes' meters
        // read it again.
        let users: Vec<String> = wallets.keys().cloned().collect();
        self.announce_usage(&mut tx, &users)
            .await
            .map_err(|error| SettleFailure {
                step: SettleStep::Deduct,
                error,
            })?;
        tx.commit().await.map_err(|e| SettleFailure {
            step: SettleStep::Deduct,
            error: e.into(),
        })?;
        Ok(SettledBatch {
            outcomes,
            last: Some(last_key),
        })
    }

    async fn transact(
        &self,
        user: &str,
        plan: &MoneyPlan<'_>,
    ) -> Result<Option<Result<MoneyWrite, Refusal>>, StoreError> {
        let mut tx = begin_write(&self.pool).await?;
        let Some(account) = read_account(&mut tx, user).await? else {
            return Ok(None);
        };
        let write = match plan(&account) {
            Ok(w) => w,
            Err(refusal) => return Ok(Some(Err(refusal))),
        };
        sqlx::query("UPDATE users SET balance_fen = $1 WHERE name = $2")
            .bind(write.wallet_fen)
            .bind(user)
            .execute(&mut *tx)
            .await?;
        for (product, balance) in &write.balances {
            sqlx::query(
                "UPDATE user_products SET balance_fen = $1 WHERE user_name = $2 AND product = $3",
            )
            .bind(balance)
            .bind(user)
            .bind(product)
            .execute(&mut *tx)
            .await?;
        }
        for (product, package) in &write.reservations {
            sqlx::query(
                "UPDATE user_products SET reserved_package = $1 WHERE user_name = $2 AND product = $3",
            )
            .bind(package)
            .bind(user)
            .bind(product)
            .execute(&mut *tx)
            .await?;
        }
        for id in &write.removed_packages {
            sqlx::query("DELETE FROM user_packages WHERE id = $1 AND user_name = $2")
                .bind(id)
                .bind(user)
                .execute(&mut *tx)
                .await?;
        }
        insert_ledger(&mut tx, &write.ledger.iter().collect::<Vec<_>>()).await?;
        insert_packages(&mut tx, &write.new_packages.iter().collect::<Vec<_>>()).await?;
        insert_log(&mut tx, &write.log.iter().collect::<Vec<_>>()).await?;
        log_change(&mut tx, Entity::User, user).await?;
        tx.commit().await?;
        Ok(Some(Ok(write)))
    }

    async fn touch_users(&self, users: &[String]) -> Result<(), StoreError> {
        let mut tx = begin_write(&self.pool).await?;
        if users.len() > TOUCH_ONE_BY_ONE {
            log_change(&mut tx, Entity::User, ALL_KEYS).await?;
        } else {
            for user in users {
                log_change(&mut tx, Entity::User, user).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn append_log(&self, entries: &[LogEntry]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        insert_log(&mut tx, &entries.iter().collect::<Vec<_>>()).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_expired_packages(&self, now: i64) -> Result<Vec<(String, u64)>, StoreError> {
        let mut tx = begin_write(&self.pool).await?;
        let rows = sqlx::query(
            "SELECT user_name, COUNT(*) AS n FROM user_packages WHERE expires_at <= $1 \
             GROUP BY user_name ORDER BY user_name",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let mut deleted = Vec::with_capacity(rows.len());
        for r in &rows {
            deleted.push((
                r.try_get::<String, _>("user_name")?,
                unsigned(r, "user_packages", "n")?,
            ));
        }
        sqlx::query("DELETE FROM user_packages WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let lines: Vec<LogEntry> = deleted
            .iter()
            .map(|(user, n)| LogEntry {
                id: 0,
                at: now,
                user: user.clone(),
                product: None,
                cycle_start: None,
                code: crate::codes::ECode::ExpiredPackagesDeleted.number(),
                amount_fen: 0,
                detail: format!("{n} expired package(s) deleted"),
            })
            .collect();
        insert_log(&mut tx, &lines.iter().collect::<Vec<_>>()).await?;
        tx.commit().await?;
        Ok(deleted)
    }

    async fn ledger(&self, page: &ListPage) -> Result<(u64, Vec<LedgerEntry>), StoreError> {
        let columns = "id, at, user_name, product, amount_fen, balance_fen, kind, ref, note";
        let (total, rows) = self.list_page("ledger", columns, page).await?;
        Ok((
            total,
            rows.iter().map(ledger_from_row).collect::<Result<_, _>>()?,
        ))
    }

    async fn settlements(
        &self,
        page: &ListPage,
    ) -> Result<(u64, Vec<SettlementRecord>), StoreError> {
        let columns = "id, user_name, product, cycle_start, cycle_end, settled_at, used_secs, \
                       used_in, used_out, logins, fee_fen, usage_fen, charged_fen, balance_fen, code";
        let (total, rows) = self.list_page("settlements", columns, page).await?;
        Ok((
            total,
            rows.iter()
                .map(settlement_from_row)
                .collect::<Result<_, _>>()?,
        ))
    }

    async fn settlement_log(&self, page: &ListPage) -> Result<(u64, Vec<LogEntry>), StoreError> {
        let columns = "id, at, user_name, product, cycle_start, code, amount_fen, detail";
        let (total, rows) = self.list_page("settlement_log", columns, page).await?;
        Ok((
            total,
            rows.iter().map(log_from_row).collect::<Result<_, _>>()?,
        ))
    }
}

/// Instances due at `now`, with their packages and the wallet as stored.
async fn read_due(
    tx: &mut Transaction<'_, Db>,
    now: i64,
    scope: &SettleScope,
    after: Option<(String, String)>,
    limit: usize,
) -> Result<Vec<DueInstance>, StoreError> {
    let (after_user, after_product) = after.unwrap_or_default();
    let sql = format!(
        "SELECT {INSTANCE_COLUMNS}, u.balance_fen AS wallet FROM user_products up \
         JOIN users u ON u.name = up.user_name \
         WHERE up.cycle_end <= $1 AND ($2 IS NULL OR up.user_name = $2) \
         AND ($3 IS NULL OR up.product = $3) AND (up.user_name, up.product) > ($4, $5) \
         ORDER BY up.user_name, up.product LIMIT $6"
    );
    let rows = sqlx::query(&sql)
        .bind(now)
        .bind(&scope.user)
        .bind(&scope.product)
        .bind(&after_user)
        .bind(&after_product)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut **tx)
        .await?;
    let mut due = Vec::with_capacity(rows.len());
    for row in &rows {
        let (user, holding, started_at, usage) = instance_from_row(row)?;
        due.push(DueInstance {
            user,
            holding,
            started_at,
            usage,
            wallet_fen: row.try_get("wallet")?,
        });
    }
    if let (Some(first), Some(last)) = (due.first(), due.last()) {
        let (first, last) = (first.user.clone(), last.user.clone());
        let packages = packages_of(tx, &first, &last).await?;
        for i in &mut due {
            i.holding.packages = packages
                .iter()
                .filter(|p| p.user == i.user && p.product == i.holding.product)
                .map(|p| p.grant)
                .collect();
        }
    }
    Ok(due)
}

async fn read_account(
    tx: &mut Transaction<'_, Db>,
    user: &str,
) -> Result<Option<Account>, StoreError> {
    let Some(wallet) =
        sqlx::query_scalar::<_, i64>("SELECT balance_fen FROM users WHERE name = $1")
            .bind(user)
            .fetch_optional(&mut **tx)
            .await?
    else {
        return Ok(None);
    };
    let sql = format!(
        "SELECT {INSTANCE_COLUMNS} FROM user_products up WHERE up.user_name = $1 ORDER BY up.product"
    );
    let packages = packages_of(tx, user, user).await?;
    let mut holdings = Vec::new();
    for row in sqlx::query(&sql).bind(user).fetch_all(&mut **tx).await? {
        let (_, mut holding, _, usage) = instance_from_row(&row)?;
        holding.packages = packages
            .iter()
            .filter(|p| p.product == holding.product)
            .map(|p| p.grant)
            .collect();
        holdings.push((holding, usage));
    }
    Ok(Some(Account {
        user: user.to_string(),
        wallet_fen: wallet,
        holdings,
        packages,
    }))
}

impl SqlStore {
    /// `page` of `table` (ledger, settlements, settlement_log: an `id` key and an index on
    /// `(user_name, id)`), newest first, and how many rows its user filter matches. The
    /// conditions are written only where they filter, so each query walks its index from
    /// `before` down.
    async fn list_page(
        &self,
        table: &str,
        columns: &str,
        page: &ListPage,
    ) -> Result<(u64, Vec<DbRow>), StoreError> {
        let mut count: QueryBuilder<Db> =
            QueryBuilder::new(format!("SELECT COUNT(*) FROM {table}"));
        if let Some(user) = &page.user {
            count.push(" WHERE user_name = ").push_bind(user.as_str());
        }
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;
        let mut rows: QueryBuilder<Db> =
            QueryBuilder::new(format!("SELECT {columns} FROM {table} WHERE 1 = 1"));
        if let Some(user) = &page.user {
            rows.push(" AND user_name = ").push_bind(user.as_str());
        }
        if let Some(before) = page.before {
            rows.push(" AND id < ").push_bind(before);
        }
        rows.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(page.limit))
            .push(" OFFSET ")
            .push_bind(i64::try_from(page.offset).unwrap_or(i64::MAX));
        let rows = rows.build().fetch_all(&self.pool).await?;
        Ok((u64::try_from(total).unwrap_or(0), rows))
    }
}
