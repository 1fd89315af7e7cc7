//! Operator operations: every rule of a change an operator makes (validation, names,
//! references, one transaction per change), shared by the CLI and the HTTP API, which
//! are thin shells over it. Each operation returns the code of its result: E5001 user
//! created, E5010 modified, E5052 MAC bound …; a refusal is an [`OpsError`] carrying its
//! code (E5990 incomplete data, E5991 invalid parameter, E5992 no such user, E5993 user
//! exists, E5002/E5011/E5021/E5031 failed) and what kind of failure it is, from which
//! the API picks its HTTP status.
//!
//! | module | what |
//! | --- | --- |
//! | [`users`] | accounts: create, read, page, change, bind, password, import |
//! | [`catalog`] | groups, products, policies, package plans, blacklists, IP tables, switches |
//! | [`json`] | request bodies read strictly: one object, each key once |
//! | [`nas`] | NAS devices registered in the store |
//! | [`tokens`] | API tokens and their roles |

pub mod catalog;
pub mod json;
pub mod nas;
pub mod tokens;
pub mod users;

use thiserror::Error;

pub use json::from_json;

use crate::codes::{ECode, Lang};

/// What went wrong, as far as the caller must act on it (the HTTP status follows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The request is incomplete or a value is invalid (400).
    BadRequest,
    /// What it names does not exist (404).
    NotFound,
    /// It clashes with what exists: a name taken, an object still in use (409).
    Conflict,
    /// The store failed (500).
    Internal,
}

/// A refused or failed operation.
#[derive(Debug, Clone, Error)]
#[error("{code}: {reason}")]
pub struct OpsError {
    /// Its code.
    pub code: ECode,
    /// Its kind.
    pub failure: Failure,
    /// What exactly, for the operator.
    pub reason: String,
}

impl OpsError {
    /// A refusal of `failure` with `code`.
    pub fn new(code: ECode, failure: Failure, reason: impl Into<String>) -> OpsError {
        OpsError {
            code,
            failure,
            reason: reason.into(),
        }
    }

    /// E5990: a required field is missing.
    pub fn incomplete(reason: impl Into<String>) -> OpsError {
        OpsError::new(ECode::IncompleteData, Failure::BadRequest, reason)
    }

    /// E5991: a value is invalid.
    pub fn invalid(reason: impl Into<String>) -> OpsError {
        OpsError::new(ECode::InvalidParameter, Failure::BadRequest, reason)
    }

    /// E5992: no such user.
    pub fn no_user(name: &str) -> OpsError {
        OpsError::new(ECode::UserNotFound, Failure::NotFound, name)
    }

    /// `code` because the store failed (E6525 for reads: the backend does not respond).
    pub fn store<E: std::fmt::Display>(code: ECode) -> impl FnOnce(E) -> OpsError {
        move |e| OpsError::new(code, Failure::Internal, format!("store: {e}"))
    }

    /// `CODE: text: reason`, in `lang`.
    pub fn message(&self, lang: Lang) -> String {
        format!("{}: {}", self.code.wire(lang), self.reason)
    }
}

/// What an operation did: its result code where the catalog has one (E5001, E5010 …;
/// catalog changes have none), and warnings the operator should read (a reference to
/// something that does not exist yet, say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    /// The result code.
    pub code: Option<ECode>,
    /// Warnings.
    pub warnings: Vec<String>,
}

impl Done {
    /// `code` with no warnings.
    pub fn with(code: ECode) -> Done {
        Done {
            code: Some(code),
            warnings: Vec::new(),
        }
    }
}
