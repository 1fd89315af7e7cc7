//! EAP on the wire: the packet (RFC 3748 §4) in [`packet`], and its carriage in RADIUS
//! EAP-Message attributes (RFC 3579 §3.1) in [`carriage`]. The methods' own framing
//! (TLS fragments, PEAP and TTLS inner packets) lands beside them; their state machines
//! live in `auth`.

pub mod carriage;
pub mod packet;

pub use packet::{EapCode, EapPacket, MalformedEap};
