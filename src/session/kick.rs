//! Taking sessions down, and changing them, on behalf of an operator, the system or the
//! user: by Disconnect-Request (the NAS ends it, its ACK ends it here), locally (dropped
//! from the online table, the NAS is not told) or virtually; and bandwidth changes by
//! CoA. Every end records its cause code, which says how and from where.

use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use super::dynauth::DynAuthClient;
use super::journal::Journal;
use super::online::{OnlineTable, SessionKey};
use super::PORTAL_NAS;
use crate::clock;
use crate::codes::ECode;
use crate::config::PortalActivation;
use crate::directory::Directory;
use crate::proto::radius::dynauth::{Action, Outcome, SessionRef, SESSION_NOT_FOUND};

/// How to take a session down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KickMode {
    /// Disconnect-Request to the NAS.
    Dm,
    /// Drop it from the online table without telling the NAS.
    Local,
    /// Mark it offline here while the NAS keeps it (virtual offline).
    Virtual,
}

/// Who asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum KickSource {
    /// The RADIUS module itself (e.g. pushing out the oldest session, E3008).
    Radius,
    /// System settings.
    System,
    /// The admin console or CLI.
    Admin,
    /// The user, from self-service.
    SelfService,
}

impl KickMode {
    /// The code of an end in this mode from `source`.
    pub fn code(self, source: KickSource) -> ECode {
        use KickSource::*;
        match (self, source) {
            (KickMode::Dm, Radius) => ECode::DmFromRadius,
            (KickMode::Dm, System) => ECode::DmFromSystemSettings,
            (KickMode::Dm, Admin) => ECode::DmFromAdminConsole,
            (KickMode::Dm, SelfService) => ECode::DmFromSelfService,
            (KickMode::Local, Radius) => ECode::LocalOffline,
            (KickMode::Local, System) => ECode::LocalFromSystemSettings,
            (KickMode::Local, Admin) => ECode::LocalFromAdminConsole,
            (KickMode::Local, SelfService) => ECode::LocalFromSelfService,
            (KickMode::Virtual, Radius) => ECode::VirtualOffline,
            (KickMode::Virtual, System) => ECode::VirtualFromSystemSettings,
            (KickMode::Virtual, Admin) => ECode::VirtualFromAdminConsole,
            (KickMode::Virtual, SelfService) => ECode::VirtualFromSelfService,
        }
    }
}

/// What became of one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KickResult {
    /// `nas/session-id`.
    pub session: String,
    /// The session left the online table.
    pub ended: bool,
    /// The code recorded (or that would have been).
    pub code: ECode,
    /// What happened, for people.
    pub detail: String,
}

impl KickResult {
    fn new(key: &SessionKey, ended: bool, code: ECode, detail: String) -> KickResult {
        KickResult {
            session: format!("{}/{}", key.nas, key.id),
            ended,
            code,
            detail,
        }
    }
}

/// Takes sessions down and changes them.
pub struct Kicker {
    /// Sessions online.
    pub online: Arc<OnlineTable>,
    /// Where ends are recorded.
    pub journal: Journal,
    /// NAS clients: secret and CoA port.
    pub directory: Arc<Directory>,
    /// Sends Disconnect and CoA requests.
    pub dynauth: DynAuthClient,
    /// Access points whose portal logins are activated on a NAS.
    pub activation: Vec<PortalActivation>,
}

impl Kicker {
    /// Ends one session in `mode`, asked by `source`. `why` is the reason when it is not
    /// the request itself (E3008 for a pushed-out session).
    pub async fn kick(
        &self,
        key: &SessionKey,
        mode: KickMode,
        source: KickSource,
        why: Option<ECode>,
    ) -> KickResult {
        let via = mode.code(source);
        let cause = why.unwrap_or(via);
        let result = |ended, detail| KickResult::new(key, ended, cause, detail);
        let Some(session) = self.online.get(key) else {
            return result(false, "not online".into());
        };
        let via = (via != cause).then_some(via);
        if mode != KickMode::Dm {
            let detail = format!("{mode:?} offline").to_lowercase();
            return self
                .record_end(key, &session.user, cause, via, detail)
                .await;
        }
        if &*key.nas == PORTAL_NAS {
            return self.end_portal(key, cause, via).await;
        }
        let record_end = |detail: String| self.record_end(key, &session.user, cause, via, detail);
        let Some((to, secret, _)) = self.target(&session.record.nas_addr, &key.nas) else {
            return result(false, "the session's NAS is not a known client".into());
        };
        let started = Instant::now();
        let outcome = self
            .dynauth
            .send(
                to,
                &secret,
                Action::Disconnect,
                &session_ref(key, &session.record, to.ip()),
            )
            .await;
        let ms = started.elapsed().as_millis() as u64;
        match outcome {
            Outcome::Ack => record_end(format!("Disconnect-ACK in {ms} ms")).await,
            Outcome::Nak(Some(SESSION_NOT_FOUND)) => {
                record_end("Disconnect-NAK 503: the NAS no longer has it; closed here".into()).await
            }
            Outcome::Nak(error) => {
                tracing::warn!(nas = %key.nas, session = ?key.id, error_cause = ?error, "Disconnect-NAK; session kept");
                result(
                    false,
                    format!("Disconnect-NAK, Error-Cause {error:?}; session kept"),
                )
            }
            Outcome::NoAnswer => {
                tracing::warn!(nas = %key.nas, session = ?key.id, "no answer to Disconnect-Request; session kept");
                result(
                    false,
                    format!("no answer from {to} in {ms} ms; session kept"),
                )
            }
        }
    }

    /// Records the end of a session that is gone (or never told its NAS).
    async fn record_end(
        &self,
        key: &SessionKey,
        user: &str,
        cause: ECode,
        via: Option<ECode>,
        detail: String,
    ) -> KickResult {
        let ended = match self.journal.end(key, cause, via, clock::now()).await {
            Ok(()) => {
                tracing::info!(user = ?user, nas = %key.nas, session = ?key.id, cause = %cause, via = ?via.map(|v| v.to_string()), "session ended");
                true
            }
            Err(e) => {
                tracing::error!(nas = %key.nas, session = ?key.id, error = %e, "session end not recorded");
                false
            }
        };
        let detail = if ended { detail } else { "not recorded".into() };
        KickResult::new(key, ended, cause, detail)
    }

    /// Ends a portal session with `cause`: the service its login activated on a NAS is
    /// deactivated first (then `via` is E4004); when that fails the session stays.
    pub async fn end_portal(
        &self,
        key: &SessionKey,
        cause: ECode,
        via: Option<ECode>,
    ) -> KickResult {
        let Some(session) = self.online.get(key) else {
            return KickResult::new(key, false, cause, "not online".into());
        };
        let r = &session.record;
        let ac_id = r.nas_port.as_deref().unwrap_or_default();
        let ip = r.framed_ip.as_deref().and_then(|ip| ip.parse().ok());
        match self
            .switch_portal_service(ac_id, false, &r.user, &key.id, ip)
            .await
        {
            Ok(None) => {
                let detail = "portal session ended".to_string();
                self.record_end(key, &r.user, cause, via, detail).await
            }
            Ok(Some(code)) => {
                let detail = "service deactivated by CoA".to_string();
                self.record_end(key, &r.user, cause, Some(code), detail)
                    .await
            }
            Err(detail) => KickResult::new(key, false, cause, format!("{detail}; session kept")),
        }
    }

    /// The `[[portal.activation]]` entries whose NAS is not (yet) a single-address
    /// client: their logins would be refused until `turnstile nas add` names it.
    pub fn unreachable_activations(&self) -> impl Iterator<Item = &PortalActivation> {
        self.activation
            .iter()
            .filter(|a| self.target(&None, &a.nas).is_none())
    }

    /// Switches the service of a portal subscriber at `ip` on or off on the NAS that
    /// `ac_id`'s logins are activated on (`[[portal.activation]]`). `Ok(None)`: `ac_id`
    /// has no activation; `Ok(Some(E4003 | E4004))` on CoA-ACK; else why not.
    pub async fn switch_portal_service(
        &self,
        ac_id: &str,
        activate: bool,
        user: &str,
        session_id: &str,
        ip: Option<IpAddr>,
    ) -> Result<Option<ECode>, String> {
        let Some(a) = self.activation.iter().find(|a| a.ac_id == ac_id) else {
            return Ok(None);
        };
        let (code, verb) = if activate {
            (ECode::CoaIpoeOnline, "activate")
        } else {
            (ECode::CoaIpoeOffline, "deactivate")
        };
        let count = |result: &'static str| {
            metrics::counter!("turnstile_portal_activations_total", "action" => verb, "result" => result)
                .increment(1);
        };
        let Some((to, secret, _)) = self.target(&None, &a.nas) else {
            count("no_nas");
            tracing::error!(ac_id, nas = %a.nas, "activation NAS is not a single-address client");
            return Err(format!("NAS {:?} is not a single-address client", a.nas));
        };
        let session = SessionRef {
            user: user.to_string(),
            session_id: session_id.to_string(),
            nas_ip: to.ip(),
            framed_ip: match ip {
                Some(IpAddr::V4(v4)) => Some(v4),
                _ => None,
            },
            station: None,
        };
        let action = Action::Service {
            name: &a.service,
            activate,
        };
        match self.dynauth.send(to, &secret, action, &session).await {
            Outcome::Ack => {
                count("ack");
                tracing::info!(user, ip = ?ip, nas = %a.nas, service = %a.service, code = %code, "portal service switched by CoA");
                Ok(Some(code))
            }
            Outcome::Nak(error) => {
                count("nak");
                tracing::warn!(user, nas = %a.nas, error_cause = ?error, "CoA-NAK to {verb}");
                Err(format!("CoA-NAK to {verb}, Error-Cause {error:?}"))
            }
            Outcome::NoAnswer => {
                count("no_answer");
                tracing::warn!(user, nas = %a.nas, "no answer to CoA {verb}");
                Err(format!("no answer from {to} to CoA {verb}"))
            }
        }
    }

    /// Changes a session's bandwidth by CoA; it stays online.
    pub async fn change_bandwidth(
        &self,
        key: &SessionKey,
        up_bps: u64,
        down_bps: u64,
    ) -> KickResult {
        let code = ECode::CoaBandwidthChange;
        let detail = match self.coa(key, up_bps, down_bps, None).await {
            Ok(()) => "CoA-ACK".to_string(),
            Err(why) => why,
        };
        KickResult::new(key, false, code, detail)
    }

    /// Sends a session's NAS a CoA-Request with new bandwidth and, when given, a new
    /// Session-Timeout; Ok on CoA-ACK, else what happened.
    pub async fn coa(
        &self,
        key: &SessionKey,
        up_bps: u64,
        down_bps: u64,
        session_timeout: Option<u32>,
    ) -> Result<(), String> {
        let Some(session) = self.online.get(key) else {
            return Err("not online".into());
        };
        let Some((to, secret, vendor)) = self.target(&session.record.nas_addr, &key.nas) else {
            return Err("the session's NAS is not a known client".into());
        };
        let action = Action::Bandwidth {
            up_bps,
            down_bps,
            session_timeout,
            vendor,
        };
        let session_ref = session_ref(key, &session.record, to.ip());
        match self.dynauth.send(to, &secret, action, &session_ref).await {
            Outcome::Ack => {
                tracing::info!(nas = %key.nas, session = ?key.id, up_bps, down_bps, session_timeout, "session changed by CoA");
                Ok(())
            }
            Outcome::Nak(error) => Err(format!("CoA-NAK, Error-Cause {error:?}")),
            Outcome::NoAnswer => Err(format!("no answer from {to}")),
        }
    }

    /// Where the session's NAS takes DM/CoA, its secret and dialect.
    fn target(
        &self,
        nas_addr: &Option<String>,
        nas: &str,
    ) -> Option<(
        SocketAddr,
        crate::proto::radius::crypto::SharedSecret,
        crate::vendor::Vendor,
    )> {
        let clients = self.directory.clients();
        let ip: Option<IpAddr> = nas_addr.as_deref().and_then(|a| a.parse().ok());
        let client = ip
            .and_then(|ip| clients.lookup(ip))
            .or_else(|| clients.by_name(nas))?;
        let ip = ip.or_else(|| {
            // A single-address client entry names the NAS.
            (client.range.prefix_len() == client.range.max_prefix_len())
                .then(|| client.range.addr())
        })?;
        Some((
            SocketAddr::new(ip, client.coa_port),
            client.secret.clone(),
            client.vendor,
        ))
    }
}

fn session_ref(key: &SessionKey, r: &crate::store::OnlineRecord, nas_ip: IpAddr) -> SessionRef {
    SessionRef {
        user: r.user.clone(),
        session_id: key.id.to_string(),
        nas_ip,
        framed_ip: r.framed_ip.as_deref().and_then(|ip| ip.parse().ok()),
        station: r.station.clone(),
    }
}
