//! NAS devices.

use async_trait::async_trait;
use sqlx::Row;

use super::changes::log_change;
use super::rows::{corrupt, is_unique_violation};
use super::{begin_write, DbRow, SqlStore};
use crate::store::NasStore;
use crate::store::{Entity, NasRecord, StoreError};

#[async_trait]
impl NasStore for SqlStore {
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
        let mut tx = begin_write(&self.pool).await?;
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
}

pub(super) fn nas_from_row(row: &DbRow) -> Result<NasRecord, StoreError> {
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
