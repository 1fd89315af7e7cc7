//! NAS devices registered in the store (the config file has its own).

use async_trait::async_trait;

use super::StoreError;
use crate::vendor::Vendor;

/// A NAS device registered with `turnstile nas add`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NasRecord {
    /// Name for logs and metrics.
    pub name: String,
    /// IP address or CIDR range.
    pub address: String,
    /// Shared secret sealed for `nas:NAME`.
    pub secret_sealed: Vec<u8>,
    /// Attribute dialect.
    pub vendor: Vendor,
    /// Drop Access-Requests without Message-Authenticator.
    pub require_message_authenticator: bool,
    /// Port the NAS takes Disconnect and CoA requests on.
    pub coa_port: u16,
    /// A display name (the device registry's `alias`); may be empty.
    pub alias: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// Registered NAS devices.
#[async_trait]
pub trait NasStore: Send + Sync {
    /// Every registered NAS device.
    async fn nas_devices(&self) -> Result<Vec<NasRecord>, StoreError>;
    /// Registers a NAS device; [`StoreError::NasExists`] if the name is taken.
    async fn add_nas(&self, nas: &NasRecord) -> Result<(), StoreError>;
    /// Removes a NAS device; false if there was none.
    async fn delete_nas(&self, name: &str) -> Result<bool, StoreError>;
}
