//! The decision: may this user get online, and with what limits?
//!
//! [`evaluate`] is a pure function of the request, the user, the policy catalog, the
//! online counts, the user's recent history and the clock. It never touches a socket or
//! the database. The checks run in the order of `docs/policy.md`; the first that fails
//! names the refusal code.

use std::net::IpAddr;

use super::credentials::{Credentials, Proof};
use super::nas_port::Vlans;
use crate::account::{Binding, Interface};
use crate::billing::meter::Meter;
use crate::billing::standing::{self, Standing};
use crate::catalog::{BillingPolicy, Catalog, ControlPolicy, OverLimit, DEFAULT_GROUP};
use crate::codes::ECode;
use crate::config::PolicySettings;
use crate::directory::UserEntry;
use crate::mac::MacAddr;

/// The NAS a request came through.
#[derive(Debug, Clone, Copy)]
pub struct NasIdentity<'a> {
    /// Name of the NAS client entry.
    pub client: &'a str,
    /// NAS-IP-Address, or the packet's source address.
    pub ip: Option<IpAddr>,
    /// NAS-Identifier.
    pub identifier: Option<&'a str>,
}

/// The parts of an Access-Request (or portal login) that the decision looks at.
#[derive(Debug)]
pub struct Request<'a> {
    /// RADIUS or portal.
    pub interface: Interface,
    /// The proof of the password.
    pub credentials: Credentials<'a>,
    /// Calling-Station-Id read as a MAC address.
    pub mac: Option<MacAddr>,
    /// Calling-Station-Id as sent (or the portal's device id), for device bindings.
    pub station: Option<&'a str>,
    /// The user's IP address (Framed-IP-Address, or the portal client's address).
    pub ip: Option<IpAddr>,
    /// The NAS.
    pub nas: NasIdentity<'a>,
    /// NAS-Port-Id as sent.
    pub nas_port_id: Option<&'a str>,
    /// VLANs read from NAS-Port-Id.
    pub vlans: Vlans,
}

/// How many sessions are online now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OnlineCounts {
    /// Sessions of this user.
    pub user: u32,
    /// Sessions of everyone.
    pub total: u32,
}

/// What recent requests of this user left behind (see [`super::throttle::Throttle`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct History {
    /// Unix second of the last accepted login.
    pub last_accept: Option<i64>,
    /// Locked after too many wrong passwords until this unix second.
    pub locked_until: Option<i64>,
}

/// The time of the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// Unix seconds.
    pub unix: i64,
    /// Seconds since local midnight (time windows are in local time).
    pub secs_of_day: u32,
}

impl Clock {
    /// The current time.
    pub fn now() -> Clock {
        use chrono::Timelike;
        let unix = crate::clock::now();
        let local = chrono::DateTime::from_timestamp(unix, 0)
            .unwrap_or_default()
            .with_timezone(&chrono::Local);
        Clock {
            unix,
            secs_of_day: local.num_seconds_from_midnight(),
        }
    }
}

/// Everything besides the request and the user that the decision depends on.
#[derive(Debug, Clone, Copy)]
pub struct Situation<'a> {
    /// Products, policies, blacklists, IP tables, system switches.
    pub catalog: &'a Catalog,
    /// Thresholds from the configuration.
    pub limits: &'a PolicySettings,
    /// Sessions online now.
    pub online: OnlineCounts,
    /// The user's recent history.
    pub history: History,
    /// Now.
    pub clock: Clock,
    /// Usage of product instances this cycle.
    pub meter: &'a Meter,
    /// Acct-Interim-Interval when the control policy sets none.
    pub default_interim_secs: u32,
}

/// What an accepted user gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The product instance the session is charged to.
    pub product: String,
    /// Session-Timeout: the smallest of the remaining time quota (shared with the
    /// sessions already online), the time to expiry, the end of the time window and the
    /// control policy's session timeout.
    pub session_timeout: Option<u32>,
    /// Idle-Timeout.
    pub idle_timeout: Option<u32>,
    /// Acct-Interim-Interval: the control policy's, else the configured default.
    pub interim_interval: u32,
    /// Upload limit, bit/s (0: none).
    pub up_bps: u64,
    /// Download limit, bit/s (0: none).
    pub down_bps: u64,
    /// The user is at the session limit and the control policy says to disconnect the
    /// oldest session (cause E3008).
    pub kick_oldest: bool,
    /// What the password proof yields for the reply (MS-CHAP2-Success, MPPE keys).
    pub proof: Proof,
}

/// The outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Let the user on (E0000).
    Accept(Grant),
    /// Refuse, naming why.
    Reject(ECode),
}

impl Decision {
    /// The code a log line or reply names.
    pub fn code(&self) -> ECode {
        match self {
            Decision::Accept(_) => ECode::LoginSuccess,
            Decision::Reject(code) => *code,
        }
    }
}

/// Decides a request for `user` (None when no such user exists).
pub fn evaluate(request: &Request<'_>, user: Option<&UserEntry>, s: &Situation<'_>) -> Decision {
    match check(request, user, s) {
        Ok(grant) => Decision::Accept(grant),
        Err(code) => Decision::Reject(code),
    }
}

fn check(
    request: &Request<'_>,
    user: Option<&UserEntry>,
    s: &Situation<'_>,
) -> Result<Grant, ECode> {
    let catalog = s.catalog;
    let now = s.clock.unix;
    let after = |t: Option<i64>| t.is_some_and(|t| t > now);

    // The system and the account.
    if !catalog.system.auth_enabled {
        return Err(ECode::AuthDisabled);
    }
    let user = user.ok_or(ECode::NoSuchUser)?;
    if after(s.history.locked_until) {
        return Err(ECode::TooManyWrongPasswords);
    }
    let proof = request
        .credentials
        .prove(user.password.as_bytes())
        .ok_or(ECode::WrongPassword)?;
    let profile = &user.profile;
    if !user.enabled {
        return Err(ECode::UserDisabled);
    }
    if after(profile.banned_until) {
        return Err(ECode::BannedForProxy);
    }
    if profile.expires_at.is_some_and(|t| t <= now) {
        return Err(ECode::AccountExpired);
    }
    let interface_allowed = match request.interface {
        Interface::Radius => profile.allow_radius,
        Interface::Portal => profile.allow_portal,
    };
    if !interface_allowed {
        return Err(ECode::InterfaceDisabled);
    }
    let interval = i64::from(s.limits.min_auth_interval_secs);
    if interval > 0 && s.history.last_accept.is_some_and(|t| now - t < interval) {
        return Err(ECode::AuthTooSoon);
    }

    // Where the request comes from.
    if let Some(ip) = request.ip {
        if Catalog::contains(&catalog.ip_blacklist, ip) {
            return Err(ECode::IpBlacklisted);
        }
        if Catalog::contains(&catalog.ip_no_auth, ip) {
            return Err(ECode::IpNeedsNoAuth);
        }
        if !catalog.ip_allowed.is_empty() && !Catalog::contains(&catalog.ip_allowed, ip) {
            return Err(ECode::IpNotInIpTable);
        }
    }
    if request
        .mac
        .is_some_and(|m| catalog.mac_blacklist.contains(&m))
    {
        return Err(ECode::MacBlacklisted);
    }
    check_bindings(request, &user.bindings)?;

    // Money.
    if let Some(shortfall) = standing::user_shortfall(user, catalog, s.meter, now) {
        return Err(shortfall.login_code());
    }

    // The product, its policies, and the sessions already online.
    let (product, standing, control) = choose_product(user, s)?;
    let max_online = profile.max_online.unwrap_or(control.max_online);
    let at_limit = max_online > 0 && s.online.user >= max_online;
    let kick_oldest = at_limit && control.over_limit == OverLimit::KickOldest;
    if at_limit && !kick_oldest {
        return Err(ECode::AlreadyOnline);
    }
    let licensed = catalog.system.licensed_online;
    // Kicking the user's oldest session keeps the total where it is.
    if licensed > 0 && s.online.total >= licensed && !kick_oldest {
        return Err(ECode::LicensedOnlineLimitReached);
    }

    // Each session online uses the time quota as fast as this one will: this one's fair
    // share is what is left divided among them all.
    let sessions = u64::from(s.online.user) + 1;
    let remaining_quota = standing.remaining.secs.map(|left| left / sessions);
    let to_expiry = profile.expires_at.map(|t| (t - now).max(0) as u64);
    let window_end = window_remaining(control, s.clock.secs_of_day).map(u64::from);
    let policy_timeout = nonzero(control.session_timeout_secs).map(u64::from);
    let session_timeout = [remaining_quota, to_expiry, window_end, policy_timeout]
        .into_iter()
        .flatten()
        .min()
        .map(|t| u32::try_from(t).unwrap_or(u32::MAX));
    Ok(Grant {
        product: product.to_string(),
        session_timeout,
        idle_timeout: nonzero(control.idle_timeout_secs),
        interim_interval: nonzero(control.interim_secs).unwrap_or(s.default_interim_secs),
        up_bps: control.up_bps,
        down_bps: control.down_bps,
        kick_oldest,
        proof,
    })
}

fn nonzero(v: u32) -> Option<u32> {
    (v > 0).then_some(v)
}

/// Seconds until the control policy's current time window closes; None when the policy
/// has no windows (always open). Callers have checked that one is open.
fn window_remaining(control: &ControlPolicy, secs_of_day: u32) -> Option<u32> {
    control
        .windows
        .iter()
        .filter_map(|w| w.remaining(secs_of_day))
        .max()
}

/// The user's bindings, kind by kind: a user with bindings of a kind must match one.
fn check_bindings(request: &Request<'_>, bindings: &[Binding]) -> Result<(), ECode> {
    if bindings.is_empty() {
        return Ok(());
    }
    // (has a binding of the kind, one of them matches)
    let mut mac = (false, false);
    let mut ip = (false, false);
    let mut port = (false, false);
    let mut device = (false, false);
    let nas = request.nas;
    for b in bindings {
        let (slot, hit) = match b {
            Binding::Mac(m) => (&mut mac, request.mac == Some(*m)),
            Binding::Ip(a) => (&mut ip, request.ip == Some(*a)),
            Binding::Device(d) => (&mut device, request.station == Some(d.as_str())),
            Binding::NasPort(p) => (&mut port, request.nas_port_id == Some(p.as_str())),
            Binding::Vlan(v) => (&mut port, request.vlans.contains(*v)),
            Binding::Nas(n) => (
                &mut port,
                n == nas.client
                    || nas.identifier == Some(n.as_str())
                    || nas.ip.is_some_and(|ip| n.parse() == Ok(ip)),
            ),
        };
        slot.0 = true;
        slot.1 |= hit;
    }
    let violated = |(has, hit): (bool, bool)| has && !hit;
    if violated(mac) {
        return Err(ECode::MacBindingMismatch);
    }
    if violated(ip) {
        return Err(ECode::IpBindingMismatch);
    }
    if violated(port) {
        return Err(ECode::NasPortBindingMismatch);
    }
    if violated(device) {
        return Err(ECode::DeviceNotBound);
    }
    Ok(())
}

/// The first product whose product, billing policy and control policy all exist and
/// allow a login now: one the user holds, else the group's default product. When none
/// does, the first candidate's failure is the answer.
fn choose_product<'a>(
    user: &'a UserEntry,
    s: &Situation<'a>,
) -> Result<(&'a str, Standing, &'a ControlPolicy), ECode> {
    let catalog = s.catalog;
    let group_name = user.profile.group.as_deref().unwrap_or(DEFAULT_GROUP);
    let group = catalog.groups.get(group_name);
    let held = user.holdings.iter().map(|h| h.product.as_str());
    let default = group
        .and_then(|g| g.default_product.as_deref())
        .filter(|_| user.holdings.is_empty());
    let mut first_failure = ECode::NoMatchingProduct;
    for (i, candidate) in held.chain(default).enumerate() {
        let outcome = (|| {
            let product = catalog
                .products
                .get(candidate)
                .ok_or(ECode::NoMatchingProduct)?;
            let billing: &BillingPolicy = catalog
                .billing
                .get(&product.billing_policy)
                .ok_or(ECode::NoMatchingBillingPolicy)?;
            let control_name = group
                .and_then(|g| g.control_policy.as_deref())
                .unwrap_or(&product.control_policy);
            let control = catalog
                .control
                .get(control_name)
                .ok_or(ECode::NoMatchingControlPolicy)?;
            if !control.windows.is_empty()
                && window_remaining(control, s.clock.secs_of_day).is_none()
            {
                return Err(ECode::NoMatchingControlPolicy);
            }
            let standing =
                standing::instance_shortfall(user, candidate, billing, s.meter, s.clock.unix)
                    .map_err(|shortfall| shortfall.login_code())?;
            Ok((standing, control))
        })();
        match outcome {
            Ok((standing, control)) => return Ok((candidate, standing, control)),
            Err(code) if i == 0 => first_failure = code,
            Err(_) => {}
        }
    }
    Err(first_failure)
}

#[cfg(test)]
mod tests;
