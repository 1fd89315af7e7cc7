//! Any callback name: allowed ones are plain identifiers, and wrapping never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use turnstile::proto::jsonp::{callback_allowed, wrap};

fuzz_target!(|data: &[u8]| {
    let Ok(name) = std::str::from_utf8(data) else {
        return;
    };
    if callback_allowed(name) {
        assert!(!name.contains(['(', ')', '<', '>', '"', '\'', ';', '\n']));
        let body = wrap(name, "{}");
        assert!(body.contains(name));
    }
});
