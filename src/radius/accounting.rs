//! Accounting-Request (RFC 2866) on the wire: validate the packet and its authenticator,
//! read it as the [`AccountingEvent`] the session journal takes, and build the
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
use crate::directory::clients::NasClient;
use crate::proto::radius::class::SessionClass;
use crate::proto::radius::crypto::{verify_message_authenticator, verify_signed_request};
use crate::proto::radius::packet::{Packet, PacketBuilder};
use crate::session::event::{AccountingEvent, AcctStatus};

/// Validates an Accounting-Request from `client` and reads it.
pub fn parse(datagram: &[u8], client: &NasClient) -> Result<AccountingEvent, Discard> {
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
    Ok(AccountingEvent {
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
        class_product: packet
            .first(CLASS_TYPE)
            .and_then(SessionClass::decode)
            .map(|c| c.product),
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
