//! `/api/v1/users`: accounts, over [`crate::ops::users`].

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use std::sync::Arc;

use super::access::Caller;
use super::reply::{done, reply, ApiError, Body, ErrorReply, Params};
use super::AdminState;
use crate::account::Binding;
use crate::ops::tokens::Role;
use crate::ops::users::{self, NewUser, UserDetail, UserFilter, UserPage, UserUpdate};
use crate::ops::OpsError;

/// Largest CSV import body.
pub const IMPORT_LIMIT: usize = 64 << 20;

/// The routes.
pub fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route("/api/v1/users", get(list).post(create))
        .route(
            "/api/v1/users/import",
            post(import).layer(axum::extract::DefaultBodyLimit::max(IMPORT_LIMIT)),
        )
        .route(
            "/api/v1/users/{name}",
            get(show).patch(update).delete(remove),
        )
        .route("/api/v1/users/{name}/password", post(password))
        .route("/api/v1/users/{name}/enable", post(enable))
        .route("/api/v1/users/{name}/disable", post(disable))
        .route("/api/v1/users/{name}/group", post(group))
        .route("/api/v1/users/{name}/bind", post(bind))
        .route("/api/v1/users/{name}/unbind", post(unbind))
}

fn answer(
    state: &AdminState,
    r: Result<crate::ops::Done, OpsError>,
    name: &str,
) -> Result<Response, ApiError> {
    let lang = state.lang;
    r.map(|d| done(lang, d, serde_json::json!({ "name": name })))
        .map_err(|e| ApiError::from_ops(lang, e))
}

#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(UserFilter), responses((status = 200, description = "A page of users, by name", body = UserPage), (status = 400, description = "A bad filter", body = ErrorReply)))]
pub(super) async fn list(
    State(state): State<Arc<AdminState>>,
    caller: Caller,
    Params(filter): Params<UserFilter>,
) -> Result<Response, ApiError> {
    caller.need(Role::Readonly)?;
    reply(state.lang, users::list(&state.backend, &filter).await)
}

#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = NewUser, responses((status = 200, description = "Created; warnings for products or a group that do not exist yet"), (status = 400, description = "Incomplete or invalid", body = ErrorReply), (status = 409, description = "User exists", body = ErrorReply)))]
pub(super) async fn create(
    State(state): State<Arc<AdminState>>,
    caller: Caller,
    Body(new): Body<NewUser>,
) -> Result<Response, ApiError> {
    caller.need(Role::Operator)?;
    let name = new.name.clone();
    answer(&state, users::create(&state.backend, new).await, &name)
}

#[utoipa::path(get, path = "/api/v1/users/{name}", tag = "users", params(("name" = String, Path)), responses((status = 200, description = "The user and its product instances", body = UserDetail), (status = 404, description = "See the codes below", body = ErrorReply)))]
pub(super) async fn show(
    State(state): State<Arc<AdminState>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    caller.acting_on(&name, Role::Readonly)?;
    reply(state.lang, users::get(&state.backend, &name).await)
}

#[utoipa::path(patch, path = "/api/v1/users/{name}", tag = "users", params(("name" = String, Path)), request_body = UserUpdate, responses((status = 200, description = "See the codes below"), (status = 400, description = "See the codes below", body = ErrorReply), (status = 404, description = "See the codes below", body = ErrorReply)))]
pub(super) async fn update(
    State(state): State<Arc<AdminState>>,
    caller: Caller,
    Path(name): Path<String>,
    Body(change): Body<UserUpdate>,
) -> Result<Response, ApiError> {
    caller.need(Role::Operator)?;
    answer(
        &state,
        users::update(&state.backend, &name, &change).await,
        &name,
    )
}

#[utoipa::path(delete, path = "/api/v1/users/{name}", tag = "users", params(("name" = String, Path)), responses((status = 200, description = "Deleted"), (status = 404, description = "See the codes below", body = ErrorReply)))]
pub(super) async fn remove(
    State(state): State<Arc<AdminState>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    caller.need(Role::Operator)?;
    reply(
        state.lang,
        users::delete(&state.backend, &name)
            .await
            .map(|()| serde_json::json!({ "name": name, "deleted": true })),
    )
}

/// `POST /api/v1/users/NAME/password`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PasswordRequest {
    password: String,
}

#[utoipa::path(post, path = "/api/v1/users/{name}/password", tag = "users", params(("name" = String, Path)), request_body = PasswordRequest, responses((status = 200, description = "See the codes below"), (status = 400, description = "See the codes below", body = ErrorReply), (status = 404, description = "See the codes below", body = ErrorReply)))]
pub(super) async fn password(
    State(state): State<Arc<AdminState>>,
    caller: Caller,
    Path(name): Path<String>,
    Body(req): Body<PasswordRequest>,
) -> Result<Response, ApiError> {
    caller.acting_on(&name, Role::Operator)?;
    answer(
        &state,
        users::set_password(&state.backend, &name, &req.password).await,
        &name,
    )
}

#[utoipa::path(post, path = "/api/v1/users/{name}/enable", tag = "users", params(("name" = String, Path)), responses((status = 200, description = "See the codes below"), (status = 404, description = "See the codes below", body = ErrorReply)))]
pub(super) async fn enable(
    state: State<Arc<AdminState>>,
    caller: Caller,
    name: Path<String>,
) -> Result<Response, ApiError> {
    set_enabled(state, caller, name, true).await
}

#[utoipa::path(post, path = "/api/v1/users/{name}/disable", tag = "users", params(("name" = String, Path)), responses((status = 200, description = "Disabled: logins are refused"), (status = 404, description = "See the codes below", body = ErrorReply)))]
pub(super) async fn disable(
    state: State<Arc<AdminState>>,
    caller: Caller,
    name: Path<String>,
) -> Result<Response, ApiError> {
    set_enabled(state, caller, name, false).await
}

async fn set_enabled(
    State(state): State<Arc<AdminState>>,
    caller: Caller,
    Path(name): Path<String>,
    enabled: bool,
) -> Result<Response, ApiError> {
    caller.need(Role::Operator)?;
    let done = users::set_enabled(&state.backend, &name, enabled).await;
    answer(&state, done, &name)
}

/// `POST /api/v1/users/NAME/group`: `{"group": "staff"}` or `{"group": null}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct GroupRequest {
    group: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/users/{name}/group", tag = "users", params(("name" = String, Path)), request_body = GroupRequest, responses((status = 200, description = "See the codes below"), (status = 404, description = "No such group, or no such user", body = ErrorReply)))]
pub(super) async fn group(
    State(state): State<Arc<AdminState>>,
    caller: Caller,
    Path(name): Path<String>,
    Body(req): Body<GroupRequest>,
) -> Result<Response, ApiError> {
    caller.need(Role::Operator)?;
    answer(
        &state,
        users::change_group(&state.backend, &name, req.group.as_deref()).await,
        &name,
    )
}

#[utoipa::path(post, path = "/api/v1/users/{name}/bind", tag = "users", params(("name" = String, Path)), request_body = Binding, responses((status = 200, description = "Bound"), (status = 400, description = "See the codes below", body = ErrorReply), (status = 404, description = "See the codes below", body = ErrorReply)))]
pub(super) async fn bind(
    State(state): State<Arc<AdminState>>,
    caller: Caller,
    Path(name): Path<String>,
    Body(binding): Body<Binding>,
) -> Result<Response, ApiError> {
    caller.need(Role::Operator)?;
    answer(
        &state,
        users::bind(&state.backend, &name, binding).await,
        &name,
    )
}

#[utoipa::path(post, path = "/api/v1/users/{name}/unbind", tag = "users", params(("name" = String, Path)), request_body = Binding, responses((status = 200, description = "See the codes below"), (status = 404, description = "Not bound", body = ErrorReply)))]
pub(super) async fn unbind(
    State(state): State<Arc<AdminState>>,
    caller: Caller,
    Path(name): Path<String>,
    Body(binding): Body<Binding>,
) -> Result<Response, ApiError> {
    caller.need(Role::Operator)?;
    answer(
        &state,
        users::unbind(&state.backend, &name, binding).await,
        &name,
    )
}

/// `POST /api/v1/users/import`: a CSV body of `username,password` lines, all or none.
#[utoipa::path(post, path = "/api/v1/users/import", tag = "users", request_body(content = String, content_type = "text/csv", description = "Username,password lines"), responses((status = 200, description = "With the count imported"), (status = 400, description = "Naming the bad line", body = ErrorReply), (status = 409, description = "Naming the line; nothing imported", body = ErrorReply)))]
pub(super) async fn import(
    State(state): State<Arc<AdminState>>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    caller.need(Role::Operator)?;
    let lang = state.lang;
    let text =
        std::str::from_utf8(&body).map_err(|_| ApiError::invalid(lang, "the CSV is not UTF-8"))?;
    users::import(&state.backend, text)
        .await
        .map(|n| {
            done(
                lang,
                crate::ops::Done::with(crate::codes::ECode::UserCreated),
                serde_json::json!({ "imported": n }),
            )
        })
        .map_err(|e| ApiError::from_ops(lang, e))
}
