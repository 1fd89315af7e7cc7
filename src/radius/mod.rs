//! RADIUS: the wire format, its cryptography, the NAS client table, the reply cache and
//! the authentication and accounting listeners (accounting yielding to authentication when
//! it falls behind), and the UDP sockets they read from.

pub mod access;
pub mod accounting;
pub mod acct_server;
pub mod backlog;
pub mod batch;
pub mod class;
pub mod clients;
pub mod crypto;
pub mod dynauth;
pub mod packet;
pub mod reply_cache;
pub mod server;
pub mod socket;
pub mod vendor;
