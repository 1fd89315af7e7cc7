//! The operator API (HTTP, JSON): everything the CLI can do, with E-code results.
//!
//! | module | what |
//! | --- | --- |
//! | [`reply`] | the `{"code", "msg", "data"}` envelope, request bodies and query parameters |
//! | [`access`] | bearer tokens and roles (401 / 403) |
//! | [`audit`] | the audit log of mutating calls (group-committed) |
//! | `users` | `/api/v1/users…` |
//! | `catalog` | groups, products, policies, package plans, blacklists, IP table, switches |
//! | `devices` | the NAS-device registry, in the device API's shape |
//! | `sessions` | online, history, kick, CoA |
//! | `billing` | settlement, payments, packages, ledger |
//! | `tokens` | API tokens and the audit log over HTTP |
//! | [`token_file`] | `DATA_DIR/api.token` (the first admin token) and `DATA_DIR/api.addr` |
//! | [`openapi`] | the OpenAPI document, `GET /api/v1/openapi.json` |
//! | [`client`] | the client the CLI, the tests and the bench tool use |
//! | [`tls`] | optional TLS (rustls) |
//!
//! A request flows: body limit ─▶ [`audit::audit`] (non-GET, refusals for the token
//! included) ─▶ [`access::authenticate`] (token ─▶ [`access::Caller`]) ─▶ handler:
//! `caller.need(role)` ─▶ [`crate::ops`] ─▶ [`reply`].

pub mod access;
pub mod audit;
mod billing;
mod catalog;
pub mod client;
mod devices;
pub mod openapi;
pub mod reply;
mod sessions;
pub mod tls;
pub mod token_file;
mod tokens;
mod users;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::billing::settle::Settler;
use crate::codes::Lang;
use crate::config::PayTo;
use crate::session::kick::Kicker;
use crate::store::Backend;

pub use devices::DeviceCode;

/// Largest JSON body (the CSV import has its own, larger limit).
pub const BODY_LIMIT: usize = 1 << 20;

/// What the handlers share.
pub struct AdminState {
    /// Language of code texts.
    pub lang: Lang,
    /// The store and key.
    pub backend: Backend,
    /// Sessions and kicks.
    pub kicker: Arc<Kicker>,
    /// Settlement runs.
    pub settler: Arc<Settler>,
    /// Where payments land by default.
    pub pay_to: PayTo,
    /// The audit log.
    pub audit: audit::AuditLog,
    /// Tokens verified lately.
    pub tokens: access::TokenCache,
}

/// Every route, with authentication, the audit log and the body limit.
pub fn router(state: Arc<AdminState>) -> Router {
    Router::new()
        .merge(users::routes())
        .merge(catalog::routes())
        .merge(devices::routes())
        .merge(sessions::routes())
        .merge(billing::routes())
        .merge(tokens::routes())
        .fallback(|| async {
            reply::ApiError::status(axum::http::StatusCode::NOT_FOUND, "no such endpoint")
        })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            access::authenticate,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            audit::audit,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
        .route("/api/v1/openapi.json", axum::routing::get(document))
}

async fn document() -> axum::Json<utoipa::openapi::OpenApi> {
    use utoipa::OpenApi;
    axum::Json(openapi::ApiDoc::openapi())
}

/// Serves the API on `listener` (over TLS with `tls`) until `shutdown` is cancelled and
/// its connections have finished.
pub async fn serve(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    state: Arc<AdminState>,
    limits: crate::config::HttpSettings,
    shutdown: CancellationToken,
) {
    crate::http_listener::serve(listener, router(state), tls, limits, "api", shutdown).await
}
