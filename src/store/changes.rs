//! The change log: every mutation appends an entry in its own transaction, and daemons
//! apply what they have not seen to memory.

use async_trait::async_trait;

use super::StoreError;

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
    /// The entity as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::User => "user",
            Entity::Nas => "nas",
            Entity::Catalog => "catalog",
        }
    }

    /// Reads a stored entity.
    pub fn parse(s: &str) -> Option<Entity> {
        match s {
            "user" => Some(Entity::User),
            "nas" => Some(Entity::Nas),
            "catalog" => Some(Entity::Catalog),
            _ => None,
        }
    }
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

/// The change log, and keys claimed once per store.
#[async_trait]
pub trait ChangeLog: Send + Sync {
    /// Change-log entries after `seq`, oldest first.
    async fn changes_since(&self, seq: i64) -> Result<Vec<Change>, StoreError>;
    /// The newest change-log position (0 when empty).
    async fn last_change(&self) -> Result<i64, StoreError>;
    /// Forgets change-log entries at or below `seq`.
    async fn prune_changes(&self, seq: i64) -> Result<(), StoreError>;
    /// True the first time `key` is claimed in this store, false ever after.
    async fn claim_once(&self, key: &str) -> Result<bool, StoreError>;
    /// Resolves when the log may have grown, as far as the database says so by itself
    /// (PostgreSQL's NOTIFY, whichever node wrote). A backend that cannot tell never
    /// resolves, and followers rely on their polling interval alone.
    async fn changed(&self);
}
