//! [`AccessStore`].

use async_trait::async_trait;
use sqlx::{QueryBuilder, Row};

use super::rows::is_unique_violation;
use super::{Db, DbRow, SqlStore};
use crate::store::access::{AccessStore, AuditRecord, TokenRecord};
use crate::store::StoreError;

const TOKEN_COLUMNS: &str = "name, role, user_name, hash, created_at";

fn token_from_row(row: &DbRow) -> Result<TokenRecord, StoreError> {
    Ok(TokenRecord {
        name: row.try_get("name")?,
        role: row.try_get("role")?,
        user: row.try_get("user_name")?,
        hash: row.try_get("hash")?,
        created_at: row.try_get("created_at")?,
    })
}

fn audit_from_row(row: &DbRow) -> Result<AuditRecord, StoreError> {
    let status: i64 = row.try_get("status")?;
    let code: i64 = row.try_get("code")?;
    Ok(AuditRecord {
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        method: row.try_get("method")?,
        path: row.try_get("path")?,
        source: row.try_get("source")?,
        status: u16::try_from(status).unwrap_or(0),
        code: u32::try_from(code).unwrap_or(0),
    })
}

#[async_trait]
impl AccessStore for SqlStore {
    async fn add_token(&self, t: &TokenRecord) -> Result<(), StoreError> {
        let inserted = sqlx::query(&format!(
            "INSERT INTO api_tokens ({TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"
        ))
        .bind(&t.name)
        .bind(&t.role)
        .bind(&t.user)
        .bind(&t.hash)
        .bind(t.created_at)
        .execute(&self.pool)
        .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => Err(StoreError::TokenExists(t.name.clone())),
            other => other.map(|_| ()).map_err(Into::into),
        }
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens ORDER BY name"
        ))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(token_from_row)
        .collect()
    }

    async fn token_by_hash(&self, hash: &[u8]) -> Result<Option<TokenRecord>, StoreError> {
        sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE hash = $1"
        ))
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(token_from_row)
        .transpose()
    }

    async fn delete_token(&self, name: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query("DELETE FROM api_tokens WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await?
            .rows_affected()
            > 0)
    }

    async fn append_audit(&self, entries: &[AuditRecord]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        // 7 values a row; SQLite allows 32,766 bound values per statement.
        for chunk in entries.chunks(1000) {
            let mut q: QueryBuilder<Db> = QueryBuilder::new(
                "INSERT INTO audit_log (at, actor, method, path, source, status, code) ",
            );
            q.push_values(chunk, |mut row, e| {
                row.push_bind(e.at)
                    .push_bind(e.actor.clone())
                    .push_bind(e.method.clone())
                    .push_bind(e.path.clone())
                    .push_bind(e.source.clone())
                    .push_bind(i64::from(e.status))
                    .push_bind(i64::from(e.code));
            });
            q.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn audit(&self, actor: Option<&str>, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        sqlx::query(
            "SELECT at, actor, method, path, source, status, code FROM audit_log \
             WHERE $1 IS NULL OR actor = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(actor)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(audit_from_row)
        .collect()
    }
}
