//! Who calls, and what they may do. Every request needs `Authorization: Bearer TOKEN`;
//! the token's hash is looked up in the store, and a token found is trusted for
//! [`TRUST_FOR`] before it is looked up again, so a token revoked with `turnstile token
//! del` is refused (401) within that time, and at once when revoked over the API. Each
//! handler states the least role it needs ([`Caller::need`]) or, for what a user may do
//! for themselves, the user it acts on ([`Caller::acting_on`]); a token below that is
//! refused with 403.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use dashmap::DashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::reply::ApiError;
use super::AdminState;
use crate::ops::tokens::{self, Role};

pub use crate::ops::tokens::Caller;

/// How long a verified token is trusted before the store is asked again.
pub const TRUST_FOR: Duration = Duration::from_secs(1);

/// Most tokens remembered; past it the memory is cleared (it only saves lookups).
const REMEMBERED: usize = 10_000;

/// Tokens verified lately, by hash: most calls then cost no database read.
#[derive(Default)]
pub struct TokenCache {
    verified: DashMap<Vec<u8>, (Caller, Instant)>,
}

impl TokenCache {
    /// The caller of `secret`: remembered, or looked up in the store.
    async fn caller(
        &self,
        backend: &crate::store::Backend,
        secret: &str,
    ) -> Result<Option<Caller>, crate::ops::OpsError> {
        if secret.is_empty() {
            return Ok(None);
        }
        let hash = tokens::hash(secret);
        if let Some(known) = self.verified.get(&hash) {
            if known.1.elapsed() < TRUST_FOR {
                return Ok(Some(known.0.clone()));
            }
        }
        let caller = tokens::verify(backend, &hash).await?;
        match &caller {
            Some(c) => {
                if self.verified.len() >= REMEMBERED {
                    self.verified.clear();
                }
                self.verified.insert(hash, (c.clone(), Instant::now()));
            }
            None => {
                self.verified.remove(&hash);
            }
        }
        Ok(caller)
    }

    /// Forgets every token (one was revoked).
    pub fn forget(&self) {
        self.verified.clear();
    }
}

/// Authenticates the request and hands the [`Caller`] to the handler.
pub async fn authenticate(
    State(state): State<Arc<AdminState>>,
    mut req: Request,
    next: Next,
) -> Response {
    let secret = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .trim()
        .to_string();
    match state.tokens.caller(&state.backend, &secret).await {
        Ok(Some(caller)) => {
            req.extensions_mut().insert(caller.clone());
            let mut response = next.run(req).await;
            // For the audit log, which runs outside this layer so that it sees refusals.
            response.extensions_mut().insert(caller);
            response
        }
        Ok(None) => {
            metrics::counter!("turnstile_api_unauthorized_total").increment(1);
            let mut refused = ApiError::status(
                StatusCode::UNAUTHORIZED,
                "missing, unknown or revoked bearer token",
            )
            .into_response();
            // The body is not read for a caller who may not call: the connection ends
            // with this reply, and the client is told so rather than left to reuse it.
            if req.headers().contains_key(header::CONTENT_LENGTH)
                || req.headers().contains_key(header::TRANSFER_ENCODING)
            {
                refused.headers_mut().insert(
                    header::CONNECTION,
                    header::HeaderValue::from_static("close"),
                );
            }
            refused
        }
        Err(e) => ApiError::from_ops(state.lang, e).into_response(),
    }
}

impl FromRequestParts<Arc<AdminState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &Arc<AdminState>) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::status(StatusCode::UNAUTHORIZED, "not authenticated"))
    }
}

fn forbidden(caller: &Caller, what: &str) -> ApiError {
    metrics::counter!("turnstile_api_forbidden_total", "role" => caller.role.name()).increment(1);
    ApiError::status(
        StatusCode::FORBIDDEN,
        format!("token {:?} ({}) may not {what}", caller.name, caller.role),
    )
}

impl Caller {
    /// Refuses (403) a token whose role is below `least`.
    pub fn need(&self, least: Role) -> Result<(), ApiError> {
        if self.role >= least {
            Ok(())
        } else {
            Err(forbidden(self, &format!("do this (needs {least})")))
        }
    }

    /// For what users may do for themselves: a self-service token passes for its own
    /// user only, other tokens need `least`.
    pub fn acting_on(&self, user: &str, least: Role) -> Result<(), ApiError> {
        match (&self.role, &self.user) {
            (Role::SelfService, Some(own)) if own == user => Ok(()),
            (Role::SelfService, _) => Err(forbidden(self, &format!("act on user {user:?}"))),
            _ => self.need(least),
        }
    }

    /// The user filter of a list: a self-service token sees its own user only, whatever
    /// it asked for; others need `least` and get what they asked for.
    pub fn scope(&self, asked: Option<String>, least: Role) -> Result<Option<String>, ApiError> {
        match self.role {
            Role::SelfService => match (&self.user, asked) {
                (Some(own), None) => Ok(Some(own.clone())),
                (Some(own), Some(a)) if *own == a => Ok(Some(a)),
                (_, Some(a)) => Err(forbidden(self, &format!("act on user {a:?}"))),
                (None, None) => Err(forbidden(self, "list other users' records")),
            },
            _ => self.need(least).map(|()| asked),
        }
    }
}
