//! Sessions: who is online, ended sessions, kicks and bandwidth changes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;

use super::access::Caller;
use super::reply::{success, ApiError, Body, ErrorReply, Params};
use super::AdminState;
use crate::codes::{ECode, Lang};
use crate::ops::tokens::Role;
use crate::session::kick::{KickMode, KickSource};
use crate::session::online::SessionKey;
use crate::store::{HistoryRecord, OnlineRecord};

/// The routes.
pub fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route("/api/v1/online", get(online))
        .route("/api/v1/sessions", get(sessions))
        .route("/api/v1/kick", post(kick))
        .route("/api/v1/coa", post(coa))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UserFilter {
    user: Option<String>,
    limit: Option<u32>,
}

/// A session as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct SessionView {
    session: String,
    #[serde(flatten)]
    record: RecordView,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct RecordView {
    user: String,
    nas: String,
    session_id: String,
    product: Option<String>,
    framed_ip: Option<String>,
    station: Option<String>,
    nas_port: Option<String>,
    started_at: i64,
    updated_at: i64,
    session_time: i64,
    input_octets: i64,
    output_octets: i64,
}

impl From<OnlineRecord> for RecordView {
    fn from(r: OnlineRecord) -> Self {
        RecordView {
            user: r.user,
            nas: r.nas,
            session_id: r.session_id,
            product: r.product,
            framed_ip: r.framed_ip,
            station: r.station,
            nas_port: r.nas_port,
            started_at: r.started_at,
            updated_at: r.updated_at,
            session_time: r.session_time,
            input_octets: r.input_octets,
            output_octets: r.output_octets,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/online", tag = "sessions", params(("user" = Option<String>, Query, description = "Only this user's (a self-service token: its own)")), responses((status = 200, description = "Sessions online, oldest first", body = Vec<SessionView>)))]
pub(super) async fn online(
    State(state): State<Arc<AdminState>>,
    caller: Caller,
    Params(filter): Params<UserFilter>,
) -> Result<Response, ApiError> {
    let user = caller.scope(filter.user, Role::Readonly)?;
    let mut rows: Vec<SessionView> = state
        .kicker
        .online
        .snapshot(user.as_deref())
        .into_iter()
        .map(|(key, s)| SessionView {
            session: format!("{}/{}", key.nas, key.id),
            record: s.record.into(),
        })
        .collect();
    rows.sort_by_key(|r| r.record.started_at);
    Ok(success(rows))
}

#[utoipa::path(get, path = "/api/v1/sessions", tag = "sessions", params(("user" = Option<String>, Query), ("limit" = Option<u32>, Query, description = "At most this many, newest first (default 100)")), responses((status = 200, description = "Ended sessions with their cause (E24xx, E3xxx) and how (E4xxx)")))]
pub(super) async fn sessions(
    State(state): State<Arc<AdminState>>,
    caller: Caller,
    Params(filter): Params<UserFilter>,
) -> Result<Response, ApiError> {
    let user = caller.scope(filter.user, Role::Readonly)?;
    let store = state.kicker.directory.store();
    let rows = store
        .history(user.as_deref(), filter.limit.unwrap_or(100).min(10_000))
        .await
        .map_err(|e| {
            ApiError::from_ops(
                state.lang,
                crate::ops::OpsError::store(ECode::BackendNoResponse)(e),
            )
        })?;
    let lang = state.lang;
    let view = |h: HistoryRecord| {
        let text = |n: Option<u32>| n.map(|n| ECode::wire_of(n, lang));
        let mut v = serde_json::to_value(RecordView::from(h.session)).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut v {
            map.insert(
                "ended_at".into(),
                map.get("updated_at").cloned().unwrap_or(Value::Null),
            );
            map.remove("updated_at");
            map.insert("cause".into(), json!(text(h.cause)));
            map.insert("via".into(), json!(text(h.via)));
            map.insert("terminate_cause".into(), json!(h.terminate_cause));
        }
        v
    };
    Ok(success(rows.into_iter().map(view).collect::<Vec<_>>()))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct KickRequest {
    user: Option<String>,
    session: Option<String>,
    #[serde(default = "dm")]
    mode: KickMode,
    #[serde(default = "admin")]
    source: KickSource,
}

fn dm() -> KickMode {
    KickMode::Dm
}

fn admin() -> KickSource {
    KickSource::Admin
}

fn parse_session(lang: Lang, s: &str) -> Result<SessionKey, ApiError> {
    let (nas, id) = s
        .split_once('/')
        .ok_or_else(|| ApiError::invalid(lang, format!("session {s:?} is not NAS/SESSION-ID")))?;
    Ok(SessionKey::new(nas, id))
}

/// Kicks every session of a user, or one session. A self-service token may end its own
/// user's sessions (the cause is then self-service's, E4104 …); other tokens need the
/// operator role.
#[utoipa::path(post, path = "/api/v1/kick", tag = "sessions", request_body = KickRequest, responses((status = 200, description = "Each session with its code (E41xx …) and whether it ended"), (status = 404, description = "Not online", body = ErrorReply)))]
pub(super) async fn kick(
    State(state): State<Arc<AdminState>>,
    caller: Caller,
    Body(mut req): Body<KickRequest>,
) -> Result<Response, ApiError> {
    let lang = state.lang;
    let keys: Vec<(SessionKey, String)> = match (&req.user, &req.session) {
        (Some(user), None) => state
            .kicker
            .online
            .snapshot(Some(user))
            .into_iter()
            .map(|(k, s)| (k, s.record.user))
            .collect(),
        (None, Some(s)) => {
            let key = parse_session(lang, s)?;
            let owner = state.kicker.online.get(&key).map(|s| s.record.user.clone());
            owner.map(|o| (key, o)).into_iter().collect()
        }
        _ => return Err(ApiError::invalid(lang, "give user or session")),
    };
    for (_, owner) in &keys {
        caller.acting_on(owner, Role::Operator)?;
    }
    if caller.role == Role::SelfService {
        req.source = KickSource::SelfService;
    }
    if keys.is_empty() {
        caller.acting_on(req.user.as_deref().unwrap_or_default(), Role::Operator)?;
        return Err(ApiError {
            status: StatusCode::NOT_FOUND,
            code: ECode::NotOnline.number(),
            msg: ECode::NotOnline.wire(lang),
        });
    }
    let results = futures_util::future::join_all(
        keys.iter()
            .map(|(k, _)| state.kicker.kick(k, req.mode, req.source, None)),
    )
    .await;
    Ok(success(results))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CoaRequest {
    session: String,
    up: u64,
    down: u64,
}

#[utoipa::path(post, path = "/api/v1/coa", tag = "sessions", request_body = CoaRequest, responses((status = 200, description = "The NAS's answer")))]
pub(super) async fn coa(
    State(state): State<Arc<AdminState>>,
    caller: Caller,
    Body(req): Body<CoaRequest>,
) -> Result<Response, ApiError> {
    caller.need(Role::Operator)?;
    let lang = state.lang;
    let key = parse_session(lang, &req.session)?;
    Ok(success(
        state.kicker.change_bandwidth(&key, req.up, req.down).await,
    ))
}
