//! The NAS-device registry in the shape of the device API operators already use:
//! `POST /api/v1/devices/list|query|regist|delete`, with that API's request fields, its
//! envelope (`{"code": 0, "msg": "success", "count": …, "devices": …}`) and its error
//! codes ([`DeviceCode`]), over [`crate::ops::nas`].
//!
//! A device is a NAS client: `sn` is its name, `alias` its display name; turnstile adds
//! the fields a RADIUS client needs (`address`, `secret`, `vendor`, `coa_port`,
//! `require_message_authenticator`). A registered device is a live client within one
//! sync interval. `base.state` is `running` for a device the daemon has as a client.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;

use super::access::Caller;
use super::reply::{success_with, ApiError};
use super::AdminState;
use crate::codes::Lang;
use crate::ops::json::{self, BodyError};
use crate::ops::nas::{self, NasError, NasView, NewNas};
use crate::ops::tokens::Role;

/// The device API's result codes, with their texts as that API documents them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceCode {
    /// 0 调用成功.
    Success = 0,
    /// 1 json格式解析错误.
    BadJson = 1,
    /// 7001 数据非法.
    InvalidData = 7001,
    /// 7005 序列号出错.
    BadSerial = 7005,
    /// 7007 序列号已存在.
    SerialExists = 7007,
    /// 7008 设备别名已存在.
    AliasExists = 7008,
    /// 7009 设备别名非法.
    BadAlias = 7009,
    /// 7010 参数错误.
    BadParameter = 7010,
}

impl DeviceCode {
    /// The text, Chinese as the device API documents it, or English.
    pub fn text(self, lang: Lang) -> &'static str {
        use Lang::{En, Zh};
        match (self, lang) {
            (DeviceCode::Success, _) => "success",
            (DeviceCode::BadJson, Zh) => "json格式解析错误",
            (DeviceCode::BadJson, En) => "malformed JSON",
            (DeviceCode::InvalidData, Zh) => "数据非法",
            (DeviceCode::InvalidData, En) => "invalid data",
            (DeviceCode::BadSerial, Zh) => "序列号出错",
            (DeviceCode::BadSerial, En) => "bad serial number",
            (DeviceCode::SerialExists, Zh) => "序列号已存在",
            (DeviceCode::SerialExists, En) => "serial number exists",
            (DeviceCode::AliasExists, Zh) => "设备别名已存在",
            (DeviceCode::AliasExists, En) => "device alias exists",
            (DeviceCode::BadAlias, Zh) => "设备别名非法",
            (DeviceCode::BadAlias, En) => "invalid device alias",
            (DeviceCode::BadParameter, Zh) => "参数错误",
            (DeviceCode::BadParameter, En) => "parameter error",
        }
    }
}

/// A refusal in the device API's envelope, `{"code": 7007, "msg": "序列号已存在: …"}`: the
/// API's own refusal with the device API's code.
fn refusal(lang: Lang, code: DeviceCode, status: StatusCode, why: &str) -> ApiError {
    ApiError {
        status,
        code: code as u32,
        msg: format!("{}: {why}", code.text(lang)),
    }
}

fn from_nas(lang: Lang, e: NasError) -> ApiError {
    let (code, status) = match &e {
        NasError::Missing(_) => (DeviceCode::BadParameter, StatusCode::BAD_REQUEST),
        NasError::BadName(_) => (DeviceCode::BadSerial, StatusCode::BAD_REQUEST),
        NasError::BadAddress(_) => (DeviceCode::InvalidData, StatusCode::BAD_REQUEST),
        NasError::BadAlias(_) => (DeviceCode::BadAlias, StatusCode::BAD_REQUEST),
        NasError::NameTaken(_) | NasError::InConfig(_) => {
            (DeviceCode::SerialExists, StatusCode::CONFLICT)
        }
        NasError::AliasTaken(_) => (DeviceCode::AliasExists, StatusCode::CONFLICT),
        NasError::NotFound(_) => (DeviceCode::BadSerial, StatusCode::NOT_FOUND),
        NasError::Store(_) => (DeviceCode::InvalidData, StatusCode::INTERNAL_SERVER_ERROR),
    };
    refusal(lang, code, status, &e.to_string())
}

/// Reads the body as `T` ([`json`]): code 1 for malformed JSON or a key given twice,
/// 7010 for a body that is not an object or a missing or mistyped field.
fn parse<T: serde::de::DeserializeOwned>(lang: Lang, body: &[u8]) -> Result<T, ApiError> {
    let bad = |code, why: &str| refusal(lang, code, StatusCode::BAD_REQUEST, why);
    let object = json::parse_object(body).map_err(|e| match e {
        BodyError::Malformed(_) => bad(DeviceCode::BadJson, &e.to_string()),
        BodyError::NotAnObject(_) => bad(DeviceCode::BadParameter, &e.to_string()),
    })?;
    crate::ops::from_json(Value::Object(object))
        .map_err(|e| bad(DeviceCode::BadParameter, &e.reason))
}

/// The routes.
pub fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route("/api/v1/devices/list", post(list))
        .route("/api/v1/devices/query", post(query))
        .route("/api/v1/devices/regist", post(regist))
        .route("/api/v1/devices/delete", post(delete))
}

/// `args` of list and query: which fields of `base` to return (all when absent or
/// empty). The device API's other groups (`network`, `channel`, `parameters`, `chart`)
/// describe gateways; a NAS has none of them, so they are accepted and ignored.
#[derive(Deserialize, Default, utoipa::ToSchema)]
pub(super) struct Args {
    #[serde(default)]
    base: Vec<String>,
}

/// A device as the registry shows it: `base` in the seed's field names, `radius` with
/// the client's settings.
fn device(state: &AdminState, n: &NasView, args: &Args) -> Value {
    let running = state.kicker.directory.clients().by_name(&n.name).is_some();
    let mut base = Map::new();
    for (key, value) in [
        ("sn", json!(n.name)),
        ("alias", json!(n.alias)),
        ("state", json!(if running { "running" } else { "pending" })),
        ("type", json!(n.vendor)),
        ("version", json!("")),
        ("runtime", json!(0)),
        ("remark", json!(n.source)),
    ] {
        if args.base.is_empty() || args.base.iter().any(|b| b == key) {
            base.insert(key.into(), value);
        }
    }
    json!({
        "base": base,
        "radius": {
            "address": n.address,
            "vendor": n.vendor,
            "coa_port": n.coa_port,
            "require_message_authenticator": n.require_message_authenticator,
            "source": n.source,
            "created_at": n.created_at,
        },
    })
}

/// `POST /api/v1/devices/list`.
#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct ListRequest {
    page: u64,
    limit: u64,
    /// 0: none, 1: by name (alias), 2: by type (vendor), 3: by version (a NAS has none).
    filtration: u8,
    #[serde(default)]
    condition: String,
    // `sort_by` and `ascend` are documented as having no effect; they are ignored.
    #[serde(default)]
    args: Args,
}

#[utoipa::path(post, path = "/api/v1/devices/list", tag = "devices", request_body = ListRequest, responses((status = 200, description = "`{code, msg, count, devices: [{base, radius}]}`"), (status = 400, description = "1 malformed JSON, 7010 parameter error")))]
pub(super) async fn list(
    State(state): State<Arc<AdminState>>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    caller.need(Role::Readonly)?;
    let lang = state.lang;
    let req: ListRequest = parse(lang, &body)?;
    if req.page == 0 || req.limit == 0 || req.limit > 1000 || req.filtration > 3 {
        return Err(refusal(
            lang,
            DeviceCode::BadParameter,
            StatusCode::BAD_REQUEST,
            "page from 1, limit 1 to 1000, filtration 0 to 3",
        ));
    }
    let all = nas::list(&state.backend, &state.kicker.directory.config_clients())
        .await
        .map_err(|e| from_nas(lang, e))?;
    let matching: Vec<&NasView> = all
        .iter()
        .filter(|n| match req.filtration {
            1 => n.alias.contains(&req.condition) || n.name.contains(&req.condition),
            2 => n.vendor.name() == req.condition,
            3 => req.condition.is_empty(),
            _ => true,
        })
        .collect();
    let skip = usize::try_from((req.page - 1).saturating_mul(req.limit)).unwrap_or(usize::MAX);
    let devices: Vec<Value> = matching
        .iter()
        .skip(skip)
        .take(req.limit as usize)
        .map(|n| device(&state, n, &req.args))
        .collect();
    let mut fields = Map::new();
    fields.insert("count".into(), matching.len().into());
    fields.insert("devices".into(), devices.into());
    Ok(success_with(fields))
}

/// `POST /api/v1/devices/query`.
#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct QueryRequest {
    sns: Vec<String>,
    #[serde(default)]
    args: Args,
}

#[utoipa::path(post, path = "/api/v1/devices/query", tag = "devices", request_body = QueryRequest, responses((status = 200, description = "`{code, msg, devices: {SN: {state: 1|0, base, radius}}}`")))]
pub(super) async fn query(
    State(state): State<Arc<AdminState>>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    caller.need(Role::Readonly)?;
    let lang = state.lang;
    let req: QueryRequest = parse(lang, &body)?;
    let all = nas::list(&state.backend, &state.kicker.directory.config_clients())
        .await
        .map_err(|e| from_nas(lang, e))?;
    let devices: Map<String, Value> = req
        .sns
        .iter()
        .map(|sn| {
            let found = all.iter().find(|n| n.name == *sn);
            let value = match found {
                Some(n) => {
                    let mut d = device(&state, n, &req.args);
                    d["state"] = 1.into();
                    d
                }
                None => json!({"state": 0}),
            };
            (sn.clone(), value)
        })
        .collect();
    let mut fields = Map::new();
    fields.insert("devices".into(), Value::Object(devices));
    Ok(success_with(fields))
}

#[utoipa::path(post, path = "/api/v1/devices/regist", tag = "devices", request_body = NewNas, responses((status = 200, description = "`{code: 0, msg: success}`; a live client within one sync interval"), (status = 400, description = "7001 invalid address, 7005 bad sn, 7009 bad alias, 7010 missing field, 1 malformed JSON"), (status = 409, description = "7007 sn exists, 7008 alias exists")))]
pub(super) async fn regist(
    State(state): State<Arc<AdminState>>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    caller.need(Role::Admin)?;
    let lang = state.lang;
    let new: NewNas = parse(lang, &body)?;
    nas::add(
        &state.backend,
        &state.kicker.directory.config_clients(),
        new,
    )
    .await
    .map_err(|e| from_nas(lang, e))?;
    Ok(success_with(Map::new()))
}

/// `POST /api/v1/devices/delete`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct DeleteRequest {
    sn: String,
}

#[utoipa::path(post, path = "/api/v1/devices/delete", tag = "devices", request_body = DeleteRequest, responses((status = 200, description = "`{code: 0, msg: success}`"), (status = 404, description = "7005 no such device"), (status = 409, description = "7007 defined in the config file")))]
pub(super) async fn delete(
    State(state): State<Arc<AdminState>>,
    caller: Caller,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    caller.need(Role::Admin)?;
    let lang = state.lang;
    let req: DeleteRequest = parse(lang, &body)?;
    nas::delete(
        &state.backend,
        &state.kicker.directory.config_clients(),
        &req.sn,
    )
    .await
    .map_err(|e| from_nas(lang, e))?;
    Ok(success_with(Map::new()))
}
