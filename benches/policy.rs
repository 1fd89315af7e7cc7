//! Nanoseconds per `policy::evaluate` decision, for a plain user and for a user with a
//! product, bindings and a control policy. `cargo bench --bench policy`.

use std::hint::black_box;
use std::time::Instant;

use turnstile::account::{Binding, Holding, Interface};
use turnstile::auth::nas_port::Vlans;
use turnstile::auth::policy::{evaluate, Clock, NasIdentity, OnlineCounts, Request, Situation};
use turnstile::auth::Credentials;
use turnstile::billing::meter::Meter;
use turnstile::billing::standing;
use turnstile::catalog::{
    starter_objects, BillingKind, BillingPolicy, Catalog, ControlPolicy, Group, Product,
};
use turnstile::config::PolicySettings;
use turnstile::directory::UserEntry;

const BATCH: u32 = 1_000_000;
const BATCHES: usize = 7;

fn catalog() -> Catalog {
    let (mut c, errors) = Catalog::from_rows(starter_objects());
    assert!(errors.is_empty());
    c.billing.insert(
        "campus".into(),
        BillingPolicy {
            kind: BillingKind::ByTime,
            included_secs: Some(720 * 3600),
            ..BillingPolicy::default()
        },
    );
    c.control.insert(
        "campus".into(),
        ControlPolicy {
            max_online: 2,
            up_bps: 2_000_000,
            down_bps: 20_000_000,
            windows: vec!["00:00-24:00".parse().unwrap()],
            idle_timeout_secs: 600,
            session_timeout_secs: 86_400,
            interim_secs: 300,
            ..ControlPolicy::default()
        },
    );
    c.products
        .insert("campus".into(), Product::new("campus", "campus"));
    c.groups.insert(
        "campus".into(),
        Group {
            default_product: Some("campus".into()),
            control_policy: None,
        },
    );
    c.ip_allowed.push("10.0.0.0/8".parse().unwrap());
    c.ip_no_auth.push("192.168.0.0/16".parse().unwrap());
    c.ip_blacklist.push("172.16.0.0/12".parse().unwrap());
    for i in 0..8u8 {
        c.mac_blacklist
            .insert(format!("02:ff:00:00:00:{i:02x}").parse().unwrap());
    }
    c
}

fn measure(label: &str, request: &Request<'_>, user: &UserEntry, catalog: &Catalog) {
    let limits = PolicySettings::default();
    let meter = Meter::default();
    let situation = Situation {
        catalog,
        limits: &limits,
        online: OnlineCounts {
            user: 1,
            total: 5000,
        },
        history: Default::default(),
        meter: &meter,
        default_interim_secs: 300,
        clock: Clock {
            unix: 1_800_000_000,
            secs_of_day: 36_000,
        },
    };
    assert_eq!(
        evaluate(request, Some(user), &situation).code(),
        turnstile::codes::ECode::LoginSuccess
    );
    let mut ns: Vec<f64> = (0..BATCHES)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..BATCH {
                black_box(evaluate(
                    black_box(request),
                    Some(user),
                    black_box(&situation),
                ));
            }
            started.elapsed().as_nanos() as f64 / f64::from(BATCH)
        })
        .collect();
    ns.sort_by(f64::total_cmp);
    println!(
        "{label:6} {:>7.1} ns/decision (median of {BATCHES} x {BATCH}; best {:.1})",
        ns[BATCHES / 2],
        ns[0]
    );
}

fn main() {
    let started = Instant::now();
    for _ in 0..BATCH {
        black_box(Clock::now());
    }
    println!(
        "clock  {:>7.1} ns/Clock::now (local time for the time windows)",
        started.elapsed().as_nanos() as f64 / f64::from(BATCH)
    );
    let catalog = catalog();
    let plain_user = UserEntry::with_password("plain1", b"pw1");
    let plain = Request {
        interface: Interface::Radius,
        credentials: Credentials::Pap { password: b"pw1" },
        mac: None,
        station: None,
        ip: None,
        nas: NasIdentity {
            client: "bench",
            ip: Some("127.0.0.1".parse().unwrap()),
            identifier: None,
        },
        nas_port_id: None,
        vlans: Vlans::default(),
    };
    measure("plain", &plain, &plain_user, &catalog);

    let mut full_user = UserEntry::with_password("full1", b"pw1");
    full_user.profile.group = Some("campus".into());
    full_user.profile.balance_fen = 10_000;
    full_user.profile.expires_at = Some(1_900_000_000);
    full_user.profile.consumption_limit_fen = Some(1_000_000);
    full_user.holdings = vec![Holding::new("campus", 0)].into();
    full_user.bindings = vec![
        Binding::Mac("02:00:00:00:00:01".parse().unwrap()),
        Binding::Ip("10.0.0.1".parse().unwrap()),
        Binding::Nas("bench".into()),
        Binding::Vlan(100),
    ]
    .into();
    let full = Request {
        mac: Some("02:00:00:00:00:01".parse().unwrap()),
        station: Some("02-00-00-00-00-01"),
        ip: Some("10.0.0.1".parse().unwrap()),
        nas_port_id: Some("0/1/0:100"),
        vlans: Vlans::from_nas_port_id(b"0/1/0:100"),
        ..plain
    };
    measure("full", &full, &full_user, &catalog);

    // What the sweeper adds per online session for quota and money (E3001, E3004), with
    // the meter holding 100,000 instances.
    let meter = Meter::default();
    for i in 0..100_000 {
        let usage = turnstile::account::Usage {
            secs: 3600,
            bytes_in: 1 << 30,
            bytes_out: 1 << 31,
            logins: 2,
        };
        meter.set(&format!("full{i}"), "campus", usage);
    }
    let policy = &catalog.billing["campus"];
    let now = 1_800_000_000;
    let mut ns: Vec<f64> = (0..BATCHES)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..BATCH {
                black_box(standing::user_shortfall(&full_user, &catalog, &meter, now));
                black_box(
                    standing::instance_shortfall(&full_user, "campus", policy, &meter, now).is_ok(),
                );
            }
            started.elapsed().as_nanos() as f64 / f64::from(BATCH)
        })
        .collect();
    ns.sort_by(f64::total_cmp);
    println!(
        "standing {:>5.1} ns/session (quota and money, as the sweeper checks; median of {BATCHES} x {BATCH})",
        ns[BATCHES / 2]
    );
}
