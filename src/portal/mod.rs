//! The Srun-compatible portal. [`srun_codec`] holds the protocol's algorithms (the
//! `xencode` cipher, its base64 alphabet, `chksum`, the signed-logout `sign`);
//! [`jsonp`] frames replies; [`challenge`] keeps login challenges; [`server`] serves the
//! `/cgi-bin/*` API and [`page`] the page scripts scrape.

pub mod challenge;
pub mod jsonp;
pub mod page;
pub mod rate;
pub mod server;
pub mod srun_codec;
