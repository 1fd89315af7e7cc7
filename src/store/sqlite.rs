//! The embedded store: one SQLite file in WAL mode. This file opens it and holds what
//! several table groups share (the change log entry, row readers, the unique-violation
//! test); each store trait is implemented in its own file: `users`, `nas`,
//! `catalog`, `sessions`, `changes`, `billing`, `access`.

mod access;
mod billing;
mod catalog;
mod changes;
mod nas;
mod sessions;
mod users;

use async_trait::async_trait;
use futures_util::TryStreamExt;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, Transaction};
use std::path::Path;
use std::time::Duration;
use tokio::sync::mpsc;
use users::{create_users, NewUser, NEW_USER_BATCH};

use super::billing::UsageDelta;
use super::{
    catalog_key, unix_now, Change, Entity, HistoryRecord, NasRecord, OnlineChange, OnlineRecord,
    Put, StoreError, UserQuery, UserRecord, ALL_KEYS,
};
use crate::account::{Binding, Grant, Holding, Profile, UserChange};
use crate::catalog::{CatalogKind, CatalogRow};
use std::collections::HashMap;

/// A SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// New users go through one writer that commits whatever is queued together.
    new_users: mpsc::Sender<NewUser>,
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
        let (new_users, queue) = mpsc::channel(NEW_USER_BATCH * 4);
        tokio::spawn(create_users(pool.clone(), queue));
        Ok(SqliteStore { pool, new_users })
    }
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

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// A counter as SQLite's signed 64-bit integer (saturating).
fn counter(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

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

impl SqliteStore {
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
