//! The policy catalog: groups, products, billing and control policies, package plans,
//! the MAC and IP blacklists, the IP table and the system switches.
//!
//! Every kind is handled the same way: a body is JSON of the kind's type (unknown fields
//! are refused by name), a change merges the given fields over the stored object and
//! checks the result as a whole, names are checked (and MACs and ranges written in one
//! canonical form), and an object others refer to is only deleted when forced.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use super::{from_json, Done, Failure, OpsError};
use crate::address::parse_address_range;
use crate::catalog::{
    check_object_name, BillingPolicy, BlacklistEntry, CatalogKind, CatalogRow, ControlPolicy,
    Group, IpRange, PackagePlan, Product, SystemSwitches, SYSTEM_OBJECT,
};
use crate::codes::ECode;
use crate::mac::MacAddr;
use crate::store::{Backend, Put, StoreError, UserQuery};

/// A catalog object as the API and the CLI show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Object {
    /// Its name (a MAC or a range for blacklists and the IP table).
    pub name: String,
    /// Its fields, defaults filled in.
    #[serde(flatten)]
    pub body: Map<String, Value>,
}

fn unavailable(e: StoreError) -> OpsError {
    OpsError::store(ECode::BackendNoResponse)(e)
}

fn failed(e: StoreError) -> OpsError {
    OpsError::store(ECode::InvalidParameter)(e)
}

/// The name as stored: MACs as `aa:bb:cc:dd:ee:ff`, ranges truncated to their network.
pub fn canonical_name(kind: CatalogKind, name: &str) -> Result<String, OpsError> {
    if name.is_empty() {
        return Err(OpsError::incomplete("name is empty"));
    }
    match kind {
        CatalogKind::MacBlacklist => name
            .parse::<MacAddr>()
            .map(|m| m.to_string())
            .map_err(|e| OpsError::invalid(e.to_string())),
        CatalogKind::IpBlacklist | CatalogKind::IpRange => parse_address_range(name)
            .map(|r| r.to_string())
            .map_err(OpsError::invalid),
        CatalogKind::System if name != SYSTEM_OBJECT => Err(OpsError::invalid(format!(
            "the system switches are one object, {SYSTEM_OBJECT:?}"
        ))),
        _ => check_object_name(name)
            .map(|()| name.to_string())
            .map_err(OpsError::invalid),
    }
}

fn typed<T: DeserializeOwned + Serialize>(body: Value) -> Result<Map<String, Value>, OpsError> {
    let value: T = from_json(body)?;
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(OpsError::invalid("the object is not a JSON object")),
    }
}

/// Checks `body` as an object of `kind`; returns it with every field, defaults filled in.
fn check(kind: CatalogKind, body: Value) -> Result<Map<String, Value>, OpsError> {
    match kind {
        CatalogKind::Group => typed::<Group>(body),
        CatalogKind::Product => typed::<Product>(body),
        CatalogKind::BillingPolicy => typed::<BillingPolicy>(body),
        CatalogKind::ControlPolicy => typed::<ControlPolicy>(body),
        CatalogKind::MacBlacklist | CatalogKind::IpBlacklist => typed::<BlacklistEntry>(body),
        CatalogKind::IpRange => typed::<IpRange>(body),
        CatalogKind::System => typed::<SystemSwitches>(body),
        CatalogKind::PackagePlan => typed::<PackagePlan>(body),
    }
}

/// What an object of `kind` refers to: (kind, name) pairs.
fn references(kind: CatalogKind, body: &Map<String, Value>) -> Vec<(CatalogKind, String)> {
    let field = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_string);
    let pairs: Vec<(CatalogKind, Option<String>)> = match kind {
        CatalogKind::Product => vec![
            (CatalogKind::BillingPolicy, field("billing_policy")),
            (CatalogKind::ControlPolicy, field("control_policy")),
        ],
        CatalogKind::Group => vec![
            (CatalogKind::Product, field("default_product")),
            (CatalogKind::ControlPolicy, field("control_policy")),
        ],
        CatalogKind::PackagePlan => vec![(CatalogKind::Product, field("product"))],
        _ => Vec::new(),
    };
    pairs
        .into_iter()
        .filter_map(|(k, n)| n.map(|n| (k, n)))
        .collect()
}

fn body_of(row: &CatalogRow) -> Map<String, Value> {
    match serde_json::from_str(&row.body) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

async fn rows(backend: &Backend) -> Result<Vec<CatalogRow>, OpsError> {
    backend.store.catalog().await.map_err(unavailable)
}

/// Warnings for references to objects that do not exist: logins needing them are
/// refused until they do.
async fn dangling(
    backend: &Backend,
    kind: CatalogKind,
    body: &Map<String, Value>,
) -> Result<Vec<String>, OpsError> {
    let rows = rows(backend).await?;
    Ok(references(kind, body)
        .into_iter()
        .filter(|(k, n)| !rows.iter().any(|r| r.kind == *k && r.name == *n))
        .map(|(k, n)| format!("no {k} {n:?} exists yet; logins that need it are refused"))
        .collect())
}

/// Every object of the given kinds, by kind and name.
pub async fn list(backend: &Backend, kinds: &[CatalogKind]) -> Result<Vec<Object>, OpsError> {
    Ok(rows(backend)
        .await?
        .into_iter()
        .filter(|r| kinds.contains(&r.kind))
        .map(|r| shown(r.kind, r.name.clone(), body_of(&r)))
        .collect())
}

/// One object; the system switches are always there (their defaults until changed).
pub async fn get(backend: &Backend, kind: CatalogKind, name: &str) -> Result<Object, OpsError> {
    let name = canonical_name(kind, name)?;
    let found = rows(backend)
        .await?
        .into_iter()
        .find(|r| r.kind == kind && r.name == name);
    let body = match (found, kind) {
        (Some(row), _) => body_of(&row),
        (None, CatalogKind::System) => Map::new(),
        (None, _) => {
            return Err(OpsError::new(
                ECode::InvalidParameter,
                Failure::NotFound,
                format!("no {kind} {name:?}"),
            ))
        }
    };
    Ok(shown(kind, name, body))
}

/// An object as shown: every field, defaults filled in (as stored if it no longer reads
/// as its kind, so that an operator can still see and fix it).
fn shown(kind: CatalogKind, name: String, body: Map<String, Value>) -> Object {
    Object {
        body: check(kind, Value::Object(body.clone())).unwrap_or(body),
        name,
    }
}

/// Creates an object. A blacklist entry or IP table range that exists is replaced
/// (adding it again is no error); other kinds refuse a taken name (409).
pub async fn create(
    backend: &Backend,
    kind: CatalogKind,
    name: &str,
    body: Value,
) -> Result<Done, OpsError> {
    let name = canonical_name(kind, name)?;
    if kind == CatalogKind::PackagePlan && body.get("valid_days").is_none() {
        return Err(OpsError::incomplete("valid_days: a package plan needs it"));
    }
    let body = check(kind, body)?;
    let put = match kind {
        CatalogKind::MacBlacklist | CatalogKind::IpBlacklist | CatalogKind::IpRange => Put::Upsert,
        CatalogKind::System => {
            return Err(OpsError::invalid(
                "the system switches exist always; change them",
            ))
        }
        _ => Put::Create,
    };
    let row = CatalogRow::new(kind, &name, &body);
    match backend.store.put_catalog(&row, put).await {
        Ok(_) => {}
        Err(StoreError::CatalogExists(..)) => {
            return Err(OpsError::new(
                ECode::InvalidParameter,
                Failure::Conflict,
                format!("{kind} {name:?} already exists; change it instead"),
            ))
        }
        Err(e) => return Err(failed(e)),
    }
    Ok(Done {
        code: None,
        warnings: dangling(backend, kind, &body).await?,
    })
}

/// Changes the given fields of an object (`null` clears an optional one).
pub async fn update(
    backend: &Backend,
    kind: CatalogKind,
    name: &str,
    patch: Value,
) -> Result<Done, OpsError> {
    let Value::Object(patch) = patch else {
        return Err(OpsError::invalid("expected a JSON object of fields"));
    };
    let current = get(backend, kind, name).await?;
    let mut merged = current.body;
    merged.extend(patch);
    let body = check(kind, Value::Object(merged))?;
    let row = CatalogRow::new(kind, &current.name, &body);
    let put = if kind == CatalogKind::System {
        Put::Upsert
    } else {
        Put::Replace
    };
    if !backend.store.put_catalog(&row, put).await.map_err(failed)? {
        return Err(OpsError::new(
            ECode::InvalidParameter,
            Failure::NotFound,
            format!("no {kind} {:?}", current.name),
        ));
    }
    Ok(Done {
        code: None,
        warnings: dangling(backend, kind, &body).await?,
    })
}

/// Who refers to `name` of `kind`: other objects, and users who hold the product or
/// belong to the group (counted).
async fn referrers(
    backend: &Backend,
    kind: CatalogKind,
    name: &str,
) -> Result<Vec<String>, OpsError> {
    let mut out: Vec<String> = rows(backend)
        .await?
        .iter()
        .filter(|r| {
            references(r.kind, &body_of(r))
                .iter()
                .any(|(k, n)| *k == kind && n == name)
        })
        .map(|r| format!("{} {:?}", r.kind, r.name))
        .collect();
    let query = match kind {
        CatalogKind::Product => UserQuery {
            product: Some(name.to_string()),
            ..UserQuery::default()
        },
        CatalogKind::Group => UserQuery {
            group: Some(name.to_string()),
            ..UserQuery::default()
        },
        _ => return Ok(out),
    };
    let (users, _) = backend
        .store
        .users_page(&query)
        .await
        .map_err(unavailable)?;
    if users > 0 {
        out.push(format!("{users} user(s)"));
    }
    Ok(out)
}

/// Deletes an object. One that others refer to is refused (409) unless `force`: then
/// the logins that need it are refused.
pub async fn delete(
    backend: &Backend,
    kind: CatalogKind,
    name: &str,
    force: bool,
) -> Result<(), OpsError> {
    let name = canonical_name(kind, name)?;
    if kind == CatalogKind::System {
        return Err(OpsError::invalid(
            "the system switches cannot be deleted; change them",
        ));
    }
    let refs = referrers(backend, kind, &name).await?;
    if !refs.is_empty() && !force {
        return Err(OpsError::new(
            ECode::InvalidParameter,
            Failure::Conflict,
            format!(
                "{kind} {name:?} is used by {}; change those first or force",
                refs.join(", ")
            ),
        ));
    }
    if backend
        .store
        .delete_catalog(kind, &name)
        .await
        .map_err(failed)?
    {
        Ok(())
    } else {
        Err(OpsError::new(
            ECode::InvalidParameter,
            Failure::NotFound,
            format!("no {kind} {name:?}"),
        ))
    }
}
