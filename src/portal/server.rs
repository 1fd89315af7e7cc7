//! The portal's HTTP endpoints, wire-compatible with the Srun portal: `/` redirects to the
//! page URL with `ac_id`; `/cgi-bin/get_challenge`, `/cgi-bin/srun_portal` (login and
//! logout), `/cgi-bin/rad_user_info` and `/cgi-bin/rad_user_dm`. Every outcome is HTTP
//! 200 with the reply shapes real clients parse. Once the Srun checks pass, a login or
//! logout is [`super::login`]'s, which knows nothing of HTTP.

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde_json::Value;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;
use tokio_util::sync::CancellationToken;

use super::challenge::Challenges;
use super::login::{self, Attempt, Logout, Refusal};
use crate::auth::Service;
use crate::clock;
use crate::codes::{ECode, Lang};
use crate::proto::jsonp::{callback_allowed, wrap, Fields};
use crate::proto::srun::{chksum, decode_info, dm_sign, Signed};
use crate::session::kick::Kicker;

pub use crate::session::PORTAL_NAS;
/// The version banner clients see.
const SRUN_VER: &str = "turnstile SRunCGIAuthIntfSvr V1.18";
/// What Srun portals answer when the access device does not confirm (§1.10's sentence).
const BAS_TIMEOUT: &str = "INFO failed, BAS respond timeout.";

/// What the handlers share.
pub struct PortalState {
    /// The login service: directory, login history, language.
    pub auth: Arc<Service>,
    /// The online table; records portal sessions, ends them, and switches their service
    /// on a NAS.
    pub kicker: Arc<Kicker>,
    /// Live challenges.
    pub challenges: Challenges,
    /// Allowed `ac_id` values.
    pub ac_ids: Vec<String>,
    /// Login attempts per client address.
    pub rate: super::rate::LoginRate,
    /// Logins in progress, one per address.
    pub logins: super::address_lock::AddressLocks,
}

/// The portal's routes over `state`; requests need `ConnectInfo<SocketAddr>`.
pub fn router(state: Arc<PortalState>) -> Router {
    let first_ac = state.ac_ids.first().cloned().unwrap_or_else(|| "1".into());
    Router::new()
        .route(
            "/",
            get(move || async move {
                Redirect::to(&format!("/srun_portal_pc?ac_id={first_ac}&theme=basic"))
            }),
        )
        .route("/srun_portal_pc", get(page))
        .route("/srun_portal_phone", get(page))
        .route("/srun_portal_success", get(page))
        .route("/static/{name}", get(asset))
        .route("/cgi-bin/get_challenge", get(get_challenge))
        .route("/cgi-bin/srun_portal", get(srun_portal))
        .route("/cgi-bin/rad_user_info", get(rad_user_info))
        .route("/cgi-bin/rad_user_dm", get(rad_user_dm))
        .with_state(state)
}

/// Serves the portal on `listener` until `shutdown` is cancelled and its connections
/// have finished.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<PortalState>,
    limits: crate::config::HttpSettings,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(state.challenges.lifetime());
    let prune = async {
        loop {
            tick.tick().await;
            state.challenges.prune(Instant::now());
            state.rate.prune(Instant::now());
        }
    };
    let app = router(state.clone());
    tokio::select! {
        () = crate::http_listener::serve(listener, app, None, limits, "portal", shutdown) => {}
        () = prune => {}
    }
}

type Params = HashMap<String, String>;

fn param<'a>(p: &'a Params, name: &str) -> &'a str {
    p.get(name).map(String::as_str).unwrap_or("")
}

/// `ip` when it is given and valid, else the source address.
fn online_ip(p: &Params, source: IpAddr) -> IpAddr {
    param(p, "ip").trim().parse().unwrap_or(source)
}

/// The fields every JSON reply carries.
fn base(client: IpAddr, online: IpAddr, error: &str) -> Fields {
    Fields::default()
        .set("client_ip", client.to_string())
        .set("online_ip", online.to_string())
        .set("ecode", 0)
        .set("error", error)
        .set("error_msg", "")
        .set("res", error)
        .set("srun_ver", SRUN_VER)
        .set("st", clock::now())
}

/// The reply: JSONP with a callback, else `legacy` text (or the bare JSON when None).
fn respond(p: &Params, fields: Fields, legacy: Option<String>) -> Response {
    let body = match p.get("callback") {
        Some(cb) if !callback_allowed(cb) => {
            return (StatusCode::BAD_REQUEST, "callback name refused").into_response();
        }
        Some(cb) => wrap(cb, &fields.json()),
        None => legacy.unwrap_or_else(|| fields.json()),
    };
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn page(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(source): ConnectInfo<SocketAddr>,
    Query(p): Query<Params>,
) -> Response {
    let ip = source.ip();
    let ac_id = p
        .get("ac_id")
        .filter(|a| state.ac_ids.contains(a))
        .cloned()
        .unwrap_or_else(|| state.ac_ids.first().cloned().unwrap_or_default());
    let html = super::page::render(ip, &ac_id, state.auth.lang);
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response()
}

async fn asset(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    match super::page::asset(&name) {
        Some((content_type, body)) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CACHE_CONTROL, "max-age=300"),
            ],
            body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

async fn get_challenge(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(source): ConnectInfo<SocketAddr>,
    Query(p): Query<Params>,
) -> Response {
    let ip = online_ip(&p, source.ip());
    let Some((challenge, left)) = state.challenges.issue(ip, Instant::now()) else {
        metrics::counter!("turnstile_portal_challenges_refused_total").increment(1);
        return refuse(&p, source.ip(), ip, "speed_limit_error");
    };
    let fields = base(source.ip(), ip, "ok")
        .set("challenge", challenge)
        .set("expire", left.to_string());
    respond(&p, fields, None)
}

async fn srun_portal(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(source): ConnectInfo<SocketAddr>,
    Query(p): Query<Params>,
) -> Response {
    match param(&p, "action") {
        "login" => login(&state, source.ip(), &p).await,
        "logout" => logout(&state, source.ip(), &p).await,
        _ => {
            let ip = online_ip(&p, source.ip());
            let fields = base(source.ip(), ip, "missing_required_parameters_error");
            respond(&p, fields, Some("missing_required_parameters_error".into()))
        }
    }
}

/// A protocol-level refusal: `ecode` 0, `error` = `res` = the token.
fn refuse(p: &Params, client: IpAddr, online: IpAddr, token: &str) -> Response {
    respond(
        p,
        base(client, online, token),
        Some(format!("login_error#{token}")),
    )
}

/// The user an account name refers to: the name as given, else without `@domain`.
fn account_name<'a>(state: &PortalState, username: &'a str) -> &'a str {
    if state.auth.directory().user(username).is_some() {
        return username;
    }
    split_domain(username).0
}

/// `user@domain` as (user, domain); no `@`, no domain.
fn split_domain(name: &str) -> (&str, &str) {
    name.split_once('@').unwrap_or((name, ""))
}

/// A hex signature as sent matches ours: clients add a newline or upper-case it.
fn signature_matches(sent: &str, expected: &str) -> bool {
    sent.trim().eq_ignore_ascii_case(expected)
}

async fn login(state: &PortalState, client: IpAddr, p: &Params) -> Response {
    let ip = online_ip(p, client);
    let lang = state.auth.lang;
    if !state.rate.allow(client, Instant::now()) {
        metrics::counter!("turnstile_portal_rate_limited_total").increment(1);
        return refuse(p, client, ip, "speed_limit_error");
    }
    let required = ["username", "password", "ac_id", "info", "chksum"];
    if required.iter().any(|k| param(p, k).is_empty()) {
        return refuse(p, client, ip, "missing_required_parameters_error");
    }
    if !state.ac_ids.iter().any(|a| a == param(p, "ac_id")) {
        return refuse(p, client, ip, "no_acid_error");
    }
    let username = param(p, "username");
    let _held = state.logins.hold(ip).await;
    if !state.kicker.online.with_ip(ip).is_empty() {
        // Real portals answer this before looking at the password.
        let fields = base(client, ip, "ok")
            .set("suc_msg", "ip_already_online_error")
            .set("username", username);
        return respond(p, fields, Some("ip_already_online_error".into()));
    }
    let Some(hmd5) = param(p, "password").strip_prefix("{MD5}") else {
        return refuse(p, client, ip, "password_algo_error");
    };
    let Some(challenge) = state.challenges.take(ip, Instant::now()) else {
        return refuse(p, client, ip, "challenge_expire_error");
    };
    let info = param(p, "info");
    let Some(password) = read_info(info, &challenge, p) else {
        return refuse(p, client, ip, "auth_info_error");
    };
    let n = p.get("n").map_or("200", String::as_str);
    let typ = p.get("type").map_or("1", String::as_str);
    let expected = chksum(
        &challenge,
        &Signed {
            username,
            hmd5,
            ac_id: param(p, "ac_id"),
            ip: param(p, "ip"),
            n,
            typ,
            info,
        },
    );
    if !signature_matches(param(p, "chksum"), &expected) {
        return refuse(p, client, ip, "sign_error");
    }

    let attempt = Attempt {
        account: account_name(state, username),
        password: &password,
        ip,
        ac_id: param(p, "ac_id"),
    };
    match login::login(&state.auth, &state.kicker, &attempt).await {
        Ok(_) => {}
        Err(Refusal::Rejected(code)) => {
            let fields = base(client, ip, "login_error")
                .set("ecode", code.to_string())
                .set("error_msg", code.wire(lang));
            return respond(p, fields, Some(format!("login_error#{}", code.wire(lang))));
        }
        Err(Refusal::NotActivated) => return bas_timeout(p, client, ip),
        Err(Refusal::NotRecorded) => return refuse(p, client, ip, "no_response_data_error"),
    }
    let fields = base(client, ip, "ok")
        .set("suc_msg", "login_ok")
        .set("ploy_msg", ECode::LoginSuccess.wire(Lang::En))
        .set("username", username)
        .set("real_name", "")
        .set("access_token", challenge)
        .set("ServerFlag", 0)
        .set("checkout_date", 0)
        .set("remain_flux", 0)
        .set("remain_times", 0)
        .set("wallet_balance", 0)
        .set("sysver", env!("CARGO_PKG_VERSION"));
    respond(p, fields, Some("login_ok".into()))
}

/// The plain password from `info`, when it decrypts, parses, and names the same user,
/// ac_id and address as the query (`acid` may be a string or a number; an address
/// missing on either side is not compared, as dual-stack pages leave one empty).
fn read_info(info: &str, challenge: &str, query: &Params) -> Option<String> {
    let bytes = decode_info(info, challenge).ok()?;
    let text = String::from_utf8(bytes.clone())
        .unwrap_or_else(|_| bytes.iter().map(|&b| b as char).collect());
    let v: Value = serde_json::from_str(&text).ok()?;
    let acid = match &v["acid"] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    if v["username"].as_str()? != param(query, "username") || acid != param(query, "ac_id") {
        return None;
    }
    let (sent, asked) = (
        v["ip"].as_str().unwrap_or("").trim(),
        param(query, "ip").trim(),
    );
    if !sent.is_empty() && !asked.is_empty() && sent != asked {
        return None;
    }
    Some(v["password"].as_str()?.to_string())
}

/// The NAS did not confirm an activation or deactivation.
fn bas_timeout(p: &Params, client: IpAddr, ip: IpAddr) -> Response {
    let fields = base(client, ip, "login_error").set("error_msg", BAS_TIMEOUT);
    respond(p, fields, Some(format!("login_error#{BAS_TIMEOUT}")))
}

async fn logout(state: &PortalState, client: IpAddr, p: &Params) -> Response {
    let ip = online_ip(p, client);
    match login::log_out(&state.kicker, client, ip, ECode::UserRequest).await {
        Logout::Ended => respond(p, base(client, ip, "ok"), Some("logout_ok".into())),
        Logout::Kept => bas_timeout(p, client, ip),
        Logout::NotOnline => not_online(p, client, ip),
    }
}

/// Logout of an address with nothing online.
fn not_online(p: &Params, client: IpAddr, ip: IpAddr) -> Response {
    let fields = base(client, ip, "not_online_error").set("error_msg", "You are not online.");
    respond(p, fields, Some("login_error#You are not online.".into()))
}

async fn rad_user_info(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(source): ConnectInfo<SocketAddr>,
    Query(p): Query<Params>,
) -> Response {
    let client = source.ip();
    let ip = online_ip(&p, client);
    let keys = state.kicker.online.with_ip(ip);
    // A NAS's own accounting for the address knows its traffic; a portal session does not.
    let key = keys.iter().find(|k| &*k.nas != PORTAL_NAS).or(keys.first());
    let session = key.and_then(|k| state.kicker.online.get(k));
    let Some(s) = session else {
        return respond(
            &p,
            base(client, ip, "not_online_error"),
            Some("not_online_error".into()),
        );
    };
    let r = &s.record;
    let now = clock::now();
    let (user, domain) = split_domain(&r.user);
    let balance = state
        .auth
        .directory()
        .user(&r.user)
        .map_or(0, |u| u.profile.balance_fen / 100);
    let seconds = (now - r.started_at).max(r.session_time);
    // Srun's bytes_in is what the user downloaded: our output octets.
    let fields = base(client, ip, "ok")
        .set("user_name", user)
        .set("domain", domain)
        .set("add_time", r.started_at)
        .set("keepalive_time", now)
        .set("bytes_in", r.output_octets)
        .set("bytes_out", r.input_octets)
        .set("all_bytes", r.input_octets + r.output_octets)
        .set("sum_bytes", r.input_octets + r.output_octets)
        .set("sum_seconds", seconds)
        .set("user_balance", balance)
        .set("wallet_balance", 0)
        .set("user_charge", 0)
        .set("products_name", r.product.clone().unwrap_or_default())
        .set("products_id", "")
        .set(
            "online_device_total",
            state.kicker.online.counts(&r.user).user.to_string(),
        )
        .set("ServerFlag", 0)
        .set("sysver", env!("CARGO_PKG_VERSION"));
    let legacy = format!(
        "{user},{},{now},{},{},0,{},{seconds},{ip},0,,{balance},0,0,0,0,0,0,0,0,{}",
        r.started_at,
        r.output_octets,
        r.input_octets,
        r.input_octets + r.output_octets,
        env!("CARGO_PKG_VERSION")
    );
    respond(&p, fields, Some(legacy))
}

async fn rad_user_dm(
    State(state): State<Arc<PortalState>>,
    ConnectInfo(source): ConnectInfo<SocketAddr>,
    Query(p): Query<Params>,
) -> Response {
    let client = source.ip();
    let ip = online_ip(&p, client);
    let (time, username, unbind) = (
        param(&p, "time"),
        param(&p, "username"),
        param(&p, "unbind"),
    );
    let expected = dm_sign(time, username, param(&p, "ip"), unbind);
    if !signature_matches(param(&p, "sign"), &expected) {
        return refuse(&p, client, ip, "sign_error");
    }
    let skew = time
        .parse::<i64>()
        .map_or(i64::MAX, |t| (clock::now() - t).abs());
    if skew > 2 * 3600 {
        let code = ECode::ClientClockWrong;
        let fields = base(client, ip, "login_error")
            .set("ecode", code.to_string())
            .set("error_msg", code.wire(state.auth.lang));
        return respond(&p, fields, Some(format!("login_error#{code}")));
    }
    match login::log_out(&state.kicker, client, ip, ECode::DmFromSelfService).await {
        Logout::Ended => respond(&p, base(client, ip, "logout_ok"), Some("logout_ok".into())),
        Logout::Kept => bas_timeout(&p, client, ip),
        Logout::NotOnline => not_online(&p, client, ip),
    }
}

/// The checklist of client quirks the protocol description ends with, item by item; the
/// items that need a running daemon (3, any hmd5; the redirect of 8) are in
/// `tests/portal.rs`.
#[cfg(test)]
mod checklist {
    use super::*;

    fn body_of(response: Response) -> (StatusCode, String) {
        let status = response.status();
        let bytes = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(axum::body::to_bytes(response.into_body(), 1 << 20))
            .unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    fn query(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Item 1: `cb(JSON)` exactly, compact JSON with sorted keys, HTTP 200; legacy text without
    /// a callback; a refused callback never echoed.
    #[test]
    fn item_1_framing() {
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        let fields = base(ip, ip, "ok")
            .set("challenge", "c")
            .set("ServerFlag", 0);
        let (status, body) = body_of(respond(
            &query(&[("callback", "jQuery1_2")]),
            fields.clone(),
            None,
        ));
        assert_eq!(status, StatusCode::OK);
        assert!(
            body.starts_with(r#"jQuery1_2({"ServerFlag":0,"challenge":"c","client_ip":"10.0.0.9""#),
            "{body}"
        );
        assert!(body.ends_with("})") && !body.contains(": ") && !body.contains('\n'));
        let json = &body["jQuery1_2(".len()..body.len() - 1];
        let keys: Vec<String> = serde_json::from_str::<serde_json::Map<String, Value>>(json)
            .unwrap()
            .keys()
            .cloned()
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        let (_, legacy) = body_of(respond(
            &query(&[]),
            fields.clone(),
            Some("logout_ok".into()),
        ));
        assert_eq!(legacy, "logout_ok");
        let (_, bare) = body_of(respond(&query(&[]), fields.clone(), None));
        assert_eq!(bare, fields.json());
        let (status, refused) =
            body_of(respond(&query(&[("callback", "x</script>")]), fields, None));
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(!refused.contains("script"));
    }

    /// Item 2: a chksum with a trailing newline or whitespace, in either case.
    #[test]
    fn item_2_chksum_whitespace_and_case() {
        let ours = "a5d4e260a6bd874d7036cb1ed3b251aaef3bd522";
        for sent in [
            ours.to_string(),
            format!("{ours}\n"),
            format!(" {ours} "),
            ours.to_uppercase(),
        ] {
            assert!(signature_matches(&sent, ours), "{sent:?}");
        }
        assert!(!signature_matches("", ours));
        assert!(!signature_matches(&ours[1..], ours));
    }

    /// Item 4: `info` JSON in any key order, with whitespace, `acid` a string or a number,
    /// `\u` escapes; a different user, ac_id or address is refused.
    #[test]
    fn item_4_info_json_forms() {
        let t = "e6843f26b8544327a3a25978dd3c5f89e6b745df1732993b88fe082c13a34cb9";
        let read_at = |json: &str, user: &str, ac: &str, ip: &str| {
            let q = query(&[("username", user), ("ac_id", ac), ("ip", ip)]);
            read_info(&crate::proto::srun::encode_info(json, t), t, &q)
        };
        let read = |json: &str, user: &str, ac: &str| read_at(json, user, ac, "");
        let forms = [
            r#"{"username":"bob","password":"p\u00e9","ip":"","acid":"1","enc_ver":"srun_bx1"}"#,
            r#"{ "enc_ver" : "srun_bx1", "acid" : 1, "ip" : "", "password" : "p\u00e9", "username" : "bob" }"#,
            "{\n\t\"acid\": 1,\n\t\"username\": \"b\\u006fb\",\n\t\"password\": \"pé\"\n}",
        ];
        for json in forms {
            assert_eq!(read(json, "bob", "1").as_deref(), Some("pé"), "{json}");
        }
        assert_eq!(read(forms[0], "alice", "1"), None);
        assert_eq!(read(forms[1], "bob", "2"), None);
        assert_eq!(read(r#"{"username":"bob"}"#, "bob", "1"), None);
        assert_eq!(read("not json", "bob", "1"), None);
        let at = r#"{"username":"bob","password":"p","ip":"10.0.0.9","acid":"1"}"#;
        assert_eq!(read_at(at, "bob", "1", "10.0.0.9").as_deref(), Some("p"));
        assert_eq!(read_at(at, "bob", "1", "").as_deref(), Some("p"));
        assert_eq!(
            read_at(forms[0], "bob", "1", "10.0.0.9").as_deref(),
            Some("pé")
        );
        assert_eq!(read_at(at, "bob", "1", "10.0.0.8"), None);
    }

    /// Item 5: `username` with or without `@domain`; reported without it, the domain apart.
    #[test]
    fn item_5_domain() {
        assert_eq!(split_domain("2020123@cmcc"), ("2020123", "cmcc"));
        assert_eq!(split_domain("2020123"), ("2020123", ""));
        assert_eq!(split_domain("a@b@c"), ("a", "b@c"));
    }

    /// Item 6: optional parameters: an empty or absent `ip` means the source address.
    #[test]
    fn item_6_optional_parameters() {
        let source: IpAddr = "10.2.3.4".parse().unwrap();
        assert_eq!(online_ip(&query(&[]), source), source);
        assert_eq!(online_ip(&query(&[("ip", "")]), source), source);
        assert_eq!(
            online_ip(&query(&[("ip", " 10.9.9.9 ")]), source),
            "10.9.9.9".parse::<IpAddr>().unwrap()
        );
        assert_eq!(online_ip(&query(&[("ip", "garbage")]), source), source);
    }

    /// Item 7: `client_ip` and `online_ip` are IP literals in every reply.
    #[test]
    fn item_7_addresses_always_present() {
        let (c, o): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "::1".parse().unwrap());
        for token in ["ok", "not_online_error", "sign_error", "login_error"] {
            let f = base(c, o, token);
            assert_eq!(
                f.0["client_ip"]
                    .as_str()
                    .unwrap()
                    .parse::<IpAddr>()
                    .unwrap(),
                c
            );
            assert_eq!(
                f.0["online_ip"]
                    .as_str()
                    .unwrap()
                    .parse::<IpAddr>()
                    .unwrap(),
                o
            );
            assert_eq!(f.0["ecode"], 0);
        }
    }

    /// Item 8: the page carries `id="user_ip" value=`, `CONFIG` with `ip : "…"`, and the `ac_id`
    /// input (the redirect is checked over HTTP).
    #[test]
    fn item_8_page_contract() {
        let page = super::super::page::render("10.0.0.7".parse().unwrap(), "3", Lang::En);
        assert!(page.contains(r#"id="user_ip" value="10.0.0.7""#));
        assert!(page.contains(r#"var CONFIG = { ip : "10.0.0.7""#));
        assert!(page.contains(r#"name="ac_id" value="3""#));
    }
}
