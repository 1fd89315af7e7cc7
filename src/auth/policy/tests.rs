//! Every refusal code from one documented condition, and the Grant's attributes.

use super::*;
use crate::account::{Holding, Usage};
use crate::catalog::{BillingKind, Group, Product};
use crate::directory::UserEntry;

const NOW: i64 = 1_800_000_000;

/// A test value from its text.
fn v<T: std::str::FromStr>(s: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    s.parse().expect("a valid test value")
}

/// The control policy every test product uses.
fn std_control(case: &mut Case) -> &mut ControlPolicy {
    case.catalog.control.entry("std".into()).or_default()
}
/// 10:00 local.
const TEN: u32 = 10 * 3600;

fn catalog() -> Catalog {
    let mut c = Catalog::default();
    c.billing.insert(
        "free".into(),
        BillingPolicy {
            kind: BillingKind::Free,
            ..BillingPolicy::default()
        },
    );
    c.billing.insert(
        "20h".into(),
        BillingPolicy {
            kind: BillingKind::ByTime,
            included_secs: Some(20 * 3600),
            ..BillingPolicy::default()
        },
    );
    c.control.insert(
        "std".into(),
        ControlPolicy {
            max_online: 1,
            up_bps: 2_000_000,
            down_bps: 10_000_000,
            idle_timeout_secs: 600,
            interim_secs: 300,
            session_timeout_secs: 86_400,
            ..ControlPolicy::default()
        },
    );
    c.products
        .insert("basic".into(), Product::new("free", "std"));
    c.products
        .insert("hours".into(), Product::new("20h", "std"));
    c
}

fn user() -> UserEntry {
    let mut u = UserEntry::with_password("alice", b"pw");
    u.holdings = vec![Holding::new("basic", 0)].into();
    u
}

fn request(password: &[u8]) -> Request<'_> {
    Request {
        interface: Interface::Radius,
        credentials: Credentials::Pap { password },
        mac: Some(v("aa:bb:cc:dd:ee:ff")),
        station: Some("aa-bb-cc-dd-ee-ff"),
        ip: Some(v("10.1.2.3")),
        nas: NasIdentity {
            client: "bras-1",
            ip: Some(v("192.0.2.1")),
            identifier: Some("bras-one"),
        },
        nas_port_id: Some("0/1/0:100.200"),
        vlans: Vlans::from_nas_port_id(b"0/1/0:100.200"),
    }
}

struct Case {
    catalog: Catalog,
    limits: PolicySettings,
    online: OnlineCounts,
    history: History,
    secs_of_day: u32,
    meter: Meter,
}

/// Usage of `secs` online seconds.
fn secs(secs: u64) -> Usage {
    Usage {
        secs,
        ..Usage::default()
    }
}

impl Case {
    fn new() -> Case {
        Case {
            catalog: catalog(),
            limits: PolicySettings::default(),
            online: OnlineCounts::default(),
            history: History::default(),
            secs_of_day: TEN,
            meter: Meter::default(),
        }
    }

    fn run(&self, request: &Request<'_>, user: Option<&UserEntry>) -> Decision {
        evaluate(
            request,
            user,
            &Situation {
                catalog: &self.catalog,
                limits: &self.limits,
                online: self.online,
                history: self.history,
                clock: Clock {
                    unix: NOW,
                    secs_of_day: self.secs_of_day,
                },
                meter: &self.meter,
                default_interim_secs: 600,
            },
        )
    }

    fn code(&self, request: &Request<'_>, user: &UserEntry) -> ECode {
        self.run(request, Some(user)).code()
    }
}

fn grant(d: Decision) -> Grant {
    match d {
        Decision::Accept(g) => g,
        Decision::Reject(code) => panic!("refused with {code}"),
    }
}

#[test]
fn accept_carries_the_control_policy() {
    let g = grant(Case::new().run(&request(b"pw"), Some(&user())));
    assert_eq!(
        g,
        Grant {
            product: "basic".into(),
            session_timeout: Some(86_400),
            idle_timeout: Some(600),
            interim_interval: 300,
            up_bps: 2_000_000,
            down_bps: 10_000_000,
            kick_oldest: false,
            proof: Proof::Matched,
        }
    );
}

#[test]
fn session_timeout_is_the_smallest_limit() {
    let mut case = Case::new();
    let mut u = user();
    // Remaining time quota: 20 h included, 19 h 59 min used.
    u.holdings = vec![Holding::new("hours", 0)].into();
    case.meter.set("alice", "hours", secs(20 * 3600 - 60));
    assert_eq!(
        grant(case.run(&request(b"pw"), Some(&u))).session_timeout,
        Some(60)
    );
    // A second device shares what is left with the first.
    std_control(&mut case).max_online = 2;
    case.online = OnlineCounts { user: 1, total: 1 };
    assert_eq!(
        grant(case.run(&request(b"pw"), Some(&u))).session_timeout,
        Some(30)
    );
    case.online = OnlineCounts::default();
    // Time to expiry.
    u.holdings = vec![Holding::new("basic", 0)].into();
    u.profile.expires_at = Some(NOW + 30);
    assert_eq!(
        grant(case.run(&request(b"pw"), Some(&u))).session_timeout,
        Some(30)
    );
    // End of the time window.
    u.profile.expires_at = None;
    std_control(&mut case).windows = vec![v("08:00-10:05")];
    assert_eq!(
        grant(case.run(&request(b"pw"), Some(&u))).session_timeout,
        Some(300)
    );
    // None at all.
    let c = std_control(&mut case);
    c.windows.clear();
    c.session_timeout_secs = 0;
    assert_eq!(
        grant(case.run(&request(b"pw"), Some(&u))).session_timeout,
        None
    );
}

#[test]
fn account_refusals() {
    let case = Case::new();
    let r = request(b"pw");
    assert_eq!(case.run(&r, None).code(), ECode::NoSuchUser);
    assert_eq!(case.code(&request(b"nope"), &user()), ECode::WrongPassword);

    let mut u = user();
    u.enabled = false;
    assert_eq!(case.code(&r, &u), ECode::UserDisabled);
    // A disabled account is only revealed to someone who knows the password.
    assert_eq!(case.code(&request(b"nope"), &u), ECode::WrongPassword);

    let mut u = user();
    u.profile.banned_until = Some(NOW + 1);
    assert_eq!(case.code(&r, &u), ECode::BannedForProxy);
    u.profile.banned_until = Some(NOW);
    assert_eq!(case.code(&r, &u), ECode::LoginSuccess);

    let mut u = user();
    u.profile.expires_at = Some(NOW);
    assert_eq!(case.code(&r, &u), ECode::AccountExpired);

    let mut u = user();
    u.profile.allow_radius = false;
    assert_eq!(case.code(&r, &u), ECode::InterfaceDisabled);
    let portal = Request {
        interface: Interface::Portal,
        ..request(b"pw")
    };
    assert_eq!(case.code(&portal, &u), ECode::LoginSuccess);
}

#[test]
fn system_switches() {
    let mut case = Case::new();
    case.catalog.system.auth_enabled = false;
    // Before anything else, even for unknown users.
    assert_eq!(case.run(&request(b"pw"), None).code(), ECode::AuthDisabled);

    let mut case = Case::new();
    case.catalog.system.licensed_online = 100;
    case.online = OnlineCounts {
        user: 0,
        total: 100,
    };
    assert_eq!(
        case.code(&request(b"pw"), &user()),
        ECode::LicensedOnlineLimitReached
    );
    case.online.total = 99;
    assert_eq!(case.code(&request(b"pw"), &user()), ECode::LoginSuccess);
}

#[test]
fn history_refusals() {
    let mut case = Case::new();
    case.history.locked_until = Some(NOW + 1);
    // Locked even with the right password.
    assert_eq!(
        case.code(&request(b"pw"), &user()),
        ECode::TooManyWrongPasswords
    );
    case.history.locked_until = Some(NOW);
    assert_eq!(case.code(&request(b"pw"), &user()), ECode::LoginSuccess);

    let mut case = Case::new();
    case.history.last_accept = Some(NOW - 9);
    assert_eq!(case.code(&request(b"pw"), &user()), ECode::AuthTooSoon);
    // A wrong password is still a wrong password.
    assert_eq!(case.code(&request(b"x"), &user()), ECode::WrongPassword);
    case.history.last_accept = Some(NOW - 10);
    assert_eq!(case.code(&request(b"pw"), &user()), ECode::LoginSuccess);
    case.history.last_accept = Some(NOW - 1);
    case.limits.min_auth_interval_secs = 0;
    assert_eq!(case.code(&request(b"pw"), &user()), ECode::LoginSuccess);
}

#[test]
fn address_refusals() {
    let mut case = Case::new();
    let r = request(b"pw");
    case.catalog.ip_allowed.push(v("10.9.0.0/16"));
    assert_eq!(case.code(&r, &user()), ECode::IpNotInIpTable);
    case.catalog.ip_allowed.push(v("10.1.0.0/16"));
    assert_eq!(case.code(&r, &user()), ECode::LoginSuccess);
    case.catalog.ip_no_auth.push(v("10.1.2.0/24"));
    assert_eq!(case.code(&r, &user()), ECode::IpNeedsNoAuth);
    case.catalog.ip_blacklist.push(v("10.1.2.3/32"));
    assert_eq!(case.code(&r, &user()), ECode::IpBlacklisted);
    // Without an address, the IP checks do not apply.
    let no_ip = Request {
        ip: None,
        ..request(b"pw")
    };
    assert_eq!(case.code(&no_ip, &user()), ECode::LoginSuccess);

    let mut case = Case::new();
    case.catalog.mac_blacklist.insert(v("aa:bb:cc:dd:ee:ff"));
    assert_eq!(case.code(&r, &user()), ECode::MacBlacklisted);
}

#[test]
fn binding_refusals() {
    let case = Case::new();
    let r = request(b"pw");
    let with = |b: Vec<Binding>| {
        let mut u = user();
        u.bindings = b.into();
        u
    };
    let mac = |s: &str| Binding::Mac(v(s));
    assert_eq!(
        case.code(&r, &with(vec![mac("00:00:00:00:00:01")])),
        ECode::MacBindingMismatch
    );
    assert_eq!(
        case.code(
            &r,
            &with(vec![mac("00:00:00:00:00:01"), mac("aa:bb:cc:dd:ee:ff")])
        ),
        ECode::LoginSuccess
    );
    let no_mac = Request {
        mac: None,
        ..request(b"pw")
    };
    assert_eq!(
        case.code(&no_mac, &with(vec![mac("aa:bb:cc:dd:ee:ff")])),
        ECode::MacBindingMismatch
    );

    let ip = |s: &str| Binding::Ip(v(s));
    assert_eq!(
        case.code(&r, &with(vec![ip("10.1.2.4")])),
        ECode::IpBindingMismatch
    );
    assert_eq!(
        case.code(&r, &with(vec![ip("10.1.2.3")])),
        ECode::LoginSuccess
    );

    let port = |s: &str| Binding::NasPort(s.into());
    assert_eq!(
        case.code(&r, &with(vec![port("0/1/0:101")])),
        ECode::NasPortBindingMismatch
    );
    assert_eq!(
        case.code(&r, &with(vec![port("0/1/0:100.200")])),
        ECode::LoginSuccess
    );
    assert_eq!(
        case.code(&r, &with(vec![Binding::Vlan(300)])),
        ECode::NasPortBindingMismatch
    );
    assert_eq!(
        case.code(&r, &with(vec![Binding::Vlan(200)])),
        ECode::LoginSuccess
    );
    let nas = |s: &str| Binding::Nas(s.into());
    assert_eq!(
        case.code(&r, &with(vec![nas("bras-2")])),
        ECode::NasPortBindingMismatch
    );
    for name in ["bras-1", "bras-one", "192.0.2.1"] {
        assert_eq!(
            case.code(&r, &with(vec![nas(name)])),
            ECode::LoginSuccess,
            "{name}"
        );
    }

    let device = |s: &str| Binding::Device(s.into());
    assert_eq!(
        case.code(&r, &with(vec![device("356938035643809")])),
        ECode::DeviceNotBound
    );
    assert_eq!(
        case.code(&r, &with(vec![device("aa-bb-cc-dd-ee-ff")])),
        ECode::LoginSuccess
    );

    // Kinds are checked in order: MAC before IP before port before device.
    assert_eq!(
        case.code(
            &r,
            &with(vec![device("x"), ip("10.0.0.1"), mac("00:00:00:00:00:01")])
        ),
        ECode::MacBindingMismatch
    );
}

#[test]
fn money_refusals() {
    let case = Case::new();
    let r = request(b"pw");
    let mut u = user();
    u.profile.balance_fen = -1;
    assert_eq!(case.code(&r, &u), ECode::Arrearage);
    u.profile.balance_fen = 100_000;
    // 50 hours beyond the 20 included at 100 fen an hour: 5000 fen spent this cycle.
    let mut priced = Case::new();
    priced
        .catalog
        .billing
        .entry("20h".into())
        .or_default()
        .fen_per_hour = 100;
    u.holdings = vec![Holding::new("hours", 0)].into();
    priced.meter.set("alice", "hours", secs(70 * 3600));
    u.profile.consumption_limit_fen = Some(5001);
    assert_eq!(priced.code(&r, &u), ECode::LoginSuccess);
    u.profile.consumption_limit_fen = Some(5000);
    assert_eq!(priced.code(&r, &u), ECode::ConsumptionLimitReached);
    // The usage charge reaching what the wallet and the instance hold is arrearage.
    u.profile.consumption_limit_fen = None;
    u.profile.balance_fen = 4000;
    assert_eq!(priced.code(&r, &u), ECode::Arrearage);
    let mut h = Holding::new("hours", 0);
    h.balance_fen = 1001;
    u.holdings = vec![h].into();
    assert_eq!(priced.code(&r, &u), ECode::LoginSuccess);
    // An instance below zero is in arrears, whatever the wallet holds.
    let mut h = Holding::new("basic", 0);
    h.balance_fen = -1;
    u.holdings = vec![h].into();
    assert_eq!(priced.code(&r, &u), ECode::Arrearage);

    // A used-up hard quota is a reached limit too; a priced one is not.
    let mut u = user();
    u.holdings = vec![Holding::new("hours", 0)].into();
    let case = Case::new();
    case.meter.set("alice", "hours", secs(20 * 3600));
    assert_eq!(case.code(&r, &u), ECode::ConsumptionLimitReached);
    priced.meter.set("alice", "hours", secs(20 * 3600));
    u.profile.balance_fen = 1;
    let g = grant(priced.run(&r, Some(&u)));
    assert_eq!(g.session_timeout, Some(86_400));
    // A package's extra hour is quota again.
    let mut h = Holding::new("hours", 0);
    h.packages.push(crate::account::Grant {
        extra_secs: 3600,
        extra_bytes: 0,
        bought_at: NOW - 10,
        expires_at: NOW + 86_400,
    });
    u.holdings = vec![h].into();
    assert_eq!(grant(case.run(&r, Some(&u))).session_timeout, Some(3600));
}

#[test]
fn product_refusals() {
    let mut case = Case::new();
    let r = request(b"pw");
    let mut u = user();
    u.holdings = Box::default();
    assert_eq!(case.code(&r, &u), ECode::NoMatchingProduct);
    // A group's default product serves users without one.
    case.catalog.groups.insert(
        "dorm".into(),
        Group {
            default_product: Some("basic".into()),
            control_policy: None,
        },
    );
    u.profile.group = Some("dorm".into());
    assert_eq!(grant(case.run(&r, Some(&u))).product, "basic");

    let mut u = user();
    u.holdings = vec![Holding::new("gone", 0)].into();
    assert_eq!(case.code(&r, &u), ECode::NoMatchingProduct);

    let mut case = Case::new();
    case.catalog.billing.remove("free");
    assert_eq!(case.code(&r, &user()), ECode::NoMatchingBillingPolicy);

    let mut case = Case::new();
    case.catalog.control.remove("std");
    assert_eq!(case.code(&r, &user()), ECode::NoMatchingControlPolicy);

    // Outside every time window, the control policy does not match.
    let mut case = Case::new();
    std_control(&mut case).windows = vec![v("22:00-06:00"), v("12:00-13:00")];
    assert_eq!(case.code(&r, &user()), ECode::NoMatchingControlPolicy);
    case.secs_of_day = 23 * 3600;
    assert_eq!(
        grant(case.run(&r, Some(&user()))).session_timeout,
        Some(7 * 3600)
    );

    // A group's control policy replaces the product's.
    let mut case = Case::new();
    case.catalog.control.insert(
        "night".into(),
        ControlPolicy {
            up_bps: 1,
            ..ControlPolicy::default()
        },
    );
    case.catalog.groups.insert(
        "g".into(),
        Group {
            default_product: None,
            control_policy: Some("night".into()),
        },
    );
    let mut u = user();
    u.profile.group = Some("g".into());
    assert_eq!(grant(case.run(&r, Some(&u))).up_bps, 1);
}

#[test]
fn the_first_usable_product_wins() {
    let case = Case::new();
    let mut u = user();
    u.holdings = vec![Holding::new("hours", 0), Holding::new("basic", 0)].into();
    case.meter.set("alice", "hours", secs(20 * 3600));
    assert_eq!(grant(case.run(&request(b"pw"), Some(&u))).product, "basic");
}

#[test]
fn session_limit_refuses_or_kicks() {
    let mut case = Case::new();
    case.online = OnlineCounts { user: 1, total: 5 };
    assert_eq!(case.code(&request(b"pw"), &user()), ECode::AlreadyOnline);
    let mut u = user();
    u.profile.max_online = Some(2);
    assert_eq!(case.code(&request(b"pw"), &u), ECode::LoginSuccess);
    u.profile.max_online = Some(0);
    assert_eq!(case.code(&request(b"pw"), &u), ECode::LoginSuccess);

    std_control(&mut case).over_limit = OverLimit::KickOldest;
    // At the licence limit too: the kick keeps the total where it is.
    case.catalog.system.licensed_online = 5;
    let g = grant(case.run(&request(b"pw"), Some(&user())));
    assert!(g.kick_oldest);
}
