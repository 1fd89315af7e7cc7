//! Persistent state behind [`Store`], one trait per concern: [`UserStore`] (users with
//! their bindings and product instances, lockouts), [`NasStore`], [`CatalogStore`],
//! [`SessionStore`] (online sessions and history), [`ChangeLog`],
//! [`billing::BillingStore`] (usage, packages, ledger, settlements),
//! [`access::AccessStore`] (API tokens, the audit log) and [`lease::LeaseStore`]
//! (once-only work in a cluster) and [`seal::SealStore`] (which key sealed the
//! database). A backend implements them all.
//!
//! SQLite is the embedded default ([`sqlite::SqliteStore`]); PostgreSQL
//! ([`postgres::PgStore`]) is the store a cluster of nodes shares. Both run the same
//! queries (`sql/`). The packet path never reads the store: it
//! reads [`crate::directory::Directory`], which follows the change log.

pub mod access;
pub mod billing;
pub mod catalog;
pub mod changes;
pub mod cipher;
pub mod import;
pub mod lease;
pub mod nas;
pub mod postgres;
pub mod seal;
pub mod sessions;
pub mod sqlite;
pub mod users;

pub use catalog::{catalog_key, CatalogStore, Put};
pub use changes::{Change, ChangeLog, Entity, ALL_KEYS};
pub use nas::{NasRecord, NasStore};
pub use sessions::{
    HistoryRecord, OnlineChange, OnlinePlan, OnlineRecord, SessionRef, SessionStore,
    SessionsTouched, StoredSessions,
};
pub use users::{UserQuery, UserRecord, UserStore};

use std::sync::Arc;
use thiserror::Error;

use crate::account::Profile;
use crate::catalog::CatalogKind;
use crate::config::{ConfigError, Settings};
use access::AccessStore;
use billing::BillingStore;
use cipher::{Cipher, CipherError};
use lease::LeaseStore;
use seal::SealStore;

/// Errors of the store.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The database failed or is unreachable.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// Schema migration failed.
    #[error("database migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// The key file failed.
    #[error(transparent)]
    Cipher(#[from] CipherError),
    /// A ledger entry with that reference exists already.
    #[error("ledger reference {0:?} is already recorded")]
    DuplicateReference(String),
    /// A user of that name exists already.
    #[error("user {0:?} already exists")]
    UserExists(String),
    /// A NAS device of that name exists already.
    #[error("NAS {0:?} already exists")]
    NasExists(String),
    /// A batch's commit failed; nothing of it was written.
    #[error("database commit: {0}")]
    CommitFailed(String),
    /// An API token of that name exists already.
    #[error("token {0:?} already exists")]
    TokenExists(String),
    /// A catalog object of that kind and name exists already.
    #[error("{0} {1:?} already exists")]
    CatalogExists(CatalogKind, String),
    /// A stored value cannot be read back.
    #[error("corrupt row {row}: {reason}")]
    Corrupt {
        /// Which row.
        row: String,
        /// What is wrong.
        reason: String,
    },
}

/// Persistent state, one trait per concern (a backend implements them all). Every
/// mutation appends to the change log in the same transaction.
pub trait Store:
    UserStore
    + NasStore
    + CatalogStore
    + SessionStore
    + ChangeLog
    + BillingStore
    + AccessStore
    + LeaseStore
    + SealStore
    + StoreGauges
{
}

impl<T> Store for T where
    T: UserStore
        + NasStore
        + CatalogStore
        + SessionStore
        + ChangeLog
        + BillingStore
        + AccessStore
        + LeaseStore
        + SealStore
        + StoreGauges
{
}

/// What a backend tells the metrics of itself.
pub trait StoreGauges {
    /// Sets the backend's gauges to their values now: its connections busy and idle,
    /// and what else it can tell (SQLite: the heap it holds).
    fn record_gauges(&self);
}

/// Sets `turnstile_store_connections` from a pool's size and idle count.
fn record_pool_gauges(size: u32, idle: usize) {
    let idle = idle as f64;
    metrics::gauge!("turnstile_store_connections", "state" => "idle").set(idle);
    metrics::gauge!("turnstile_store_connections", "state" => "busy")
        .set((f64::from(size) - idle).max(0.0));
}

/// Where the store and its key are.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Directory of the key file.
    pub data_dir: std::path::PathBuf,
    /// The database.
    pub location: StoreLocation,
}

impl OpenOptions {
    /// Where `settings` put the store and its key: `[store] url` in the data directory.
    pub fn for_settings(settings: &Settings) -> Result<OpenOptions, ConfigError> {
        Ok(OpenOptions {
            data_dir: settings.general.data_dir.clone(),
            location: StoreLocation::parse(&settings.store.url, &settings.general.data_dir)?,
        })
    }
}

/// Which database holds the store.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// A SQLite file (the embedded default).
    Sqlite(std::path::PathBuf),
    /// A PostgreSQL connection URL, shared by the nodes of a cluster.
    Postgres(String),
}

impl StoreLocation {
    /// The database a `[store] url` names: empty is `DATA_DIR/turnstile.db`, else
    /// `sqlite://PATH` or `postgres://…` (`postgresql://…`); anything else is an error
    /// naming the key.
    pub fn parse(url: &str, data_dir: &std::path::Path) -> Result<StoreLocation, ConfigError> {
        let url = url.trim();
        if url.is_empty() {
            return Ok(StoreLocation::Sqlite(data_dir.join("turnstile.db")));
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(ConfigError::key("store.url", "sqlite:// needs a file path"));
            }
            return Ok(StoreLocation::Sqlite(std::path::PathBuf::from(path)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(StoreLocation::Postgres(url.to_string()));
        }
        Err(ConfigError::key(
            "store.url",
            "must be sqlite://PATH or postgres://user:password@host:port/database",
        ))
    }
}

/// Shows the database without the password a PostgreSQL URL may carry.
impl std::fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            StoreLocation::Postgres(url) => {
                // postgres://user:password@host/db → postgres://user@host/db
                let shown = match (url.find("://"), url.rfind('@')) {
                    (Some(scheme), Some(at)) if at > scheme => {
                        let credentials = &url[scheme + 3..at];
                        let user = credentials.split(':').next().unwrap_or("");
                        format!("{}{user}{}", &url[..scheme + 3], &url[at..])
                    }
                    _ => url.clone(),
                };
                f.write_str(&shown)
            }
        }
    }
}

/// The store and key a command works on, as the configuration names them.
#[derive(Clone)]
pub struct Backend {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The data directory's key.
    pub cipher: Cipher,
}

impl Backend {
    /// Opens (creating if needed) the store and key `options` name, and refuses a key
    /// that is not the one the database is sealed with ([`check_key`]).
    pub async fn open(options: &OpenOptions) -> Result<Backend, StoreError> {
        cipher::make_data_dir(&options.data_dir)?;
        let store: Arc<dyn Store> = match &options.location {
            StoreLocation::Sqlite(path) => Arc::new(sqlite::SqliteStore::open(path).await?),
            StoreLocation::Postgres(url) => Arc::new(postgres::PgStore::open(url).await?),
        };
        let cipher = check_key(store.as_ref(), &options.data_dir).await?;
        Ok(Backend { store, cipher })
    }

    /// A new, enabled user record with the password sealed.
    pub fn new_user(&self, name: &str, password: &[u8]) -> UserRecord {
        let now = crate::clock::now();
        UserRecord {
            name: name.to_string(),
            password_sealed: self.seal_password(name, password),
            enabled: true,
            created_at: now,
            updated_at: now,
            profile: Profile::default(),
            bindings: Vec::new(),
            holdings: Vec::new(),
        }
    }

    /// Seals a user's password.
    pub fn seal_password(&self, name: &str, password: &[u8]) -> Vec<u8> {
        self.cipher.seal(&user_context(name), password)
    }

    /// Seals a NAS device's shared secret.
    pub fn seal_secret(&self, name: &str, secret: &[u8]) -> Vec<u8> {
        self.cipher.seal(&nas_context(name), secret)
    }
}

/// The data directory's key, checked against the database: a database records the
/// fingerprint of the key that sealed it, and a key of another fingerprint is refused
/// ([`CipherError::WrongKey`]), as is a missing key file where the database is sealed
/// ([`CipherError::MissingKey`]: none is created then). A database that records none yet
/// (an empty one, or one from before fingerprints) gets this key's, provided the key
/// opens a value sealed in it.
pub async fn check_key(
    store: &dyn Store,
    data_dir: &std::path::Path,
) -> Result<Cipher, StoreError> {
    let path = cipher::key_path(data_dir);
    let recorded = store.key_fingerprint().await?;
    // Without a fingerprint, a value sealed in the database is what the key must open.
    let sealed = match recorded {
        Some(_) => None,
        None => store.any_sealed_value().await?,
    };
    let cipher = match Cipher::load(data_dir)? {
        Some(cipher) => cipher,
        // An empty database: this node's new key is the first, recorded below.
        None if recorded.is_none() && sealed.is_none() => Cipher::create(data_dir)?,
        None => {
            let expected = recorded
                .unwrap_or_else(|| "none recorded yet, the one that sealed its values".into());
            return Err(CipherError::MissingKey { path, expected }.into());
        }
    };
    let found = cipher.fingerprint().to_string();
    let expected = match (recorded, sealed) {
        (Some(fingerprint), _) => fingerprint,
        (None, Some((context, value))) if cipher.open(&context, &value).is_err() => {
            format!("none recorded yet, the one that sealed {context}")
        }
        (None, _) => store.record_key_fingerprint(&found).await?,
    };
    if expected != found {
        return Err(CipherError::WrongKey {
            path,
            expected,
            found,
        }
        .into());
    }
    Ok(cipher)
}

/// Sealing context of a user's password.
pub fn user_context(name: &str) -> String {
    format!("user:{name}")
}

/// Sealing context of a NAS device's secret.
pub fn nas_context(name: &str) -> String {
    format!("nas:{name}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    #[test]
    fn store_urls_name_sqlite_or_postgresql_or_their_key() {
        let data = Path::new("/var/lib/turnstile");
        let parse = |url| StoreLocation::parse(url, data);
        assert_eq!(
            parse("").unwrap(),
            StoreLocation::Sqlite(data.join("turnstile.db"))
        );
        assert_eq!(
            parse(" sqlite:///tmp/t.db ").unwrap(),
            StoreLocation::Sqlite(PathBuf::from("/tmp/t.db"))
        );
        for url in ["postgres://u@h/db", "postgresql://u@h/db"] {
            assert_eq!(parse(url).unwrap(), StoreLocation::Postgres(url.into()));
        }
        for url in ["sqlite://", "mysql://h/db", "turnstile.db"] {
            let e = parse(url).unwrap_err().to_string();
            assert!(e.contains("store.url"), "{url}: {e}");
        }
    }
}
