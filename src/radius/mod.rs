//! The RADIUS listeners: the reply cache and the authentication and accounting servers
//! (accounting yielding to authentication when it falls behind). The wire format is in
//! [`crate::proto::radius`], the NAS client table in [`crate::directory::clients`].

pub mod access;
pub mod accounting;
pub mod acct_server;
pub mod backlog;
pub mod batch;
pub mod reply_cache;
pub mod server;
