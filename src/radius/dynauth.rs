//! The Dynamic Authorization client (RFC 5176): Disconnect-Request and CoA-Request to a
//! NAS, retransmitted with backoff until an ACK or NAK arrives or time runs out.
//!
//! Requests carry Message-Authenticator (first) and Event-Timestamp, and name the session
//! by User-Name, Acct-Session-Id and NAS-IP-Address, plus Framed-IP-Address and
//! Calling-Station-Id when known. Replies are accepted only with the right identifier,
//! Response Authenticator and (when present) Message-Authenticator.

use radius::core::code::Code;
use radius::core::rfc2865::{
    CALLING_STATION_ID_TYPE, FRAMED_IP_ADDRESS_TYPE, NAS_IP_ADDRESS_TYPE, SESSION_TIMEOUT_TYPE,
    USER_NAME_TYPE,
};
use radius::core::rfc2866::ACCT_SESSION_ID_TYPE;
use radius::core::rfc2869::EVENT_TIMESTAMP_TYPE;
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::oneshot;

use super::crypto::{verify_message_authenticator, verify_response, SharedSecret};
use super::packet::{Packet, PacketBuilder, PacketTooLarge, MAX_PACKET_LEN};
use super::vendor::juniper_service;
use crate::config::DynAuthSettings;
use crate::vendor::Vendor;

/// Error-Cause (RFC 5176 §3.5).
const ERROR_CAUSE_TYPE: u8 = 101;

/// What to ask the NAS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action<'a> {
    /// End the session.
    Disconnect,
    /// Activate (or deactivate) a service for the subscriber (IPoE web authentication).
    Service {
        /// The service's name on the NAS.
        name: &'a str,
        /// Activate, else deactivate.
        activate: bool,
    },
    /// Change the session's bandwidth, in the NAS's dialect, and its time left.
    Bandwidth {
        /// Upload, bit/s.
        up_bps: u64,
        /// Download, bit/s.
        down_bps: u64,
        /// Session-Timeout from now, seconds, when there is one.
        session_timeout: Option<u32>,
        /// The NAS's dialect.
        vendor: Vendor,
    },
}

/// Which session, as the NAS knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRef {
    /// User-Name.
    pub user: String,
    /// Acct-Session-Id.
    pub session_id: String,
    /// NAS-IP-Address.
    pub nas_ip: IpAddr,
    /// Framed-IP-Address, when known.
    pub framed_ip: Option<std::net::Ipv4Addr>,
    /// Calling-Station-Id, when known.
    pub station: Option<String>,
}

/// How the NAS answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Disconnect-ACK or CoA-ACK.
    Ack,
    /// Disconnect-NAK or CoA-NAK, with its Error-Cause when given.
    Nak(Option<u32>),
    /// No valid answer within the retransmission schedule.
    NoAnswer,
}

/// Error-Cause 503: Session Context Not Found.
pub const SESSION_NOT_FOUND: u32 = 503;

struct Waiting {
    authenticator: [u8; 16],
    secret: SharedSecret,
    reply: oneshot::Sender<Vec<u8>>,
}

type WaitingMap = Arc<Mutex<HashMap<(SocketAddr, u8), Waiting>>>;

/// Sends Disconnect and CoA requests from one socket and matches the replies.
pub struct DynAuthClient {
    socket: Arc<UdpSocket>,
    waiting: WaitingMap,
    schedule: DynAuthSettings,
    receiver: tokio::task::JoinHandle<()>,
}

impl Drop for DynAuthClient {
    fn drop(&mut self) {
        self.receiver.abort();
    }
}

impl DynAuthClient {
    /// Binds a socket on `local` (port 0) with a kernel receive buffer of `recv_buffer`
    /// bytes, so that a NAS flooding it with forged replies does not crowd out the real
    /// ones, and starts reading replies.
    pub async fn bind(
        local: IpAddr,
        recv_buffer: usize,
        schedule: DynAuthSettings,
    ) -> io::Result<DynAuthClient> {
        let socket = Arc::new(super::socket::bind(SocketAddr::new(local, 0), recv_buffer)?);
        let waiting: WaitingMap = Arc::default();
        let receiver = tokio::spawn(receive(socket.clone(), waiting.clone()));
        Ok(DynAuthClient {
            socket,
            waiting,
            schedule,
            receiver,
        })
    }

    /// Asks the NAS at `to` to act on `session`; waits for its answer, retransmitting
    /// the same request after 2, 4, 8, 16 s (by default) within the total time allowed.
    pub async fn send(
        &self,
        to: SocketAddr,
        secret: &SharedSecret,
        action: Action<'_>,
        session: &SessionRef,
    ) -> Outcome {
        let Some((id, rx, packet)) = self.register(to, secret, action, session) else {
            tracing::warn!(nas = %to, "no free identifier or request too large; not sent");
            return Outcome::NoAnswer;
        };
        let outcome = self.exchange(to, &packet, rx).await;
        self.waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(to, id));
        match outcome {
            Some(reply) => {
                let Ok(reply) = Packet::parse(&reply) else {
                    return Outcome::NoAnswer;
                };
                match reply.code() {
                    Code::DisconnectACK | Code::CoAACK => Outcome::Ack,
                    _ => Outcome::Nak(
                        reply
                            .first(ERROR_CAUSE_TYPE)
                            .and_then(|v| <[u8; 4]>::try_from(v).ok())
                            .map(u32::from_be_bytes),
                    ),
                }
            }
            None => Outcome::NoAnswer,
        }
    }

    /// Picks a free identifier for `to`, builds the request and waits for its reply.
    fn register(
        &self,
        to: SocketAddr,
        secret: &SharedSecret,
        action: Action<'_>,
        session: &SessionRef,
    ) -> Option<(u8, oneshot::Receiver<Vec<u8>>, Vec<u8>)> {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        let start: u8 = rand::random();
        let id = (0..=255u8)
            .map(|i| start.wrapping_add(i))
            .find(|id| !waiting.contains_key(&(to, *id)))?;
        let packet = build(id, secret, action, session).ok()?;
        let (reply, rx) = oneshot::channel();
        let authenticator = packet[4..20].try_into().ok()?;
        waiting.insert(
            (to, id),
            Waiting {
                authenticator,
                secret: secret.clone(),
                reply,
            },
        );
        Some((id, rx, packet))
    }

    async fn exchange(
        &self,
        to: SocketAddr,
        packet: &[u8],
        mut rx: oneshot::Receiver<Vec<u8>>,
    ) -> Option<Vec<u8>> {
        let s = &self.schedule;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(s.total_ms);
        let mut wait = Duration::from_millis(s.initial_retry_ms);
        for attempt in 0..s.tries.max(1) {
            if attempt > 0 {
                metrics::counter!("turnstile_dynauth_retransmissions_total").increment(1);
            }
            if let Err(e) = self.socket.send_to(packet, to).await {
                tracing::warn!(nas = %to, error = %e, "DM/CoA request not sent");
            }
            let until = (tokio::time::Instant::now() + wait).min(deadline);
            match tokio::time::timeout_at(until, &mut rx).await {
                Ok(Ok(reply)) => return Some(reply),
                Ok(Err(_)) => return None,
                Err(_) if tokio::time::Instant::now() >= deadline => return None,
                Err(_) => {}
            }
            wait = (wait * 2).min(Duration::from_millis(s.max_retry_ms));
        }
        None
    }
}

/// The request packet: Message-Authenticator first, then the session's identity,
/// Event-Timestamp and, for a bandwidth change, the vendor's rate attributes.
fn build(
    id: u8,
    secret: &SharedSecret,
    action: Action<'_>,
    s: &SessionRef,
) -> Result<Vec<u8>, PacketTooLarge> {
    let code = match action {
        Action::Disconnect => Code::DisconnectRequest,
        Action::Service { .. } | Action::Bandwidth { .. } => Code::CoARequest,
    };
    let mut b = PacketBuilder::new(code, id)
        .message_authenticator()
        .attribute(USER_NAME_TYPE, s.user.as_bytes())?
        .attribute(ACCT_SESSION_ID_TYPE, s.session_id.as_bytes())?;
    b = match s.nas_ip {
        IpAddr::V4(ip) => b.attribute(NAS_IP_ADDRESS_TYPE, &ip.octets())?,
        // NAS-IPv6-Address (RFC 3162).
        IpAddr::V6(ip) => b.attribute(95, &ip.octets())?,
    };
    if let Some(ip) = s.framed_ip {
        b = b.attribute(FRAMED_IP_ADDRESS_TYPE, &ip.octets())?;
    }
    if let Some(station) = &s.station {
        b = b.attribute(CALLING_STATION_ID_TYPE, station.as_bytes())?;
    }
    let now = u32::try_from(crate::store::unix_now()).unwrap_or(u32::MAX);
    b = b.u32_attribute(EVENT_TIMESTAMP_TYPE, now)?;
    match action {
        Action::Disconnect => {}
        Action::Service { name, activate } => {
            b = b.vendor_specific(&juniper_service(name.as_bytes(), activate))?;
        }
        Action::Bandwidth {
            up_bps,
            down_bps,
            session_timeout,
            vendor,
        } => {
            if let Some(t) = session_timeout {
                b = b.u32_attribute(SESSION_TIMEOUT_TYPE, t)?;
            }
            b = vendor.bandwidth(up_bps, down_bps, b, |b, vsa| b.vendor_specific(&vsa))?;
        }
    }
    Ok(b.finish_signed_request(secret))
}

/// Reads replies and hands each, once verified, to the request waiting for it.
async fn receive(socket: Arc<UdpSocket>, waiting: WaitingMap) {
    let mut buf = vec![0u8; MAX_PACKET_LEN + 1];
    let dropped = |reason: &'static str| {
        metrics::counter!("turnstile_dynauth_dropped_total", "reason" => reason).increment(1);
    };
    loop {
        let Ok((len, from)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let bytes = &buf[..len];
        let Ok(packet) = Packet::parse(bytes) else {
            dropped("malformed");
            continue;
        };
        if !matches!(
            packet.code(),
            Code::DisconnectACK | Code::DisconnectNAK | Code::CoAACK | Code::CoANAK
        ) {
            dropped("unexpected_code");
            continue;
        }
        let mut map = waiting.lock().unwrap_or_else(|e| e.into_inner());
        let key = (from, packet.identifier());
        let Some(w) = map.get(&key) else {
            dropped("unknown_identifier");
            continue;
        };
        let authentic = verify_response(bytes, &w.authenticator, w.secret.as_bytes())
            && verify_message_authenticator(bytes, &w.authenticator, &w.secret) != Some(false);
        if !authentic {
            dropped("bad_authenticator");
            continue;
        }
        if let Some(w) = map.remove(&key) {
            let _ = w.reply.send(bytes.to_vec());
        }
    }
}
