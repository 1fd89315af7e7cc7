//! Users: accounts with their profile, bindings and product instances, and lockouts.

use async_trait::async_trait;

use super::StoreError;
use crate::account::{Binding, Holding, Profile, UserChange};

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

/// Which users a page of [`UserStore::users_page`] holds.
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

/// Users and their lockouts.
#[async_trait]
pub trait UserStore: Send + Sync {
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
    /// Locks still in force at `now`: (user, locked until).
    async fn lockouts(&self, now: i64) -> Result<Vec<(String, i64)>, StoreError>;
    /// Records that `name` is locked until `until` (unix seconds).
    async fn set_lockout(&self, name: &str, until: i64) -> Result<(), StoreError>;
}
