//! Any datagram as a reply to a Disconnect or CoA request: the verifier says yes or no,
//! and says no to anything not signed with the secret.
#![no_main]

use libfuzzer_sys::fuzz_target;
use turnstile::proto::radius::crypto::verify_response;

fuzz_target!(|data: &[u8]| {
    let request_authenticator = [7u8; 16];
    if verify_response(data, &request_authenticator, b"fuzz-secret") {
        // A forged reply would need MD5 preimages: only a signed one passes.
        assert!(data.len() >= 20);
    }
});
