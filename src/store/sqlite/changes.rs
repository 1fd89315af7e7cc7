//! The change log on SQLite.

use super::*;
use crate::store::ChangeLog;

#[async_trait]
impl ChangeLog for SqliteStore {
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
