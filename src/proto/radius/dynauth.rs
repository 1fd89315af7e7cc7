//! Dynamic Authorization (RFC 5176) on the wire: Disconnect-Request and CoA-Request, and
//! what their replies say.
//!
//! Requests carry Message-Authenticator (first) and Event-Timestamp, and name the session
//! by User-Name, Acct-Session-Id and NAS-IP-Address, plus Framed-IP-Address and
//! Calling-Station-Id when known. A reply is authentic only with the right Response
//! Authenticator and (when present) Message-Authenticator.

use radius::core::code::Code;
use radius::core::rfc2865::{
    CALLING_STATION_ID_TYPE, FRAMED_IP_ADDRESS_TYPE, NAS_IP_ADDRESS_TYPE, SESSION_TIMEOUT_TYPE,
    USER_NAME_TYPE,
};
use radius::core::rfc2866::ACCT_SESSION_ID_TYPE;
use radius::core::rfc2869::EVENT_TIMESTAMP_TYPE;
use std::net::IpAddr;

use super::crypto::{verify_message_authenticator, verify_response, SharedSecret};
use super::packet::{Packet, PacketBuilder, PacketTooLarge};
use super::vendor::juniper_service;
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

/// The request packet with identifier `id`: Message-Authenticator first, then the
/// session's identity, Event-Timestamp (`now`, unix seconds) and, for a bandwidth change,
/// the vendor's rate attributes.
pub fn request(
    id: u8,
    secret: &SharedSecret,
    action: Action<'_>,
    s: &SessionRef,
    now: i64,
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
    let now = u32::try_from(now).unwrap_or(u32::MAX);
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

/// Whether `reply` (a Disconnect or CoA ACK or NAK) answers the request that had
/// `authenticator`: its Response Authenticator, and its Message-Authenticator when it
/// carries one.
pub fn authentic_reply(reply: &[u8], authenticator: &[u8; 16], secret: &SharedSecret) -> bool {
    verify_response(reply, authenticator, secret.as_bytes())
        && verify_message_authenticator(reply, authenticator, secret) != Some(false)
}

/// Whether a packet's code is a reply to a Disconnect or CoA request.
pub fn is_reply(code: Code) -> bool {
    matches!(
        code,
        Code::DisconnectACK | Code::DisconnectNAK | Code::CoAACK | Code::CoANAK
    )
}

/// What an authentic reply says: ACK, or NAK with its Error-Cause when given.
pub fn outcome(reply: &Packet<'_>) -> Outcome {
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
