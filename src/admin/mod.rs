//! The operator's local HTTP API (JSON): who is online, the session history, kicks and
//! bandwidth changes, and billing (settlement, payments, packages, ledger).
//! The CLI's `online`, `sessions`, `kick`, `coa`, `settle`, `pay`, `package`, `ledger` and
//! `settlements` talk to it.
//!
//! Every request needs `Authorization: Bearer TOKEN`, the token being the content of
//! `DATA_DIR/api.token` (created 0600 at first start). Replies use one envelope:
//! `{"code": 0, "msg": "success", "data": …}`; errors carry an E-code where one fits,
//! else the HTTP status, and a message.

mod billing;
use billing::{Listing, PackageOp};
pub mod token;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

use crate::billing::settle::Settler;
use crate::codes::{ECode, Lang};
use crate::config::PayTo;
use crate::session::kick::{KickMode, KickSource, Kicker};
use crate::session::online::SessionKey;
use crate::store::{HistoryRecord, OnlineRecord};

/// What the handlers share.
pub struct AdminState {
    /// The bearer token.
    pub token: String,
    /// Language of code texts.
    pub lang: Lang,
    /// Sessions and kicks.
    pub kicker: Arc<Kicker>,
    /// Settlement runs.
    pub settler: Arc<Settler>,
    /// Where payments land by default.
    pub pay_to: PayTo,
}

/// Serves the API on `addr` until `shutdown` turns true; returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    state: Arc<AdminState>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let app = Router::new()
        .route("/api/v1/online", get(online))
        .route("/api/v1/sessions", get(sessions))
        .route("/api/v1/kick", post(kick))
        .route("/api/v1/coa", post(coa))
        .route("/api/v1/settle", post(billing::settle))
        .route("/api/v1/pay", post(billing::pay))
        .route(
            "/api/v1/ledger",
            get(|s, h, q| billing::list(s, h, q, Listing::Ledger)),
        )
        .route(
            "/api/v1/settlements",
            get(|s, h, q| billing::list(s, h, q, Listing::Settlements)),
        )
        .route(
            "/api/v1/settlement-log",
            get(|s, h, q| billing::list(s, h, q, Listing::Log)),
        )
        .route("/api/v1/packages", get(billing::packages))
        .route(
            "/api/v1/packages/buy",
            post(|s, h, b| billing::package(s, h, b, PackageOp::Buy)),
        )
        .route(
            "/api/v1/packages/reserve",
            post(|s, h, b| billing::package(s, h, b, PackageOp::Reserve)),
        )
        .route(
            "/api/v1/packages/remove",
            post(|s, h, b| billing::package(s, h, b, PackageOp::Remove)),
        )
        .with_state(state);
    tokio::spawn(async move {
        let stopped = async move {
            let _ = shutdown.changed().await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stopped)
            .await
        {
            tracing::error!(error = %e, "operator API stopped");
        }
    });
    Ok(local)
}

/// An error reply.
struct ApiError {
    status: StatusCode,
    code: u32,
    msg: String,
}

impl ApiError {
    fn invalid(lang: Lang, what: impl std::fmt::Display) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: ECode::InvalidParameter.number(),
            msg: format!("{}: {what}", ECode::InvalidParameter.wire(lang)),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"code": self.code, "msg": self.msg})),
        )
            .into_response()
    }
}

fn success(data: impl Serialize) -> Response {
    Json(json!({"code": 0, "msg": "success", "data": data})).into_response()
}

fn authorize(state: &AdminState, headers: &HeaderMap) -> Result<(), ApiError> {
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if crate::auth::credentials::constant_time_eq(given.as_bytes(), state.token.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: 401,
            msg: "missing or wrong bearer token (see DATA_DIR/api.token)".into(),
        })
    }
}

#[derive(Deserialize)]
struct UserFilter {
    user: Option<String>,
    limit: Option<u32>,
}

/// A session as the API shows it.
#[derive(Serialize)]
struct SessionView {
    session: String,
    #[serde(flatten)]
    record: RecordView,
}

#[derive(Serialize)]
struct RecordView {
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

async fn online(
    State(state): State<Arc<AdminState>>,
    headers: HeaderMap,
    Query(filter): Query<UserFilter>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    let mut rows: Vec<SessionView> = state
        .kicker
        .online
        .snapshot(filter.user.as_deref())
        .into_iter()
        .map(|(key, s)| SessionView {
            session: format!("{}/{}", key.nas, key.id),
            record: s.record.into(),
        })
        .collect();
    rows.sort_by_key(|r| r.record.started_at);
    Ok(success(rows))
}

async fn sessions(
    State(state): State<Arc<AdminState>>,
    headers: HeaderMap,
    Query(filter): Query<UserFilter>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    let store = state.kicker.directory.store();
    let rows = store
        .history(
            filter.user.as_deref(),
            filter.limit.unwrap_or(100).min(10_000),
        )
        .await
        .map_err(|e| ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: 500,
            msg: format!("store: {e}"),
        })?;
    let lang = state.lang;
    let view = |h: HistoryRecord| {
        let text = |n: Option<u32>| {
            n.map(|n| ECode::from_number(n).map_or_else(|| format!("E{n:04}"), |c| c.wire(lang)))
        };
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

#[derive(Deserialize)]
struct KickRequest {
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
    Ok(SessionKey {
        nas: nas.into(),
        id: id.into(),
    })
}

async fn kick(
    State(state): State<Arc<AdminState>>,
    headers: HeaderMap,
    body: Result<Json<KickRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    let lang = state.lang;
    let Json(req) = body.map_err(|e| ApiError::invalid(lang, e.body_text()))?;
    let keys: Vec<SessionKey> = match (&req.user, &req.session) {
        (Some(user), None) => state
            .kicker
            .online
            .snapshot(Some(user))
            .into_iter()
            .map(|(k, _)| k)
            .collect(),
        (None, Some(s)) => vec![parse_session(lang, s)?],
        _ => return Err(ApiError::invalid(lang, "give user or session")),
    };
    if keys.is_empty() {
        return Err(ApiError {
            status: StatusCode::NOT_FOUND,
            code: ECode::NotOnline.number(),
            msg: ECode::NotOnline.wire(lang),
        });
    }
    let results = futures_util::future::join_all(
        keys.iter()
            .map(|k| state.kicker.kick(k, req.mode, req.source, None)),
    )
    .await;
    Ok(success(results))
}

#[derive(Deserialize)]
struct CoaRequest {
    session: String,
    up: u64,
    down: u64,
}

async fn coa(
    State(state): State<Arc<AdminState>>,
    headers: HeaderMap,
    body: Result<Json<CoaRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers)?;
    let lang = state.lang;
    let Json(req) = body.map_err(|e| ApiError::invalid(lang, e.body_text()))?;
    let key = parse_session(lang, &req.session)?;
    Ok(success(
        state.kicker.change_bandwidth(&key, req.up, req.down).await,
    ))
}
