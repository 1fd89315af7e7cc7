//! The API's envelope and request bodies.
//!
//! Every reply is `{"code": 0, "msg": "success", "data": …}`; a refusal is `{"code":
//! 5993, "msg": …}`, the message being the code, its text and the detail, with a
//! meaningful HTTP status (400 bad input, 401/403 authentication, 404 unknown, 409
//! conflict, 413 too large). An operation with a result code adds `"result"` (the code
//! and its text), and `"warnings"` when there are some. The code of every reply is also left in the response's
//! extensions ([`Outcome`]) for the audit log.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};
use std::sync::Arc;

use super::AdminState;
use crate::codes::{ECode, Lang};
use crate::ops::{json, Done, Failure, OpsError};

/// The code a reply carried: 0, an E-code number, or the HTTP status when there is no
/// E-code (401, 403, 413).
#[derive(Debug, Clone, Copy)]
pub struct Outcome(pub u32);

/// A refusal as it is sent (for the API document).
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorReply {
    /// The E-code number (5993), or the HTTP status where no E-code fits (401, 403, 413).
    pub code: u32,
    /// The code, its text (in the configured language) and the detail.
    pub msg: String,
}

/// The envelope of every success (for the API document): `data` holds what each
/// operation documents.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Envelope {
    /// 0.
    pub code: u32,
    /// `success`.
    pub msg: String,
    /// The operation's result code and its text, when it has one.
    pub result: Option<String>,
    /// What the operator should know (a reference to something that does not exist yet).
    pub warnings: Option<Vec<String>>,
    /// The operation's data.
    pub data: serde_json::Value,
}

/// An error reply.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// E-code number, or the HTTP status when none fits.
    pub code: u32,
    /// `CODE: text: reason`.
    pub msg: String,
}

impl ApiError {
    /// E5991 (400).
    pub fn invalid(lang: Lang, what: impl std::fmt::Display) -> ApiError {
        ApiError::from_ops(lang, OpsError::invalid(what.to_string()))
    }

    /// The reply to a refused operation.
    pub fn from_ops(lang: Lang, e: OpsError) -> ApiError {
        let status = match e.failure {
            Failure::BadRequest => StatusCode::BAD_REQUEST,
            Failure::NotFound => StatusCode::NOT_FOUND,
            Failure::Conflict => StatusCode::CONFLICT,
            Failure::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError {
            status,
            code: e.code.number(),
            msg: e.message(lang),
        }
    }

    /// A refusal without an E-code: the status is the code.
    pub fn status(status: StatusCode, msg: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: u32::from(status.as_u16()),
            msg: msg.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorReply {
            code: self.code,
            msg: self.msg,
        };
        let mut r = (self.status, Json(body)).into_response();
        r.extensions_mut().insert(Outcome(self.code));
        r
    }
}

/// `{"code": 0, "msg": "success"}` with `fields` beside (the device registry puts
/// `count` and `devices` there).
pub fn success_with(fields: Map<String, Value>) -> Response {
    let mut body = Map::new();
    body.insert("code".into(), 0.into());
    body.insert("msg".into(), "success".into());
    body.extend(fields);
    let mut r = Json(Value::Object(body)).into_response();
    r.extensions_mut().insert(Outcome(0));
    r
}

/// `{"code": 0, "msg": "success", "data": data}`, with `extra` fields beside `data`.
pub fn envelope(data: impl Serialize, mut extra: Map<String, Value>) -> Response {
    extra.insert(
        "data".into(),
        serde_json::to_value(data).unwrap_or(Value::Null),
    );
    success_with(extra)
}

/// A success with `data`.
pub fn success(data: impl Serialize) -> Response {
    envelope(data, Map::new())
}

/// A success of an operation: its result code and warnings, and `data`.
pub fn done(lang: Lang, done: Done, data: impl Serialize) -> Response {
    let mut extra = Map::new();
    if let Some(code) = done.code {
        extra.insert("result".into(), code.wire(lang).into());
    }
    if !done.warnings.is_empty() {
        extra.insert("warnings".into(), done.warnings.into());
    }
    envelope(data, extra)
}

/// Turns an operation's result into a reply.
pub fn reply<T: Serialize>(lang: Lang, r: Result<T, OpsError>) -> Result<Response, ApiError> {
    r.map(success).map_err(|e| ApiError::from_ops(lang, e))
}

/// A JSON request body as `T`: malformed JSON, a key given twice, a body that is not
/// an object, a wrong type or an unknown field is E5991, a missing field E5990, each
/// naming the field ([`json`]); a body over the route's limit is 413.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned> FromRequest<Arc<AdminState>> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Arc<AdminState>) -> Result<Self, ApiError> {
        let lang = state.lang;
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::status(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "{}: the body is too large",
                        ECode::InvalidParameter.wire(lang)
                    ),
                )
            } else {
                ApiError::invalid(lang, e.body_text())
            }
        })?;
        let object = json::parse_object(&bytes).map_err(|e| ApiError::invalid(lang, e))?;
        crate::ops::from_json(Value::Object(object))
            .map(Body)
            .map_err(|e| ApiError::from_ops(lang, e))
    }
}

/// Query parameters as `T`; a bad or unknown one is E5991, named.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned> axum::extract::FromRequestParts<Arc<AdminState>> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &Arc<AdminState>,
    ) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|q| Params(q.0))
            .map_err(|e| ApiError::invalid(state.lang, e.body_text()))
    }
}
