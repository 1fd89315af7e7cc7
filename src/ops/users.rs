//! Accounts: create, read, page through, change, bind and unbind, set passwords, enable
//! and disable, move between groups, import from CSV, delete.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::{Done, Failure, OpsError};
use crate::account::{Binding, Holding, Profile, ProfilePatch, Usage, UserChange};
use crate::catalog::CatalogKind;
use crate::clock;
use crate::codes::ECode;
use crate::store::import::{self, check_name, check_password};
use crate::store::{Backend, StoreError, UserQuery, UserRecord};

/// Largest page of [`list`] and of the billing lists.
pub const MAX_PAGE: u32 = 1000;

/// A new account (`POST /api/v1/users`, `turnstile user add`).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Login name.
    pub name: String,
    /// Password.
    pub password: String,
    /// Group.
    #[serde(default)]
    pub group: Option<String>,
    /// Products to hold an instance of.
    #[serde(default)]
    pub products: Vec<String>,
    /// Unix second from which the account is expired.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// Wallet, fen.
    #[serde(default)]
    pub balance_fen: i64,
    /// Phone number.
    #[serde(default)]
    pub phone: Option<String>,
    /// Most sessions at once.
    #[serde(default)]
    pub max_online: Option<u32>,
    /// Disabled accounts are refused (E2606).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Bindings.
    #[serde(default)]
    pub bindings: Vec<Binding>,
}

fn yes() -> bool {
    true
}

/// `Some(None)` for an explicit `null`, so that a patch can clear a field.
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A change to an account (`PATCH /api/v1/users/NAME`, `turnstile user set`): absent
/// fields stay as they are, `null` clears an optional one.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    /// Enable or disable.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Group (null: none).
    #[serde(default, deserialize_with = "nullable")]
    pub group: Option<Option<String>>,
    /// Expiry, unix second (null: never).
    #[serde(default, deserialize_with = "nullable")]
    pub expires_at: Option<Option<i64>>,
    /// Wallet, fen, set outright (payments go through the ledger; this does not).
    #[serde(default)]
    pub balance_fen: Option<i64>,
    /// Phone (null: none).
    #[serde(default, deserialize_with = "nullable")]
    pub phone: Option<Option<String>>,
    /// Most sessions at once (null: the control policy decides).
    #[serde(default, deserialize_with = "nullable")]
    pub max_online: Option<Option<u32>>,
    /// May log in through RADIUS.
    #[serde(default)]
    pub allow_radius: Option<bool>,
    /// May log in through the portal.
    #[serde(default)]
    pub allow_portal: Option<bool>,
    /// Banned until this unix second (null: not banned).
    #[serde(default, deserialize_with = "nullable")]
    pub banned_until: Option<Option<i64>>,
    /// Spending cap of the cycle, fen (null: none).
    #[serde(default, deserialize_with = "nullable")]
    pub consumption_limit_fen: Option<Option<i64>>,
    /// Products to give an instance of.
    #[serde(default)]
    pub add_products: Vec<String>,
    /// Products whose instance is taken away.
    #[serde(default)]
    pub remove_products: Vec<String>,
    /// Remove every binding first.
    #[serde(default)]
    pub unbind_all: bool,
    /// Bindings to remove.
    #[serde(default)]
    pub unbind: Vec<Binding>,
    /// Bindings to add.
    #[serde(default)]
    pub bind: Vec<Binding>,
}

impl UserUpdate {
    fn change(&self) -> UserChange {
        UserChange {
            profile: ProfilePatch {
                enabled: self.enabled,
                group: self.group.clone(),
                expires_at: self.expires_at,
                balance_fen: self.balance_fen,
                phone: self.phone.clone(),
                max_online: self.max_online,
                allow_radius: self.allow_radius,
                allow_portal: self.allow_portal,
                banned_until: self.banned_until,
                consumption_limit_fen: self.consumption_limit_fen,
            },
            clear_bindings: self.unbind_all,
            remove_bindings: self.unbind.clone(),
            add_bindings: self.bind.clone(),
            add_products: self.add_products.clone(),
            remove_products: self.remove_products.clone(),
        }
    }
}

/// Which users a page holds (`GET /api/v1/users?…`, `turnstile user list`).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserFilter {
    /// Page number, from 1.
    #[serde(default)]
    pub page: Option<u64>,
    /// Users per page (1 to 1000; default 100).
    #[serde(default)]
    pub limit: Option<u32>,
    /// Names containing this text.
    #[serde(default)]
    pub name: Option<String>,
    /// Members of this group.
    #[serde(default)]
    pub group: Option<String>,
    /// Only enabled (true) or disabled (false) users.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Holders of this product.
    #[serde(default)]
    pub product: Option<String>,
}

/// A user as operators see it (never the password).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserView {
    /// Login name.
    pub name: String,
    /// False: refused with E2606.
    pub enabled: bool,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// Operator-set attributes.
    #[serde(flatten)]
    pub profile: Profile,
    /// Bindings.
    pub bindings: Vec<Binding>,
    /// Products held.
    pub products: Vec<String>,
    /// Each product instance's balance (产品余额), fen; the wallet is `balance_fen`.
    pub product_balances: BTreeMap<String, i64>,
}

impl From<UserRecord> for UserView {
    fn from(u: UserRecord) -> Self {
        UserView {
            name: u.name,
            enabled: u.enabled,
            created_at: u.created_at,
            updated_at: u.updated_at,
            profile: u.profile,
            bindings: u.bindings,
            product_balances: u
                .holdings
                .iter()
                .map(|h| (h.product.clone(), h.balance_fen))
                .collect(),
            products: u.holdings.into_iter().map(|h| h.product).collect(),
        }
    }
}

/// A product instance with its usage this cycle.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InstanceView {
    /// The instance.
    pub instance: Holding,
    /// Its usage this cycle.
    pub usage: Usage,
}

/// One user in full: the account and its product instances.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserDetail {
    /// The account.
    #[serde(flatten)]
    pub user: UserView,
    /// Product instances and their usage.
    pub instances: Vec<InstanceView>,
}

/// A page of users.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserPage {
    /// Users matching the filter, in all.
    pub total: u64,
    /// This page's number, from 1.
    pub page: u64,
    /// Users per page.
    pub limit: u32,
    /// The users, by name.
    pub users: Vec<UserView>,
}

/// Warnings for references to products or a group that do not exist (yet): the operator
/// may be about to create them, but logins that need them are refused until then.
async fn missing(
    backend: &Backend,
    group: Option<&str>,
    products: &[String],
) -> Result<Vec<String>, OpsError> {
    if group.is_none() && products.is_empty() {
        return Ok(Vec::new());
    }
    let catalog = backend
        .store
        .catalog()
        .await
        .map_err(OpsError::store(ECode::UserModifyFailed))?;
    let exists = |kind, name: &str| catalog.iter().any(|r| r.kind == kind && r.name == name);
    let mut warnings = Vec::new();
    for p in products.iter().filter(|p| !exists(CatalogKind::Product, p)) {
        warnings.push(format!(
            "no product {p:?} exists yet; logins that need it are refused ({})",
            ECode::NoMatchingProduct
        ));
    }
    if let Some(g) = group.filter(|g| !exists(CatalogKind::Group, g)) {
        warnings.push(format!(
            "no group {g:?} exists yet; logins that need it are refused ({})",
            ECode::NoMatchingProduct
        ));
    }
    Ok(warnings)
}

/// Creates an account: E5001; E5993 if the name is taken, E5990/E5991 for a missing or
/// invalid name or password.
pub async fn create(backend: &Backend, new: NewUser) -> Result<Done, OpsError> {
    if new.name.is_empty() {
        return Err(OpsError::incomplete("name is empty"));
    }
    if new.password.is_empty() {
        return Err(OpsError::incomplete("password is empty"));
    }
    check_name(&new.name).map_err(OpsError::invalid)?;
    check_password(&new.password).map_err(OpsError::invalid)?;
    let mut record = backend.new_user(&new.name, new.password.as_bytes());
    record.enabled = new.enabled;
    record.profile = Profile {
        group: new.group.clone(),
        expires_at: new.expires_at,
        balance_fen: new.balance_fen,
        phone: new.phone,
        max_online: new.max_online,
        ..Profile::default()
    };
    let now = clock::now();
    record.holdings = new.products.iter().map(|p| Holding::new(p, now)).collect();
    record.bindings = new.bindings;
    match backend.store.add_user(&record).await {
        Ok(()) => {}
        Err(StoreError::UserExists(name)) => {
            return Err(OpsError::new(ECode::UserExists, Failure::Conflict, name))
        }
        Err(e) => return Err(OpsError::store(ECode::UserCreateFailed)(e)),
    }
    Ok(Done {
        code: Some(ECode::UserCreated),
        warnings: missing(backend, new.group.as_deref(), &new.products).await?,
    })
}

/// One user in full; E5992 if there is none.
pub async fn get(backend: &Backend, name: &str) -> Result<UserDetail, OpsError> {
    let user = backend
        .store
        .user(name)
        .await
        .map_err(OpsError::store(ECode::BackendNoResponse))?
        .ok_or_else(|| OpsError::no_user(name))?;
    let instances = backend
        .store
        .account(name)
        .await
        .map_err(OpsError::store(ECode::BackendNoResponse))?
        .map(|a| a.holdings)
        .unwrap_or_default()
        .into_iter()
        .map(|(instance, usage)| InstanceView { instance, usage })
        .collect();
    Ok(UserDetail {
        user: user.into(),
        instances,
    })
}

/// A page of users, by name.
pub async fn list(backend: &Backend, filter: &UserFilter) -> Result<UserPage, OpsError> {
    let limit = filter.limit.unwrap_or(100);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(OpsError::invalid(format!(
            "limit must be 1 to {MAX_PAGE}, not {limit}"
        )));
    }
    let page = filter.page.unwrap_or(1);
    if page == 0 {
        return Err(OpsError::invalid("page counts from 1"));
    }
    let query = UserQuery {
        name_contains: filter.name.clone(),
        group: filter.group.clone(),
        enabled: filter.enabled,
        product: filter.product.clone(),
        offset: (page - 1).saturating_mul(u64::from(limit)),
        limit,
    };
    let (total, users) = backend
        .store
        .users_page(&query)
        .await
        .map_err(OpsError::store(ECode::BackendNoResponse))?;
    Ok(UserPage {
        total,
        page,
        limit,
        users: users.into_iter().map(UserView::from).collect(),
    })
}

/// Applies `change` to `name` in one transaction with `code` on success and `failed`
/// when the store fails.
async fn apply(
    backend: &Backend,
    name: &str,
    change: &UserChange,
    code: ECode,
    failed: ECode,
) -> Result<Done, OpsError> {
    if !backend
        .store
        .change_user(name, change)
        .await
        .map_err(OpsError::store(failed))?
    {
        return Err(OpsError::no_user(name));
    }
    let group = change.profile.group.clone().flatten();
    Ok(Done {
        code: Some(code),
        warnings: missing(backend, group.as_deref(), &change.add_products).await?,
    })
}

/// Changes an account: E5010; E5992 if there is none.
pub async fn update(backend: &Backend, name: &str, update: &UserUpdate) -> Result<Done, OpsError> {
    apply(
        backend,
        name,
        &update.change(),
        ECode::UserModified,
        ECode::UserModifyFailed,
    )
    .await
}

/// Enables or disables an account: E5010.
pub async fn set_enabled(backend: &Backend, name: &str, enabled: bool) -> Result<Done, OpsError> {
    let update = UserUpdate {
        enabled: Some(enabled),
        ..UserUpdate::default()
    };
    self::update(backend, name, &update).await
}

/// Moves an account to `group` (None: out of any): E5030; E5031 if the group does not
/// exist, E5992 if the user does not.
pub async fn change_group(
    backend: &Backend,
    name: &str,
    group: Option<&str>,
) -> Result<Done, OpsError> {
    if let Some(g) = group {
        let exists = backend
            .store
            .catalog()
            .await
            .map_err(OpsError::store(ECode::GroupChangeFailed))?
            .iter()
            .any(|r| r.kind == CatalogKind::Group && r.name == g);
        if !exists {
            return Err(OpsError::new(
                ECode::GroupChangeFailed,
                Failure::NotFound,
                format!("no group {g:?}"),
            ));
        }
    }
    let change = UserChange {
        profile: ProfilePatch {
            group: Some(group.map(str::to_string)),
            ..ProfilePatch::default()
        },
        ..UserChange::default()
    };
    apply(
        backend,
        name,
        &change,
        ECode::GroupChanged,
        ECode::GroupChangeFailed,
    )
    .await
}

/// The codes of binding and unbinding one kind: (bound, unbound). NAS and device
/// bindings have no codes of their own and answer as a modification.
fn binding_codes(b: &Binding) -> (ECode, ECode) {
    match b {
        Binding::Mac(_) => (ECode::MacBound, ECode::MacUnbound),
        Binding::NasPort(_) => (ECode::NasPortBound, ECode::NasPortUnbound),
        Binding::Vlan(_) => (ECode::VlanBound, ECode::VlanUnbound),
        Binding::Ip(_) => (ECode::IpBound, ECode::IpUnbound),
        Binding::Nas(_) | Binding::Device(_) => (ECode::UserModified, ECode::UserModified),
    }
}

/// Binds an account: E5052 (MAC), E5054 (NAS port), E5056 (VLAN), E5058 (IP), E5010
/// (NAS, device).
pub async fn bind(backend: &Backend, name: &str, binding: Binding) -> Result<Done, OpsError> {
    let code = binding_codes(&binding).0;
    let change = UserChange {
        add_bindings: vec![binding],
        ..UserChange::default()
    };
    apply(backend, name, &change, code, ECode::UserModifyFailed).await
}

/// Removes a binding: E5053, E5055, E5057, E5059 (E5010 for NAS and device); E5011 if
/// the account has no such binding.
pub async fn unbind(backend: &Backend, name: &str, binding: Binding) -> Result<Done, OpsError> {
    let user = backend
        .store
        .user(name)
        .await
        .map_err(OpsError::store(ECode::UserModifyFailed))?
        .ok_or_else(|| OpsError::no_user(name))?;
    if !user.bindings.contains(&binding) {
        return Err(OpsError::new(
            ECode::UserModifyFailed,
            Failure::NotFound,
            format!("{name} has no binding {binding}"),
        ));
    }
    let code = binding_codes(&binding).1;
    let change = UserChange {
        remove_bindings: vec![binding],
        ..UserChange::default()
    };
    apply(backend, name, &change, code, ECode::UserModifyFailed).await
}

/// Sets a password: E5020; E5992 if there is no such user.
pub async fn set_password(backend: &Backend, name: &str, password: &str) -> Result<Done, OpsError> {
    if password.is_empty() {
        return Err(OpsError::incomplete("password is empty"));
    }
    check_password(password).map_err(OpsError::invalid)?;
    let sealed = backend.seal_password(name, password.as_bytes());
    if !backend
        .store
        .set_password(name, &sealed)
        .await
        .map_err(OpsError::store(ECode::UserUpdateFailed))?
    {
        return Err(OpsError::no_user(name));
    }
    Ok(Done::with(ECode::UserUpdated))
}

/// Deletes an account; E5992 if there is none.
pub async fn delete(backend: &Backend, name: &str) -> Result<(), OpsError> {
    if backend
        .store
        .delete_user(name)
        .await
        .map_err(OpsError::store(ECode::UserModifyFailed))?
    {
        Ok(())
    } else {
        Err(OpsError::no_user(name))
    }
}

/// Creates every account of a CSV text of `username,password` lines, all or none: E5001
/// with the count; E5991 naming the first bad line, E5993 naming the line of a name
/// that exists.
pub async fn import(backend: &Backend, csv: &str) -> Result<usize, OpsError> {
    let rows = import::parse(csv).map_err(|e| OpsError::invalid(e.to_string()))?;
    if rows.is_empty() {
        return Err(OpsError::incomplete("no users in the file"));
    }
    let records: Vec<_> = rows
        .iter()
        .map(|r| backend.new_user(r.name, r.password.as_bytes()))
        .collect();
    match backend.store.import_users(&records).await {
        Ok(()) => Ok(records.len()),
        Err(StoreError::UserExists(name)) => {
            let line = rows.iter().find(|r| r.name == name).map_or(0, |r| r.line);
            Err(OpsError::new(
                ECode::UserExists,
                Failure::Conflict,
                format!("line {line}: {name}; nothing imported"),
            ))
        }
        Err(e) => Err(OpsError::store(ECode::UserCreateFailed)(e)),
    }
}
