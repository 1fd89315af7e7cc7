//! The Srun-compatible portal. Its wire format (the `xencode` cipher, its base64
//! alphabet, `chksum`, the signed-logout `sign`, JSONP framing) is in
//! [`crate::proto::srun`] and [`crate::proto::jsonp`]; [`challenge`] keeps login challenges; [`rate`] limits login
//! attempts per address, and [`address_lock`] lets one login per address run at a
//! time; [`server`] serves the `/cgi-bin/*` API, and [`page`] the login
//! page with its script, which speaks the same API. [`login`] is the login and logout
//! flow itself, free of HTTP, for every way a portal login arrives.

pub mod address_lock;
pub mod challenge;
pub mod login;
pub mod page;
pub mod rate;
pub mod server;

/// Percent-encodes a query value: RFC 3986 unreserved characters stay, every other byte
/// becomes `%XX` (the `info` value carries `+`, `/` and `=`).
pub fn query_escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
