//! Any request to the portal's HTTP endpoints, through the handlers the daemon serves:
//! a raw query to any route, or a login signed as the official page signs it (with the
//! user, password, address and `ac_id` from the input) followed by the user's status
//! and a logout. Every request is answered, never with a server error; a JSONP answer
//! is framed by the callback it was asked for.
#![no_main]

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use axum::Router;
use libfuzzer_sys::fuzz_target;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tower::ServiceExt;
use turnstile::portal::challenge::Challenges;
use turnstile::portal::rate::LoginRate;
use turnstile::portal::server::{router, PortalState};
use turnstile::proto::srun::client_login;
use turnstile::session::dynauth::DynAuthClient;
use turnstile::session::kick::Kicker;
use turnstile::session::journal::{Backing, Journal};

#[path = "../fixture/mod.rs"]
mod fixture;

const ROUTES: [&str; 8] = [
    "/cgi-bin/get_challenge",
    "/cgi-bin/srun_portal",
    "/cgi-bin/rad_user_info",
    "/cgi-bin/rad_user_dm",
    "/srun_portal_pc",
    "/static/app.js",
    "/",
    "/cgi-bin/srun_portal?action=logout",
];

struct Portal {
    fixture: fixture::Fixture,
    app: Router,
}

fn portal() -> &'static Portal {
    static PORTAL: OnceLock<Portal> = OnceLock::new();
    PORTAL.get_or_init(|| {
        let fixture = fixture::fixture("portal");
        let settings = &fixture.settings;
        let app = fixture.runtime.block_on(async {
            let (journal, journal_task) = Journal::restore(Backing {
                store: fixture.directory.store(),
                online: fixture.online.clone(),
                meter: fixture.meter.clone(),
                directory: fixture.directory.clone(),
            })
            .await
            .expect("the journal");
            // It runs as long as the journal handle lives: for the whole process.
            drop(journal_task);
            let dynauth =
                DynAuthClient::bind(IpAddr::V4(Ipv4Addr::LOCALHOST), 1 << 16, settings.dynauth)
                    .await
                    .expect("a DM/CoA socket");
            let kicker = Arc::new(Kicker {
                online: fixture.online.clone(),
                journal,
                directory: fixture.directory.clone(),
                dynauth,
                activation: settings.portal.activation.clone(),
            });
            router(Arc::new(PortalState {
                auth: fixture.service.clone(),
                kicker,
                challenges: Challenges::new(Duration::from_secs(settings.portal.challenge_secs)),
                ac_ids: settings.portal.ac_ids.clone(),
                rate: LoginRate::new(settings.portal.logins_per_minute),
                logins: Default::default(),
            }))
        });
        Portal { fixture, app }
    })
}

/// `text` with every byte but letters and digits percent-encoded.
fn escape(text: &[u8]) -> String {
    text.iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Sends `uri` from `client`; returns the status and the body.
fn get(portal: &Portal, client: IpAddr, uri: &str) -> Option<(StatusCode, String)> {
    // What hyper would not accept never reaches the handlers.
    let mut request = Request::get(uri).body(Body::empty()).ok()?;
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::new(client, 40000)));
    let response = portal
        .fixture
        .runtime
        .block_on(portal.app.clone().oneshot(request))
        .expect("the router is infallible");
    let status = response.status();
    let body = portal
        .fixture
        .runtime
        .block_on(axum::body::to_bytes(response.into_body(), 1 << 20))
        .expect("a body under 1 MiB");
    let body = String::from_utf8(body.to_vec()).expect("a UTF-8 body");
    assert!(!status.is_server_error(), "{uri}: {status} {body}");
    Some((status, body))
}

fuzz_target!(|data: &[u8]| {
    let portal = portal();
    let [mode, a, b, rest @ ..] = data else {
        return;
    };
    // Sources spread over a /16, so that the per-address login rate rarely decides.
    let client = IpAddr::V4(Ipv4Addr::new(10, 1, *a, *b));
    if let Some(route) = ROUTES.get(usize::from(*mode)) {
        let Ok(query) = std::str::from_utf8(rest) else {
            return;
        };
        let joint = if route.contains('?') { '&' } else { '?' };
        if let Some((status, body)) = get(portal, client, &format!("{route}{joint}{query}")) {
            if status == StatusCode::OK && body.starts_with("cb(") {
                assert!(body.ends_with(')'), "{body}");
            }
        }
        return;
    }
    // A signed login: user, password, address and ac_id separated by NUL bytes.
    let mut fields = rest.splitn(4, |&c| c == 0);
    let (user, password, ip, ac_id) = (
        fields.next().unwrap_or_default(),
        fields.next().unwrap_or_default(),
        fields.next().unwrap_or_default(),
        fields.next().unwrap_or(b"1"),
    );
    let (Ok(user), Ok(password), Ok(ip), Ok(ac_id)) = (
        std::str::from_utf8(user),
        std::str::from_utf8(password),
        std::str::from_utf8(ip),
        std::str::from_utf8(ac_id),
    ) else {
        return;
    };
    let at = format!("ip={}", escape(ip.as_bytes()));
    let Some((StatusCode::OK, body)) = get(portal, client, &format!("/cgi-bin/get_challenge?{at}"))
    else {
        return;
    };
    let reply: serde_json::Value = serde_json::from_str(&body).expect("a JSON reply");
    let Some(challenge) = reply["challenge"].as_str() else {
        return;
    };
    let hmd5 = "0123456789abcdef0123456789abcdef";
    let (info, sum) = client_login(challenge, user, password, ip, ac_id, hmd5);
    let login = format!(
        "/cgi-bin/srun_portal?action=login&username={}&password=%7BMD5%7D{hmd5}&ac_id={}&{at}&n=200&type=1&info={}&chksum={sum}&callback=cb",
        escape(user.as_bytes()),
        escape(ac_id.as_bytes()),
        escape(info.as_bytes()),
    );
    if let Some((status, body)) = get(portal, client, &login) {
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.starts_with("cb(") && body.ends_with(')'), "{body}");
    }
    get(portal, client, &format!("/cgi-bin/rad_user_info?{at}"));
    get(
        portal,
        client,
        &format!("/cgi-bin/srun_portal?action=logout&{at}&callback=cb"),
    );
});
