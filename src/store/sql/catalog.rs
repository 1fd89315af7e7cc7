//! The catalog.

use async_trait::async_trait;
use sqlx::Row;

use super::rows::{corrupt, is_unique_violation};
use super::{DbRow, SqlStore};
use crate::catalog::{CatalogKind, CatalogRow};
use crate::clock;
use crate::store::CatalogStore;
use crate::store::{catalog_key, Entity, Put, StoreError};

#[async_trait]
impl CatalogStore for SqlStore {
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
            .bind(clock::now());
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
}

pub(super) fn catalog_from_row(row: &DbRow) -> Result<CatalogRow, StoreError> {
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
