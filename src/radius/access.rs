//! Handling of one Access-Request or Status-Server: check the packet's integrity, hand
//! a narrow [`AuthRequest`] to [`crate::auth`], and build the signed reply.

use radius::core::code::Code;
use radius::core::rfc2865::{
    CHAP_CHALLENGE_TYPE, CHAP_PASSWORD_TYPE, PROXY_STATE_TYPE, REPLY_MESSAGE_TYPE, USER_NAME_TYPE,
    USER_PASSWORD_TYPE,
};
use radius::core::rfc2869::EAP_MESSAGE_TYPE;

use super::clients::NasClient;
use super::crypto::{unhide_password, verify_message_authenticator};
use super::packet::{MalformedPacket, Packet, PacketBuilder};
use crate::auth::{authenticate, AuthRequest, Credentials, Decision};
use crate::codes::{ECode, Lang};
use crate::directory::Directory;

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
        }
    }
}

/// A reply to send, and what it says.
#[derive(Debug)]
pub struct Reply {
    /// The signed packet.
    pub bytes: Vec<u8>,
    /// What was decided (Status-Server is always `Accept`).
    pub decision: Decision,
    /// The User-Name, for the log line (empty for Status-Server).
    pub user: String,
    /// True for a reply to Status-Server.
    pub status: bool,
}

/// Handles a datagram from `client` on the authentication port.
pub fn handle(
    datagram: &[u8],
    client: &NasClient,
    directory: &Directory,
    lang: Lang,
) -> Result<Reply, Discard> {
    let packet = Packet::parse(datagram).map_err(Discard::Malformed)?;
    let code = packet.code();
    if !matches!(code, Code::AccessRequest | Code::StatusServer) {
        return Err(Discard::UnexpectedCode);
    }
    match verify_message_authenticator(packet.bytes(), packet.authenticator(), &client.secret) {
        Some(true) => {}
        Some(false) => return Err(Discard::BadMessageAuthenticator),
        // RFC 5997 requires it on Status-Server; the NAS entry decides for the rest.
        None if code == Code::StatusServer || client.require_message_authenticator => {
            return Err(Discard::MissingMessageAuthenticator)
        }
        None => {}
    }
    if code == Code::StatusServer {
        let bytes = reply(&packet, Code::AccessAccept, &[], client)?;
        return Ok(Reply {
            bytes,
            decision: Decision::Accept,
            user: String::new(),
            status: true,
        });
    }

    let user = packet
        .first(USER_NAME_TYPE)
        .map(String::from_utf8_lossy)
        .unwrap_or_default()
        .into_owned();
    let decision = decide(&packet, client, directory, &user)?;
    let message = match decision {
        Decision::Accept => None,
        Decision::Reject(code) => Some(code.wire(lang)),
    };
    let (reply_code, messages) = match &message {
        None => (Code::AccessAccept, Vec::new()),
        Some(m) => (Code::AccessReject, split_utf8(m.as_bytes(), 253)),
    };
    let bytes = reply(&packet, reply_code, &messages, client)?;
    Ok(Reply {
        bytes,
        decision,
        user,
        status: false,
    })
}

fn decide(
    packet: &Packet<'_>,
    client: &NasClient,
    directory: &Directory,
    user: &str,
) -> Result<Decision, Discard> {
    let authenticator = packet.authenticator();
    let plain;
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
    } else if packet.first(EAP_MESSAGE_TYPE).is_some() {
        // EAP is not offered yet: refuse clearly rather than leave the NAS retrying.
        return Ok(Decision::Reject(ECode::EapCheckFailed));
    } else {
        return Ok(Decision::Reject(ECode::WrongPassword));
    };
    let entry = directory.user(user);
    let request = AuthRequest {
        user_name: user,
        credentials,
    };
    Ok(authenticate(&request, entry.as_deref()))
}

/// Builds a reply: Message-Authenticator first, then `messages` as Reply-Message, then
/// the request's Proxy-State attributes in order (RFC 2865 §5.33).
fn reply(
    request: &Packet<'_>,
    code: Code,
    messages: &[&[u8]],
    client: &NasClient,
) -> Result<Vec<u8>, Discard> {
    let mut b = PacketBuilder::new(code, request.identifier()).message_authenticator();
    for m in messages {
        b = b
            .attribute(REPLY_MESSAGE_TYPE, m)
            .map_err(|_| Discard::ReplyTooLarge)?;
    }
    for a in request.attributes().filter(|a| a.typ == PROXY_STATE_TYPE) {
        b = b
            .attribute(PROXY_STATE_TYPE, a.value)
            .map_err(|_| Discard::ReplyTooLarge)?;
    }
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
