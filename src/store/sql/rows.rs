//! Reading and writing column values the same way on every SQL backend: counters as
//! signed 64-bit integers, product instances and packages from their rows.

use super::DbRow;
use sqlx::Row;

use crate::account::{Grant, Holding};
use crate::store::StoreError;

pub(super) fn corrupt(row: String, reason: impl ToString) -> StoreError {
    StoreError::Corrupt {
        row,
        reason: reason.to_string(),
    }
}

/// A column that holds a count (never below zero).
pub(super) fn unsigned(row: &DbRow, table: &str, column: &str) -> Result<u64, StoreError> {
    let v: i64 = row.try_get(column)?;
    u64::try_from(v).map_err(|e| corrupt(table.into(), format!("{column}: {e}")))
}

/// A counter as the databases' signed 64-bit integer (saturating).
pub(super) fn counter(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(super) fn holding_from_row(row: &DbRow) -> Result<(String, Holding), StoreError> {
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

/// A package's grant, and the (user, product) it is on.
pub(super) fn grant_from_row(row: &DbRow) -> Result<((String, String), Grant), StoreError> {
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

pub(super) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// One column of the rows a batch statement takes as parameters: how to read its value
/// from an item. Each backend passes the rows its own way (`push_rows`).
pub(super) enum Column<'a, T> {
    Text(Value<'a, T, String>),
    Int(Value<'a, T, i64>),
}

/// Reads a column's value (NULL as `None`) from an item.
pub(super) type Value<'a, T, V> = Box<dyn Fn(&T) -> Option<V> + Send + Sync + 'a>;

/// A text column.
pub(super) fn text<'a, T: 'a>(
    value: impl Fn(&T) -> Option<String> + Send + Sync + 'a,
) -> Column<'a, T> {
    Column::Text(Box::new(value))
}

/// An integer column.
pub(super) fn int<'a, T: 'a>(
    value: impl Fn(&T) -> Option<i64> + Send + Sync + 'a,
) -> Column<'a, T> {
    Column::Int(Box::new(value))
}
