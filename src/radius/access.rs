//! The authentication port's handler ([`AccessHandler`]): the NAS client of each
//! datagram, the reply cache, the counters and the log line around [`answer`], which
//! checks one Access-Request or Status-Server ([`AccessRequest`]), hands a narrow
//! [`Request`] view to [`crate::auth::policy::evaluate`] through the login service, and
//! builds the signed reply with the grant's attributes.

use radius::core::code::Code;
use radius::core::rfc2865::{
    CALLING_STATION_ID_TYPE, CHAP_CHALLENGE_TYPE, CHAP_PASSWORD_TYPE, CLASS_TYPE,
    FRAMED_IP_ADDRESS_TYPE, IDLE_TIMEOUT_TYPE, NAS_IDENTIFIER_TYPE, NAS_IP_ADDRESS_TYPE,
    PROXY_STATE_TYPE, REPLY_MESSAGE_TYPE, SESSION_TIMEOUT_TYPE, STATE_TYPE, USER_NAME_TYPE,
    USER_PASSWORD_TYPE,
};
use radius::core::rfc2869::{ACCT_INTERIM_INTERVAL_TYPE, NAS_PORT_ID_TYPE};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use super::reply_cache::{Lookup, ReplyCache, RequestKey};
use super::server::{Datagram, RequestHandler};

use crate::account::Interface;
use crate::auth::eap::{self, Method, Step};
use crate::auth::nas_port::Vlans;
use crate::auth::policy::{Grant, NasIdentity, Request};
use crate::auth::{Credentials, Decision, Proof, Service};
use crate::codes::ECode;
use crate::config::Settings;
use crate::directory::clients::NasClient;
use crate::mac::MacAddr;
use crate::proto::eap::carriage::{self, BadCarriage, Carried};
use crate::proto::eap::EapPacket;
use crate::proto::mschap::{
    self, ResponseV1, ResponseV2, MICROSOFT, MS_CHAP2_RESPONSE, MS_CHAP2_SUCCESS,
    MS_CHAP_CHALLENGE, MS_CHAP_ERROR, MS_CHAP_RESPONSE, MS_MPPE_ENCRYPTION_POLICY,
    MS_MPPE_ENCRYPTION_TYPES, MS_MPPE_RECV_KEY, MS_MPPE_SEND_KEY,
};
use crate::proto::radius::class::SessionClass;
use crate::proto::radius::crypto::{unhide_password, verify_message_authenticator};
use crate::proto::radius::packet::{
    MalformedPacket, Packet, PacketBuilder, PacketTooLarge, HEADER_LEN,
};
use crate::proto::radius::vendor::VendorSpecific;
use crate::telemetry::RadiusMetrics;

/// Why a request is dropped without an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discard {
    /// Not a well-formed packet.
    Malformed(MalformedPacket),
    /// The NAS requires Message-Authenticator and the packet has none.
    MissingMessageAuthenticator,
    /// Message-Authenticator does not match the shared secret.
    BadMessageAuthenticator,
    /// A packet type this port does not serve.
    UnexpectedCode,
    /// User-Password or CHAP-Password has an impossible length.
    BadPasswordAttribute,
    /// The reply would not fit in a packet.
    ReplyTooLarge,
    /// The request authenticator of an Accounting-Request does not match.
    BadAuthenticator,
    /// A required attribute (Acct-Status-Type, Acct-Session-Id) is missing.
    MissingAttribute,
    /// The record could not be stored; the NAS will retransmit.
    StoreFailed,
    /// EAP-Message attributes that are not one EAP packet.
    Eap(BadCarriage),
}

impl Discard {
    /// Label for the drop counter.
    pub fn reason(self) -> &'static str {
        match self {
            Discard::Malformed(m) => m.reason(),
            Discard::MissingMessageAuthenticator => "missing_message_authenticator",
            Discard::BadMessageAuthenticator => "bad_message_authenticator",
            Discard::UnexpectedCode => "unexpected_code",
            Discard::BadPasswordAttribute => "bad_password_attribute",
            Discard::ReplyTooLarge => "reply_too_large",
            Discard::BadAuthenticator => "bad_authenticator",
            Discard::MissingAttribute => "missing_attribute",
            Discard::StoreFailed => "store_failed",
            Discard::Eap(bad) => bad.reason(),
        }
    }
}

/// A reply to send, and what it says.
#[derive(Debug)]
pub struct Reply {
    /// The signed packet.
    pub bytes: Vec<u8>,
    /// The code of the decision (E0000 for an Accept and for Status-Server).
    pub code: ECode,
    /// The User-Name, for the log line (empty for Status-Server and a Challenge).
    pub user: String,
    /// What kind of answer it is.
    pub kind: Answered,
}

/// The kinds of reply the port sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answered {
    /// Access-Accept or Access-Reject: a decision.
    Decision,
    /// Access-Challenge: another EAP round.
    Challenge,
    /// The reply to Status-Server.
    Status,
}

/// What the authentication workers share: the login service they hand each request to,
/// and the port's reply cache and counters.
pub struct AccessHandler {
    /// Checks credentials and decides.
    pub service: Arc<Service>,
    /// Replies of recent requests.
    pub cache: ReplyCache,
    /// Hot-path counters.
    pub metrics: RadiusMetrics,
    /// When the reply cache last rotated.
    rotated: Mutex<Instant>,
}

/// One Access-Request or Status-Server from a known NAS, as [`answer`] sees it.
pub struct AccessRequest<'a> {
    /// The parsed packet.
    pub packet: Packet<'a>,
    /// The NAS client it came from.
    pub client: &'a NasClient,
    /// Where it came from.
    pub source: SocketAddr,
    /// When it was read.
    pub received: Instant,
}

impl AccessHandler {
    /// The handler for `service`, with the reply cache `settings` size.
    pub fn new(settings: &Settings, service: Arc<Service>) -> AccessHandler {
        AccessHandler {
            service,
            cache: ReplyCache::for_settings(&settings.radius),
            metrics: RadiusMetrics::default(),
            rotated: Mutex::new(Instant::now()),
        }
    }
}

impl RequestHandler for AccessHandler {
    fn handle(&self, datagram: &Datagram<'_>) -> Option<Arc<[u8]>> {
        let (bytes, source, received) = (datagram.bytes, datagram.source, datagram.received);
        self.metrics.received.increment(1);
        let clients = self.service.directory().clients();
        let Some(client) = clients.lookup(source.ip()) else {
            self.metrics.dropped("unknown_client");
            return None;
        };
        // Status-Server is never cached (RFC 5997 §3); a header too short for a key is
        // dropped by the parser below.
        let key = match (bytes.first(), bytes.get(4..HEADER_LEN)) {
            (Some(&code), Some(authenticator)) if code == Code::AccessRequest as u8 => {
                authenticator
                    .try_into()
                    .ok()
                    .map(|authenticator| RequestKey {
                        source,
                        identifier: bytes[1],
                        authenticator,
                    })
            }
            _ => None,
        };
        if let Some(key) = key {
            match self.cache.begin(key, received) {
                Lookup::New | Lookup::Untracked => {}
                Lookup::InProgress => {
                    self.metrics.in_progress.increment(1);
                    return None;
                }
                Lookup::Cached(reply) => {
                    self.metrics.resent.increment(1);
                    return Some(reply);
                }
            }
        }
        let answered = Packet::parse(bytes)
            .map_err(Discard::Malformed)
            .and_then(|packet| {
                let request = AccessRequest {
                    packet,
                    client,
                    source,
                    received,
                };
                answer(&request, &self.service)
            });
        match answered {
            Ok(reply) => {
                let bytes: Arc<[u8]> = reply.bytes.into();
                if let Some(key) = &key {
                    self.cache.complete(key, bytes.clone(), Instant::now());
                }
                // Measured to the decision: the reply leaves with the rest of its batch,
                // tens of microseconds later.
                let elapsed = received.elapsed();
                self.metrics.latency.record(elapsed.as_secs_f64());
                if reply.kind == Answered::Status {
                    self.metrics.status_server.increment(1);
                    self.metrics.status_reply();
                } else if reply.kind == Answered::Challenge {
                    metrics::counter!("turnstile_eap_challenges_total").increment(1);
                } else {
                    self.metrics.access_requests.increment(1);
                    let code = reply.code;
                    self.metrics.access_reply(code);
                    tracing::info!(
                        // Debug quoting: a crafted User-Name cannot forge log lines.
                        user = ?reply.user,
                        nas = %client.name,
                        code = %code,
                        us = elapsed.as_micros() as u64,
                        "access decision"
                    );
                }
                Some(bytes)
            }
            Err(reason) => {
                if let Some(key) = &key {
                    self.cache.abandon(key);
                }
                self.metrics.dropped(reason.reason());
                if reason == Discard::MissingMessageAuthenticator && client.should_warn() {
                    tracing::warn!(
                        nas = %client.name,
                        from = %source,
                        "dropping Access-Request without Message-Authenticator (required for this NAS; warned once a minute)"
                    );
                } else {
                    tracing::debug!(nas = %client.name, from = %source, reason = reason.reason(), "request dropped");
                }
                None
            }
        }
    }

    /// Rotates the reply cache once per lifetime and forgets stale login history.
    fn upkeep(&self) {
        let mut rotated = self.rotated.lock().unwrap_or_else(PoisonError::into_inner);
        if rotated.elapsed() >= self.cache.lifetime() {
            *rotated = Instant::now();
            // Freed on a blocking thread, not on a packet path.
            let old = self.cache.rotate();
            tokio::task::spawn_blocking(move || drop(old));
            self.service
                .authenticator
                .throttle
                .prune(crate::clock::now());
        }
        metrics::gauge!("turnstile_reply_cache_entries").set(self.cache.len() as f64);
        self.service.eap.prune();
    }
}

/// The reply to `request`, or why it is dropped.
pub fn answer(request: &AccessRequest<'_>, service: &Service) -> Result<Reply, Discard> {
    let AccessRequest {
        packet,
        client,
        source,
        ..
    } = request;
    let code = packet.code();
    if !matches!(code, Code::AccessRequest | Code::StatusServer) {
        return Err(Discard::UnexpectedCode);
    }
    let carried = carriage::carried(packet).map_err(Discard::Eap)?;
    let eap = carried != Carried::Nothing;
    match verify_message_authenticator(packet.bytes(), packet.authenticator(), &client.secret) {
        Some(true) => {}
        Some(false) => return Err(Discard::BadMessageAuthenticator),
        // RFC 5997 requires it on Status-Server, RFC 3579 §3.2 with EAP; the NAS entry
        // decides for the rest.
        None if code == Code::StatusServer || eap || client.require_message_authenticator => {
            return Err(Discard::MissingMessageAuthenticator)
        }
        None => {}
    }
    if code == Code::StatusServer {
        let bytes = reply(packet, Code::AccessAccept, client, Ok)?;
        return Ok(Reply {
            bytes,
            code: ECode::LoginSuccess,
            user: String::new(),
            kind: Answered::Status,
        });
    }

    if eap {
        return answer_eap(packet, client, source.ip(), service, &carried);
    }
    let user = packet
        .first(USER_NAME_TYPE)
        .map(String::from_utf8_lossy)
        .unwrap_or_default()
        .into_owned();
    let (decision, ms_chap) = decide(packet, client, source.ip(), service, &user)?;
    let bytes = match &decision {
        Decision::Accept(grant) => reply(packet, Code::AccessAccept, client, |mut b| {
            if let Some(ms_chap) = ms_chap {
                b = ms_chap_success(b, ms_chap, &grant.proof, packet, client)?;
            }
            grant_attributes(b, grant, &user, client)
        })?,
        Decision::Reject(code) => {
            let message = code.wire(service.lang);
            reply(packet, Code::AccessReject, client, |mut b| {
                if let Some(ms_chap) = ms_chap {
                    b = ms_chap_error(b, ms_chap, *code, &message)?;
                }
                for part in split_utf8(message.as_bytes(), 253) {
                    b = b.attribute(REPLY_MESSAGE_TYPE, part)?;
                }
                Ok(b)
            })?
        }
    };
    Ok(Reply {
        bytes,
        code: decision.code(),
        user,
        kind: Answered::Decision,
    })
}

/// The attributes of an Access-Accept: timeouts, interim interval, Class and bandwidth in
/// the NAS's dialect.
fn grant_attributes(
    mut b: PacketBuilder,
    grant: &Grant,
    user: &str,
    client: &NasClient,
) -> Result<PacketBuilder, PacketTooLarge> {
    for (typ, value) in [
        (SESSION_TIMEOUT_TYPE, grant.session_timeout),
        (IDLE_TIMEOUT_TYPE, grant.idle_timeout),
        (ACCT_INTERIM_INTERVAL_TYPE, Some(grant.interim_interval)),
    ] {
        if let Some(v) = value {
            b = b.u32_attribute(typ, v)?;
        }
    }
    if let Some(class) = SessionClass::encode(&grant.product, user) {
        b = b.attribute(CLASS_TYPE, &class)?;
    }
    client
        .vendor
        .bandwidth(grant.up_bps, grant.down_bps, b, |b, vsa| {
            b.vendor_specific(&vsa)
        })
}

/// Which MS-CHAP a request used, for the attributes of its reply.
#[derive(Debug, Clone, Copy)]
struct MsChap {
    /// The identifier the reply echoes.
    ident: u8,
    /// Version 2 (else 1).
    v2: bool,
}

fn decide(
    packet: &Packet<'_>,
    client: &NasClient,
    source: IpAddr,
    service: &Service,
    user: &str,
) -> Result<(Decision, Option<MsChap>), Discard> {
    let authenticator = packet.authenticator();
    let plain;
    let mut ms_chap = None;
    let credentials = if let Some(hidden) = packet.first(USER_PASSWORD_TYPE) {
        plain = unhide_password(hidden, client.secret.as_bytes(), authenticator)
            .ok_or(Discard::BadPasswordAttribute)?;
        Credentials::Pap { password: &plain }
    } else if let Some(chap) = packet.first(CHAP_PASSWORD_TYPE) {
        let (&ident, response) = chap.split_first().ok_or(Discard::BadPasswordAttribute)?;
        let response: &[u8; 16] = response
            .try_into()
            .map_err(|_| Discard::BadPasswordAttribute)?;
        let challenge = packet.first(CHAP_CHALLENGE_TYPE).unwrap_or(authenticator);
        Credentials::Chap {
            ident,
            response,
            challenge,
        }
    } else if let Some((credentials, used)) = ms_chap_credentials(packet)? {
        ms_chap = Some(used);
        credentials
    } else {
        return Ok((Decision::Reject(ECode::WrongPassword), None));
    };
    let request = policy_request(packet, client, source, credentials);
    Ok((service.authenticator.authenticate(user, &request), ms_chap))
}

/// The policy's view of an Access-Request proving the password with `credentials`.
fn policy_request<'a>(
    packet: &Packet<'a>,
    client: &'a NasClient,
    source: IpAddr,
    credentials: Credentials<'a>,
) -> Request<'a> {
    let text = |typ| packet.first(typ).and_then(|v| std::str::from_utf8(v).ok());
    let ipv4 = |typ| {
        packet
            .first(typ)
            .and_then(|v| <[u8; 4]>::try_from(v).ok())
            .map(|a| IpAddr::V4(Ipv4Addr::from(a)))
    };
    let station = packet.first(CALLING_STATION_ID_TYPE);
    let nas_port_id = packet.first(NAS_PORT_ID_TYPE);
    Request {
        interface: Interface::Radius,
        credentials,
        mac: station.and_then(MacAddr::from_station_id),
        station: text(CALLING_STATION_ID_TYPE),
        ip: ipv4(FRAMED_IP_ADDRESS_TYPE),
        nas: NasIdentity {
            client: &client.name,
            ip: Some(ipv4(NAS_IP_ADDRESS_TYPE).unwrap_or(source)),
            identifier: text(NAS_IDENTIFIER_TYPE),
        },
        nas_port_id: text(NAS_PORT_ID_TYPE),
        vlans: nas_port_id.map(Vlans::from_nas_port_id).unwrap_or_default(),
    }
}

/// Answers a request carrying EAP (`carried`): an Access-Challenge for another round, or
/// the decision with EAP Success or Failure and never a Reply-Message (RFC 3579 §2.6.5).
fn answer_eap(
    packet: &Packet<'_>,
    client: &NasClient,
    source: IpAddr,
    service: &Service,
    carried: &Carried<'_>,
) -> Result<Reply, Discard> {
    let eap = match carried {
        Carried::Packet(bytes) => {
            Some(EapPacket::parse(bytes).map_err(|e| Discard::Eap(BadCarriage::Malformed(e)))?)
        }
        _ => None,
    };
    let state = packet.first(STATE_TYPE);
    let outcome =
        |success: bool, identifier: u8, user: &str, code: ECode, grant: Option<&Grant>| {
            let reply_code = if success {
                Code::AccessAccept
            } else {
                Code::AccessReject
            };
            let bytes = reply(packet, reply_code, client, |b| {
                let mut b = carriage::add(b, &EapPacket::outcome(success, identifier).to_bytes())?;
                if let Some(grant) = grant {
                    // RFC 3579 §3: an Accept names the user the request named.
                    b = b.attribute(USER_NAME_TYPE, user.as_bytes())?;
                    b = grant_attributes(b, grant, user, client)?;
                }
                Ok(b)
            })?;
            Ok(Reply {
                bytes,
                code,
                user: user.to_string(),
                kind: Answered::Decision,
            })
        };
    match eap::step(&service.eap, eap.as_ref(), state) {
        Step::Challenge { eap, state } => {
            let bytes = reply(packet, Code::AccessChallenge, client, |b| {
                let b = carriage::add(b, &eap)?;
                match state {
                    Some(state) => b.attribute(STATE_TYPE, &state),
                    None => Ok(b),
                }
            })?;
            Ok(Reply {
                bytes,
                code: ECode::LoginSuccess,
                user: String::new(),
                kind: Answered::Challenge,
            })
        }
        Step::Fail { identifier, reason } => {
            metrics::counter!("turnstile_eap_failures_total", "reason" => reason).increment(1);
            let user = packet
                .first(USER_NAME_TYPE)
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            tracing::debug!(user = ?user, reason, "EAP conversation ended");
            outcome(false, identifier, &user, ECode::EapCheckFailed, None)
        }
        Step::Prove {
            conversation,
            identifier,
        } => {
            let data = eap.as_ref().map_or(&[][..], |e| e.data);
            let credentials = match &conversation.method {
                Method::Md5(md5) => md5.credentials(identifier, data),
            };
            let user = &*conversation.user;
            let Some(credentials) = credentials else {
                metrics::counter!("turnstile_eap_failures_total", "reason" => "bad_response")
                    .increment(1);
                return outcome(false, identifier, user, ECode::EapCheckFailed, None);
            };
            let request = policy_request(packet, client, source, credentials);
            match service.authenticator.authenticate(user, &request) {
                Decision::Accept(grant) => {
                    outcome(true, identifier, user, ECode::LoginSuccess, Some(&grant))
                }
                Decision::Reject(code) => outcome(false, identifier, user, code, None),
            }
        }
    }
}

/// The MS-CHAP credentials of a request: MS-CHAP-Challenge with MS-CHAP2-Response
/// (version 2) or MS-CHAP-Response (version 1); a value of the wrong size drops it.
fn ms_chap_credentials<'a>(
    packet: &Packet<'a>,
) -> Result<Option<(Credentials<'a>, MsChap)>, Discard> {
    let Some(challenge) = packet.first_vendor(MICROSOFT, MS_CHAP_CHALLENGE) else {
        return Ok(None);
    };
    let bad = |_| Discard::BadPasswordAttribute;
    if let Some(value) = packet.first_vendor(MICROSOFT, MS_CHAP2_RESPONSE) {
        let response = ResponseV2::parse(value).ok_or(Discard::BadPasswordAttribute)?;
        let used = MsChap {
            ident: response.ident,
            v2: true,
        };
        let credentials = Credentials::MsChapV2 {
            challenge: challenge.try_into().map_err(bad)?,
            response,
            user: packet.first(USER_NAME_TYPE).unwrap_or_default(),
        };
        return Ok(Some((credentials, used)));
    }
    let Some(value) = packet.first_vendor(MICROSOFT, MS_CHAP_RESPONSE) else {
        return Ok(None);
    };
    let response = ResponseV1::parse(value).ok_or(Discard::BadPasswordAttribute)?;
    let used = MsChap {
        ident: response.ident,
        v2: false,
    };
    let credentials = Credentials::MsChapV1 {
        challenge: challenge.try_into().map_err(bad)?,
        response,
    };
    Ok(Some((credentials, used)))
}

/// MS-CHAP2-Success and the MPPE keys (hidden with the secret and the request
/// authenticator) of an accepted version 2 login.
fn ms_chap_success(
    mut b: PacketBuilder,
    ms_chap: MsChap,
    proof: &Proof,
    request: &Packet<'_>,
    client: &NasClient,
) -> Result<PacketBuilder, PacketTooLarge> {
    let Proof::MsChapV2 {
        authenticator_response,
        keys,
    } = proof
    else {
        return Ok(b);
    };
    fn microsoft(typ: u8, data: &[u8]) -> VendorSpecific<'_> {
        VendorSpecific {
            vendor_id: MICROSOFT,
            typ,
            data,
        }
    }
    let success = [&[ms_chap.ident][..], authenticator_response].concat();
    b = b.vendor_specific(&microsoft(MS_CHAP2_SUCCESS, &success))?;
    // Salts differ within the packet (RFC 2548 §2.4.2).
    let salt: u16 = rand::random();
    let secret = client.secret.as_bytes();
    for (typ, key, salt) in [
        (MS_MPPE_RECV_KEY, &keys.recv, salt),
        (MS_MPPE_SEND_KEY, &keys.send, salt ^ 1),
    ] {
        let hidden = mschap::hide_key(key, secret, request.authenticator(), salt);
        b = b.vendor_specific(&microsoft(typ, &hidden))?;
    }
    // Encryption allowed, not required; 40- and 128-bit keys.
    b = b.vendor_specific(&microsoft(MS_MPPE_ENCRYPTION_POLICY, &1u32.to_be_bytes()))?;
    b.vendor_specific(&microsoft(MS_MPPE_ENCRYPTION_TYPES, &6u32.to_be_bytes()))
}

/// MS-CHAP-Error of a refused MS-CHAP login: the Windows error number and, as its
/// message, the E-code's text, so that a dialer shows the operator's reason.
fn ms_chap_error(
    b: PacketBuilder,
    ms_chap: MsChap,
    code: ECode,
    message: &str,
) -> Result<PacketBuilder, PacketTooLarge> {
    // RFC 2759 §6: 647 account disabled, 691 authentication failure.
    let error = if code == ECode::UserDisabled {
        647
    } else {
        691
    };
    let challenge: [u8; 16] = rand::random();
    let challenge = if ms_chap.v2 {
        &challenge[..]
    } else {
        &challenge[..8]
    };
    let mut value = mschap::error_value(ms_chap.ident, error, challenge, message);
    // One vendor attribute holds 247 bytes of value; a longer text is cut at a character.
    if value.len() > 247 {
        let cut = split_utf8(&value, 247)[0].len();
        value.truncate(cut);
    }
    b.vendor_specific(&VendorSpecific {
        vendor_id: MICROSOFT,
        typ: MS_CHAP_ERROR,
        data: &value,
    })
}

/// Builds a reply: Message-Authenticator first, then what `body` adds, then the request's
/// Proxy-State attributes in order (RFC 2865 §5.33).
fn reply(
    request: &Packet<'_>,
    code: Code,
    client: &NasClient,
    body: impl FnOnce(PacketBuilder) -> Result<PacketBuilder, PacketTooLarge>,
) -> Result<Vec<u8>, Discard> {
    let build = || {
        let mut b = body(PacketBuilder::new(code, request.identifier()).message_authenticator())?;
        for a in request.attributes().filter(|a| a.typ == PROXY_STATE_TYPE) {
            b = b.attribute(PROXY_STATE_TYPE, a.value)?;
        }
        Ok(b)
    };
    let b = build().map_err(|_: PacketTooLarge| Discard::ReplyTooLarge)?;
    Ok(b.finish_reply(request.authenticator(), &client.secret))
}

/// Splits text into pieces of at most `max` bytes without cutting a UTF-8 character.
fn split_utf8(mut bytes: &[u8], max: usize) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while bytes.len() > max {
        let mut cut = max;
        // Continuation bytes are 0b10xx_xxxx.
        while cut > 0 && bytes[cut] & 0xC0 == 0x80 {
            cut -= 1;
        }
        out.push(&bytes[..cut]);
        bytes = &bytes[cut..];
    }
    out.push(bytes);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_characters_whole() {
        let text = "帐号或密码错误".repeat(20);
        let parts = split_utf8(text.as_bytes(), 253);
        assert!(parts
            .iter()
            .all(|p| p.len() <= 253 && std::str::from_utf8(p).is_ok()));
        assert_eq!(parts.concat(), text.as_bytes());
        assert_eq!(split_utf8(b"short", 253), vec![&b"short"[..]]);
    }
}
