//! Which key sealed the database: the fingerprint of the data directory's `secret.key`
//! (never the key) is recorded by the first node, and every node checks its own key
//! against it before it serves ([`super::Backend::open`]).

use async_trait::async_trait;

use super::StoreError;

/// The key fingerprint the database records, and a sealed value to try a key on.
#[async_trait]
pub trait SealStore: Send + Sync {
    /// The fingerprint of the key the database is sealed with, if one is recorded.
    async fn key_fingerprint(&self) -> Result<Option<String>, StoreError>;
    /// Records `fingerprint` unless one is recorded already; returns the one recorded
    /// now (another node's, if it came first).
    async fn record_key_fingerprint(&self, fingerprint: &str) -> Result<String, StoreError>;
    /// One sealed value with its sealing context, if the database holds any.
    async fn any_sealed_value(&self) -> Result<Option<(String, Vec<u8>)>, StoreError>;
}
