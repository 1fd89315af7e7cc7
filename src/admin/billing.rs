//! Billing endpoints of the operator API: settlement runs, payments, packages, and the
//! ledger, settlement records and settlement log. `turnstile settle|pay|package|ledger|
//! settlements` call them.
//!
//! A refusal answers with its code: E6002 (payment), E5040–E5042 (packages), E7001 /
//! E7006 / E7002–E7005 (settlement), E5992 (no such user), in the usual envelope.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

use super::access::Caller;
use super::reply::{done, success, ApiError, Body, ErrorReply, Params};
use super::AdminState;
use crate::billing::package;
use crate::billing::payment::{self, Payment};
use crate::billing::settle::SettleError;
use crate::clock;
use crate::codes::{ECode, Lang};
use crate::config::PayTo;
use crate::ops::tokens::Role;
use crate::ops::users::MAX_PAGE;
use crate::ops::{Done, Failure, OpsError};
use crate::store::billing::{Account, ListPage, Refusal, SettleScope};

/// The routes.
pub fn routes() -> Router<Arc<AdminState>> {
    Router::new()
        .route("/api/v1/settle", post(settle))
        .route("/api/v1/pay", post(pay))
        .route("/api/v1/ledger", get(ledger))
        .route("/api/v1/settlements", get(settlements))
        .route("/api/v1/settlement-log", get(settlement_log))
        .route("/api/v1/packages", get(packages))
        .route("/api/v1/packages/buy", post(buy))
        .route("/api/v1/packages/reserve", post(reserve))
        .route("/api/v1/packages/remove", post(remove))
}

type Answer = Result<Response, ApiError>;
type Filter = Params<ListFilter>;
type PackageBody = Body<PackageRequest>;

#[utoipa::path(get, path = "/api/v1/ledger", tag = "billing", params(ListFilter), responses((status = 200, description = "Ledger entries (every movement of money), newest first: a page (`data`: total, page, limit, rows, next_before)", body = ListPageView)))]
pub(super) async fn ledger(s: State<Arc<AdminState>>, c: Caller, q: Filter) -> Answer {
    list(s, c, q, Listing::Ledger).await
}

#[utoipa::path(get, path = "/api/v1/settlements", tag = "billing", params(ListFilter), responses((status = 200, description = "Settled cycles, newest first: a page (`data`: total, page, limit, rows, next_before)", body = ListPageView)))]
pub(super) async fn settlements(s: State<Arc<AdminState>>, c: Caller, q: Filter) -> Answer {
    list(s, c, q, Listing::Settlements).await
}

#[utoipa::path(get, path = "/api/v1/settlement-log", tag = "billing", params(ListFilter), responses((status = 200, description = "The settlement log (settlement and payment codes), each with its code's text: a page (`data`: total, page, limit, rows, next_before)", body = ListPageView)))]
pub(super) async fn settlement_log(s: State<Arc<AdminState>>, c: Caller, q: Filter) -> Answer {
    list(s, c, q, Listing::Log).await
}

#[utoipa::path(post, path = "/api/v1/packages/buy", tag = "billing", request_body = PackageRequest, responses((status = 200, description = "See the codes below"), (status = 404, description = "No such package", body = ErrorReply), (status = 409, description = "Refused, with the reason", body = ErrorReply)))]
pub(super) async fn buy(s: State<Arc<AdminState>>, c: Caller, b: PackageBody) -> Answer {
    package(s, c, b, PackageOp::Buy).await
}

#[utoipa::path(post, path = "/api/v1/packages/reserve", tag = "billing", request_body = PackageRequest, responses((status = 200, description = "Without `package` the reservation is cancelled")))]
pub(super) async fn reserve(s: State<Arc<AdminState>>, c: Caller, b: PackageBody) -> Answer {
    package(s, c, b, PackageOp::Reserve).await
}

#[utoipa::path(post, path = "/api/v1/packages/remove", tag = "billing", request_body = PackageRequest, responses((status = 200, description = "Refunded when unexpired and unused")))]
pub(super) async fn remove(s: State<Arc<AdminState>>, c: Caller, b: PackageBody) -> Answer {
    package(s, c, b, PackageOp::Remove).await
}

fn refused(lang: Lang, r: Refusal) -> ApiError {
    let failure = match r.code {
        ECode::UserNotFound | ECode::PackageNotFound => Failure::NotFound,
        ECode::PackagePurchaseFailed | ECode::PaymentFailed => Failure::Conflict,
        _ => Failure::BadRequest,
    };
    ApiError::from_ops(lang, OpsError::new(r.code, failure, r.reason))
}

/// E5990 for a request without `field`.
fn incomplete(lang: Lang, field: &str) -> ApiError {
    ApiError::from_ops(lang, OpsError::incomplete(format!("give {field}")))
}

fn store_error<E: std::fmt::Display>(lang: Lang) -> impl FnOnce(E) -> ApiError {
    move |e| {
        ApiError::from_ops(
            lang,
            crate::ops::OpsError::store(ECode::BackendNoResponse)(e),
        )
    }
}

/// The catalog as stored: a package plan just added is there before memory syncs.
async fn stored_catalog(state: &AdminState) -> Result<crate::catalog::Catalog, ApiError> {
    state
        .settler
        .catalog()
        .await
        .map_err(store_error(state.lang))
}

/// `POST /api/v1/settle`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SettleRequest {
    user: Option<String>,
    product: Option<String>,
    #[serde(default)]
    dry_run: bool,
}

#[utoipa::path(post, path = "/api/v1/settle", tag = "billing", request_body = SettleRequest, responses((status = 200, description = "The run: instances settled, charged, codes (…)"), (status = 404, description = "No such user, no such instance", body = ErrorReply)))]
pub(super) async fn settle(
    State(state): State<Arc<AdminState>>,
    caller: Caller,
    Body(req): Body<SettleRequest>,
) -> Result<Response, ApiError> {
    caller.need(Role::Admin)?;
    let lang = state.lang;
    let scope = SettleScope {
        user: req.user,
        product: req.product,
    };
    match state.settler.run(&scope, clock::now(), req.dry_run).await {
        Ok(report) => Ok(success(report)),
        Err(e) => {
            let status = match e {
                SettleError::NoSuchUser(..) | SettleError::NoInstance(..) => StatusCode::NOT_FOUND,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            let code = e.code();
            Err(ApiError {
                status,
                code: code.number(),
                msg: format!("{}: {e}", code.wire(lang)),
            })
        }
    }
}

/// `POST /api/v1/pay`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PayRequest {
    user: String,
    amount_fen: i64,
    /// "wallet", a product name, or absent for `[billing] pay_to`.
    to: Option<String>,
    note: Option<String>,
    /// Idempotency key; one is made up when absent.
    reference: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/pay", tag = "billing", request_body = PayRequest, responses((status = 200, description = "Paid: the wallet and balances after"), (status = 409, description = "Refused, with the reason (a reference already recorded …)", body = ErrorReply)))]
pub(super) async fn pay(
    State(state): State<Arc<AdminState>>,
    caller: Caller,
    Body(req): Body<PayRequest>,
) -> Result<Response, ApiError> {
    caller.need(Role::Operator)?;
    let lang = state.lang;
    let store = state.kicker.directory.store();
    let product = match req.to.as_deref() {
        Some("wallet") => None,
        Some(p) => Some(p.to_string()),
        None if state.pay_to == PayTo::Product => store
            .account(&req.user)
            .await
            .map_err(store_error(state.lang))?
            .and_then(|a| a.holdings.first().map(|(h, _)| h.product.clone())),
        None => None,
    };
    let at = clock::now();
    let reference = req
        .reference
        .unwrap_or_else(|| format!("pay:{}:{at}:{:016x}", req.user, rand::random::<u64>()));
    let p = Payment {
        amount_fen: req.amount_fen,
        product,
        reference,
        note: req.note,
        at,
    };
    match payment::pay(&*store, &req.user, &p).await {
        Ok(w) => Ok(success(serde_json::json!({
            "code": ECode::PaymentSucceeded.to_string(),
            "msg": ECode::PaymentSucceeded.wire(lang),
            "wallet_fen": w.wallet_fen,
            "balances": w.balances,
            "ledger": w.ledger,
        }))),
        Err(r) => Err(refused(lang, r)),
    }
}

/// `GET /api/v1/ledger|settlements|settlement-log?user=&limit=&page=&before=`.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ListFilter {
    /// One user's rows only.
    user: Option<String>,
    /// Rows per page: 1 to 1000 (default 100); more is capped to 1000, with a warning.
    limit: Option<u32>,
    /// Page number, from 1: skips (page − 1) × limit rows (after `before`).
    page: Option<u64>,
    /// Rows with an id below this one only: the `next_before` of the page before, which
    /// costs the same at any depth.
    before: Option<i64>,
}

/// `GET /api/v1/packages?user=`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UserParam {
    user: Option<String>,
}

/// A page of a billing list, newest first.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct ListPageView {
    /// Rows of the user filter in all.
    total: u64,
    /// This page's number, from 1.
    page: u64,
    /// Rows per page (after the cap).
    limit: u32,
    /// The rows, each with its `id`.
    rows: Vec<serde_json::Value>,
    /// The `before` of the next page; null on the last.
    next_before: Option<i64>,
}

/// One of the billing lists.
#[derive(Clone, Copy)]
pub(super) enum Listing {
    /// Ledger entries.
    Ledger,
    /// Settlement records.
    Settlements,
    /// Settlement log lines, each with its code's text.
    Log,
}

/// `GET /api/v1/ledger|settlements|settlement-log`: a page, newest first.
async fn list(
    State(state): State<Arc<AdminState>>,
    caller: Caller,
    Params(f): Params<ListFilter>,
    listing: Listing,
) -> Result<Response, ApiError> {
    let lang = state.lang;
    let asked = f.limit.unwrap_or(100);
    if asked == 0 {
        return Err(ApiError::invalid(lang, "limit must be at least 1"));
    }
    let limit = asked.min(MAX_PAGE);
    let page = f.page.unwrap_or(1);
    if page == 0 {
        return Err(ApiError::invalid(lang, "page counts from 1"));
    }
    let query = ListPage {
        user: caller.scope(f.user, Role::Readonly)?,
        before: f.before,
        offset: (page - 1).saturating_mul(u64::from(limit)),
        limit,
    };
    let store = state.kicker.directory.store();
    fn rows<T: Serialize>((total, rows): (u64, Vec<T>)) -> (u64, Vec<serde_json::Value>) {
        let rows = rows
            .iter()
            .map(|r| serde_json::to_value(r).unwrap_or_default());
        (total, rows.collect())
    }
    let listed = match listing {
        Listing::Ledger => store.ledger(&query).await.map(rows),
        Listing::Settlements => store.settlements(&query).await.map(rows),
        Listing::Log => store.settlement_log(&query).await.map(|(total, lines)| {
            let lines = lines.into_iter().map(|l| {
                let text = ECode::wire_of(l.code, lang);
                let mut v = serde_json::to_value(&l).unwrap_or_default();
                v["text"] = text.into();
                v
            });
            (total, lines.collect())
        }),
    };
    let (total, rows) = listed.map_err(store_error(lang))?;
    let next_before = match rows.last() {
        Some(last) if rows.len() == limit as usize => last["id"].as_i64(),
        _ => None,
    };
    let mut warnings = Vec::new();
    if asked > limit {
        warnings.push(format!(
            "limit {asked} is capped to {limit} rows a page: page on with before={}",
            next_before.map_or_else(|| "(none: this is the last page)".into(), |b| b.to_string())
        ));
    }
    let view = ListPageView {
        total,
        page,
        limit,
        rows,
        next_before,
    };
    Ok(done(
        lang,
        Done {
            code: None,
            warnings,
        },
        view,
    ))
}

/// `GET /api/v1/packages?user=U`: a user's packages and instances.
#[utoipa::path(get, path = "/api/v1/packages", tag = "billing", params(("user" = String, Query)), responses((status = 200, description = "The wallet, product instances and packages of a user"), (status = 404, description = "See the codes below", body = ErrorReply)))]
pub(super) async fn packages(
    State(state): State<Arc<AdminState>>,
    caller: Caller,
    Params(f): Params<UserParam>,
) -> Result<Response, ApiError> {
    let lang = state.lang;
    let user = f.user.ok_or_else(|| incomplete(lang, "user"))?;
    caller.acting_on(&user, Role::Readonly)?;
    let store = state.kicker.directory.store();
    let account = store
        .account(&user)
        .await
        .map_err(store_error(state.lang))?
        .ok_or_else(|| {
            refused(
                lang,
                Refusal {
                    code: ECode::UserNotFound,
                    reason: user.clone(),
                },
            )
        })?;
    let instances: Vec<serde_json::Value> = account
        .holdings
        .iter()
        .map(|(h, usage)| {
            serde_json::json!({
                "product": h.product,
                "balance_fen": h.balance_fen,
                "cycle_start": h.cycle_start,
                "cycle_end": h.cycle_end,
                "reserved_package": h.reserved_package,
                "usage": usage,
            })
        })
        .collect();
    Ok(success(serde_json::json!({
        "user": account.user,
        "wallet_fen": account.wallet_fen,
        "instances": instances,
        "packages": account.packages,
    })))
}

/// `POST /api/v1/packages/buy|reserve|remove`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PackageRequest {
    user: String,
    /// Package plan (buy, reserve; absent in reserve cancels the reservation).
    package: Option<String>,
    /// Product instance; absent: the user's first.
    product: Option<String>,
    /// Package id (remove).
    id: Option<i64>,
}

/// What a `POST /api/v1/packages/…` does.
#[derive(Clone, Copy)]
pub(super) enum PackageOp {
    /// Buy a plan onto an instance (E5040; E5041, E5042).
    Buy,
    /// Reserve a plan for each settlement, or cancel the reservation.
    Reserve,
    /// Take a package back.
    Remove,
}

/// `POST /api/v1/packages/buy|reserve|remove`: one money transaction on the user.
async fn package(
    State(state): State<Arc<AdminState>>,
    caller: Caller,
    Body(req): Body<PackageRequest>,
    op: PackageOp,
) -> Result<Response, ApiError> {
    caller.need(Role::Operator)?;
    let lang = state.lang;
    let catalog = stored_catalog(&state).await?;
    let now = clock::now();
    let product = req.product.as_deref();
    let planned = |a: &Account| match op {
        PackageOp::Buy => {
            let name = req.package.as_deref().unwrap_or_default();
            let reference = format!("package:{}:{now}:{:016x}", req.user, rand::random::<u64>());
            package::plan_buy(a, &catalog, product, name, now, &reference)
        }
        PackageOp::Reserve => package::plan_reserve(a, &catalog, product, req.package.as_deref()),
        PackageOp::Remove => package::plan_remove(a, &catalog, req.id.unwrap_or_default(), now),
    };
    let (failure, done) = match op {
        PackageOp::Buy if req.package.is_none() => return Err(incomplete(lang, "package")),
        PackageOp::Remove if req.id.is_none() => return Err(incomplete(lang, "id")),
        PackageOp::Buy => (ECode::PackagePurchaseFailed, ECode::PackagePurchased),
        PackageOp::Reserve | PackageOp::Remove => (ECode::UserModifyFailed, ECode::UserModified),
    };
    let store = state.kicker.directory.store();
    let outcome = package::transact(&*store, &req.user, failure, &planned).await;
    let code = outcome.as_ref().map_or_else(|r| r.code, |_| done);
    if let Ok(w) = &outcome {
        crate::billing::count_ledger(&w.ledger);
    }
    metrics::counter!("turnstile_package_operations_total", "code" => code.to_string())
        .increment(1);
    match outcome {
        Ok(w) => Ok(success(serde_json::json!({
            "code": done.to_string(),
            "msg": done.wire(lang),
            "wallet_fen": w.wallet_fen,
            "balances": w.balances,
            "packages": w.new_packages,
            "ledger": w.ledger,
        }))),
        Err(r) => Err(refused(lang, r)),
    }
}
