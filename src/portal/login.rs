//! Portal login and logout as flows that know nothing of HTTP. The Srun handlers
//! ([`super::server`]) call them once their protocol's own checks (rate, challenge,
//! `info`, `chksum`) pass; the BRAS Portal protocol and self-service are to call them too.
//!
//! A login: the policy decides (interface `portal`) ─▶ the access point's service is
//! switched on at the NAS when `[portal] activation` says so ─▶ the session starts in the
//! accounting journal (NAS `portal`); if it cannot be recorded, what the NAS was told is
//! taken back.

use std::net::IpAddr;

use crate::account::Interface;
use crate::auth::nas_port::Vlans;
use crate::auth::policy::{NasIdentity, Request};
use crate::auth::{Credentials, Decision, Service};
use crate::clock;
use crate::codes::ECode;
use crate::session::event::{AccountingEvent, AcctStatus};
use crate::session::kick::{KickMode, KickSource, Kicker};
use crate::session::PORTAL_NAS;

/// Who logs in, with what, from where, through which access point.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// The account (the name without its domain).
    pub account: &'a str,
    /// The plain password.
    pub password: &'a str,
    /// The address that goes online.
    pub ip: IpAddr,
    /// The access point (`ac_id`).
    pub ac_id: &'a str,
}

/// A login that went through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedIn {
    /// The new session's Acct-Session-Id (NAS `portal`).
    pub session_id: String,
}

/// Why a login did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The policy refused it, with its code.
    Rejected(ECode),
    /// The NAS did not confirm the activation.
    NotActivated,
    /// The session could not be recorded; the NAS was told to take the activation back.
    NotRecorded,
}

/// Logs `attempt` in: decides, activates, records.
pub async fn login(
    auth: &Service,
    kicker: &Kicker,
    attempt: &Attempt<'_>,
) -> Result<LoggedIn, Refusal> {
    let Attempt {
        account,
        password,
        ip,
        ac_id,
    } = *attempt;
    if let Decision::Reject(code) = decide(auth, account, password, ip) {
        return Err(Refusal::Rejected(code));
    }
    let session_id = format!("{:016x}", rand::random::<u64>());
    if let Err(detail) = kicker
        .switch_portal_service(ac_id, true, account, &session_id, Some(ip))
        .await
    {
        tracing::warn!(user = ?account, ip = %ip, %detail, "portal login not activated");
        return Err(Refusal::NotActivated);
    }
    let start = AccountingEvent {
        status: AcctStatus::Start,
        session_id: session_id.clone(),
        user: account.to_string(),
        terminate_cause: None,
        session_time: None,
        input_octets: 0,
        output_octets: 0,
        gigawords: false,
        framed_ip: match ip {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(_) => None,
        },
        nas_ip: None,
        station: None,
        // The access point, so that logout finds the NAS its login activated.
        nas_port: Some(ac_id.to_string()),
        class_product: None,
    };
    if let Err(e) = kicker
        .journal
        .apply(PORTAL_NAS, start, ip, clock::now())
        .await
    {
        tracing::error!(error = %e, "portal session not recorded");
        // Take back what the NAS was told, if anything: the login did not happen.
        let _ = kicker
            .switch_portal_service(ac_id, false, account, &session_id, Some(ip))
            .await;
        return Err(Refusal::NotRecorded);
    }
    tracing::info!(user = ?account, ip = %ip, "portal login");
    Ok(LoggedIn { session_id })
}

fn decide(auth: &Service, account: &str, password: &str, ip: IpAddr) -> Decision {
    let request = Request {
        interface: Interface::Portal,
        credentials: Credentials::Pap {
            password: password.as_bytes(),
        },
        mac: None,
        station: None,
        ip: Some(ip),
        nas: NasIdentity {
            client: PORTAL_NAS,
            ip: None,
            identifier: None,
        },
        nas_port_id: None,
        vlans: Vlans::default(),
    };
    let decision = auth.authenticator.authenticate(account, &request);
    tracing::info!(user = ?account, ip = %ip, code = %decision.code(), "portal decision");
    decision
}

/// What became of a logout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logout {
    /// Nothing was online at the address.
    NotOnline,
    /// Every session at the address ended.
    Ended,
    /// The NAS did not confirm; the session stays.
    Kept,
}

/// Ends the sessions at `ip` with `cause`: portal sessions here (deactivating their
/// service on the NAS when their login activated it), and, when the request comes from
/// `ip` itself (`client`), RADIUS sessions by Disconnect-Request to their NAS. (Srun logs
/// out any address without authentication; a stranger's RADIUS session is not ours to
/// offer.)
pub async fn log_out(kicker: &Kicker, client: IpAddr, ip: IpAddr, cause: ECode) -> Logout {
    let mut keys = kicker.online.with_ip(ip);
    if client != ip {
        keys.retain(|k| &*k.nas == PORTAL_NAS);
    }
    if keys.is_empty() {
        return Logout::NotOnline;
    }
    let mut outcome = Logout::Ended;
    for key in keys {
        let result = if &*key.nas == PORTAL_NAS {
            kicker.end_portal(&key, cause, None).await
        } else {
            kicker
                .kick(&key, KickMode::Dm, KickSource::SelfService, Some(cause))
                .await
        };
        if !result.ended {
            tracing::warn!(session = %result.session, detail = %result.detail, "logout incomplete");
            outcome = Logout::Kept;
        }
    }
    outcome
}
