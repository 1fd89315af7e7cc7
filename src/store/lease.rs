//! Leases: work that must run on one node of a cluster at a time (settlement, the
//! sweeper, policy-change pushes) is done by whoever holds its lease, renewed while that
//! node lives and taken over by another once it expires.

use async_trait::async_trait;

use super::StoreError;

/// Leases by name.
#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Takes or renews lease `name` for `holder` until unix second `until`; true when
    /// `holder` has it now, false when another holder's lease has not expired at `now`.
    async fn hold_lease(
        &self,
        name: &str,
        holder: &str,
        until: i64,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Gives lease `name` up if `holder` has it, so that another node takes it at once.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError>;
}
