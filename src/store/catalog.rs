//! The policy catalog as stored: one row per object, its body JSON of the kind's type.

use async_trait::async_trait;

use super::StoreError;
use crate::catalog::{CatalogKind, CatalogRow};

/// How [`CatalogStore::put_catalog`] treats an existing object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    /// Only create: [`StoreError::CatalogExists`] if it exists.
    Create,
    /// Only replace: nothing happens (false) if it does not exist.
    Replace,
    /// Create or replace.
    Upsert,
}

/// Change-log key of a catalog object.
pub fn catalog_key(kind: CatalogKind, name: &str) -> String {
    format!("{kind}/{name}")
}

/// Catalog objects.
#[async_trait]
pub trait CatalogStore: Send + Sync {
    /// Every catalog object.
    async fn catalog(&self) -> Result<Vec<CatalogRow>, StoreError>;
    /// Writes a catalog object; false when `Put::Replace` finds nothing to replace.
    async fn put_catalog(&self, row: &CatalogRow, put: Put) -> Result<bool, StoreError>;
    /// Deletes a catalog object; false if there was none.
    async fn delete_catalog(&self, kind: CatalogKind, name: &str) -> Result<bool, StoreError>;
}
