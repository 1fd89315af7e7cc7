//! The change log: every mutation of users, NAS devices and the catalog appends an
//! entry in its own transaction, a write transaction (`begin_write`): on PostgreSQL
//! those are serialized, as SQLite's are, so no two wait for each other's rows.

use async_trait::async_trait;
use sqlx::{Row, Transaction};

use super::rows::corrupt;
use super::{begin_write, Db, SqlStore};
use crate::clock;
use crate::store::ChangeLog;
use crate::store::{Change, Entity, StoreError};

pub(super) async fn log_change(
    tx: &mut Transaction<'_, Db>,
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

impl SqlStore {
    /// Runs an UPDATE or DELETE of one row and logs the change when a row was touched.
    pub(super) async fn touch<'q>(
        &self,
        entity: Entity,
        name: &str,
        query: sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments<'q>>,
    ) -> Result<bool, StoreError> {
        let mut tx = begin_write(&self.pool).await?;
        let touched = query.execute(&mut *tx).await?.rows_affected() > 0;
        if touched {
            log_change(&mut tx, entity, name).await?;
        }
        tx.commit().await?;
        Ok(touched)
    }
}

#[async_trait]
impl ChangeLog for SqlStore {
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
        .bind(clock::now().to_string())
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1;
        Ok(claimed)
    }

    async fn changed(&self) {
        self.notified().await
    }
}
