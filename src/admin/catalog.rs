//! The policy catalog over HTTP, over [`crate::ops::catalog`]: for each kind,
//! `GET /api/v1/KIND` (list), `POST /api/v1/KIND` (`{"name": …, fields}`),
//! `GET|PATCH|DELETE /api/v1/KIND/NAME` (`?force=true` deletes what others use), and
//! `GET|PATCH /api/v1/system` for the switches. Names with `/` (ranges) are sent
//! percent-encoded (`10.0.0.0%2F8`).

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::sync::Arc;

use super::access::Caller;
use super::reply::{done, reply, ApiError, Body, Params};
use super::AdminState;
use crate::catalog::{CatalogKind, SYSTEM_OBJECT};
use crate::ops::catalog;
use crate::ops::tokens::Role;

/// Each kind's path under `/api/v1/`.
pub const KINDS: [(&str, CatalogKind); 8] = [
    ("groups", CatalogKind::Group),
    ("products", CatalogKind::Product),
    ("billing-policies", CatalogKind::BillingPolicy),
    ("control-policies", CatalogKind::ControlPolicy),
    ("package-plans", CatalogKind::PackagePlan),
    ("blacklist/mac", CatalogKind::MacBlacklist),
    ("blacklist/ip", CatalogKind::IpBlacklist),
    ("ip-table", CatalogKind::IpRange),
];

/// The routes.
pub fn routes() -> Router<Arc<AdminState>> {
    let mut router = Router::new().route(
        "/api/v1/system",
        get(|s, c| show(s, c, CatalogKind::System, SYSTEM_OBJECT.to_string()))
            .patch(|s, c, b| update(s, c, CatalogKind::System, SYSTEM_OBJECT.to_string(), b)),
    );
    for (path, kind) in KINDS {
        router = router
            .route(
                &format!("/api/v1/{path}"),
                get(move |s, c| list(s, c, kind)).post(move |s, c, b| create(s, c, kind, b)),
            )
            .route(
                &format!("/api/v1/{path}/{{name}}"),
                get(move |s, c, Path(n): Path<String>| show(s, c, kind, n))
                    .patch(move |s, c, Path(n): Path<String>, b| update(s, c, kind, n, b))
                    .delete(move |s, c, Path(n): Path<String>, q| remove(s, c, kind, n, q)),
            );
    }
    router
}

async fn list(
    State(state): State<Arc<AdminState>>,
    caller: Caller,
    kind: CatalogKind,
) -> Result<Response, ApiError> {
    caller.need(Role::Readonly)?;
    reply(state.lang, catalog::list(&state.backend, &[kind]).await)
}

async fn show(
    State(state): State<Arc<AdminState>>,
    caller: Caller,
    kind: CatalogKind,
    name: String,
) -> Result<Response, ApiError> {
    caller.need(Role::Readonly)?;
    reply(state.lang, catalog::get(&state.backend, kind, &name).await)
}

async fn create(
    State(state): State<Arc<AdminState>>,
    caller: Caller,
    kind: CatalogKind,
    Body(mut fields): Body<Map<String, Value>>,
) -> Result<Response, ApiError> {
    caller.need(Role::Admin)?;
    let lang = state.lang;
    let name = match fields.remove("name") {
        Some(Value::String(n)) => n,
        Some(_) => return Err(ApiError::invalid(lang, "name: expected a string")),
        None => {
            return Err(ApiError::from_ops(
                lang,
                crate::ops::OpsError::incomplete("name: missing field `name`"),
            ))
        }
    };
    let d = catalog::create(&state.backend, kind, &name, Value::Object(fields)).await;
    changed(&state, kind, &name, d).await
}

async fn update(
    State(state): State<Arc<AdminState>>,
    caller: Caller,
    kind: CatalogKind,
    name: String,
    Body(patch): Body<Map<String, Value>>,
) -> Result<Response, ApiError> {
    caller.need(Role::Admin)?;
    let d = catalog::update(&state.backend, kind, &name, Value::Object(patch)).await;
    changed(&state, kind, &name, d).await
}

/// The reply to a change: its warnings and the object as it now is.
async fn changed(
    state: &AdminState,
    kind: CatalogKind,
    name: &str,
    d: Result<crate::ops::Done, crate::ops::OpsError>,
) -> Result<Response, ApiError> {
    let refused = |e| ApiError::from_ops(state.lang, e);
    let d = d.map_err(refused)?;
    let object = catalog::get(&state.backend, kind, name)
        .await
        .map_err(refused)?;
    Ok(done(state.lang, d, object))
}

/// `?force=true`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Force {
    #[serde(default)]
    force: bool,
}

async fn remove(
    State(state): State<Arc<AdminState>>,
    caller: Caller,
    kind: CatalogKind,
    name: String,
    Params(q): Params<Force>,
) -> Result<Response, ApiError> {
    caller.need(Role::Admin)?;
    reply(
        state.lang,
        catalog::delete(&state.backend, kind, &name, q.force)
            .await
            .map(|()| serde_json::json!({ "name": name, "deleted": true })),
    )
}
