//! `/api/v1/tokens` and `/api/v1/audit`: API tokens and the audit log (admin only).

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{delete, get};
use axum::Router;
use serde::Deserialize;
use std::sync::Arc;

use super::access::Caller;
use super::reply::{reply, ApiError, Body, ErrorReply, Params};
use super::AdminState;
use crate::ops::tokens::{self, Role};
use crate::ops::tokens::{Issued, TokenView};
use crate::ops::OpsError;
use crate::store::access::AuditRecord;

/// The routes.
pub fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route("/api/v1/tokens", get(list).post(create))
        .route("/api/v1/tokens/{name}", delete(remove))
        .route("/api/v1/audit", get(audit))
}

#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", responses((status = 200, description = "Every token (never its secret)", body = Vec<TokenView>)))]
pub(super) async fn list(
    State(state): State<Arc<AdminState>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.need(Role::Admin)?;
    reply(state.lang, tokens::list(&state.backend).await)
}

/// `POST /api/v1/tokens`: the reply holds the secret, shown this once.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewToken {
    name: String,
    role: Role,
    #[serde(default)]
    user: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/tokens", tag = "tokens", request_body = NewToken, responses((status = 200, description = "The secret, shown this once", body = Issued), (status = 409, description = "The name is taken", body = ErrorReply)))]
pub(super) async fn create(
    State(state): State<Arc<AdminState>>,
    caller: Caller,
    Body(req): Body<NewToken>,
) -> Result<Response, ApiError> {
    caller.need(Role::Admin)?;
    reply(
        state.lang,
        tokens::add(&state.backend, &req.name, req.role, req.user.as_deref()).await,
    )
}

#[utoipa::path(delete, path = "/api/v1/tokens/{name}", tag = "tokens", params(("name" = String, Path)), responses((status = 200, description = "Revoked at once"), (status = 404, description = "No such token", body = ErrorReply)))]
pub(super) async fn remove(
    State(state): State<Arc<AdminState>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    caller.need(Role::Admin)?;
    let deleted = tokens::delete(&state.backend, &name).await;
    state.tokens.forget();
    reply(
        state.lang,
        deleted.map(|()| serde_json::json!({ "name": name, "deleted": true })),
    )
}

/// `GET /api/v1/audit?actor=&limit=`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AuditFilter {
    actor: Option<String>,
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "tokens", params(("actor" = Option<String>, Query), ("limit" = Option<u32>, Query)), responses((status = 200, description = "Mutating calls, newest first", body = Vec<AuditRecord>)))]
pub(super) async fn audit(
    State(state): State<Arc<AdminState>>,
    caller: Caller,
    Params(f): Params<AuditFilter>,
) -> Result<Response, ApiError> {
    caller.need(Role::Admin)?;
    let rows = state
        .backend
        .store
        .audit(f.actor.as_deref(), f.limit.unwrap_or(100).min(10_000))
        .await
        .map_err(OpsError::store(crate::codes::ECode::BackendNoResponse));
    reply(state.lang, rows)
}
