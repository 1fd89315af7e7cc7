//! Wire formats: what goes over the network, byte for byte, and nothing of what the
//! daemon does with it. Pure and fuzzable: no sockets, no store, no domain types; only the
//! small shared types (`codes`, `vendor`, `mac`, `address`, `clock`) below.
//!
//! | module | what |
//! | --- | --- |
//! | [`radius`] | RADIUS: the packet view and builder, its cryptography (authenticators, Message-Authenticator, User-Password hiding), vendor attributes, the Class layout, the DM/CoA request and reply codec |
//! | [`srun`] | the Srun portal's algorithms: `xencode`, its base64 alphabet, `chksum`, the signed-logout `sign` |
//! | [`eap`] | the EAP packet and its carriage in EAP-Message attributes |
//! | [`jsonp`] | JSONP framing of portal replies |
//! | [`mschap`] | MS-CHAP version 1 and 2 responses, the authenticator response, MPPE keys and their hiding, the Microsoft vendor attributes |
//!
//! The EAP methods' framing (TLS fragments, PEAP and TTLS inner packets), the BRAS Portal protocol and CMPP belong
//! here too.

pub mod eap;
pub mod jsonp;
pub mod mschap;
pub mod radius;
pub mod srun;
