//! Who may use the operator API, and what they did: API tokens (kept as a hash of the
//! secret) and the audit log of mutating calls.

use async_trait::async_trait;

use super::StoreError;

/// An API token as stored: never the secret, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Unique name, shown in the audit log.
    pub name: String,
    /// `admin`, `operator`, `readonly` or `self-service`.
    pub role: String,
    /// The one user a self-service token acts on.
    pub user: Option<String>,
    /// SHA-256 of the secret.
    pub hash: Vec<u8>,
    /// Unix seconds.
    pub created_at: i64,
}

/// One mutating API call.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct AuditRecord {
    /// Unix seconds.
    pub at: i64,
    /// The token's name; `-` for a call refused for a missing or unknown token.
    pub actor: String,
    /// HTTP method.
    pub method: String,
    /// Path (without the query).
    pub path: String,
    /// The caller's address and port (empty in entries from before it was recorded).
    pub source: String,
    /// HTTP status of the reply.
    pub status: u16,
    /// 0 or the E-code number of the reply.
    pub code: u32,
}

/// Tokens and the audit log.
#[async_trait]
pub trait AccessStore: Send + Sync {
    /// Stores a token; [`StoreError::TokenExists`] if the name is taken.
    async fn add_token(&self, token: &TokenRecord) -> Result<(), StoreError>;
    /// Every token, by name.
    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;
    /// The token whose secret hashes to `hash`.
    async fn token_by_hash(&self, hash: &[u8]) -> Result<Option<TokenRecord>, StoreError>;
    /// Revokes a token; false if there was none.
    async fn delete_token(&self, name: &str) -> Result<bool, StoreError>;
    /// Appends entries to the audit log in one transaction.
    async fn append_audit(&self, entries: &[AuditRecord]) -> Result<(), StoreError>;
    /// Audit entries, newest first: at most `limit`, of one actor or all.
    async fn audit(&self, actor: Option<&str>, limit: u32) -> Result<Vec<AuditRecord>, StoreError>;
}
