//! The online table at 100,000 sessions: resident memory it takes and the time of one
//! sweeper pass over it. `cargo bench --bench sessions`.

use std::hint::black_box;
use std::time::Instant;

use turnstile::catalog::{starter_objects, Catalog, ControlPolicy};
use turnstile::config::SessionSettings;
use turnstile::session::online::{OnlineTable, Session};
use turnstile::session::sweeper::due;
use turnstile::store::OnlineRecord;

const SESSIONS: usize = 100_000;

/// Resident set size of this process, bytes.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn main() {
    let (mut catalog, _) = Catalog::from_rows(starter_objects());
    catalog.control.insert(
        "unlimited".into(),
        ControlPolicy {
            interim_secs: 300,
            idle_timeout_secs: 1800,
            session_timeout_secs: 86_400,
            ..ControlPolicy::default()
        },
    );
    let now = 1_800_000_000;
    let before = rss();
    let online = OnlineTable::default();
    for i in 0..SESSIONS {
        let record = OnlineRecord {
            nas: format!("bras-{}", i % 8),
            session_id: format!("{:016x}", i),
            user: format!("user{i}"),
            product: Some("standard".into()),
            framed_ip: Some(format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255)),
            station: Some(format!(
                "02-00-00-{:02x}-{:02x}-{:02x}",
                i >> 16,
                (i >> 8) & 255,
                i & 255
            )),
            nas_port: Some(format!("0/1/0:{}", i % 4000 + 1)),
            nas_addr: Some(format!("192.0.2.{}", i % 8)),
            started_at: now - 3600,
            updated_at: now - 60,
            session_time: 3540,
            input_octets: 123_456_789,
            output_octets: 987_654_321,
            ..OnlineRecord::default()
        };
        let (key, session) = Session::from_record(record);
        online.insert(key, session);
    }
    let after = rss();
    println!(
        "online table: {SESSIONS} sessions, {:.1} MiB resident ({} bytes each)",
        (after - before) as f64 / (1 << 20) as f64,
        (after - before) / SESSIONS as u64
    );

    let settings = SessionSettings::default();
    let control = |_: &str, product: Option<&str>| {
        let name = &catalog.products.get(product?)?.control_policy;
        catalog.control.get(name)
    };
    let mut ms: Vec<f64> = (0..11)
        .map(|_| {
            let started = Instant::now();
            let due = black_box(due(&online, &settings, now, control, |_, _| None));
            assert!(due.is_empty());
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    println!(
        "sweeper pass over {SESSIONS} sessions: {:.1} ms (median of 11; best {:.1})",
        ms[5], ms[0]
    );
}
