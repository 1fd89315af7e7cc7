//! Accounting-Request (RFC 2866) on the wire: validate the packet and its authenticator,
//! read the narrow [`AccountingRequest`] view the session tracker needs, and build the
//! Accounting-Response.

use radius::core::code::Code;
use radius::core::rfc2865::{
    CALLING_STATION_ID_TYPE, CLASS_TYPE, FRAMED_IP_ADDRESS_TYPE, NAS_IP_ADDRESS_TYPE,
    NAS_PORT_TYPE, PROXY_STATE_TYPE, USER_NAME_TYPE,
};
use radius::core::rfc2866::{
    ACCT_INPUT_OCTETS_TYPE, ACCT_OUTPUT_OCTETS_TYPE, ACCT_SESSION_ID_TYPE, ACCT_SESSION_TIME_TYPE,
    ACCT_STATUS_TYPE_TYPE, ACCT_TERMINATE_CAUSE_TYPE,
};
use radius::core::rfc2869::{
    ACCT_INPUT_GIGAWORDS_TYPE, ACCT_OUTPUT_GIGAWORDS_TYPE, NAS_PORT_ID_TYPE,
};
use std::net::Ipv4Addr;

use super::access::Discard;
use super::class::SessionClass;
use super::clients::NasClient;
use super::crypto::{verify_message_authenticator, verify_signed_request};
use super::packet::{Packet, PacketBuilder};

/// Acct-Status-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcctStatus {
    /// A session began.
    Start,
    /// A session ended.
    Stop,
    /// A session is still there.
    InterimUpdate,
    /// The NAS restarted: none of its sessions are online.
    AccountingOn,
    /// The NAS is going down: none of its sessions stay online.
    AccountingOff,
    /// Another value, acknowledged and otherwise ignored.
    Other(u32),
}

impl AcctStatus {
    fn from_value(v: u32) -> AcctStatus {
        match v {
            1 => AcctStatus::Start,
            2 => AcctStatus::Stop,
            3 => AcctStatus::InterimUpdate,
            7 => AcctStatus::AccountingOn,
            8 => AcctStatus::AccountingOff,
            other => AcctStatus::Other(other),
        }
    }

    /// Label for metrics.
    pub fn label(self) -> &'static str {
        match self {
            AcctStatus::Start => "start",
            AcctStatus::Stop => "stop",
            AcctStatus::InterimUpdate => "interim_update",
            AcctStatus::AccountingOn => "accounting_on",
            AcctStatus::AccountingOff => "accounting_off",
            AcctStatus::Other(_) => "other",
        }
    }
}

/// What the tracker needs from an Accounting-Request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountingRequest {
    /// Acct-Status-Type.
    pub status: AcctStatus,
    /// Acct-Session-Id (empty when absent, as for Accounting-On/Off).
    pub session_id: String,
    /// User-Name.
    pub user: String,
    /// Acct-Terminate-Cause (Stop).
    pub terminate_cause: Option<u32>,
    /// Acct-Session-Time, seconds.
    pub session_time: Option<u32>,
    /// Octets from the user (Acct-Input-Octets + 2^32 × Acct-Input-Gigawords).
    pub input_octets: u64,
    /// Octets to the user (Acct-Output-Octets + 2^32 × Acct-Output-Gigawords).
    pub output_octets: u64,
    /// Acct-Input-Gigawords or Acct-Output-Gigawords was present: the NAS counts past
    /// 4 GiB itself (a NAS that does not wraps its 32-bit counters).
    pub gigawords: bool,
    /// Framed-IP-Address.
    pub framed_ip: Option<Ipv4Addr>,
    /// NAS-IP-Address.
    pub nas_ip: Option<Ipv4Addr>,
    /// Calling-Station-Id.
    pub station: Option<String>,
    /// NAS-Port-Id, else NAS-Port.
    pub nas_port: Option<String>,
    /// The Class of the Access-Accept, when turnstile wrote it.
    pub class: Option<SessionClass>,
}

/// Validates an Accounting-Request from `client` and reads it.
pub fn parse(datagram: &[u8], client: &NasClient) -> Result<AccountingRequest, Discard> {
    let packet = Packet::parse(datagram).map_err(Discard::Malformed)?;
    if packet.code() != Code::AccountingRequest {
        return Err(Discard::UnexpectedCode);
    }
    if !verify_signed_request(packet.bytes(), client.secret.as_bytes()) {
        return Err(Discard::BadAuthenticator);
    }
    // Optional here; when present it is computed over a zero Request Authenticator,
    // since the authenticator itself covers it.
    if verify_message_authenticator(packet.bytes(), &[0; 16], &client.secret) == Some(false) {
        return Err(Discard::BadMessageAuthenticator);
    }
    let text = |typ| {
        packet
            .first(typ)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    };
    let integer = |typ| {
        packet
            .first(typ)
            .and_then(|v| <[u8; 4]>::try_from(v).ok())
            .map(u32::from_be_bytes)
    };
    let ipv4 = |typ| {
        packet
            .first(typ)
            .and_then(|v| <[u8; 4]>::try_from(v).ok())
            .map(Ipv4Addr::from)
    };
    let octets = |low, high| {
        u64::from(integer(high).unwrap_or(0)) << 32 | u64::from(integer(low).unwrap_or(0))
    };
    let status = integer(ACCT_STATUS_TYPE_TYPE).ok_or(Discard::MissingAttribute)?;
    let status = AcctStatus::from_value(status);
    let session_id = text(ACCT_SESSION_ID_TYPE).unwrap_or_default();
    if session_id.is_empty()
        && matches!(
            status,
            AcctStatus::Start | AcctStatus::Stop | AcctStatus::InterimUpdate
        )
    {
        return Err(Discard::MissingAttribute);
    }
    Ok(AccountingRequest {
        status,
        session_id,
        user: text(USER_NAME_TYPE).unwrap_or_default(),
        terminate_cause: integer(ACCT_TERMINATE_CAUSE_TYPE),
        session_time: integer(ACCT_SESSION_TIME_TYPE),
        input_octets: octets(ACCT_INPUT_OCTETS_TYPE, ACCT_INPUT_GIGAWORDS_TYPE),
        output_octets: octets(ACCT_OUTPUT_OCTETS_TYPE, ACCT_OUTPUT_GIGAWORDS_TYPE),
        gigawords: packet.first(ACCT_INPUT_GIGAWORDS_TYPE).is_some()
            || packet.first(ACCT_OUTPUT_GIGAWORDS_TYPE).is_some(),
        framed_ip: ipv4(FRAMED_IP_ADDRESS_TYPE),
        nas_ip: ipv4(NAS_IP_ADDRESS_TYPE),
        station: text(CALLING_STATION_ID_TYPE),
        nas_port: text(NAS_PORT_ID_TYPE).or_else(|| integer(NAS_PORT_TYPE).map(|p| p.to_string())),
        class: packet.first(CLASS_TYPE).and_then(SessionClass::decode),
    })
}

/// The Accounting-Response to `datagram` (already validated by [`parse`]), with the
/// request's Proxy-State attributes.
pub fn response(datagram: &[u8], client: &NasClient) -> Result<Vec<u8>, Discard> {
    let packet = Packet::parse(datagram).map_err(Discard::Malformed)?;
    let mut b = PacketBuilder::new(Code::AccountingResponse, packet.identifier());
    for a in packet.attributes().filter(|a| a.typ == PROXY_STATE_TYPE) {
        b = b
            .attribute(PROXY_STATE_TYPE, a.value)
            .map_err(|_| Discard::ReplyTooLarge)?;
    }
    Ok(b.finish_reply(packet.authenticator(), &client.secret))
}
