//! The in-memory view of the store that the packet path reads: users by name, the NAS
//! client table and the policy [`Catalog`]. It follows the store's change log, so changes made with the CLI
//! (or by another node) arrive within one sync interval, with no database read per
//! packet. [`clients`] is the NAS client table.

pub mod clients;

use arc_swap::{ArcSwap, Guard};
use dashmap::DashMap;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio_util::sync::CancellationToken;

use crate::account::{Binding, Holding, Profile};
use crate::address::parse_address_range;
use crate::catalog::{Catalog, DEFAULT_GROUP};
use crate::config::ClientSettings;
use crate::store::{nas_context, user_context, Backend, Entity, StoreError, UserRecord, ALL_KEYS};
use clients::{ClientTable, NasClient};

/// Keep this many change-log entries behind the newest when pruning.
const CHANGE_LOG_KEEP: i64 = 100_000;

/// Errors while loading or refreshing the directory.
#[derive(Debug, Error)]
pub enum DirectoryError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A password held in memory for PAP and CHAP checks. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(Box<[u8]>);

impl Password {
    /// The password's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl From<&[u8]> for Password {
    fn from(bytes: &[u8]) -> Self {
        Password(bytes.into())
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("*redacted*")
    }
}

/// What a decision needs to know about a user.
#[derive(Debug)]
pub struct UserEntry {
    /// Login name.
    pub name: Box<str>,
    /// Plain password (sealed on disk).
    pub password: Password,
    /// Disabled users are refused.
    pub enabled: bool,
    /// Operator-set attributes.
    pub profile: Profile,
    /// Bindings.
    pub bindings: Box<[Binding]>,
    /// Product instances held.
    pub holdings: Box<[Holding]>,
}

impl UserEntry {
    /// The product this user's sessions are charged to when nothing else says: the first
    /// product held, else the group's default product.
    pub fn product(&self, catalog: &Catalog) -> Option<String> {
        if let Some(h) = self.holdings.first() {
            return Some(h.product.clone());
        }
        let group = self.profile.group.as_deref().unwrap_or(DEFAULT_GROUP);
        catalog.groups.get(group)?.default_product.clone()
    }

    /// The name of the control policy of this user's sessions on `product`: the group's
    /// override, else the product's.
    pub fn control_policy<'c>(
        &self,
        catalog: &'c Catalog,
        product: Option<&str>,
    ) -> Option<&'c str> {
        let group = self.profile.group.as_deref().unwrap_or(DEFAULT_GROUP);
        match catalog
            .groups
            .get(group)
            .and_then(|g| g.control_policy.as_deref())
        {
            Some(name) => Some(name),
            None => Some(catalog.products.get(product?)?.control_policy.as_str()),
        }
    }

    /// An enabled user with a password and nothing else, for tests and benchmarks.
    pub fn with_password(name: &str, password: &[u8]) -> UserEntry {
        UserEntry {
            name: name.into(),
            password: Password::from(password),
            enabled: true,
            profile: Profile::default(),
            bindings: Box::default(),
            holdings: Box::default(),
        }
    }
}

/// What the directory reloaded, with what it replaced.
#[derive(Debug)]
pub enum Reloaded {
    /// One user.
    User {
        /// The user's name.
        name: Box<str>,
        /// The entry before.
        before: Arc<UserEntry>,
    },
    /// The catalog.
    Catalog {
        /// The catalog before.
        before: Arc<Catalog>,
    },
}

/// Users and NAS clients, in memory.
pub struct Directory {
    /// Told of each user reloaded one by one, and of each catalog reload.
    watcher: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<Reloaded>>,
    backend: Backend,
    config_clients: ArcSwap<Vec<ClientSettings>>,
    users: DashMap<Box<str>, Arc<UserEntry>>,
    clients: ArcSwap<ClientTable>,
    catalog: ArcSwap<Catalog>,
    applied: AtomicI64,
}

impl Directory {
    /// Loads every user and NAS device from the store.
    pub async fn load(
        backend: Backend,
        config_clients: Vec<ClientSettings>,
    ) -> Result<Directory, DirectoryError> {
        let directory = Directory {
            watcher: std::sync::OnceLock::new(),
            backend,
            config_clients: ArcSwap::from_pointee(config_clients),
            users: DashMap::new(),
            clients: ArcSwap::default(),
            catalog: ArcSwap::default(),
            applied: AtomicI64::new(0),
        };
        // Read the log position first: changes racing with the load are applied again.
        let seq = directory.backend.store.last_change().await?;
        directory.reload_users().await?;
        directory.reload_clients().await?;
        directory.reload_catalog().await?;
        directory.applied.store(seq, Ordering::Release);
        Ok(directory)
    }

    /// The user of this name, if any.
    pub fn user(&self, name: &str) -> Option<Arc<UserEntry>> {
        self.users.get(name).map(|e| e.value().clone())
    }

    /// The product a session of `user` is charged to when its Class names none: the
    /// first product held, else the group's default product.
    pub fn product_of(&self, user: &str) -> Option<String> {
        self.user(user)?.product(&self.catalog())
    }

    /// Number of users in memory.
    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    /// The current NAS client table.
    pub fn clients(&self) -> Guard<Arc<ClientTable>> {
        self.clients.load()
    }

    /// The store and key behind the directory.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// The store behind the directory.
    pub fn store(&self) -> Arc<dyn crate::store::Store> {
        self.backend.store.clone()
    }

    /// The current policy catalog.
    pub fn catalog(&self) -> Guard<Arc<Catalog>> {
        self.catalog.load()
    }

    async fn reload_catalog(&self) -> Result<(), DirectoryError> {
        let (catalog, errors) = Catalog::from_rows(self.backend.store.catalog().await?);
        for e in errors {
            tracing::error!(error = %e, "catalog object cannot be read; left out");
        }
        let before = self.catalog.swap(Arc::new(catalog));
        if let Some(watcher) = self.watcher.get() {
            let _ = watcher.send(Reloaded::Catalog { before });
        }
        Ok(())
    }

    fn entry(&self, record: UserRecord) -> Option<UserEntry> {
        match self
            .backend
            .cipher
            .open(&user_context(&record.name), &record.password_sealed)
        {
            Ok(password) => Some(UserEntry {
                name: record.name.into(),
                password: Password::from(&password[..]),
                enabled: record.enabled,
                profile: record.profile,
                bindings: record.bindings.into(),
                holdings: record.holdings.into(),
            }),
            Err(e) => {
                tracing::error!(user = %record.name, error = %e, "password cannot be unsealed; user left out");
                None
            }
        }
    }

    async fn reload_users(&self) -> Result<(), DirectoryError> {
        let mut present = HashSet::new();
        self.backend
            .store
            .for_each_user(&mut |record| {
                if let Some(entry) = self.entry(record) {
                    present.insert(entry.name.clone());
                    self.users.insert(entry.name.clone(), Arc::new(entry));
                }
            })
            .await?;
        self.users.retain(|name, _| present.contains(name));
        Ok(())
    }

    /// Reloads the named users (a few reads for all of them, not a few each) and tells
    /// the watcher what each replaced.
    async fn reload_named(&self, names: &[String]) -> Result<(), DirectoryError> {
        let mut found: HashMap<String, UserRecord> = self
            .backend
            .store
            .users(names)
            .await?
            .into_iter()
            .map(|r| (r.name.clone(), r))
            .collect();
        for name in names {
            let before = match found.remove(name).and_then(|r| self.entry(r)) {
                Some(entry) => self.users.insert(entry.name.clone(), Arc::new(entry)),
                None => self.users.remove(name.as_str()).map(|(_, e)| e),
            };
            if let (Some(watcher), Some(before)) = (self.watcher.get(), before) {
                let _ = watcher.send(Reloaded::User {
                    name: name.as_str().into(),
                    before,
                });
            }
        }
        Ok(())
    }

    /// Tells of every user changed one by one from now on (not of bulk reloads) and of
    /// every catalog change, with what the change replaced. Only the first call gets a
    /// receiver.
    pub fn watch(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<Reloaded>> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        self.watcher.set(tx).ok().map(|()| rx)
    }

    /// The NAS clients of the config file.
    pub fn config_clients(&self) -> Arc<Vec<ClientSettings>> {
        self.config_clients.load_full()
    }

    /// Replaces the NAS clients of the config file (a configuration reload).
    pub async fn replace_config_clients(
        &self,
        clients: Vec<ClientSettings>,
    ) -> Result<(), DirectoryError> {
        self.config_clients.store(Arc::new(clients));
        self.reload_clients().await
    }

    async fn reload_clients(&self) -> Result<(), DirectoryError> {
        let mut clients: Vec<NasClient> = self
            .config_clients
            .load()
            .iter()
            .map(|c| {
                NasClient::new(
                    c.name.clone(),
                    c.address,
                    c.secret.0.as_bytes(),
                    c.vendor,
                    c.require_message_authenticator,
                )
                .with_coa_port(c.coa_port)
            })
            .collect();
        for nas in self.backend.store.nas_devices().await? {
            let secret = match self
                .backend
                .cipher
                .open(&nas_context(&nas.name), &nas.secret_sealed)
            {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(nas = %nas.name, error = %e, "secret cannot be unsealed; NAS left out");
                    continue;
                }
            };
            let Ok(range) = parse_address_range(&nas.address) else {
                tracing::error!(nas = %nas.name, address = %nas.address, "stored address is invalid; NAS left out");
                continue;
            };
            clients.push(
                NasClient::new(
                    nas.name,
                    range,
                    &secret,
                    nas.vendor,
                    nas.require_message_authenticator,
                )
                .with_coa_port(nas.coa_port),
            );
        }
        self.clients.store(Arc::new(ClientTable::new(clients)));
        Ok(())
    }

    /// Applies the change-log entries written since the last call; returns how many.
    pub async fn sync(&self) -> Result<usize, DirectoryError> {
        let since = self.applied.load(Ordering::Acquire);
        let changes = self.backend.store.changes_since(since).await?;
        let Some(last) = changes.last().map(|c| c.seq) else {
            return Ok(0);
        };
        let mut users = HashSet::new();
        let mut all_users = false;
        let mut nas = false;
        let mut catalog = false;
        for c in &changes {
            match c.entity {
                Entity::User if c.key == ALL_KEYS => all_users = true,
                Entity::User => {
                    users.insert(c.key.as_str());
                }
                Entity::Nas => nas = true,
                Entity::Catalog => catalog = true,
            }
        }
        // Past a few thousand users (a settlement run), one pass beats a read per user.
        if all_users || users.len() > 2000 {
            self.reload_users().await?;
        } else {
            let names: Vec<String> = users.into_iter().map(str::to_string).collect();
            self.reload_named(&names).await?;
        }
        if nas {
            self.reload_clients().await?;
        }
        if catalog {
            self.reload_catalog().await?;
        }
        self.applied.store(last, Ordering::Release);
        Ok(changes.len())
    }

    /// Keeps the directory in sync until `shutdown` is cancelled: every `interval`, and at
    /// once when the store says the log grew. Prunes old log entries every five minutes.
    pub async fn follow(self: Arc<Self>, interval: Duration, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut pruned = std::time::Instant::now();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = self.backend.store.changed() => {}
                _ = shutdown.cancelled() => return,
            }
            match self.sync().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    changes = n,
                    users = self.user_count(),
                    "directory refreshed"
                ),
                Err(e) => tracing::warn!(error = %e, "directory refresh failed; will retry"),
            }
            if pruned.elapsed() >= Duration::from_secs(300) {
                pruned = std::time::Instant::now();
                let keep_from = self.applied.load(Ordering::Acquire) - CHANGE_LOG_KEEP;
                if keep_from > 0 {
                    if let Err(e) = self.backend.store.prune_changes(keep_from).await {
                        tracing::warn!(error = %e, "change log pruning failed");
                    }
                }
            }
            metrics::gauge!("turnstile_directory_users").set(self.user_count() as f64);
        }
    }
}
