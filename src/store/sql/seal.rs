//! The key fingerprint, in `meta`.

use async_trait::async_trait;
use sqlx::Row;

use super::SqlStore;
use crate::store::seal::SealStore;
use crate::store::{nas_context, user_context, StoreError};

const FINGERPRINT: &str = "key_fingerprint";

#[async_trait]
impl SealStore for SqlStore {
    async fn key_fingerprint(&self) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT value FROM meta WHERE key = $1")
            .bind(FINGERPRINT)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("value")).transpose()?)
    }

    async fn record_key_fingerprint(&self, fingerprint: &str) -> Result<String, StoreError> {
        // Two nodes starting on an empty database at once: the first insert wins and
        // both read it back.
        sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(FINGERPRINT)
            .bind(fingerprint)
            .execute(&self.pool)
            .await?;
        self.key_fingerprint()
            .await?
            .ok_or_else(|| StoreError::Corrupt {
                row: format!("meta:{FINGERPRINT}"),
                reason: "not there right after it was written".into(),
            })
    }

    async fn any_sealed_value(&self) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        let user = sqlx::query("SELECT name, password_sealed FROM users LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        if let Some(row) = user {
            let name: String = row.try_get("name")?;
            return Ok(Some((user_context(&name), row.try_get("password_sealed")?)));
        }
        let nas = sqlx::query("SELECT name, secret_sealed FROM nas_devices LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        nas.map(|row| {
            let name: String = row.try_get("name")?;
            Ok((nas_context(&name), row.try_get("secret_sealed")?))
        })
        .transpose()
    }
}
