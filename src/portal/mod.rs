//! The Srun-compatible portal. [`srun_codec`] holds the protocol's algorithms (the
//! `xencode` cipher, its base64 alphabet, `chksum`, the signed-logout `sign`); the HTTP
//! endpoints and the login page build on it.

pub mod challenge;
pub mod jsonp;
pub mod page;
pub mod server;
pub mod srun_codec;
