//! Any datagram from a known NAS on the accounting port: parsed into an event or
//! refused with a reason, and a parsed request gets a signed Accounting-Response.
#![no_main]

use libfuzzer_sys::fuzz_target;
use turnstile::radius::accounting::{parse, response};
use turnstile::directory::clients::NasClient;
use turnstile::proto::radius::crypto::verify_response;
use turnstile::vendor::Vendor;

fuzz_target!(|data: &[u8]| {
    let client = NasClient::new(
        "fuzz".into(),
        "127.0.0.1/32".parse().expect("a valid range"),
        b"fuzz-secret",
        Vendor::Huawei,
        false,
    );
    let Ok(event) = parse(data, &client) else {
        return;
    };
    let _ = (event.status.label(), event.session_id.len());
    let reply = response(data, &client).expect("a parsed request is answered");
    let authenticator: [u8; 16] = data[4..20].try_into().expect("a parsed header");
    assert!(verify_response(&reply, &authenticator, b"fuzz-secret"));
});
