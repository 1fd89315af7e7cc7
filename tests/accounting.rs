//! Accounting over UDP: durability across kill -9, duplicates applied once.

mod common;

use common::{Daemon, Nas};
use radius::core::code::Code;
use radius::core::rfc2865::{NAS_IP_ADDRESS_TYPE, USER_NAME_TYPE};
use radius::core::rfc2866::{ACCT_SESSION_ID_TYPE, ACCT_STATUS_TYPE_TYPE};
use sqlx::Row;
use std::collections::{HashMap, HashSet};
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use turnstile::radius::crypto::{verify_response, SharedSecret};
use turnstile::radius::packet::PacketBuilder;

fn start_request(id: u8, session: &str) -> Vec<u8> {
    PacketBuilder::new(Code::AccountingRequest, id)
        .u32_attribute(ACCT_STATUS_TYPE_TYPE, 1)
        .and_then(|b| b.attribute(ACCT_SESSION_ID_TYPE, session.as_bytes()))
        .and_then(|b| b.attribute(USER_NAME_TYPE, b"alice"))
        .and_then(|b| b.attribute(NAS_IP_ADDRESS_TYPE, &[127, 0, 0, 1]))
        .unwrap()
        .finish_signed_request(&SharedSecret::new(common::SECRET.as_bytes()))
}

/// Sends Starts for fresh sessions from one socket, 64 at a time, until `stop`; returns
/// the sessions whose Accounting-Response arrived and verified.
fn load(
    acct: std::net::SocketAddr,
    tag: usize,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<HashSet<String>>>,
) -> usize {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.connect(acct).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut sent = 0usize;
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        let mut outstanding: HashMap<u8, (String, [u8; 16])> = HashMap::new();
        for id in 0..64u8 {
            let session = format!("k{tag}-{sent}");
            let bytes = start_request(id, &session);
            outstanding.insert(id, (session, bytes[4..20].try_into().unwrap()));
            sent += 1;
            if socket.send(&bytes).is_err() {
                return sent;
            }
        }
        while !outstanding.is_empty() {
            let Ok(n) = socket.recv(&mut buf) else { break };
            let reply = &buf[..n];
            if let Some((session, auth)) = outstanding.remove(&reply[1]) {
                if reply[0] == Code::AccountingResponse as u8
                    && verify_response(reply, &auth, common::SECRET.as_bytes())
                {
                    acked.lock().unwrap().insert(session);
                }
            }
        }
    }
    sent
}

#[test]
fn kill_9_loses_no_acknowledged_start() {
    let mut d = Daemon::start();
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(HashSet::new()));
    let loaders: Vec<_> = (0..4)
        .map(|tag| {
            let (stop, acked, acct) = (stop.clone(), acked.clone(), d.acct);
            std::thread::spawn(move || load(acct, tag, stop, acked))
        })
        .collect();
    // Kill in the middle of the load, once a good number of records were acknowledged.
    let deadline = Instant::now() + Duration::from_secs(20);
    while acked.lock().unwrap().len() < 2000 {
        assert!(Instant::now() < deadline, "too few acknowledgements");
        std::thread::sleep(Duration::from_millis(5));
    }
    d.kill9();
    stop.store(true, Ordering::Relaxed);
    let sent: usize = loaders.into_iter().map(|t| t.join().unwrap()).sum();
    let acked = acked.lock().unwrap().clone();

    d.restart();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let stored: HashSet<String> = runtime.block_on(async {
        let url = format!(
            "sqlite://{}?mode=ro",
            d.dir.path().join("data/turnstile.db").display()
        );
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query("SELECT session_id FROM online_sessions")
            .fetch_all(&pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>("session_id"))
            .collect()
    });
    let lost: Vec<_> = acked.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged Starts lost, e.g. {:?}",
        lost.len(),
        lost.first()
    );
    assert!(
        stored.len() <= sent,
        "more stored ({}) than sent ({sent})",
        stored.len()
    );
    // The daemon restored them: its gauge counts every stored session.
    d.wait_metric("turnstile_online_sessions", stored.len() as f64);
    eprintln!(
        "sent {sent}, acknowledged {}, stored {}",
        acked.len(),
        stored.len()
    );
}

#[test]
fn a_retransmitted_stop_is_applied_once() {
    let d = Daemon::start();
    let mut acct = Nas::accounting("127.0.0.1", &d);
    let start = acct.acct(1, "s1", "alice");
    assert_eq!(acct.exchange(&start).code(), Code::AccountingResponse);
    let stop = acct.acct(2, "s1", "alice");
    let first = acct.exchange(&stop);
    // A new Start for the same session id, then the old Stop retransmitted: the cached
    // response comes back and the new session stays online.
    let again = acct.acct(1, "s1", "alice");
    assert_eq!(acct.exchange(&again).code(), Code::AccountingResponse);
    acct.send(&stop.bytes);
    assert_eq!(acct.recv().unwrap(), first.bytes);
    d.wait_metric("turnstile_accounting_duplicates_total", 1.0);
    assert_eq!(d.metric("turnstile_online_sessions"), 1.0);
    assert_eq!(
        d.metric("turnstile_accounting_requests_total{status=\"stop\"}"),
        1.0
    );
}
