//! API tokens: a random 32-byte secret handed out once, stored as its SHA-256, with a
//! role that decides what the token may call.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

use super::{Failure, OpsError};
use crate::clock;
use crate::codes::ECode;
use crate::store::access::TokenRecord;
use crate::store::{Backend, StoreError};

/// What a token may do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Its own user only: read it, change its password, see and end its sessions.
    SelfService,
    /// Read everything, change nothing.
    Readonly,
    /// Users, sessions, kicks, payments and packages.
    Operator,
    /// Everything: also the catalog, NAS devices, settlement, tokens and the audit log.
    Admin,
}

impl Role {
    /// The name used in the CLI, the API and the store.
    pub fn name(self) -> &'static str {
        match self {
            Role::SelfService => "self-service",
            Role::Readonly => "readonly",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Role::Admin,
            Role::Operator,
            Role::Readonly,
            Role::SelfService,
        ]
        .into_iter()
        .find(|r| r.name() == s)
        .ok_or_else(|| format!("unknown role {s:?} (admin, operator, readonly or self-service)"))
    }
}

/// Who is calling: a token that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// The user a self-service token acts on.
    pub user: Option<String>,
}

/// A token as listed (never the secret or its hash).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TokenView {
    /// Name.
    pub name: String,
    /// Role (as stored: a role a newer version wrote is shown as it is).
    pub role: String,
    /// The user of a self-service token.
    pub user: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

/// A token just created: the secret is shown this once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Issued {
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// The bearer secret.
    pub token: String,
}

/// SHA-256 of a secret, as stored.
pub fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// A new random secret: 32 bytes, hex.
pub fn new_secret() -> String {
    (0..32)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

fn unavailable(e: StoreError) -> OpsError {
    OpsError::store(ECode::BackendNoResponse)(e)
}

/// Stores a token named `name` with `secret`. A self-service token needs its user, and
/// only a self-service token has one.
pub async fn add_with_secret(
    backend: &Backend,
    name: &str,
    role: Role,
    user: Option<&str>,
    secret: &str,
) -> Result<Issued, OpsError> {
    crate::catalog::check_object_name(name).map_err(OpsError::invalid)?;
    match (role, user) {
        (Role::SelfService, None) => {
            return Err(OpsError::incomplete("a self-service token needs its user"))
        }
        (Role::SelfService, Some(u)) => {
            if backend.store.user(u).await.map_err(unavailable)?.is_none() {
                return Err(OpsError::no_user(u));
            }
        }
        (_, Some(_)) => {
            return Err(OpsError::invalid(
                "only a self-service token is tied to a user",
            ))
        }
        (_, None) => {}
    }
    let record = TokenRecord {
        name: name.to_string(),
        role: role.name().to_string(),
        user: user.map(str::to_string),
        hash: hash(secret),
        created_at: clock::now(),
    };
    match backend.store.add_token(&record).await {
        Ok(()) => Ok(Issued {
            name: name.to_string(),
            role,
            token: secret.to_string(),
        }),
        Err(StoreError::TokenExists(n)) => Err(OpsError::new(
            ECode::InvalidParameter,
            Failure::Conflict,
            format!("token {n:?} already exists"),
        )),
        Err(e) => Err(OpsError::store(ECode::InvalidParameter)(e)),
    }
}

/// Creates a token with a new random secret.
pub async fn add(
    backend: &Backend,
    name: &str,
    role: Role,
    user: Option<&str>,
) -> Result<Issued, OpsError> {
    add_with_secret(backend, name, role, user, &new_secret()).await
}

/// Every token, by name.
pub async fn list(backend: &Backend) -> Result<Vec<TokenView>, OpsError> {
    Ok(backend
        .store
        .tokens()
        .await
        .map_err(unavailable)?
        .into_iter()
        .map(|t| TokenView {
            role: t.role,
            name: t.name,
            user: t.user,
            created_at: t.created_at,
        })
        .collect())
}

/// Revokes a token: the next call with it is refused.
pub async fn delete(backend: &Backend, name: &str) -> Result<(), OpsError> {
    if backend
        .store
        .delete_token(name)
        .await
        .map_err(unavailable)?
    {
        Ok(())
    } else {
        Err(OpsError::new(
            ECode::InvalidParameter,
            Failure::NotFound,
            format!("no token {name:?}"),
        ))
    }
}

/// The caller whose secret hashes to `hash` ([`hash`]), if any. A token whose stored
/// role this version does not know (a newer version wrote it) is refused rather than
/// guessed at.
pub async fn verify(backend: &Backend, hash: &[u8]) -> Result<Option<Caller>, OpsError> {
    Ok(backend
        .store
        .token_by_hash(hash)
        .await
        .map_err(unavailable)?
        .and_then(|t| {
            Some(Caller {
                role: t.role.parse().ok()?,
                name: t.name,
                user: t.user,
            })
        }))
}
