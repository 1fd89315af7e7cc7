//! Persistent state behind one trait, [`Store`]: users (with their bindings and product
//! instances), NAS devices, the policy catalog, lockouts and the change log.
//!
//! SQLite is the embedded default ([`sqlite::SqliteStore`]); the queries are written so
//! that a PostgreSQL backend can share them. The packet path never reads the store: it
//! reads [`crate::directory::Directory`], which follows the change log.

pub mod access;
pub mod billing;
pub mod cipher;
pub mod import;
pub mod sqlite;

use async_trait::async_trait;
use std::sync::Arc;
use thiserror::Error;

use crate::account::{Binding, Holding, Profile, UserChange};
use crate::catalog::{CatalogKind, CatalogRow};
use crate::vendor::Vendor;
use access::AccessStore;
use billing::{BillingStore, UsageDelta};
use cipher::{Cipher, CipherError};

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

/// A user as stored: the password stays sealed until the directory opens it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// Login name.
    pub name: String,
    /// Password sealed with the data directory's key for `user:NAME`.
    pub password_sealed: Vec<u8>,
    /// Disabled users are refused with E2606.
    pub enabled: bool,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// Operator-set attributes.
    pub profile: Profile,
    /// Bindings, sorted.
    pub bindings: Vec<Binding>,
    /// Product instances, by product name.
    pub holdings: Vec<Holding>,
}

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

/// Which users a page of [`Store::users_page`] holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserQuery {
    /// Names containing this text.
    pub name_contains: Option<String>,
    /// Members of this group.
    pub group: Option<String>,
    /// Only enabled (true) or disabled (false) users.
    pub enabled: Option<bool>,
    /// Holders of this product.
    pub product: Option<String>,
    /// Users skipped (sorted by name).
    pub offset: u64,
    /// Most users returned.
    pub limit: u32,
}

/// A session online, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OnlineRecord {
    /// NAS client name.
    pub nas: String,
    /// Acct-Session-Id.
    pub session_id: String,
    /// User-Name.
    pub user: String,
    /// Product instance, from the Class the Accept carried.
    pub product: Option<String>,
    /// Framed-IP-Address.
    pub framed_ip: Option<String>,
    /// Calling-Station-Id.
    pub station: Option<String>,
    /// NAS-Port-Id, else NAS-Port.
    pub nas_port: Option<String>,
    /// NAS-IP-Address, else the address accounting came from: where DM/CoA go.
    pub nas_addr: Option<String>,
    /// Unix second of the Start.
    pub started_at: i64,
    /// Unix second of the last Start or Interim-Update.
    pub updated_at: i64,
    /// Acct-Session-Time, seconds.
    pub session_time: i64,
    /// Octets from the user (upload), gigawords included.
    pub input_octets: i64,
    /// Octets to the user (download), gigawords included.
    pub output_octets: i64,
    /// Unix second of the last split (settlement, policy change); 0 if none.
    pub split_at: i64,
    /// Acct-Session-Time at the last split.
    pub split_time: i64,
    /// Input octets at the last split.
    pub split_input: i64,
    /// Output octets at the last split.
    pub split_output: i64,
}

impl OnlineRecord {
    /// The part of the session since its last split, as its history row records it.
    pub fn part(&self) -> OnlineRecord {
        OnlineRecord {
            started_at: self.started_at.max(self.split_at),
            session_time: (self.session_time - self.split_time).max(0),
            input_octets: (self.input_octets - self.split_input).max(0),
            output_octets: (self.output_octets - self.split_output).max(0),
            split_at: 0,
            split_time: 0,
            split_input: 0,
            split_output: 0,
            ..self.clone()
        }
    }
}

/// An ended session (上网明细).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HistoryRecord {
    /// The session as it last was; `updated_at` is when it ended.
    pub session: OnlineRecord,
    /// The E-code of the end, when there is one.
    pub cause: Option<u32>,
    /// Acct-Terminate-Cause as sent by the NAS.
    pub terminate_cause: Option<u32>,
    /// How a server-side end reached the session (E4xxx), when `cause` says why.
    pub via: Option<u32>,
}

/// A change to the stored online sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnlineChange {
    /// The session is online (insert or update).
    Put(OnlineRecord),
    /// The session ended: it leaves the online sessions for the history (which records
    /// the part since its last split).
    End(HistoryRecord),
    /// The session stays online, but its part so far goes to the history (virtual
    /// offline at settlement, a policy change); `session` is it after the split.
    Split {
        /// The part that ends (its session's `part()` is recorded).
        history: Box<HistoryRecord>,
        /// The session as it goes on.
        session: OnlineRecord,
    },
    /// Every session of the NAS ended at `at` with `cause`.
    EndNas {
        /// NAS client name.
        nas: String,
        /// Unix second.
        at: i64,
        /// E-code number.
        cause: u32,
    },
}

/// What kind of row a change-log entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    /// A user.
    User,
    /// A NAS device.
    Nas,
    /// A catalog object (key `kind/name`).
    Catalog,
}

impl Entity {
    fn as_str(self) -> &'static str {
        match self {
            Entity::User => "user",
            Entity::Nas => "nas",
            Entity::Catalog => "catalog",
        }
    }

    fn parse(s: &str) -> Option<Entity> {
        match s {
            "user" => Some(Entity::User),
            "nas" => Some(Entity::Nas),
            "catalog" => Some(Entity::Catalog),
            _ => None,
        }
    }
}

/// How [`Store::put_catalog`] treats an existing object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    /// Only create: [`StoreError::CatalogExists`] if it exists.
    Create,
    /// Only replace: nothing happens (false) if it does not exist.
    Replace,
    /// Create or replace.
    Upsert,
}

/// The key of a change that touches every row of its entity (bulk import).
pub const ALL_KEYS: &str = "*";

/// One entry of the change log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Position in the log.
    pub seq: i64,
    /// What changed.
    pub entity: Entity,
    /// The row's name, or [`ALL_KEYS`].
    pub key: String,
}

/// Persistent state. Every mutation appends to the change log in the same transaction.
#[async_trait]
pub trait Store: BillingStore + AccessStore + Send + Sync {
    /// One user.
    async fn user(&self, name: &str) -> Result<Option<UserRecord>, StoreError>;
    /// Hands every user to `visit`, by name, one row at a time, without collecting them: loading
    /// 100,000 users must not cost 100,000 rows of memory at once.
    async fn for_each_user(
        &self,
        visit: &mut (dyn FnMut(UserRecord) + Send),
    ) -> Result<(), StoreError>;
    /// The users of these names that exist, in any order.
    async fn users(&self, names: &[String]) -> Result<Vec<UserRecord>, StoreError>;
    /// The users `query` selects, sorted by name, and how many match in all.
    async fn users_page(&self, query: &UserQuery) -> Result<(u64, Vec<UserRecord>), StoreError>;
    /// Creates a user; [`StoreError::UserExists`] if the name is taken.
    async fn add_user(&self, user: &UserRecord) -> Result<(), StoreError>;
    /// Creates many users in one transaction: all or none.
    async fn import_users(&self, users: &[UserRecord]) -> Result<(), StoreError>;
    /// Deletes a user; false if there was none.
    async fn delete_user(&self, name: &str) -> Result<bool, StoreError>;
    /// Replaces a user's sealed password; false if there is no such user.
    async fn set_password(&self, name: &str, sealed: &[u8]) -> Result<bool, StoreError>;
    /// Applies a change to a user in one transaction; false if there is no such user.
    async fn change_user(&self, name: &str, change: &UserChange) -> Result<bool, StoreError>;
    /// Every catalog object.
    async fn catalog(&self) -> Result<Vec<CatalogRow>, StoreError>;
    /// Writes a catalog object; false when `Put::Replace` finds nothing to replace.
    async fn put_catalog(&self, row: &CatalogRow, put: Put) -> Result<bool, StoreError>;
    /// Deletes a catalog object; false if there was none.
    async fn delete_catalog(&self, kind: CatalogKind, name: &str) -> Result<bool, StoreError>;
    /// Every session online, oldest first.
    async fn online_sessions(&self) -> Result<Vec<OnlineRecord>, StoreError>;
    /// Applies changes to the online sessions in order, and adds usage to product
    /// instances, in one durable transaction.
    async fn apply_online(
        &self,
        changes: &[OnlineChange],
        usage: &[UsageDelta],
    ) -> Result<(), StoreError>;
    /// Ended sessions, newest first: of one user, or of everyone; at most `limit`.
    async fn history(
        &self,
        user: Option<&str>,
        limit: u32,
    ) -> Result<Vec<HistoryRecord>, StoreError>;
    /// Locks still in force at `now`: (user, locked until).
    async fn lockouts(&self, now: i64) -> Result<Vec<(String, i64)>, StoreError>;
    /// Records that `name` is locked until `until` (unix seconds).
    async fn set_lockout(&self, name: &str, until: i64) -> Result<(), StoreError>;
    /// Every registered NAS device.
    async fn nas_devices(&self) -> Result<Vec<NasRecord>, StoreError>;
    /// Registers a NAS device; [`StoreError::NasExists`] if the name is taken.
    async fn add_nas(&self, nas: &NasRecord) -> Result<(), StoreError>;
    /// Removes a NAS device; false if there was none.
    async fn delete_nas(&self, name: &str) -> Result<bool, StoreError>;
    /// Change-log entries after `seq`, oldest first.
    async fn changes_since(&self, seq: i64) -> Result<Vec<Change>, StoreError>;
    /// The newest change-log position (0 when empty).
    async fn last_change(&self) -> Result<i64, StoreError>;
    /// Forgets change-log entries at or below `seq`.
    async fn prune_changes(&self, seq: i64) -> Result<(), StoreError>;
    /// True the first time `key` is claimed in this store, false ever after.
    async fn claim_once(&self, key: &str) -> Result<bool, StoreError>;
}

/// Where the store and its key are.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Directory of the key file.
    pub data_dir: std::path::PathBuf,
    /// The SQLite database file.
    pub sqlite_path: std::path::PathBuf,
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
    /// Opens (creating if needed) the store and key `options` name.
    pub async fn open(options: &OpenOptions) -> Result<Backend, StoreError> {
        let cipher = Cipher::open_or_create(&options.data_dir)?;
        let store: Arc<dyn Store> =
            Arc::new(sqlite::SqliteStore::open(&options.sqlite_path).await?);
        Ok(Backend { store, cipher })
    }

    /// A new, enabled user record with the password sealed.
    pub fn new_user(&self, name: &str, password: &[u8]) -> UserRecord {
        let now = unix_now();
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

/// Sealing context of a user's password.
pub fn user_context(name: &str) -> String {
    format!("user:{name}")
}

/// Change-log key of a catalog object.
pub fn catalog_key(kind: CatalogKind, name: &str) -> String {
    format!("{kind}/{name}")
}

/// Sealing context of a NAS device's secret.
pub fn nas_context(name: &str) -> String {
    format!("nas:{name}")
}

/// Seconds since the Unix epoch, by the daemon's clock ([`crate::clock`]).
pub fn unix_now() -> i64 {
    crate::clock::now()
}
