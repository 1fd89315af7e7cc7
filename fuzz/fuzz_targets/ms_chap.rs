//! Any Vendor-Specific value, as the MS-CHAP path reads it: its sub-attributes, the
//! version 1 and 2 responses in them, and their proof against a password. Nothing
//! panics; a proof matches only what the password's own response would.
#![no_main]

use libfuzzer_sys::fuzz_target;
use turnstile::auth::{Credentials, Proof};
use turnstile::proto::mschap::{ResponseV1, ResponseV2};
use turnstile::proto::radius::vendor::VendorSpecific;

fuzz_target!(|data: &[u8]| {
    for sub in VendorSpecific::parse(data) {
        assert!(sub.data.len() + 6 <= data.len());
        if let Some(response) = ResponseV2::parse(sub.data) {
            let credentials = Credentials::MsChapV2 {
                challenge: &[0x5a; 16],
                response,
                user: sub.data,
            };
            if let Some(proof) = credentials.prove(b"fuzz") {
                assert!(matches!(proof, Proof::MsChapV2 { .. }));
            }
        }
        if let Some(response) = ResponseV1::parse(sub.data) {
            let credentials = Credentials::MsChapV1 {
                challenge: &[0x5a; 8],
                response,
            };
            let _ = credentials.prove(b"fuzz");
        }
    }
});
