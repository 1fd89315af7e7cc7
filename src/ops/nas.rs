//! NAS devices registered in the store (besides those of the config file): their
//! address or range, shared secret, vendor dialect, CoA port and Message-Authenticator
//! policy. The running daemon makes a registered NAS a live client within one sync
//! interval.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::{Failure, OpsError};
use crate::address::parse_address_range;
use crate::catalog::check_object_name;
use crate::clock;
use crate::codes::ECode;
use crate::config::ClientSettings;
use crate::store::{Backend, NasRecord, StoreError};
use crate::vendor::Vendor;

/// Longest alias, in characters.
pub const MAX_ALIAS_CHARS: usize = 64;

/// A NAS to register (`turnstile nas add`; as JSON, the body of the device registry's
/// `regist`, whose field names it takes).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNas {
    /// Unique name, for logs and metrics.
    #[serde(rename = "sn")]
    pub name: String,
    /// Display name; may be empty.
    pub alias: String,
    /// IP address or CIDR range the NAS sends from.
    pub address: String,
    /// Shared secret.
    pub secret: String,
    /// Attribute dialect.
    #[serde(default)]
    pub vendor: Vendor,
    /// Port the NAS takes Disconnect and CoA requests on.
    #[serde(default = "crate::config::default_coa_port")]
    pub coa_port: u16,
    /// Drop Access-Requests without Message-Authenticator.
    #[serde(default = "crate::config::default_require_message_authenticator")]
    pub require_message_authenticator: bool,
}

/// A NAS as operators see it (never the secret).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NasView {
    /// Name.
    pub name: String,
    /// Display name.
    pub alias: String,
    /// Address or CIDR range.
    pub address: String,
    /// Attribute dialect.
    pub vendor: Vendor,
    /// CoA/DM port.
    pub coa_port: u16,
    /// Access-Requests without Message-Authenticator are dropped.
    pub require_message_authenticator: bool,
    /// `config` (the config file; change it there) or `store`.
    pub source: &'static str,
    /// Unix seconds of registration; 0 for the config file's.
    pub created_at: i64,
}

/// Why a NAS operation was refused.
#[derive(Debug, Error)]
pub enum NasError {
    /// A required field is empty.
    #[error("{0} is empty")]
    Missing(&'static str),
    /// The name is not a valid name.
    #[error("{0}")]
    BadName(String),
    /// The address is not an IP address or range.
    #[error("{0}")]
    BadAddress(String),
    /// The alias is too long or has control characters.
    #[error("alias {0:?} must be at most 64 characters without control characters")]
    BadAlias(String),
    /// A NAS of that name exists.
    #[error("NAS {0:?} already exists")]
    NameTaken(String),
    /// Another NAS has that alias.
    #[error("another NAS is called {0:?}")]
    AliasTaken(String),
    /// The NAS is defined in the config file, which the store does not change.
    #[error("NAS {0:?} is defined in the config file; change it there")]
    InConfig(String),
    /// No such NAS in the store.
    #[error("no NAS {0:?} in the store")]
    NotFound(String),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

impl From<NasError> for OpsError {
    fn from(e: NasError) -> OpsError {
        let failure = match &e {
            NasError::Missing(_) => return OpsError::incomplete(e.to_string()),
            NasError::BadName(_) | NasError::BadAddress(_) | NasError::BadAlias(_) => {
                Failure::BadRequest
            }
            NasError::NameTaken(_) | NasError::AliasTaken(_) | NasError::InConfig(_) => {
                Failure::Conflict
            }
            NasError::NotFound(_) => Failure::NotFound,
            NasError::Store(_) => Failure::Internal,
        };
        OpsError::new(ECode::InvalidParameter, failure, e.to_string())
    }
}

/// Registers a NAS.
pub async fn add(
    backend: &Backend,
    config: &[ClientSettings],
    new: NewNas,
) -> Result<NasView, NasError> {
    if new.name.is_empty() {
        return Err(NasError::Missing("name"));
    }
    if new.address.is_empty() {
        return Err(NasError::Missing("address"));
    }
    if new.secret.is_empty() {
        return Err(NasError::Missing("secret"));
    }
    check_object_name(&new.name).map_err(NasError::BadName)?;
    let range = parse_address_range(&new.address).map_err(NasError::BadAddress)?;
    if new.alias.chars().count() > MAX_ALIAS_CHARS || new.alias.chars().any(char::is_control) {
        return Err(NasError::BadAlias(new.alias));
    }
    if config.iter().any(|c| c.name == new.name) {
        return Err(NasError::InConfig(new.name));
    }
    let stored = backend.store.nas_devices().await?;
    if stored.iter().any(|n| n.name == new.name) {
        return Err(NasError::NameTaken(new.name));
    }
    if !new.alias.is_empty() && stored.iter().any(|n| n.alias == new.alias) {
        return Err(NasError::AliasTaken(new.alias));
    }
    let record = NasRecord {
        secret_sealed: backend.seal_secret(&new.name, new.secret.as_bytes()),
        name: new.name,
        alias: new.alias,
        address: range.to_string(),
        vendor: new.vendor,
        coa_port: new.coa_port,
        require_message_authenticator: new.require_message_authenticator,
        created_at: clock::now(),
    };
    match backend.store.add_nas(&record).await {
        Err(StoreError::NasExists(name)) => return Err(NasError::NameTaken(name)),
        other => other?,
    }
    Ok(stored_view(record))
}

fn stored_view(n: NasRecord) -> NasView {
    NasView {
        name: n.name,
        alias: n.alias,
        address: n.address,
        vendor: n.vendor,
        coa_port: n.coa_port,
        require_message_authenticator: n.require_message_authenticator,
        source: "store",
        created_at: n.created_at,
    }
}

/// Every NAS: the config file's, then the store's.
pub async fn list(backend: &Backend, config: &[ClientSettings]) -> Result<Vec<NasView>, NasError> {
    let mut out: Vec<NasView> = config
        .iter()
        .map(|c| NasView {
            name: c.name.clone(),
            alias: String::new(),
            address: c.address.to_string(),
            vendor: c.vendor,
            coa_port: c.coa_port,
            require_message_authenticator: c.require_message_authenticator,
            source: "config",
            created_at: 0,
        })
        .collect();
    out.extend(
        backend
            .store
            .nas_devices()
            .await?
            .into_iter()
            .map(stored_view),
    );
    Ok(out)
}

/// Removes a NAS registered in the store.
pub async fn delete(
    backend: &Backend,
    config: &[ClientSettings],
    name: &str,
) -> Result<(), NasError> {
    if config.iter().any(|c| c.name == name) {
        return Err(NasError::InConfig(name.to_string()));
    }
    if backend.store.delete_nas(name).await? {
        Ok(())
    } else {
        Err(NasError::NotFound(name.to_string()))
    }
}
